"""Reports which of the globals a scan found this environment can resolve, as its torch.load's
full unpickler would: one `@loadmatrix {json}` line on stdout.

Usage: resolve_globals.py REQUEST.json, where the request is
{"globals": [[module, name, format, protocol], ...], "sparse": [[layout, fields], ...],
"torchscript": [archive, ...]}, format "zip" or "legacy", protocol the file's pickle protocol
(names as the scan maps them: Python 2 spellings already read as Python 3's). The reply is one
`@loadmatrix` line per question: per global {"index", "format", "protocol", "present", "error",
"origin", "weights_only"}, per sparse layout {"sparse": i, "accepted", "error"}, per archive
{"torchscript": i, "result": "pass" | "error" | "crash", "error"} (and, for an archive asked with
"torch_load", "loads": what torch.load did, bare and weights_only); then {"done": N}. An archive
is {"path": p, "torch_load": bool} or a path.
"weights_only" is "allowed" or the
weights-only unpickler's refusal of a file naming only that global, measured before anything
is imported (not for a module nothing here provides): `error` is what a load naming
the global raises here (type and text), `origin` where its top-level module comes from
("env", "python_path", "main" for `__main__`, or "none" when nothing here provides it).
A `__main__` global is resolved against an empty `__main__`, as a loading program's own is not
the saving script's (the worker loads the same way).

Each global is resolved by loading a crafted torch.save file of that format whose pickle is
that one GLOBAL opcode: the env's own torch.load resolves it, with its own module mapping
(`torch.tensor` read as `torch._tensor`) and storage-type rules, and nothing is called. A module
is imported only when something this interpreter can import provides it (the env's packages or
the user's --python-path), never because a file names it.

A sparse question asks whether this torch's _rebuild_sparse_tensor takes data of that many
fields for that layout (2.x writes a COO tensor's with is_coalesced, which 1.x cannot unpack):
the env's own function is called on a tiny tensor's parts. A TorchScript archive is imported by
torch.jit.load in a forked child, since an older torch can abort on a newer archive.
"""

import importlib.util
import functools
import io
import json
import os
import pickle
import signal
import struct
import sys
import types

import _loadmatrix_runtime as protocol

PER_GLOBAL_SECONDS = 20


def global_pickle(module, name, proto):
    """A pickle that is the global alone, under the file's protocol: below 4, the unpickler
    looks a dotted name up as one attribute, so `Outer.Inner` resolves only in protocol 4 and
    later files. GLOBAL, which every weights-only unpickler reads; STACK_GLOBAL only for a name
    holding a newline, which GLOBAL cannot carry."""
    def text(value):
        data = value.encode("utf-8", "surrogateescape")
        return b"X" + struct.pack("<I", len(data)) + data  # BINUNICODE

    head = b"\x80" + bytes([proto]) if proto >= 2 else b""
    if "\n" in module or "\n" in name:
        return head + text(module) + text(name) + b"\x93."
    return (head + b"c" + module.encode("utf-8", "surrogateescape") + b"\n" +
            name.encode("utf-8", "surrogateescape") + b"\n.")


@functools.lru_cache(maxsize=1)
def _legacy_header():
    from torch.serialization import MAGIC_NUMBER, PROTOCOL_VERSION

    sys_info = {"protocol_version": PROTOCOL_VERSION, "little_endian": True,
                "type_sizes": {"short": 2, "int": 4, "long": 4}}
    parts = (MAGIC_NUMBER, PROTOCOL_VERSION, sys_info)
    return b"".join(pickle.dumps(part, protocol=2) for part in parts)


def legacy_file(module, name, proto):
    """The bytes of a legacy-format torch.save file whose object is the global `module.name`."""
    return _legacy_header() + global_pickle(module, name, proto) + pickle.dumps([], protocol=2)


@functools.lru_cache(maxsize=1)
def _zip_template():
    import torch

    template = io.BytesIO()
    torch.save(0, template)
    return template.getvalue()


def zip_file(module, name, proto):
    """The bytes of a zip-format torch.save file whose object is the global `module.name`: this
    torch's own file of a plain int, with its data.pkl replaced (each torch reads the two
    formats through different unpickler classes, which map module names differently)."""
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(_zip_template())) as source, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename.endswith("/data.pkl"):
                data = global_pickle(module, name, proto)
            target.writestr(info, data)
    return out.getvalue()


FILES = {"legacy": legacy_file, "zip": zip_file}


def origin_of(module, python_path):
    top = module.split(".")[0]
    if top == "__main__":
        return "main"  # the loading program's own, which is not the saver's: an empty module
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        return "none"
    places = list(spec.submodule_search_locations or []) + [spec.origin or ""]
    for directory in python_path:
        if any(place.startswith(os.path.join(directory, "")) for place in places):
            return "python_path"
    return "env"


