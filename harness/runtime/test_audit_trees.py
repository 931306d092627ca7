"""The audit's name resolution and wrappers on trees written for each pattern
(cases/audit_trees/*: star imports, re-exports, assignment aliases, functools.partial, relative
imports, wrappers, unguarded loads): every call its expected.json lists is found, with the fields
it gives, and no other. Standard library only. Run from this directory:
`python3 -m unittest test_audit_trees`."""

import json
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
