"""Unit tests of audit_calls.py: the call finding and the spans it hands the driver. Standard
library only (no torch: nothing audited is imported). Run from this directory:
`python3 -m unittest discover -p 'test_*.py'`."""

import json
import os
import tempfile
import textwrap
import unittest

import audit_calls


class AuditTestCase(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)

    def write(self, source, name="module.py"):
        path = os.path.join(self.dir.name, name)
        data = source if isinstance(source, bytes) else textwrap.dedent(source).encode("utf-8")
        with open(path, "wb") as handle:
            handle.write(data)
        return path

    def audit(self, source):
        return audit_calls.audit_file(self.write(source))

    def calls(self, source):
        answer = self.audit(source)
        self.assertEqual(answer["status"], "ok", answer)
        return answer["calls"]

    def call(self, source):
        calls = self.calls(source)
        self.assertEqual(len(calls), 1, calls)
        return calls[0]


class FindsCallsTest(AuditTestCase):
    def test_each_loader_by_its_canonical_name(self):
        calls = self.calls("""
            import torch
            import torch.hub
            from torch.utils import model_zoo
            torch.load(f)
            torch.serialization.load(f)
            torch.hub.load_state_dict_from_url(url)
            model_zoo.load_url(url)
            """)
        self.assertEqual([c["callee"] for c in calls], [
            "torch.load", "torch.serialization.load", "torch.hub.load_state_dict_from_url",
            "torch.utils.model_zoo.load_url"])
        self.assertEqual([c["line"] for c in calls], [5, 6, 7, 8])

    def test_aliases_resolve_and_the_written_callee_is_kept(self):
        calls = self.calls("""
            import torch as th
            from torch import load as tload
            from torch.hub import load_state_dict_from_url
            th.load(f)
            tload(f)
            load_state_dict_from_url(url)
            """)
        self.assertEqual([c["callee"] for c in calls], [
            "torch.load", "torch.load", "torch.hub.load_state_dict_from_url"])
        self.assertEqual([c["code"] for c in calls], [
            "th.load(f)", "tload(f)", "load_state_dict_from_url(url)"])

    def test_what_is_not_a_loader_call(self):
        calls = self.calls('''
            """torch.load(x) in a docstring"""
            import torch
            from . import load
            # torch.load(x) in a comment
            TEXT = "torch.load(x)"
            load(x)
            json.load(x)
            def f(torch):
                return torch.load(x)
            ''')
        self.assertEqual(calls, [])

    def test_a_file_without_a_loader_name_is_not_parsed(self):
        answer = self.audit("import torch\nx = 1\n")
        self.assertEqual(answer, {"status": "ok", "parsed": False, "calls": []})

    def test_function_and_column_in_code_points(self):
        call = self.call("""
            import torch
            class Model:
                def restore(self):
                    x = "é€"; return torch.load(x)
            """)
        self.assertEqual(call["function"], "Model.restore")
        self.assertEqual(call["column"], 26)  # "é€" is 2 code points, 5 bytes
        self.assertEqual((call["line"], call["end_line"]), (5, 5))


class ArgumentsTest(AuditTestCase):
    def facts(self, arguments, callee="torch.load"):
        call = self.call(f"import torch\nimport torch.hub\n{callee}({arguments})\n")
        return call["weights_only"], call["pickle_module"], call["mmap"]

    def test_weights_only_forms(self):
        self.assertEqual(self.facts("f")[0], "omitted")
        self.assertEqual(self.facts("f, weights_only=True")[0], "true")
        self.assertEqual(self.facts("f, weights_only=False")[0], "false")
        self.assertEqual(self.facts("f, weights_only=None")[0], "none")
        self.assertEqual(self.facts("f, weights_only=flag")[0], "dynamic")
        self.assertEqual(self.facts("f, **kwargs")[0], "dynamic")

    def test_positional_arguments_per_loader(self):
        self.assertEqual(self.facts('f, "cpu", pickle')[1], "passed")
        self.assertEqual(self.facts("f, pickle_module=dill, mmap=True")[1:], ("passed", "passed"))
        self.assertEqual(self.facts("*args")[1:], ("dynamic", "omitted"))
        hub = "torch.hub.load_state_dict_from_url"
        self.assertEqual(self.facts("url, None, None, False, False, None, True", hub)[0], "true")
        self.assertEqual(self.facts("url, *rest", hub)[0], "dynamic")


