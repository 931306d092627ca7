"""loadmatrix: which PyTorch checkpoints and torch.load calls break on which torch version, why,
and the change that makes them load again.

The tool is a native program (bin/loadmatrix in this package); `loadmatrix` on PATH and
`python -m loadmatrix` run it.
"""
