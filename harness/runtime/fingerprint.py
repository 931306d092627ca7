"""Reports, as one JSON object on stdout, what this environment's torch really does.

Run by `loadmatrix envs provision` inside the env's sandbox. Everything is read from the
running interpreter; nothing here is a table of known versions.
"""

import glob
import inspect
import io
import json
import os
import platform
import shutil
import subprocess
import sys

import _loadmatrix_runtime as protocol


# Raised whenever this script measures something new; envs fingerprinted by an older version
# are measured again (their rootfs is kept).
FINGERPRINT_VERSION = 4


class _NeverAllowlisted:
    """Pickled by reference to __main__, which no torch version allowlists."""


def _weights_only_default(torch):
    """True when a bare torch.load refuses a non-allowlisted class: measured, not inferred."""
    buffer = io.BytesIO()
    torch.save({"probe": _NeverAllowlisted()}, buffer)
    buffer.seek(0)
    try:
        torch.load(buffer)
    except Exception as error:  # noqa: BLE001 - any refusal means weights-only
        return True, f"{type(error).__name__}"
    return False, None


# Probe types for the weights-only unpickler's rules. Each reduces to exactly the opcode whose
# rule it measures, so a refusal is that rule's and no other's.
class _Built:
    def __reduce__(self):
        return (_Built, (), {"x": 1})  # REDUCE, then BUILD


class _NewObj:
    def __reduce__(self):
        import copyreg

        return (copyreg.__newobj__, (_NewObj,))  # NEWOBJ only


class _DictSubclass(dict):
    def __reduce__(self):
        return (_DictSubclass, (), None, None, iter(self.items()))  # REDUCE, then SETITEMS


class _ListSubclass(list):
    def __reduce__(self):
        return (_ListSubclass, (), None, iter(self))  # REDUCE, then APPENDS


def _weights_only_rules(torch):
    """What this version's weights-only unpickler accepts, measured by feeding it pickles.

    The static analyzer predicts a load from these facts; nothing here is a table of versions.
    Allowlisting goes the way a user of this version can: the public add_safe_globals where it
    exists, else the private allowlist (which no user has, so 1.13's rules only list globals).
    """
    import pickle
    import pickletools

    from torch import _weights_only_unpickler as unpickler

    def allow(objects):
        if hasattr(torch.serialization, "add_safe_globals"):
            torch.serialization.add_safe_globals(list(objects.values()))
            return
        protocol.extend_private_allowlist(objects)

    def refusal(data):
        try:
            unpickler.Unpickler(io.BytesIO(data)).load()
            return None
        except Exception as error:  # noqa: BLE001 - the refusal is the measurement
            return f"{type(error).__name__}: {error}"[:300]

    # An opcode is implemented when the unpickler gets past its dispatch (any other error).
    opcodes = []
    for op in pickletools.opcodes:
        why = refusal(b"\x80\x02" + op.code.encode("latin-1") + b"\x00" * 16)
        if op.name == "STOP" or why is None or f"Unsupported operand {ord(op.code)}" not in why:
            opcodes.append(op.name)
    rules = {"opcodes": sorted(opcodes)}
    allow({f"__main__.{c.__name__}": c for c in (_Built, _NewObj, _DictSubclass, _ListSubclass)})
    probes = {
        "build_allowlisted_class": _Built(),
        "newobj_allowlisted_class": _NewObj(),
        "setitems_allowlisted_dict_subclass": _DictSubclass(a=1),
        "append_allowlisted_list_subclass": _ListSubclass([1]),
    }
    for key, value in probes.items():
        why = refusal(pickle.dumps(value, protocol=2))
        rules[key] = why is None
        if why:
            rules[key + "_refusal"] = why
    allow({"builtins.set": set})
    rules["maps_python2_names"] = refusal(b"\x80\x02c__builtin__\nset\n)\x85R.") is None
    try:
        buffer = io.BytesIO()
        torch.jit.save(torch.jit.script(torch.nn.Identity()), buffer)
        buffer.seek(0)
        torch.load(buffer, weights_only=True)
        rules["torchscript_weights_only"] = "loads"
    except Exception as error:  # noqa: BLE001
        rules["torchscript_weights_only"] = f"refused: {type(error).__name__}: {error}"[:300]
    return rules


# What `loadmatrix audit` looks up for a call site: the loader, then a form key naming how its
# arguments are written (harness/audit/call_effect.h builds the same keys).
LOADER_NAMES = ("torch.load", "torch.serialization.load", "torch.hub.load_state_dict_from_url",
                "torch.utils.model_zoo.load_url")
WEIGHTS_ONLY_FORMS = {"omitted": {}, "true": {"weights_only": True},
                      "false": {"weights_only": False}, "none": {"weights_only": None}}
FORCE_VARIABLES = ("TORCH_FORCE_WEIGHTS_ONLY_LOAD", "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD")


def _loader(name):
    """The function `name` names, its module imported as a user's `import` would; None when this
    torch has none."""
    import importlib

    module, _, function = name.rpartition(".")
    try:
        return getattr(importlib.import_module(module), function, None)
    except ImportError:
        return None


