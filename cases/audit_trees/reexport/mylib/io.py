import torch


def read_checkpoint(path, weights_only=None):
    return torch.load(path, map_location="cpu", weights_only=weights_only)
