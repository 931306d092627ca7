"""float8 weights (torch.float8_e4m3fn, new in torch 2.1), as FP8 training and quantised LLM
checkpoints store them. Older torch has no such dtype."""
import torch


def build():
    torch.manual_seed(11)
    return {"w_fp8": torch.randn(2, 3).to(torch.float8_e4m3fn), "scale": torch.tensor(0.5)}
