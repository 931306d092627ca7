"""A dict of float32 tensors: the plain weights file every framework writes."""
import torch


def build():
    torch.manual_seed(0)
    return {"weight": torch.randn(4, 3), "bias": torch.zeros(4), "steps": torch.arange(5)}
