import json

import torch


def load(path, map_location="cpu", weights_only=None):
    return torch.load(path, map_location=map_location, weights_only=weights_only)


def torch_load(path, **kwargs):
    return torch.load(path, **kwargs)


def load_trusted(path):
    return torch.load(path, weights_only=False)


def fetch(url, weights_only=None):
    if weights_only is None:
        weights_only = True
    return torch.hub.load_state_dict_from_url(url, weights_only=weights_only)


def load_any(path):
    try:
        return torch.load(path, weights_only=True)
    except Exception:
        return torch.load(path, weights_only=False)


def read_config(path):
    with open(path) as handle:
        return json.load(handle)


def load_source(path, weights_only=None):
    if path.startswith("http"):
        if weights_only is None:
            weights_only = False  # for URLs only, as Lightning 2.6's _load
        return torch.hub.load_state_dict_from_url(path, weights_only=weights_only)
    return torch.load(path, weights_only=weights_only)
