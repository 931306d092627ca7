"""A dataclass config saved with the weights (accelerate / Lightning hparams)."""
from loadmatrix_fixtures import TrainConfig


def build():
    return {"config": TrainConfig(lr=1e-3, batch_size=64)}
