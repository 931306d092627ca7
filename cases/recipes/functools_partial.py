"""A functools.partial (a configured optimizer or activation factory) in a config."""
import functools

import torch


def build():
    return {"make_optimizer": functools.partial(torch.optim.SGD, lr=0.1)}