def _loader_forms(torch, workdir):
    """{loader: {form: "weights_only" | "full" | "error: Type: text"}}: each loader called on a
    checkpoint only the full unpickler accepts, with weights_only omitted, True, False or None,
    and with and without pickle_module and mmap (so `+pickle_module+mmap` forms too). A refusal
    is the restricted unpickler; a TypeError is an argument this torch does not know."""
    import pickle
    import urllib.request

    path = os.path.join(workdir, "probe.pth")
    torch.save({"probe": _NeverAllowlisted()}, path)
    url = urllib.request.pathname2url(path)
    result = {}
    for name in LOADER_NAMES:
        loader = _loader(name)
        if loader is None:
            continue
        hub = name.startswith("torch.hub") or name.startswith("torch.utils")
        forms = {}
        for key, kwargs in WEIGHTS_ONLY_FORMS.items():
            for extra_key, extra in (("", {}), ("+pickle_module", {"pickle_module": pickle}),
                                     ("+mmap", {"mmap": False}),
                                     ("+pickle_module+mmap", {"pickle_module": pickle,
                                                              "mmap": False})):
                arguments = {**kwargs, **extra}
                try:
                    if hub:
                        loader("file://" + url, model_dir=os.path.join(workdir, "hub"),
                               map_location="cpu", **arguments)
                    else:
                        loader(path, map_location="cpu", **arguments)
                    forms[key + extra_key] = "full"
                except pickle.UnpicklingError:  # the restricted unpickler's refusal
                    forms[key + extra_key] = "weights_only"
                except Exception as error:  # noqa: BLE001 - the call itself raised
                    # TypeError (an argument this torch lacks), RuntimeError (weights_only=True
                    # with pickle_module), ...: what the call does here.
                    forms[key + extra_key] = f"error: {type(error).__name__}: {error}"[:300]
        result[name] = forms
    return result


def _loader_calls(torch):
    """The forms under no variable and under each TORCH_FORCE_* variable set to 1, each in a
    fresh interpreter, since a torch may read them once."""
    import tempfile

    facts = {}
    with tempfile.TemporaryDirectory() as workdir:
        facts[""] = _loader_forms(torch, workdir)
        for variable in FORCE_VARIABLES:
            environment = {**os.environ, variable: "1"}
            out = subprocess.run([sys.executable, os.path.abspath(__file__), "--loader-forms",
                                  workdir], capture_output=True, text=True, env=environment,
                                 timeout=300)
            lines = [line for line in out.stdout.splitlines() if line.startswith(protocol.MARKER)]
            facts[f"{variable}=1"] = (json.loads(lines[-1][len(protocol.MARKER):]) if lines
                                      else {"error": out.stderr[-300:]})
    return facts


def _compiler():
    cxx = shutil.which("c++") or shutil.which("g++")
    if not cxx:
        return None
    try:
        out = subprocess.run([cxx, "--version"], capture_output=True, text=True, timeout=20)
        return out.stdout.splitlines()[0] if out.stdout else None
    except (OSError, subprocess.SubprocessError):
        return None


def _libtorch_cmake_dirs(torch):
    candidates = []
    try:
        import torch.utils

        candidates.append(os.path.join(torch.utils.cmake_prefix_path, "Torch"))
    except (ImportError, AttributeError):
        pass
    candidates += sorted(glob.glob("/usr/lib/*/cmake/Torch"))
    return [c for c in candidates if os.path.isfile(os.path.join(c, "TorchConfig.cmake"))]


def emit(report):
    sys.stdout.flush()
    protocol.send(report)


def main():
    if sys.argv[1:2] == ["--loader-forms"]:  # the child _loader_calls starts
        import torch

        protocol.send(_loader_forms(torch, sys.argv[2]))
        return 0
    report = {
        "fingerprint_version": FINGERPRINT_VERSION,
        "python": platform.python_version(),
        "python_executable": sys.executable,
    }
    try:
        import numpy

        report["numpy"] = numpy.__version__
    except ImportError:
        report["numpy"] = None
    try:
        import torch
    except ImportError as error:
        report["error"] = f"cannot import torch: {error}"
        emit(report)
        return 3

    load_params = inspect.signature(torch.load).parameters
    serialization = torch.serialization
    report.update(
        {
            "torch": torch.__version__,
            "torch_file": torch.__file__,
            "has_weights_only": "weights_only" in load_params,
            "has_mmap": "mmap" in load_params,
            "has_add_safe_globals": hasattr(serialization, "add_safe_globals"),
            "has_safe_globals": hasattr(serialization, "safe_globals"),
            "has_get_unsafe_globals_in_checkpoint": hasattr(
                serialization, "get_unsafe_globals_in_checkpoint"
            ),
            "cxx": _compiler(),
            "libtorch_cmake_dirs": _libtorch_cmake_dirs(torch),
        }
    )
    if report["has_weights_only"]:
        default, refusal = _weights_only_default(torch)
        report["weights_only_default"] = default
        report["weights_only_default_refusal"] = refusal
    else:
        report["weights_only_default"] = None

    try:
        from torch import _weights_only_unpickler as unpickler

        allowed = unpickler._get_allowed_globals()
        report["allowlist"] = sorted(allowed.keys())
        blocklist = getattr(unpickler, "_blocklisted_modules", None)
        report["blocklisted_modules"] = sorted(blocklist) if blocklist else []
        if report["has_weights_only"]:
            report["weights_only_rules"] = _weights_only_rules(torch)
    except (ImportError, AttributeError) as error:
        report["allowlist"] = None
        report["allowlist_error"] = str(error)
    try:
        report["loader_calls"] = _loader_calls(torch)
    except Exception as error:  # noqa: BLE001 - the audit says this env has no loader facts
        report["loader_calls_error"] = f"{type(error).__name__}: {error}"[:300]
    emit(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
