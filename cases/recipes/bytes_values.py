"""bytes and bytearray values (a serialized tokenizer blob, a hash digest)."""


def build():
    return {"blob": b"\x00\x01tok", "buffer": bytearray(b"abc")}
