from pkg.common import *
from pkg.helpers import *


def restore(path, url):
    state = torch.load(path, map_location=DEVICE)
    remote = hub.load_state_dict_from_url(url, weights_only=True)
    config = load(path + ".json")  # pkg.helpers.load: json, not a loader
    return state, remote, config
