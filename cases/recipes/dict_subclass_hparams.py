"""A dict subclass of hyper-parameters (AttrDict / EasyDict style)."""
from loadmatrix_fixtures import HParams


def build():
    return {"hparams": HParams(lr=0.1, depth=18)}
