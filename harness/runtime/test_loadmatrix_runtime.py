"""Unit tests of _loadmatrix_runtime.py, what the scripts run inside envs share. Standard library
only. Run from this directory: `python3 -m unittest discover -p 'test_*.py'`."""

import json
import os
import unittest

import _loadmatrix_runtime as protocol


class ValidTextTest(unittest.TestCase):
    def test_an_undecodable_byte_shows_as_that_byte(self):
        name = os.fsdecode(b"bad\xffname.py")  # surrogateescape: U+DCFF
        self.assertEqual(protocol.valid_text(name), "bad\\xffname.py")

    def test_other_lone_surrogates_show_as_escapes(self):
        self.assertEqual(protocol.valid_text("a\ud800b"), "a\\ud800b")

    def test_nested_values_keys_included_and_the_rest_unchanged(self):
        bad = os.fsdecode(b"\xfe")
        value = {bad: [bad, (1, bad)], "ok": {"n": 2, "none": None, "text": "é"}}
        cleaned = protocol.valid_text(value)
        self.assertEqual(cleaned, {"\\xfe": ["\\xfe", [1, "\\xfe"]],
                                   "ok": {"n": 2, "none": None, "text": "é"}})
        json.dumps(cleaned).encode("utf-8")  # strict UTF-8 now holds it


class SendTest(unittest.TestCase):
    def read_all(self, message):
        read, write = os.pipe()
        try:
            protocol.send(message, fd=write)
        finally:
            os.close(write)
        chunks = []
        with os.fdopen(read, "rb") as handle:
            chunks.append(handle.read())
        return b"".join(chunks)

    def test_one_marked_line_with_sorted_keys(self):
        data = self.read_all({"b": 1, "a": os.fsdecode(b"\xff")})
        self.assertEqual(data, b'@loadmatrix {"a": "\\\\xff", "b": 1}\n')

    def test_a_line_longer_than_a_pipe_holds_is_written_whole(self):
        # A pipe holds 64 KiB: the writer must loop on short writes while the reader drains.
        read, write = os.pipe()
        message = {"text": "x" * 200_000}
        pid = os.fork()
        if pid == 0:
            os.close(read)
            try:
                protocol.send(message, fd=write)
            finally:
                os._exit(0)
        os.close(write)
        with os.fdopen(read, "rb") as handle:
            data = handle.read()
        os.waitpid(pid, 0)
        self.assertTrue(data.startswith(protocol.MARKER.encode()))
        self.assertEqual(json.loads(data[len(protocol.MARKER):]), message)


class PathArgumentTest(unittest.TestCase):
    def test_a_string_is_the_path(self):
        self.assertEqual(protocol.path_argument("/src/a b.py"), "/src/a b.py")

    def test_hex_bytes_give_the_exact_name(self):
        path = protocol.path_argument({"hex": b"/src/bad\xffname.py".hex()})
        self.assertEqual(os.fsencode(path), b"/src/bad\xffname.py")


if __name__ == "__main__":
    unittest.main()
