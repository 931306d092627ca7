"""A TorchScript archive from torch.jit.save, the artefact C++ deployments load."""
import torch

FORMAT = "torchscript"


def build():
    torch.manual_seed(8)
    return torch.jit.script(torch.nn.Linear(2, 2))


def save(obj, path):
    torch.jit.save(obj, path)
