"""What the scripts run inside envs share: the protocol line writer, how a path the driver sent
is read, and the private-allowlist patch. Imported from the scripts' own directory (the runtime
mount); its name keeps it apart from any module a user's recipes import.
"""

import contextlib
import json
import os
import re
import sys
import types

MARKER = "@loadmatrix "

LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _escape_surrogate(match):
    """A lone surrogate as visible text: one that surrogateescape made from an undecodable byte
    (U+DC80-U+DCFF) as that byte, `\\xNN`, like the driver shows invalid bytes; others as
    `\\udNNN`."""
    code = ord(match.group())
    return f"\\x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"\\u{code:04x}"


def valid_text(value):
    """`value` with every string made encodable as UTF-8. Python strings may hold lone surrogates
    (a file name or message decoded with surrogateescape); json.dumps writes them as `\\udcff`
    escapes, which no strict JSON parser (the driver's included) accepts."""
    if isinstance(value, str):
        return LONE_SURROGATE.sub(_escape_surrogate, value)
    if isinstance(value, dict):
        return {valid_text(key): valid_text(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [valid_text(item) for item in value]
    return value


def send(message, fd=1):
    """Writes `message` as one protocol line, `@loadmatrix {json}`, whole, to `fd`. Native
    libraries (UCX, cpuinfo) print to stdout too; the marker tells our lines apart."""
    data = (MARKER + json.dumps(valid_text(message), sort_keys=True) + "\n").encode()
    while data:
        written = os.write(fd, data)
        data = data[written:]


def path_argument(value):
    """A path the driver sent: a string, or {"hex": ...} holding the exact bytes of a name that
    is not valid UTF-8 (JSON strings cannot carry those; the driver's protocol_path)."""
    if isinstance(value, dict):
        return os.fsdecode(bytes.fromhex(value["hex"]))
    return value


@contextlib.contextmanager
def loader_main():
    """An empty `__main__` while the block runs, as a loading program has: a class the saving
    script defined in its own `__main__` (`__main__.Net`) is not in the loader's, whose
    `__main__` is another program (`torch.load` raises "Can't get attribute 'Net' on <module
    '__main__'>"). The scripts' own `__main__` (worker.py, resolve_globals.py) is never what a
    pickle resolves."""
    saved = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if saved is None:
            del sys.modules["__main__"]
        else:
            sys.modules["__main__"] = saved


def extend_private_allowlist(objects):
    """Adds `objects` ({"module.name": object}) to torch's private default allowlist, for
    versions without torch.serialization.add_safe_globals. It lists every blocked global on
    such versions (torch names only the first); no user has this route, so it is never offered
    as a fix."""
    from torch import _weights_only_unpickler as unpickler

    original = unpickler._get_allowed_globals

    def extended(*args, **kwargs):
        allowed = original(*args, **kwargs)
        allowed.update(objects)
        return allowed

    unpickler._get_allowed_globals = extended
