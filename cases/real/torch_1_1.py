"""Checkpoints as torch 1.1 (2019) wrote them, run by scripts/real-checkpoints in a venv of the
torch==1.1.0 wheel from PyPI (Python 3.7). Each is a kind a newer torch answers differently:

- traced_1_1.pt: torch.jit.save's 1.0-1.2 layout (model.json, tensors/, attributes.pkl, no
  data.pkl), which torch.load does not take for TorchScript and cannot read;
- whole_module_1_1.pt: a whole nn.Module in the legacy format, naming
  torch.nn.backends.thnn._get_thnn_function_backend (every module's _backend then), a path
  later torches removed;
- main_class_1_1.pt: a model whose class the training script defined in its own __main__.

Usage: python torch_1_1.py OUT_DIR
"""
import os
import sys

import torch


class Net(torch.nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.fc = torch.nn.Linear(3, 2)

    def forward(self, x):
        return self.fc(x)


def main(out):
    torch.manual_seed(0)
    torch.jit.trace(Net(), torch.zeros(1, 3)).save(os.path.join(out, "traced_1_1.pt"))
    torch.save(torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU()),
               os.path.join(out, "whole_module_1_1.pt"))
    torch.save(Net(), os.path.join(out, "main_class_1_1.pt"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
