"""A plain collections.OrderedDict of tensors without _metadata (older exporters)."""
import collections

import torch


def build():
    return collections.OrderedDict([("a", torch.ones(2)), ("b", torch.zeros(1))])
