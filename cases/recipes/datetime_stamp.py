"""A datetime timestamp of when the checkpoint was written."""
import datetime


def build():
    return {"saved_at": datetime.datetime(2025, 1, 31, 12, 0, 0)}
