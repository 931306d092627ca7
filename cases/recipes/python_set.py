"""A set and a frozenset (seen sample ids, frozen parameter names)."""


def build():
    return {"seen": {1, 2, 3}, "frozen": frozenset({"bias"})}
