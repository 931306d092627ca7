"""A numpy array inside a checkpoint (dataset statistics, eval predictions)."""
import numpy as np


def build():
    return {"mean": np.arange(6, dtype=np.float32).reshape(2, 3)}