def weights_only_verdict(torch, module, name, file_format, proto):
    """What torch.load(weights_only=True) says of a file naming only this global: "allowed", or
    the refusal ("UnpicklingError: ...")."""
    try:
        with protocol.loader_main():
            torch.load(io.BytesIO(FILES[file_format](module, name, proto)), map_location="cpu",
                       weights_only=True)
        return "allowed"
    except Exception as error:  # noqa: BLE001 - the refusal is the measurement
        # torch 2.6+ puts a paragraph about the flip before the reason; keep the reason.
        text = str(error)
        reason = text.find("WeightsUnpickler error:")
        return f"{type(error).__name__}: {text[reason:] if reason >= 0 else text}"[:600]


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout()


def resolve(module, name, file_format, proto, origin, load):
    entry = {"format": file_format, "protocol": proto, "origin": origin}
    if origin == "none":
        entry["present"] = False
        entry["error"] = f"ModuleNotFoundError: No module named {module.split('.')[0]!r}"
        return entry
    signal.alarm(PER_GLOBAL_SECONDS)
    try:
        with protocol.loader_main():
            load(io.BytesIO(FILES[file_format](module, name, proto)))
        entry["present"] = True
    except _Timeout:
        entry["present"] = False
        entry["error"] = f"TimeoutError: importing it took over {PER_GLOBAL_SECONDS} s"
    except BaseException as error:  # noqa: BLE001 - whatever resolving raises is the answer
        entry["present"] = False
        entry["error"] = f"{type(error).__name__}: {error}"[:500]
    finally:
        signal.alarm(0)
    return entry


def sparse_parts(torch, layout):
    """The data torch 2.x writes for an empty tensor of `layout`: COO's (indices, values, size,
    is_coalesced), a compressed layout's (compressed_indices, plain_indices, values, size)."""
    long = torch.long
    if layout == torch.sparse_coo:
        return [torch.zeros((1, 0), dtype=long), torch.zeros(0), torch.Size([1]), False]
    blocked = layout in (getattr(torch, "sparse_bsr", None), getattr(torch, "sparse_bsc", None))
    values = torch.zeros((0, 1, 1)) if blocked else torch.zeros(0)
    return [torch.zeros(2, dtype=long), torch.zeros(0, dtype=long), values, torch.Size([1, 1])]


def sparse_answer(torch, layout_name, fields):
    """Whether this torch's _rebuild_sparse_tensor(layout, data) takes `fields` items of data:
    the parts 2.x writes, cut to `fields` or padded with None."""
    try:
        from torch.serialization import _get_layout

        layout = _get_layout(layout_name)
        parts = sparse_parts(torch, layout)
        data = tuple(parts[:fields] + [None] * max(0, fields - len(parts)))
        torch._utils._rebuild_sparse_tensor(layout, data)
        return {"accepted": True}
    except Exception as error:  # noqa: BLE001 - the refusal is the measurement
        return {"accepted": False, "error": f"{type(error).__name__}: {error}"[:500]}


ARCHIVE_SECONDS = 60


