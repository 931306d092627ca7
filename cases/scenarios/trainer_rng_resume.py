"""Hugging Face Trainer resuming from rng_state.pth with a bare torch.load(path), as before its fix."""
import os
import random

import numpy as np
import torch


def run(workdir):
    path = os.path.join(workdir, "rng_state.pth")
    torch.save({"python": random.getstate(), "numpy": np.random.get_state(),
                "cpu": torch.get_rng_state()}, path)
    checkpoint = torch.load(path)
    random.setstate(checkpoint["python"])
    np.random.set_state(checkpoint["numpy"])
    torch.set_rng_state(checkpoint["cpu"])
    return {"resumed": True}
