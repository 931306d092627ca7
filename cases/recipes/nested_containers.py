"""Lists, tuples and nested dicts of tensors and numbers: the generic container case."""
import torch


def build():
    return {"layers": [torch.ones(1), torch.zeros(2)], "pair": (1, 2.5, "x", None, True),
            "nested": {"deep": {"deeper": [1, 2, 3]}}}
