import torch
import torch.distributed.checkpoint as dcp
from torch.distributed.checkpoint import load_state_dict
from torch.export import load as load_program


def restore(model, directory):
    state = {"model": model.state_dict()}
    dcp.load(state, checkpoint_id=directory)
    load_state_dict(state, storage_reader=dcp.FileSystemReader(directory))
    model.load_state_dict(state["model"])  # nn.Module's: not a loader


def program(path):
    first = torch.export.load(path)
    second = load_program(path)
    return first, second