class FallbacksAndSafeGlobalsTest(AuditTestCase):
    def test_a_retry_in_an_except_handler(self):
        calls = self.calls("""
            import torch
            def load(path):
                try:
                    return torch.load(path, weights_only=True)
                except Exception:
                    return torch.load(path, weights_only=False)
            """)
        self.assertIsNone(calls[0]["fallback"])
        self.assertEqual(calls[1]["fallback"], {"kind": "except", "attempt_line": 5})

    def test_a_shim_for_an_old_torch_is_not_a_fallback(self):
        calls = self.calls("""
            import torch
            def load(path):
                try:
                    return torch.load(path, weights_only=True)
                except TypeError:
                    return torch.load(path)
            """)
        self.assertIsNone(calls[1]["fallback"])

    def test_a_loop_over_both_values(self):
        call = self.call("""
            import torch
            for flag in (True, False):
                torch.load(path, weights_only=flag)
            """)
        self.assertEqual(call["fallback"], {"kind": "retry", "attempt_line": 4})

    def test_safe_globals_names_as_written(self):
        calls = self.calls("""
            import argparse
            import torch
            with torch.serialization.safe_globals([argparse.Namespace, (f, "my.f")]):
                torch.load(path)
            with torch.serialization.safe_globals(listed):
                torch.load(path)
            torch.load(path)
            """)
        self.assertEqual(calls[0]["safe_globals"], {"names": ["argparse.Namespace", "my.f"]})
        self.assertEqual(calls[1]["safe_globals"], {"names": None})
        self.assertIsNone(calls[2]["safe_globals"])


class SpansTest(AuditTestCase):
    """The spans index `code` in UTF-8 bytes, as the driver does."""

    def spans(self, line, prelude="import torch\nimport torch as th\n"):
        call = self.call(prelude + line + "\n")
        return call["code"], call["spans"]

    @staticmethod
    def text(code, span):
        return code.encode("utf-8")[span[0]:span[1]].decode("utf-8")

    def keywords(self, code, spans):
        return [(k["name"], self.text(code, k["span"]), self.text(code, k["value"]))
                for k in spans["keywords"]]

    def test_callee_keywords_and_closing_parenthesis(self):
        code, spans = self.spans('th.load(f, weights_only = True , map_location="cpu", **kw)')
        self.assertEqual(code, 'th.load(f, weights_only = True , map_location="cpu", **kw)')
        self.assertEqual(self.text(code, spans["callee"]), "th.load")
        self.assertEqual(self.keywords(code, spans), [
            ("weights_only", "weights_only = True", "True"),
            ("map_location", 'map_location="cpu"', '"cpu"')])
        self.assertEqual(spans["close_paren"], len(code.encode("utf-8")) - 1)
        self.assertIsNone(spans["trailing_comma"])

    def test_offsets_are_bytes_after_any_utf8(self):
        code, spans = self.spans('x = "é"; torch.load("日本語", mmap=True)')
        self.assertEqual(code, 'torch.load("日本語", mmap=True)')
        (name, span, value), = self.keywords(code, spans)
        self.assertEqual((name, span, value), ("mmap", "mmap=True", "True"))
        self.assertEqual(spans["keywords"][0]["span"][0], len('torch.load("日本語", '.encode()))

    def test_whitespace_runs_are_collapsed_as_code_is(self):
        code, spans = self.spans('torch.load(f,\tmmap =  True,   weights_only=None ,  )')
        self.assertEqual(code, "torch.load(f, mmap = True, weights_only=None , )")
        self.assertEqual(self.keywords(code, spans), [
            ("mmap", "mmap = True", "True"), ("weights_only", "weights_only=None", "None")])
        self.assertEqual(self.text(code, spans["trailing_comma"]), ",")
        self.assertEqual(code[spans["close_paren"]], ")")

    def test_a_parenthesised_value_is_inside_its_keyword(self):
        code, spans = self.spans("torch.load(f, weights_only=(True))")
        self.assertEqual(self.keywords(code, spans),
                         [("weights_only", "weights_only=(True)", "True")])

    def test_a_call_across_lines_has_spans_in_its_joined_code(self):
        code, spans = self.spans("torch.load(\n    f,  # the file\n    pickle_module=dill,\n)")
        self.assertEqual(code, "torch.load( f, # the file pickle_module=dill, )")
        self.assertEqual(self.keywords(code, spans),
                         [("pickle_module", "pickle_module=dill", "dill")])
        self.assertEqual(self.text(code, spans["trailing_comma"]), ",")

    def test_a_cut_call_keeps_only_the_parts_before_the_cut(self):
        code, spans = self.spans(
            f'torch.load(f, mmap=mm, extra="{"x" * 200}", weights_only=False)')
        self.assertTrue(code.endswith("...") and len(code) == 200)
        self.assertEqual(self.keywords(code, spans), [("mmap", "mmap=mm", "mm")])
        self.assertIsNone(spans["close_paren"])
        self.assertIsNone(spans["trailing_comma"])

    def test_a_call_of_many_lines_keeps_the_parts_on_its_first_eight(self):
        arguments = "".join(f"    k{i}=0,\n" for i in range(12))
        code, spans = self.spans(f"torch.load(\n    f, mmap=mm,\n{arguments}    weights_only=True)")
        names = [name for name, _, _ in self.keywords(code, spans)]
        self.assertEqual(names, ["mmap", "k0", "k1", "k2", "k3", "k4", "k5"])
        self.assertIsNone(spans["close_paren"])

    def test_the_spans_are_valid_json_for_the_driver(self):
        answer = self.audit("import torch\ntorch.load(f, weights_only=True)\n")
        spans = json.loads(json.dumps(answer))["calls"][0]["spans"]
        self.assertEqual(spans, {"callee": [0, 10], "keywords": [
            {"name": "weights_only", "span": [14, 31], "value": [27, 31]}],
            "close_paren": 31, "trailing_comma": None})


