import torch
from loaders import parse, read, tl

load = torch.load
state = load("a.pt")
other = tl("b.pt", weights_only=True)
third = read("c.pt", mmap=True)
config = parse(open("config.json"))


def inner(path):
    fetch = torch.hub.load_state_dict_from_url
    return fetch(path)
