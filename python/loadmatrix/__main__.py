"""Runs the native loadmatrix that this wheel installed (bin/loadmatrix beside this file).

It tells the program which Python to parse with when no env is provisioned (audit's parser needs
only Python's ast) and which uv makes pip envs: the ones installed with this package.
"""
import os
import shutil
import sys


def _uv():
    try:
        from uv import find_uv_bin  # the uv wheel this package depends on
        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        return shutil.which("uv")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    program = os.path.join(here, "bin", "loadmatrix")
    env = dict(os.environ)
    # The interpreter the venv was made from, not the venv's link to it: audit's parser needs only
    # the standard library, and a sandbox run as root cannot enter a venv under a private home.
    base = getattr(sys, "_base_executable", None) or sys.executable
    env.setdefault("LOADMATRIX_PYTHON", os.path.realpath(base))
    uv = _uv()
    if uv:
        env.setdefault("LOADMATRIX_UV", uv)
    os.execve(program, [program] + sys.argv[1:], env)


if __name__ == "__main__":
    main()
