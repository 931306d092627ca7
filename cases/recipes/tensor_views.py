"""Two tensors sharing one storage (a view and a slice), saved together: tied weights."""
import torch


def build():
    base = torch.arange(12.0).reshape(3, 4)
    return {"base": base, "row": base[1], "transposed": base.t()}
