"""A whole loss module with class weights (nn.CrossEntropyLoss) saved in a checkpoint."""
import torch


def build():
    return {"criterion": torch.nn.CrossEntropyLoss(weight=torch.tensor([1.0, 2.0]))}
