"""A bare nn.Parameter saved outside a state dict (e.g. a learned temperature)."""
import torch


def build():
    return {"temperature": torch.nn.Parameter(torch.tensor([1.5]))}
