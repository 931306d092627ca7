from torch.serialization import load

__all__ = ["load"]
