from loading import cpu_load, read_json, safe_load, trusted_load

state = cpu_load("a.pt")
weights = safe_load("b.pt")
mine = trusted_load("c.pt")
checked = trusted_load("d.pt", weights_only=True)  # the call's keyword replaces the partial's
config = read_json(open("config.json"))
