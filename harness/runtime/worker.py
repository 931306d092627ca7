"""A long-lived loadmatrix worker: one per environment, `import torch` paid once.

Protocol (documented in doc/protocol.md): the driver writes one JSON request per
line on stdin; the worker answers each with one line `@loadmatrix {json}` on stdout carrying the
request's "id". Native libraries that print to stdout are moved to stderr at start, and the
marker tells our lines apart from any that slip through anyway.

Every request runs in a forked child, so a cell that crashes, hangs or changes global state
(an allowlist) cannot affect the next one. The worker reports facts only: what the load
returned (a bounded description of its content) or raised (type and text). Deciding what that
means is the driver's job.
"""

import collections
import dataclasses
import datetime
import enum
import functools
import importlib.metadata
import importlib.util
import json
import os
import pathlib
import re
import resource
import select
import signal
import sys
import sysconfig
import time
import traceback

PROTOCOL_FD = os.dup(1)
os.dup2(2, 1)  # native libraries' stdout noise goes to the log, not the protocol

import torch  # noqa: E402  (after the redirect: torch's import may print)

import _loadmatrix_runtime as protocol  # noqa: E402

try:
    import numpy
except ImportError:  # pragma: no cover - every Debian torch depends on numpy
    numpy = None

MAX_ITEMS = 64
MAX_DEPTH = 10


def send(message):
    protocol.send(message, PROTOCOL_FD)


# ---------------------------------------------------------------------------------------------
# Content description: a bounded, version-stable summary of what an object holds, so the
# driver can tell a load that returned the right thing from one that returned something else.


def describe_tensor(tensor):
    if getattr(tensor, "is_nested", False):
        # A nested tensor has no single shape or dense form: describe each component.
        return {"nested": [describe_tensor(part)["tensor"] for part in tensor.unbind()[:MAX_ITEMS]],
                "layout": str(tensor.layout).replace("torch.", "")}
    t = tensor.detach()
    facts = {"class": type(tensor).__name__, "dtype": str(t.dtype).replace("torch.", ""),
             "shape": list(t.shape), "layout": str(t.layout).replace("torch.", "")}
    if t.is_quantized:
        facts["qscheme"] = str(t.qscheme()).replace("torch.", "")
        t = t.dequantize()
    if t.layout != torch.strided:
        t = t.to_dense()
    if t.is_complex():
        t = torch.view_as_real(t)
    values = t.to(torch.float64).flatten()
    facts["sum"] = round(float(values.sum()), 6) if values.numel() else 0.0
    facts["head"] = [round(v, 6) for v in values[:8].tolist()]
    return {"tensor": facts}


def describe(value, depth=0):
    if depth > MAX_DEPTH:
        return {"truncated": type(value).__name__}
    nested = functools.partial(describe, depth=depth + 1)
    if isinstance(value, torch.Tensor):
        return describe_tensor(value)
    if isinstance(value, torch.jit.ScriptModule):
        return {"script_module": value.original_name, "state": nested(dict(value.state_dict()))}
    if isinstance(value, torch.nn.Module):
        return {"module": type(value).__name__, "state": nested(dict(value.state_dict()))}
    # numpy scalars subclass float and int, and numpy 2 reprs them differently: first.
    if numpy is not None:
        if isinstance(value, numpy.ndarray):
            return {"ndarray": str(value.dtype), "shape": list(value.shape),
                    "values": nested(value.flatten()[:MAX_ITEMS].tolist())}
        if isinstance(value, numpy.generic):
            return {"np_scalar": type(value).__name__, "value": nested(value.item())}
        if isinstance(value, numpy.dtype):
            return {"np_dtype": str(value)}
    if isinstance(value, enum.Enum):  # before str/int: str- and int-enums are both
        return {"enum": type(value).__name__, "name": value.name}
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value if abs(value) < 2**53 else {"bigint": str(value)}
    if isinstance(value, float):
        return {"float": repr(float(value))}
    if isinstance(value, complex):
        return {"complex": repr(value)}
    if isinstance(value, (bytes, bytearray)):
        return {"bytes": type(value).__name__, "hex": bytes(value[:256]).hex()}
    if isinstance(value, (slice, range)):
        return {"repr": repr(value)}
    if isinstance(value, (torch.dtype, torch.device, torch.Size)):
        return {"torch": repr(value)}
    if isinstance(value, datetime.datetime):
        return {"datetime": value.isoformat()}
    if isinstance(value, pathlib.PurePath):
        return {"path": type(value).__name__, "value": str(value)}
    if isinstance(value, functools.partial):
        return {"partial": getattr(value.func, "__qualname__", repr(value.func)),
                "args": nested(list(value.args)), "keywords": nested(dict(value.keywords))}
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda item: repr(item[0]))[:MAX_ITEMS]
        return {"dict": type(value).__name__,
                "items": [[repr(key), nested(item)] for key, item in items]}
    if isinstance(value, (list, tuple, collections.deque)):
        return {"seq": type(value).__name__, "items": [nested(v) for v in list(value)[:MAX_ITEMS]]}
    if isinstance(value, (set, frozenset)):
        return {"set": type(value).__name__, "items": sorted(repr(v) for v in value)[:MAX_ITEMS]}
    if dataclasses.is_dataclass(value) or hasattr(value, "__dict__"):
        # Public data only: each torch version's __setstate__ adds private bookkeeping of its
        # own (hook dicts, profiler names) that says nothing about what the file holds.
        attrs = {k: v for k, v in sorted(vars(value).items())
                 if not k.startswith("_") and not callable(v)}
        return {"object": type(value).__name__, "attrs": nested(attrs)}
    return {"type": type(value).__name__}


