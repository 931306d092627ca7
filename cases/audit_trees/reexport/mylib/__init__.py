from torch.utils.model_zoo import load_url

from .io import read_checkpoint as load_checkpoint

__all__ = ["load_url", "load_checkpoint"]
