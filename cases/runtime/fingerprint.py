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
    # Native libraries (UCX, cpuinfo) print to stdout too; the marker tells our line apart.
    print("@loadmatrix " + json.dumps(report, sort_keys=True), flush=True)


def main():
    report = {
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
    except (ImportError, AttributeError) as error:
        report["allowlist"] = None
        report["allowlist_error"] = str(error)
    emit(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