def in_child(attempt):
    """attempt() in a forked child, its answer (a dict) sent back whole: an older torch aborts on
    a newer archive's debug records (1.7, signal 6), which must not end this process. A child
    still working after ARCHIVE_SECONDS is killed by its alarm: "timeout", not an answer."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read_end)
            os.close(PROTOCOL_FD)  # the child answers through its pipe, never the channel
            signal.signal(signal.SIGALRM, signal.SIG_DFL)
            signal.alarm(ARCHIVE_SECONDS)
            data = json.dumps(attempt()).encode("utf-8")
            while data:
                data = data[os.write(write_end, data):]
        finally:
            os._exit(0)  # never the parent's loop, whatever happened above
    os.close(write_end)
    with os.fdopen(read_end, "rb") as reader:
        data = reader.read()
    _, status = os.waitpid(pid, 0)
    if data:
        return json.loads(data)
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        if number == signal.SIGALRM:
            return {"result": "timeout", "error": f"still importing after {ARCHIVE_SECONDS} s"}
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = ""
        return {"result": "crash",
                "error": f"killed by signal {number} ({name})" if name else f"killed by signal {number}"}
    return {"result": "crash", "error": f"the child exited with {os.WEXITSTATUS(status)}"}


def import_archive(torch, path):
    """What torch.jit.load makes of the archive, in a forked child."""
    def attempt():
        try:
            torch.jit.load(path, map_location="cpu")
            return {"result": "pass"}
        except BaseException as error:  # noqa: BLE001 - what the import raises is the answer
            return {"result": "error", "error": f"{type(error).__name__}: {error}"[:1000]}
    return in_child(attempt)


def refusing_pickle_module():
    """A pickle module whose unpickler resolves no global: where a bare torch.load is the full
    unpickler (1.x, 2.0-2.5), the archive's answer is asked with it, so that a crafted archive
    with a pickle torch.load does read (a differently-cased data.pkl, say) runs nothing. A real
    1.0-1.2 archive never reaches the unpickler, so its answer is the same."""
    module = types.ModuleType("loadmatrix_refusing_pickle")

    class Unpickler(pickle.Unpickler):
        def find_class(self, module_name, name):
            raise pickle.UnpicklingError(
                f"{module_name}.{name}: not resolved (loadmatrix asks about this archive "
                "without unpickling it)")

    module.Unpickler = Unpickler
    module.load = lambda file, **kwargs: Unpickler(file, **kwargs).load()
    module.loads = lambda data, **kwargs: Unpickler(io.BytesIO(data), **kwargs).load()
    return module


def bare_load_is_full_unpickler(torch, has_weights_only):
    """Whether a bare torch.load runs the full unpickler here: no weights_only at all, or a
    release before 2.6 flipped its default."""
    if not has_weights_only:
        return True
    parts = torch.__version__.split("+")[0].split(".")
    try:
        return (int(parts[0]), int(parts[1])) < (2, 6)
    except (ValueError, IndexError):
        return True


def load_archive(torch, path, has_weights_only):
    """What torch.load does with an archive it does not hand to torch.jit.load (the 1.0-1.2
    layout: model.json, no data.pkl, no constants.pkl), bare and with weights_only=True, as the
    worker reports a load ({"status": "returned"} or "raised" with the error's type and text).
    torch.load finds no data.pkl to unpickle in such an archive, so nothing of it runs."""
    answers = {}
    bare = ({"pickle_module": refusing_pickle_module()}
            if bare_load_is_full_unpickler(torch, has_weights_only) else {})
    for mode, kwargs in [("default", bare)] + ([("weights_only", {"weights_only": True})]
                                               if has_weights_only else []):
        def attempt(kwargs=kwargs):
            try:
                with protocol.loader_main():
                    torch.load(path, map_location="cpu", **kwargs)
                return {"status": "returned"}
            except BaseException as error:  # noqa: BLE001 - what the load raises is the answer
                return {"status": "raised", "error_type": type(error).__name__,
                        "message": str(error)[:4000]}
        answer = in_child(attempt)
        if "result" in answer:  # the child died or timed out: no load report
            answer = ({"status": "timeout"} if answer["result"] == "timeout" else
                      {"status": "crashed", "message": answer.get("error", "")})
        answers[mode] = answer
    return answers


# The protocol's own channel: resolving a global imports the user's and the env's modules, and
# anything they print goes to stderr, so none of it can share a line with an answer (the
# driver reads a line as an answer only when the marker starts it, runtime/protocol.h).
PROTOCOL_FD = os.dup(1)
os.dup2(2, 1)


def send(message):
    protocol.send(message, PROTOCOL_FD)


def main():
    with open(protocol.path_argument(sys.argv[1]), encoding="utf-8") as handle:
        request = json.load(handle)
    python_path = [os.path.realpath(p) for p in os.environ.get("PYTHONPATH", "").split(":") if p]
    import inspect

    import torch

    kwargs = {"map_location": "cpu"}
    has_weights_only = "weights_only" in inspect.signature(torch.load).parameters
    if has_weights_only:
        kwargs["weights_only"] = False  # the full unpickler: the one that resolves globals

    def load(buffer):
        return torch.load(buffer, **kwargs)

    signal.signal(signal.SIGALRM, _alarm)
    asked = [(str(module), str(name), str(file_format), min(max(int(proto), 0), pickle.HIGHEST_PROTOCOL))
             for module, name, file_format, proto in request.get("globals", [])]
    # First what the weights-only unpickler says of each, before resolving anything imports a
    # module: some register their own classes as safe when imported (torch.nested), which a
    # user's plain `import torch` does not do.
    origins = [origin_of(module, python_path) for module, _, _, _ in asked]
    verdicts = [weights_only_verdict(torch, *entry) if has_weights_only and origin != "none"
                else None for entry, origin in zip(asked, origins)]
    # One line per answer, as it is known: a run killed half-way keeps what it found. The
    # names are not repeated (the driver knows them by index), so a long name costs its bytes
    # once, in the request.
    for index, ((module, name, file_format, proto), origin, verdict) in enumerate(
            zip(asked, origins, verdicts)):
        entry = resolve(module, name, file_format, proto, origin, load)
        entry["index"] = index
        if verdict is not None:
            entry["weights_only"] = verdict
        send(entry)
    # Then the sparse layouts (torch._utils only), and the archives last: each is a child that
    # may take a minute, and what the globals cost must not wait behind them.
    for index, (layout, fields) in enumerate(request.get("sparse", [])):
        answer = sparse_answer(torch, str(layout), min(max(int(fields), 0), 255))
        answer["sparse"] = index
        send(answer)
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    for index, entry in enumerate(request.get("torchscript", [])):
        entry = entry if isinstance(entry, dict) else {"path": entry}
        answer = import_archive(torch, str(entry["path"]))
        if entry.get("torch_load"):
            answer["loads"] = load_archive(torch, str(entry["path"]), has_weights_only)
        answer["torchscript"] = index
        send(answer)
    send({"done": len(asked)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
