import mylib
from mylib import load_checkpoint, load_url
from mylib.hub import fetch_weights

state = load_url("https://example.com/a.pt")
other = mylib.load_url("https://example.com/b.pt", weights_only=True)
checkpoint = load_checkpoint("last.ckpt")
trusted = mylib.load_checkpoint("mine.ckpt", weights_only=False)
weights = fetch_weights("https://example.com/c.pt")
