"""bfloat16 and float16 weights, as LLM checkpoints (Llama, Mistral) are stored."""
import torch


def build():
    torch.manual_seed(1)
    return {"w_bf16": torch.randn(3, 3).to(torch.bfloat16), "w_fp16": torch.randn(2).half()}
