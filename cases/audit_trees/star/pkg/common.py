import os

import torch
import torch.hub as hub

__all__ = ["torch", "hub", "os", "DEVICE"]
DEVICE = "cpu"
