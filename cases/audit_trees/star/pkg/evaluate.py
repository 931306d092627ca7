from .common import *


def evaluate(path):
    return torch.load(path, weights_only=False)
