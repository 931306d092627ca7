"""pre-commit's entry (.pre-commit-hooks.yaml): `loadmatrix-hook scan|audit [ARGS...] FILES...`.

Runs loadmatrix on the staged files, quiet and without colour, over every torch release
(matrix/releases.json, predicted from the measured facts this package ships where no env is
provisioned) from the project's lowest supported torch upward: `--min-torch` when the hook's
args give it, else read from the project's own declaration of torch (pyproject.toml's
dependencies, setup.cfg's install_requires, requirements*.txt: the lower bound of `torch>=X`,
`torch~=X` or `torch==X`). LOADMATRIX_MATRIX or a --matrix in the args chooses another matrix.
"""
import glob
import os
import re
import sys

from loadmatrix.__main__ import main as run_loadmatrix

# A requirement on torch and its lower bound: "torch>=2.1", "torch ~= 2.4.0", "torch==2.6.*".
_TORCH = re.compile(r"""(?:^|["'\s,\[])torch\s*(?:\[[^\]]*\])?\s*(>=|~=|==|>)\s*v?([0-9]+(?:\.[0-9]+)*)""")


def declared_min_torch(project):
    """The lowest torch the project at `project` declares it supports, or None."""
    candidates = [os.path.join(project, "pyproject.toml"), os.path.join(project, "setup.cfg"),
                  os.path.join(project, "setup.py")]
    candidates += sorted(glob.glob(os.path.join(project, "requirements*.txt")))
    for path in candidates:
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                text = handle.read()
        except OSError:
            continue
        for line in text.splitlines():
            if line.lstrip().startswith("#"):
                continue
            match = _TORCH.search(line)
            if match:
                return match.group(2)
    return None


def hook_args(argv, environ, project):
    """loadmatrix's command line for the hook's `argv` (the subcommand first)."""
    if not argv or argv[0] not in ("scan", "audit"):
        raise SystemExit("loadmatrix-hook: usage: loadmatrix-hook scan|audit [ARGS...] FILES...")
    command, rest = argv[0], argv[1:]
    front = ["--quiet", "--color", "never"]
    if "--matrix" not in rest and not environ.get("LOADMATRIX_MATRIX"):
        here = os.path.dirname(os.path.abspath(__file__))
        front += ["--matrix", os.path.join(here, "share", "loadmatrix", "matrix", "releases.json")]
    extra = []
    if "--min-torch" not in rest:
        lowest = declared_min_torch(project)
        if lowest:
            extra += ["--min-torch", lowest]
    return front + [command] + extra + rest


def main():
    sys.argv = [sys.argv[0]] + hook_args(sys.argv[1:], os.environ, os.getcwd())
    run_loadmatrix()


if __name__ == "__main__":
    main()
