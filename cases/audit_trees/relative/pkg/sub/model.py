from .. import serialization
from ..serialization import load


def restore(path):
    first = load(path)
    second = serialization.load(path, weights_only=True)
    return first, second
