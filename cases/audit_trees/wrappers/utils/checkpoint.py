from .io import load_trusted, torch_load


class Checkpointer:
    def restore(self, path):
        return self._read(path)

    def _read(self, path):
        return torch_load(path, map_location="cpu")

    @classmethod
    def from_file(cls, path, strict=True):
        return load_trusted(path)
