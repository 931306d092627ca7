"""An object reducing to a global of a blocklisted module (posix): how payloads are shaped."""
from loadmatrix_fixtures import ReducesToBlocklistedModule


def build():
    return {"payload": ReducesToBlocklistedModule()}
