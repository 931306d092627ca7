"""optimizer.state_dict() of Adam after one step, as every training resume saves it."""
import torch


def build():
    torch.manual_seed(3)
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model(torch.randn(4, 3)).sum().backward()
    optimizer.step()
    return optimizer.state_dict()