# ---------------------------------------------------------------------------------------------
# Operations, each run in a forked child.


def import_file(path):
    name = "loadmatrix_case_" + os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def op_save(request):
    """Saves a recipe's object, and describes what the producer's own torch loads back.

    The round trip, not the live object, is the expectation: unpickling may legitimately add
    state (an optimizer's __setstate__), and what a consumer must reproduce is what the file
    holds. A file the producer cannot read back itself is described from the live object.
    """
    recipe = import_file(protocol.path_argument(request["recipe"]))
    value = recipe.build()
    out = protocol.path_argument(request["out"])
    if hasattr(recipe, "save"):
        recipe.save(value, out)
    else:
        torch.save(value, out)
    # What the file is (TorchScript or not) the driver decides, with its one reader of formats.
    result = {"status": "returned"}
    try:
        kwargs = {"weights_only": False} if has_parameter("weights_only") else {}
        result["description"] = describe(torch.load(out, map_location="cpu", **kwargs))
        result["expectation"] = "round trip in the producer"
    except Exception as error:  # noqa: BLE001
        result["description"] = describe(value)
        result["expectation"] = f"the live object ({type(error).__name__} on reload: {error})"[:500]
    return result


def resolve_global(name):
    """The object a pickle's GLOBAL names (module.qualname), imported the way pickle would."""
    module_name, _, qualname = name.rpartition(".")
    parts = qualname.split(".")
    while module_name:
        try:
            obj = importlib.import_module(module_name)
            break
        except ImportError:
            module_name, _, head = module_name.rpartition(".")
            parts.insert(0, head)
    else:
        obj = importlib.import_module("builtins")
        if not hasattr(obj, parts[0]):
            raise ModuleNotFoundError(f"No module named {parts[0]!r} (needed for {name})")
    for part in parts:
        obj = getattr(obj, part)
    return obj


def allow_globals(names, via):
    """Allowlists `names`, by their names as written in the pickle.

    via="public": torch.serialization.add_safe_globals, what a user would write; the (object,
    name) form registers the pickle's own spelling (numpy.core... served from numpy._core).
    via="internal": extends the private default allowlist, for versions without the public
    API; used only to discover every blocked global, never offered as a fix.
    """
    if not names:
        return
    if via == "internal":
        protocol.extend_private_allowlist({name: resolve_global(name) for name in names})
        return
    entries = []
    for name in names:
        obj = resolve_global(name)
        own_name = f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', '')}"
        entries.append(obj if own_name == name else (obj, name))
    try:
        torch.serialization.add_safe_globals(entries)
    except (TypeError, ValueError):  # versions without the (object, name) form
        torch.serialization.add_safe_globals([e[0] if isinstance(e, tuple) else e for e in entries])


def has_parameter(name):
    import inspect

    return name in inspect.signature(torch.load).parameters


