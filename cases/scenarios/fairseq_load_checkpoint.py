"""fairseq's load_checkpoint_to_cpu: torch.load(path, map_location=cpu) of weights plus argparse args."""
import argparse
import os

import torch


def run(workdir):
    path = os.path.join(workdir, "checkpoint_best.pt")
    torch.save({"args": argparse.Namespace(arch="transformer", lr=[0.0005]),
                "model": torch.nn.Linear(2, 2).state_dict()}, path)
    state = torch.load(path, map_location=torch.device("cpu"))
    return {"arch": state["args"].arch, "keys": sorted(state["model"])}
