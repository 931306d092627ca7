"""The whole Hugging Face Trainer rng_state.pth: python, numpy and torch RNG states."""
import random

import numpy as np
import torch


def build():
    random.seed(1)
    np.random.seed(1)
    torch.manual_seed(1)
    return {"python": random.getstate(), "numpy": np.random.get_state(),
            "cpu": torch.get_rng_state()}
