"""The audit's name resolution and wrappers on trees written for each pattern
(cases/audit_trees/*: star imports, re-exports, assignment aliases, functools.partial, relative
imports, wrappers, unguarded loads): every call its expected.json lists is found, with the fields
it gives, and no other. Standard library only. Run from this directory:
`python3 -m unittest test_audit_trees`."""

import json
import tempfile
import textwrap
import os
import unittest

import audit_calls

TREES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "cases",
                     "audit_trees")


def audit_tree(root):
    """{relative path: answer} for every .py file under root, audited as one project."""
    paths = sorted(os.path.join(directory, name) for directory, _, names in os.walk(root)
                   for name in names if name.endswith(".py"))
    session = audit_calls.Session(paths).index_to_fixed_point()
    return {os.path.relpath(path, root): audit_calls.audit_file(path, session) for path in paths}


def found_calls(root, answers):
    calls = []
    for path, answer in sorted(answers.items()):
        for call in answer.get("calls", []):
            entry = {"path": path, "line": call["line"], "callee": call["callee"],
                     "weights_only": call["weights_only"]}
            if call["mmap"] != "omitted":
                entry["mmap"] = call["mmap"]
            if call["via"]:
                entry["via"] = call["via"]
                entry["keyword"] = call["weights_only_keyword"]
                entry["chain"] = [f"{os.path.relpath(frame['path'], root)}:{frame['line']}"
                                  for frame in call["chain"]]
            if call["fallback"]:
                fallback = dict(call["fallback"])
                if "path" in fallback:
                    fallback["path"] = os.path.relpath(fallback["path"], root)
                entry["fallback"] = fallback
            calls.append(entry)
    return calls


class TreesTest(unittest.TestCase):
    def check(self, name):
        root = os.path.join(TREES, name)
        with open(os.path.join(root, "expected.json"), encoding="utf-8") as handle:
            expected = json.load(handle)
        answers = audit_tree(root)
        for path, answer in answers.items():
            self.assertEqual(answer["status"], "ok", (path, answer))
        key = lambda call: (call["path"], call["line"], call.get("chain", []))
        self.assertEqual(sorted(found_calls(root, answers), key=key),
                         sorted(expected["calls"], key=key))
        for path, beginnings in expected.get("notes", {}).items():
            notes = answers[path].get("notes", [])
            self.assertEqual(len(notes), len(beginnings), notes)
            for note, beginning in zip(notes, beginnings):
                self.assertTrue(note.startswith(beginning), note)
        for path, answer in answers.items():
            if path not in expected.get("notes", {}):
                self.assertNotIn("notes", answer, path)

    def test_star_imports(self):
        self.check("star")

    def test_reexports(self):
        self.check("reexport")

    def test_assignment_aliases(self):
        self.check("alias")

    def test_functools_partial(self):
        self.check("partial")

    def test_relative_imports(self):
        self.check("relative")

    def test_wrappers(self):
        self.check("wrappers")

    def test_unguarded_loads(self):
        self.check("unguarded")


if __name__ == "__main__":
    unittest.main()


