"""A jagged nested tensor (torch.nested, layout=torch.jagged), the variable-length batch of
sequence models. Saved as a tensor subclass whose class older torch does not have."""
import torch


def build():
    torch.manual_seed(12)
    rows = [torch.randn(2, 3), torch.randn(4, 3)]
    return {"batch": torch.nested.nested_tensor(rows, layout=torch.jagged)}
