"""lr_scheduler.state_dict() of a StepLR, saved next to the optimizer on resume."""
import torch


def build():
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    for _ in range(3):
        optimizer.step()
        scheduler.step()
    return scheduler.state_dict()
