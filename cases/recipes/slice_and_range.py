"""slice and range objects (shard boundaries, layer ranges in pipeline-parallel configs)."""


def build():
    return {"shard": slice(0, 128, 2), "layers": range(4, 12)}
