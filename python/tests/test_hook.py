"""The pre-commit entry's command line: its matrix and the project's lowest torch."""
import os
import tempfile
import unittest

from loadmatrix import hook


class DeclaredMinTorchTest(unittest.TestCase):
    def project(self, files):
        root = tempfile.mkdtemp()
        self.addCleanup(lambda: __import__("shutil").rmtree(root))
        for name, text in files.items():
            with open(os.path.join(root, name), "w", encoding="utf-8") as handle:
                handle.write(text)
        return root

    def test_pyproject_dependencies(self):
        root = self.project({"pyproject.toml": '[project]\ndependencies = [\n  "numpy",\n  "torch>=2.1,<3",\n]\n'})
        self.assertEqual(hook.declared_min_torch(root), "2.1")

    def test_requirements_and_extras(self):
        root = self.project({"requirements.txt": "# torch>=1.0 is old\ntorchvision>=0.20\ntorch[opt-einsum] ~= 2.4.0\n"})
        self.assertEqual(hook.declared_min_torch(root), "2.4.0")

    def test_names_that_only_start_with_torch_do_not_count(self):
        root = self.project({"setup.cfg": "[options]\ninstall_requires =\n    torchmetrics>=1.0\n    pytorch-lightning>=2\n"})
        self.assertIsNone(hook.declared_min_torch(root))

    def test_nothing_declared(self):
        self.assertIsNone(hook.declared_min_torch(self.project({})))


class HookArgsTest(unittest.TestCase):
    def test_releases_matrix_and_min_torch_come_first(self):
        root = tempfile.mkdtemp()
        with open(os.path.join(root, "requirements.txt"), "w", encoding="utf-8") as handle:
            handle.write("torch==2.6.0\n")
        args = hook.hook_args(["scan", "--static-only", "a.pt"], {}, root)
        self.assertEqual(args[:3], ["--quiet", "--color", "never"])
        self.assertTrue(args[4].endswith(os.path.join("matrix", "releases.json")))
        self.assertEqual(args[5:], ["scan", "--min-torch", "2.6.0", "--static-only", "a.pt"])

    def test_the_users_choices_win(self):
        args = hook.hook_args(["audit", "--min-torch", "2.0", "x.py"], {"LOADMATRIX_MATRIX": "m.json"}, "/nonexistent")
        self.assertEqual(args, ["--quiet", "--color", "never", "audit", "--min-torch", "2.0", "x.py"])

    def test_an_unknown_subcommand_is_a_usage_error(self):
        with self.assertRaises(SystemExit):
            hook.hook_args(["run"], {}, "/nonexistent")


if __name__ == "__main__":
    unittest.main()
