from utils import io
from utils.checkpoint import Checkpointer
from utils.io import fetch, load_any, load_source, read_config, torch_load


class Mine(Checkpointer):
    def resume(self, path):
        return self.restore(path)


def main(path, url):
    a = io.load(path)
    b = io.load(path, "cpu", False)
    c = torch_load(path)
    d = torch_load(path, weights_only=True)
    e = fetch(url)
    f = load_any(path)
    g = Checkpointer.from_file(path)
    h = read_config(path)
    i = load_source(path)
    return a, b, c, d, e, f, g, h, i


def scenario(path):
    import utils.checkpoint

    class Local(utils.checkpoint.Checkpointer):
        pass

    return Local.from_file(path)
