"""A whole user-defined nn.Module saved with torch.save(model), the YOLO / ultralytics way."""
import torch
from loadmatrix_fixtures import TinyNet


def build():
    torch.manual_seed(6)
    return {"model": TinyNet(), "epoch": 3}
