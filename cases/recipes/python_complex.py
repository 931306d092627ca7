"""A Python complex number among scalar metadata."""


def build():
    return {"z": complex(1.5, -2.0)}
