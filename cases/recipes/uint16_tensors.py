"""Unsigned 16-bit tensors (torch.uint16, new in torch 2.3), as image and audio pipelines store
raw samples. Older torch has no such dtype: a file naming it cannot load there at all."""
import torch


def build():
    return {"samples": torch.tensor([0, 1, 65535], dtype=torch.int32).to(torch.uint16)}