def op_load(request):
    """torch.load as the request's "call" says: its keyword arguments, environment variables
    to set first and torch.serialization functions it needs. Mode ids live in the driver alone
    (harness/matrix/loader_mode.cpp); a call this torch cannot make is unsupported, by name."""
    import inspect

    call = request["call"]
    path = protocol.path_argument(request["file"])
    kwargs = {"map_location": "cpu"}
    for name, value in call.get("kwargs", {}).items():
        if not has_parameter(name):
            return {"status": "unsupported", "reason": f"torch.load has no {name} argument"}
        kwargs[name] = value
    for variable in call.get("env", []):
        if variable not in inspect.getsource(torch.serialization):
            return {"status": "unsupported", "reason": f"this torch does not read {variable}"}
        os.environ[variable] = "1"
    for function in call.get("needs", []):
        if not hasattr(torch.serialization, function):
            return {"status": "unsupported",
                    "reason": f"torch.serialization.{function} does not exist"}
    allow_globals(request.get("allow", []), request.get("allow_via", "public"))
    value = torch.load(path, **kwargs)
    return {"status": "returned", "description": describe(value)}


def op_scenario(request):
    """Runs a scenario's run(workdir). "allow": globals to allowlist first (the public API);
    "force_no_weights_only": set TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1, which is what an explicit
    weights_only=False at the failing call would do (the driver asks only where the env
    measured that this torch reads it)."""
    if request.get("force_no_weights_only"):
        os.environ["TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"] = "1"
    allow_globals(request.get("allow", []), "public")
    scenario = import_file(protocol.path_argument(request["script"]))
    # A scenario that exercises a library (Opacus, Lightning) names it in REQUIRES and imports
    # it inside run(): an env without it skips the scenario rather than failing it.
    required = getattr(scenario, "REQUIRES", ())
    required = (required,) if isinstance(required, str) else tuple(required)
    missing = [name for name in required if importlib.util.find_spec(name) is None]
    if missing:
        return {"status": "skipped", "reason": f"needs {', '.join(missing)}, which this env "
                                               "does not have"}
    value = scenario.run(protocol.path_argument(request["workdir"]))
    return {"status": "returned", "description": describe(value)}


def _directory(path):
    return os.path.join(os.path.realpath(path), "")


# Frames in these directories are not the user's code: torch, loadmatrix's own runtime, and the
# standard library (pickle, io) except the installed packages a layout may keep inside it
# (/usr/local/lib/python3.12/site-packages in python: images), which are libraries the user's
# code is made of.
_TORCH_AND_HARNESS = (_directory(os.path.dirname(torch.__file__)),
                      _directory(os.path.dirname(os.path.abspath(__file__))))
_STANDARD_LIBRARY = tuple({_directory(sysconfig.get_paths()[key])
                           for key in ("stdlib", "platstdlib")})
_INSTALLED_PACKAGES = tuple({_directory(sysconfig.get_paths()[key])
                             for key in ("purelib", "platlib")})


def _is_user_code(filename):
    where = os.path.realpath(filename)
    if filename.startswith("<") or where.startswith(_TORCH_AND_HARNESS):
        return False
    return where.startswith(_INSTALLED_PACKAGES) or not where.startswith(_STANDARD_LIBRARY)


def _installed_package(where):
    """(distribution, version) of the installed library whose RECORD lists the file `where`, or
    None. Candidates come from the file's top-level module; a namespace package (nvidia) has
    several, so the one that lists the file wins."""
    for site in _INSTALLED_PACKAGES:
        if not where.startswith(site):
            continue
        relative = where[len(site):]
        top = relative.split(os.sep, 1)[0]
        top = top[:-3] if top.endswith(".py") else top
        # packages_distributions is Python 3.10's; bullseye's 3.9 reads top_level.txt itself.
        finder = getattr(importlib.metadata, "packages_distributions", None)
        names = finder().get(top, []) if finder else [
            d.metadata["Name"] for d in importlib.metadata.distributions()
            if top in (d.read_text("top_level.txt") or "").split()]
        for name in names:
            try:
                distribution = importlib.metadata.distribution(name)
            except importlib.metadata.PackageNotFoundError:
                continue
            files = {str(path) for path in (distribution.files or [])}
            if relative in files or len(names) == 1:
                normal = re.sub(r"[-_.]+", "-", distribution.metadata["Name"]).lower()
                return normal, distribution.version
    return None


