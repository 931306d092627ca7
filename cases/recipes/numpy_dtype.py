"""A numpy dtype object stored in a config (e.g. the dtype a dataset was cast to)."""
import numpy as np


def build():
    return {"dtype": np.dtype("float32")}
