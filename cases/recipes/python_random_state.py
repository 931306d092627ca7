"""random.getstate(): a tuple of ints, the "python" entry of Trainer's rng_state.pth."""
import random


def build():
    random.seed(0)
    return {"python": random.getstate()}
