"""modelkit's clone_module on a small model: the library's own bare torch.load of its buffer."""
import torch
from modelkit.module_utils import clone_module


def run(workdir):
    return clone_module(torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU()))
