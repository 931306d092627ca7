"""A collections.deque of recent losses (smoothing windows in training loops)."""
import collections


def build():
    return {"recent": collections.deque([0.5, 0.4, 0.3], maxlen=3)}
