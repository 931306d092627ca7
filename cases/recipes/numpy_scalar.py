"""numpy scalars as metrics (best_score = np.float64(...)), common in Lightning callbacks."""
import numpy as np


def build():
    return {"best_score": np.float64(0.875), "epoch": np.int64(12)}
