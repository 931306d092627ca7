"""A whole LR scheduler object (not its state_dict), as some research code saves it."""
import torch


def build():
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    return {"scheduler": torch.optim.lr_scheduler.StepLR(optimizer, step_size=3)}
