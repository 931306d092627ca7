from somewhere_not_installed import *

# `torch` here can only come from the star import above, which the audit cannot read: it says
# so, and reports no call it cannot prove.
model = torch.load("model.pt")
