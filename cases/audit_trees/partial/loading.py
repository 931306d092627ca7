import functools
import json
from functools import partial

import torch

cpu_load = functools.partial(torch.load, map_location="cpu")
safe_load = partial(torch.load, map_location="cpu", weights_only=True)
trusted_load = partial(torch.load, weights_only=False)
read_json = partial(json.load)  # not a loader
