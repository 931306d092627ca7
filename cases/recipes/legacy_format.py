"""A checkpoint in the pre-1.6 legacy (non-zip) format: _use_new_zipfile_serialization=False."""
import torch


def build():
    torch.manual_seed(7)
    return {"weight": torch.randn(2, 2)}


def save(obj, path):
    torch.save(obj, path, _use_new_zipfile_serialization=False)
