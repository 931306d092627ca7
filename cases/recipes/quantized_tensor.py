"""A per-tensor quantized int8 tensor, as torch.ao quantization exports it."""
import torch


def build():
    return {"q": torch.quantize_per_tensor(torch.arange(6.0).reshape(2, 3), 0.5, 2, torch.qint8)}
