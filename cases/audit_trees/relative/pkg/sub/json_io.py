from .json_load import load  # pkg.sub.json_load.load: not torch's


def read(path):
    return load(path)
