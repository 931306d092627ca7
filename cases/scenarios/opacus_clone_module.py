"""Opacus's old clone_module: torch.save a module to a BytesIO and torch.load it back, no weights_only."""
import io

import torch


def run(workdir):
    module = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Tanh())
    buffer = io.BytesIO()
    torch.save(module, buffer)
    buffer.seek(0)
    return torch.load(buffer)
