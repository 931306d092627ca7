from torch.hub import load_state_dict_from_url as fetch_weights  # re-exported under its own name
