"""An Enum member in a checkpoint (a mode or phase flag)."""
from loadmatrix_fixtures import Color


def build():
    return {"color": Color.GREEN}
