import json

import torch

tl = torch.load
read = tl  # an alias of an alias
parse = json.load  # not a loader