def user_call_site(error):
    """The innermost traceback frame of `error` outside torch, the standard library and the
    harness: the user's line that called into torch when it raised (a scenario's, or a library's
    it calls). None when there is none."""
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        if not _is_user_code(frame.filename) or frame.lineno is None:
            continue
        site = {"file": frame.filename, "line": frame.lineno, "function": frame.name,
                "code": (frame.line or "")[:200]}
        package = _installed_package(os.path.realpath(frame.filename))
        if package:
            site["package"], site["package_version"] = package
        return site
    return None


def op_snippet(request):
    """Runs the driver's portable snippet (records/portable_fix.cpp: the code a user copies) and
    its load_checkpoint(file), as the user would: nothing of the worker's own is allowlisted."""
    namespace = {"__name__": "loadmatrix_portable_snippet"}
    exec(compile(request["source"], "<portable snippet>", "exec"), namespace)  # noqa: S102
    value = namespace["load_checkpoint"](protocol.path_argument(request["file"]))
    return {"status": "returned", "description": describe(value)}


OPERATIONS = {"save": op_save, "load": op_load, "scenario": op_scenario, "snippet": op_snippet}


def run_in_child(request):
    """Forks, runs the operation in the child, and returns what it reported or how it died."""
    operation = OPERATIONS.get(request.get("op"))
    if operation is None:
        return {"status": "protocol_error", "message": f"unknown op {request.get('op')!r}"}
    read_end, write_end = os.pipe()
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        code = 0
        try:
            limit = request.get("memory_limit_bytes")
            if limit:
                resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
            with protocol.loader_main():
                result = operation(request)
        except BaseException as error:  # noqa: BLE001 - every failure is a result
            result = {"status": "raised", "error_type": type(error).__name__,
                      "error_module": type(error).__module__, "message": str(error)[:20000],
                      "traceback": traceback.format_exc()[-4000:]}
            try:
                result["call_site"] = user_call_site(error)
            except Exception:  # noqa: BLE001 - the error is reported without its call site
                pass
        try:
            payload = json.dumps(result).encode()
        except (TypeError, ValueError) as error:
            payload = json.dumps({"status": "raised", "error_type": "ReportError",
                                  "message": f"cannot encode the result: {error}"}).encode()
        try:
            while payload:
                payload = payload[os.write(write_end, payload):]
        except OSError:
            code = 3
        os._exit(code)

    os.close(write_end)
    timeout = float(request.get("timeout_s", 60))
    chunks = []
    status = None
    deadline = started + timeout
    open_pipe = True
    while True:
        if open_pipe:
            ready, _, _ = select.select([read_end], [], [], max(0.0, min(0.05, deadline - time.monotonic())))
            if ready:
                chunk = os.read(read_end, 65536)
                if chunk:
                    chunks.append(chunk)
                else:
                    open_pipe = False
        done, status = os.waitpid(pid, os.WNOHANG)
        if done and not open_pipe:
            break
        if done:
            # The child is gone; collect what it left in the pipe.
            while True:
                chunk = os.read(read_end, 65536)
                if not chunk:
                    break
                chunks.append(chunk)
            break
        if time.monotonic() >= deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(read_end)
            return {"status": "timeout", "timeout_s": timeout,
                    "duration_ms": int((time.monotonic() - started) * 1000)}
        if not open_pipe:
            time.sleep(0.005)
    os.close(read_end)
    duration_ms = int((time.monotonic() - started) * 1000)
    if os.WIFSIGNALED(status):
        return {"status": "crashed", "signal": os.WTERMSIG(status), "duration_ms": duration_ms}
    try:
        result = json.loads(b"".join(chunks).decode())
    except ValueError:
        return {"status": "crashed", "exit_code": os.WEXITSTATUS(status),
                "message": "the cell's process exited without a result",
                "duration_ms": duration_ms}
    result["duration_ms"] = duration_ms
    return result


def main():
    send({"op": "ready", "pid": os.getpid(), "torch": torch.__version__,
          "python": sys.version.split()[0]})
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            request = json.loads(line)
        except ValueError as error:
            send({"id": None, "status": "protocol_error", "message": f"bad request: {error}"})
            continue
        if request.get("op") == "exit":
            break
        reply = run_in_child(request)
        reply["id"] = request.get("id")
        send(reply)
    return 0


if __name__ == "__main__":
    sys.exit(main())