class ProjectTest(unittest.TestCase):
    """Small projects written here: what the trees do not show, hostile input among it."""

    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)

    def project(self, files):
        paths = []
        for name, source in files.items():
            path = os.path.join(self.dir.name, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(textwrap.dedent(source))
            paths.append(path)
        return paths

    def calls(self, paths, order=None):
        session = audit_calls.Session(paths).index_to_fixed_point()
        found = {}
        for path in order or paths:
            answer = audit_calls.audit_file(path, session)
            found[os.path.relpath(path, self.dir.name)] = [
                (call["line"], call["weights_only"], call["via"]) for call in
                answer.get("calls", [])]
        return found

    def test_a_module_that_star_imports_itself_ends_quickly(self):
        paths = self.project({"pkg/__init__.py": "", "pkg/a.py": """
            from pkg.a import *
            from pkg.a import *
            from pkg.a import *
            fetch = load
            fetch("x")
            """})
        self.assertEqual(self.calls(paths)["pkg/a.py"], [])

    def test_nesting_the_walk_cannot_hold_is_that_files_loss_only(self):
        paths = self.project({
            "deep.py": "import torch\nx = torch" + ".a" * 3000 + ".load('x')\n",
            "ok.py": "import torch\ntorch.load('y', weights_only=True)\n"})
        found = self.calls(paths)
        self.assertEqual(found["ok.py"], [(2, "true", None)])

    def test_a_chain_near_the_depth_limit_is_found_whatever_the_order(self):
        helpers = "import torch\n" + "".join(
            f"def h{i}(p):\n    return h{i + 1}(p)\n" for i in range(12)) + (
            "def h12(p):\n    return torch.load(p, weights_only=False)\n")
        paths = self.project({"helpers.py": helpers, "a.py": "from helpers import h0\nh0('x')\n",
                              "b.py": "from helpers import h8\nh8('y')\n"})
        for order in (paths, list(reversed(paths))):
            self.assertEqual(self.calls(paths, order)["b.py"], [(2, "false", "helpers.h8")])

    def test_a_recursive_helper_is_found_from_either_side(self):
        paths = self.project({"h.py": """
            import torch
            def f(p):
                return g(p)
            def g(p):
                if p:
                    return f(p[1:])
                return torch.load(p)
            """, "use.py": "from h import f, g\ng('a')\nf('b')\n"})
        self.assertEqual(self.calls(paths)["use.py"],
                         [(2, "omitted", "h.g"), (3, "omitted", "h.f")])

    def test_a_keyword_naming_a_parameter_never_reaches_kwargs(self):
        paths = self.project({"h.py": """
            import torch
            def f(p, weights_only=False, **kw):
                return torch.load(p, **kw)
            f("x", weights_only=True)
            """})
        self.assertEqual(self.calls(paths)["h.py"], [(4, "dynamic", None), (5, "omitted", "h.f")])

    def test_a_partial_of_a_partial_binds_both(self):
        paths = self.project({"h.py": """
            import functools
            import torch
            cpu = functools.partial(torch.load, map_location="cpu")
            trusted = functools.partial(cpu, weights_only=False)
            trusted("x")
            """})
        self.assertEqual(self.calls(paths)["h.py"],
                         [(6, "false", "functools.partial(torch.load)")])

    def test_a_local_def_and_a_rewrite_in_a_nested_def(self):
        paths = self.project({"h.py": """
            import torch
            def f(p, weights_only=None):
                def g(weights_only):
                    if weights_only is None:
                        weights_only = False
                    return weights_only
                def read():
                    return torch.load(p, weights_only=False)
                return read(), torch.load(p, weights_only=weights_only)
            f("x")
            """})
        found = self.calls(paths)["h.py"]
        self.assertIn((10, "false", "h.f.read"), found)
        self.assertIn((11, "none", "h.f"), found)  # g's rewrite is g's own

    def test_a_class_attribute_aliasing_a_function_is_bound_through_an_instance(self):
        paths = self.project({"h.py": """
            import torch
            def helper(owner, p, weights_only=None):
                return torch.load(p, weights_only=weights_only)
            class Store:
                fetch = helper
                def read(self, p):
                    return self.fetch(p, False)
            """})
        self.assertIn((8, "false", "h.helper"), self.calls(paths)["h.py"])

    def test_what_the_loader_receives_when_the_call_leaves_the_keyword_out(self):
        paths = self.project({"h.py": """
            import torch
            def fetch(url, weights_only=None):
                if weights_only is None:
                    weights_only = True
                return torch.hub.load_state_dict_from_url(url, weights_only=weights_only)
            def torch_load(path, **kwargs):
                return torch.load(path, **kwargs)
            fetch("u", weights_only=False)
            torch_load("p", weights_only=False)
            """})
        session = audit_calls.Session(paths).index_to_fixed_point()
        calls = audit_calls.audit_file(paths[0], session)["calls"]
        left_out = {call["line"]: call["weights_only_left_out"] for call in calls if call["via"]}
        self.assertEqual(left_out, {9: "true", 10: "omitted"})

    def test_an_import_under_another_name_inside_a_function(self):
        paths = self.project({"h.py": """
            def restore(path):
                from torch import load as tl
                return tl(path, weights_only=True)
            """})
        self.assertEqual(self.calls(paths)["h.py"], [(4, "true", None)])
