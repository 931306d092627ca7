"""torch.dtype, torch.device and torch.Size values in model metadata."""
import torch


def build():
    return {"dtype": torch.float16, "device": torch.device("cpu"), "shape": torch.Size([3, 4])}