class BadInputTest(AuditTestCase):
    def test_a_syntax_error_names_its_line(self):
        answer = self.audit("import torch\ndef (:\n    torch.load(x)\n")
        self.assertEqual(answer["status"], "error")
        self.assertFalse(answer["parsed"])
        self.assertTrue(answer["error"].startswith("line 2: "), answer["error"])

    def test_a_file_that_is_not_utf8_is_an_error(self):
        answer = self.audit(b'import torch\nx = "\xff\xfe"\ntorch.load(x)\n')
        self.assertEqual(answer["status"], "error")
        self.assertFalse(answer["parsed"])

    def test_a_declared_latin1_file_is_read(self):
        call = self.call(b'# -*- coding: latin-1 -*-\nimport torch\nx = "\xe9t\xe9"; '
                         b'torch.load(x, mmap=True)\n')
        self.assertEqual(call["code"], "torch.load(x, mmap=True)")
        self.assertEqual(call["spans"]["keywords"][0]["span"], [14, 23])

    def test_a_path_that_cannot_be_read_is_an_error(self):
        answer = audit_calls.audit_file(self.dir.name)  # a directory
        self.assertEqual(answer["status"], "error")
        self.assertTrue(answer["error"].startswith("cannot read: "), answer["error"])

    def test_a_share_writes_one_line_per_file_with_its_index(self):
        good = self.write("import torch\ntorch.load(f)\n", "good.py")
        bad = self.write("import torch\ndef (:\n    torch.load(x)\n", "bad.py")
        out = os.path.join(self.dir.name, "result-0.jsonl")
        audit_calls.audit_share([good, bad], range(2), out)
        with open(out, encoding="utf-8") as handle:
            lines = [json.loads(line) for line in handle]
        self.assertEqual([(line["index"], line["status"]) for line in lines],
                         [(0, "ok"), (1, "error")])
        self.assertEqual(lines[0]["calls"][0]["code"], "torch.load(f)")


if __name__ == "__main__":
    unittest.main()
