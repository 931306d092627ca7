"""A pathlib path to the data directory, as many training scripts store their config."""
import pathlib


def build():
    return {"data_dir": pathlib.PurePosixPath("/data/imagenet"), "out": pathlib.Path("/tmp/out")}
