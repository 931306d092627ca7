"""A sparse COO tensor: embedding gradients and graph adjacency matrices (PyG)."""
import torch


def build():
    indices = torch.tensor([[0, 1, 2], [2, 0, 1]])
    return {"adj": torch.sparse_coo_tensor(indices, torch.tensor([1.0, 2.0, 3.0]), (3, 3))}
