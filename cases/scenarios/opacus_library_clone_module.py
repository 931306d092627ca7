"""Opacus's own clone_module (opacus/utils/module_utils.py) on a torchvision ResNet: the bare torch.load that broke every Opacus user on torch 2.6 (opacus#690; fixed by PR #696, released in 1.5.3)."""

# Installed in the env or the scenario is skipped there (harness/runtime/worker.py).
REQUIRES = ("opacus", "torchvision")


def run(workdir):
    import torchvision
    from opacus.utils.module_utils import clone_module

    model = torchvision.models.resnet18(num_classes=10)
    return clone_module(model)
