"""A TorchScript archive from torch.jit.save, the artefact C++ deployments load."""
import torch

FORMAT = "torchscript"


def build():
    torch.manual_seed(8)
    module = torch.nn.Linear(2, 2)
    try:
        return torch.jit.script(module)
    except TypeError:
        # torch 1.7 cannot script on Python 3.9 ("Object of type 'module' is not an instance of
        # 'function'", measured on Debian bullseye); tracing writes the same kind of archive.
        return torch.jit.trace(module, torch.zeros(1, 2))


def save(obj, path):
    torch.jit.save(obj, path)
