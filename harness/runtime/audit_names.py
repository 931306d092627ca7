"""Names as Python binds them, read statically with `ast`, within a module and across modules.

A module's scopes and their bindings (`Scope`, `Binder`), and the project they belong to
(`Project`): the audited tree, and when asked an env's installed packages, as a module index.
A dotted name is followed the way an import would find it: a module or a package's `__init__`,
a name it binds by import (absolute or relative), by `from M import *` (M's `__all__` when it
writes one out, else its public names), by an assignment alias (`tl = torch.load`) or by
`functools.partial`; a class's attribute through its bases. Nothing is imported or run.

Wrappers: a function whose body calls a loader, or another wrapper, is a loader itself. Its
`LoaderPath`s say, for each load it can reach, the chain of calls down to the loader and how each
of the loader's arguments is set there: a literal, an expression, left out, or one of the
function's own parameters passed through (by name, by position, or by **kwargs). doc/audit.md
documents what is followed and what is not.
"""

import ast
import importlib.util
import os
import re

# The loaders, by canonical name: torch.load and the wrappers torch ships that call it.
LOADERS = {
    "torch.load",
    "torch.serialization.load",
    "torch.hub.load_state_dict_from_url",
    "torch.utils.model_zoo.load_url",
}
# Loads weights_only does not guard, by canonical name, and how (doc/audit.md cites the source):
# torch.distributed.checkpoint reads the checkpoint's .metadata with pickle.load
# (FileSystemReader.read_metadata); torch.export.load retries with weights_only=False after any
# exception of its weights_only=True attempt.
UNGUARDED = {
    "torch.distributed.checkpoint.load": "plain_pickle",
    "torch.distributed.checkpoint.load_state_dict": "plain_pickle",
    "torch.distributed.checkpoint.state_dict_loader.load": "plain_pickle",
    "torch.distributed.checkpoint.state_dict_loader.load_state_dict": "plain_pickle",
    "torch.export.load": "internal_fallback",
}
TERMINALS = LOADERS | set(UNGUARDED)
# What `from M import *` binds of torch's loader modules (each lists its loader in `__all__`;
# model_zoo has none, so every public name).
TORCH_STARS = {
    "torch": {"load": "torch.load"},
    "torch.serialization": {"load": "torch.serialization.load"},
    "torch.hub": {"load_state_dict_from_url": "torch.hub.load_state_dict_from_url"},
    "torch.utils.model_zoo": {"load_url": "torch.utils.model_zoo.load_url"},
}
# The words a file must hold to call or bind a loader (an unguarded one too: `dcp.load`,
# `torch.export.load`); torch.distributed.checkpoint's load_state_dict is found by its module's
# name (audit_calls.ALWAYS_PARSED), since nn.Module.load_state_dict is in most files.
LOADER_WORDS = ["load", "load_url", "load_state_dict_from_url"]
# Chains longer than this are not followed (a real wrapper chain is 2-4 deep: Lightning's
# load_from_checkpoint -> _load_from_checkpoint -> _load -> torch.load).
MAX_DEPTH = 8
FUNCTION = (ast.FunctionDef, ast.AsyncFunctionDef)


def words_pattern(words):
    """A bytes pattern matching any of `words` where code can call or bind it: a whole word
    followed by `(` (a call), `.` (a class's method), `,` or `)` (an import list, a base class,
    a partial's first argument), ` as`,
    or the end of the line (an import, an alias, a return), spaces and continuations allowed
    between; not a `def` or `class` of it. A word in prose (a comment, a docstring) is followed
    by another word, so a file that only mentions one is not parsed."""
    alternatives = b"|".join(re.escape(word.encode()) for word in sorted(words, key=len,
                                                                        reverse=True))
    return re.compile(rb"(?<!def )(?<!class )\b(?:" + alternatives +
                      rb")\b(?:[ \t]|\\\n)*(?:[(),.\r\n]|as\b|\Z)")


# ---------------------------------------------------------------------------------------------
# One module's scopes.


class Alias:
    """`name = expression`, where the expression is a dotted name: resolved where it was bound."""

    __slots__ = ("expression", "scope", "line")

    def __init__(self, expression, scope, line):
        self.expression, self.scope, self.line = expression, scope, line


class PartialBinding:
    """`name = functools.partial(f, ...)`: f with arguments bound."""

    __slots__ = ("call", "scope", "line")

    def __init__(self, call, scope, line):
        self.call, self.scope, self.line = call, scope, line


class DefBinding:
    """A def or class of a module's or a class's body, by its qualified name in the module."""

    __slots__ = ("node", "qualname", "owner")

    def __init__(self, node, qualname, owner):
        self.node, self.qualname, self.owner = node, qualname, owner  # owner: the ClassDef


class Scope:
    """The bindings of one scope, in source order, per name: (line, target, hard). `target` is
    what the name refers to where that is known (an import's dotted name, an Alias, a
    PartialBinding, a DefBinding), or None for any other binding. A def, class or parameter hides
    an import of the same name ("hard"); an assignment may be a fallback
    (`except ImportError: torch = None`), so it hides nothing an earlier import bound."""

    def __init__(self, kind, parent, node=None):
        self.kind = kind  # "module", "class" or "function"
        self.parent = parent
        self.node = node
        self.bindings = {}  # name -> [(line, target, hard)], in source order
        self.global_names = set()  # declared `global`: bound in the module, not here
        self.stars = []  # (line, module) of each `from module import *`, in source order
        # A method's first parameter (`self`, or `cls` of a classmethod) and its class.
        self.self_name = None
        self.self_class = None
        self.self_is_class = False

    def bind(self, line, name, target=None, hard=False):
        scope = self
        if name in self.global_names:
            while scope.parent is not None:
                scope = scope.parent
        scope.bindings.setdefault(name, []).append((line, target, hard))

    def lookup(self, name, line):
        """(found, target) for `name` used at `line` in this scope. Module and class bodies run
        in order, so the bindings before the line count; a function's local names are local for
        its whole body, and a function sees its module's names as they end up. The latest
        reaching import wins, unless a def, class or parameter comes after it."""
        if name in self.global_names:
            return False, None
        reaching = [(target, hard) for bound_line, target, hard in self.bindings.get(name, ())
                    if self.kind == "function" or line is None or bound_line <= line]
        for target, hard in reversed(reaching):
            if target is not None:
                return True, target
            if hard:
                return True, None
        return bool(reaching), None


def _is_partial(call, scope):
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    return name == "partial" and bool(call.args) and not isinstance(call.args[0], ast.Starred)


class Binder(ast.NodeVisitor):
    """Records each scope's bindings; scopes are keyed by their node (the module, a class or a
    function). `module` is the module's dotted name and `package` the package its relative
    imports start from (the module itself for a package's __init__), None when unknown."""

    def __init__(self, module=None, package=None):
        self.module = module
        self.package = package
        self.scopes = {}
        self.current = None
        self.functions = []  # the enclosing function's qualified name, in parts
        self.owners = []  # the enclosing function nodes, innermost last
        self.classes = []  # the enclosing DefBindings of classes, innermost last
        self.withs = []  # the enclosing `with` statements, innermost last
        # Calls that may be a loader's, with what resolving and describing them needs: the
        # bindings are complete only after the walk (a function sees names bound after it).
        # (call, scope, function name, with statements, owning function node or None)
        self.candidates = []

    def _enter(self, node, kind):
        scope = Scope(kind, self.current, node)
        self.scopes[node] = scope
        return scope

    def visit_Module(self, node):
        self.current = self._enter(node, "module")
        self.generic_visit(node)

    def _leaf(self, node):
        """Nothing below binds a name or calls: not walked (a third of a walk's nodes)."""

    visit_Constant = visit_Load = visit_Store = visit_Del = visit_Pass = _leaf
    visit_Add = visit_Sub = visit_Mult = visit_Div = visit_Mod = visit_And = visit_Or = _leaf
    visit_Eq = visit_NotEq = visit_Lt = visit_Gt = visit_LtE = visit_GtE = visit_Is = _leaf
    visit_IsNot = visit_In = visit_NotIn = visit_Not = visit_USub = visit_alias = _leaf

    def _outer_parts(self, arguments):
        """Defaults and annotations are evaluated in the enclosing scope."""
        for default in arguments.defaults + [d for d in arguments.kw_defaults if d is not None]:
            self.visit(default)
        for arg in arguments.posonlyargs + arguments.args + arguments.kwonlyargs + [
                arguments.vararg, arguments.kwarg]:
            if arg is not None and arg.annotation is not None:
                self.visit(arg.annotation)

    def _definition(self, node):
        """The DefBinding of a def or class: a method's owner is its class; a function's local
        def is reached by its name inside the function only, as any local."""
        owner = self.classes[-1].node if self.current.kind == "class" else None
        return DefBinding(node, ".".join(self.functions + [node.name]), owner)

    def _function(self, node):
        self.current.bind(node.lineno, node.name, self._definition(node), hard=True)
        for decorator in node.decorator_list:
            self.visit(decorator)
        self._outer_parts(node.args)
        if node.returns is not None:
            self.visit(node.returns)
        in_class = self.current.kind == "class"
        outer, outer_withs = self.current, self.withs
        self.current, self.withs = self._enter(node, "function"), []
        self.functions.append(node.name)
        self.owners.append(node)
        arguments = node.args
        positional = arguments.posonlyargs + arguments.args
        if in_class and positional and not _decorated(node, "staticmethod"):
            self.current.self_name = positional[0].arg
            self.current.self_class = self.classes[-1]
            self.current.self_is_class = _decorated(node, "classmethod")
        for arg in arguments.posonlyargs + arguments.args + arguments.kwonlyargs:
            self.current.bind(node.lineno, arg.arg, hard=True)
        for arg in (arguments.vararg, arguments.kwarg):
            if arg is not None:
                self.current.bind(node.lineno, arg.arg, hard=True)
        for statement in node.body:
            self.visit(statement)
        self.owners.pop()
        self.functions.pop()
        self.current, self.withs = outer, outer_withs

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function

    def visit_Lambda(self, node):
        self._outer_parts(node.args)
        outer, outer_withs = self.current, self.withs
        self.current, self.withs = self._enter(node, "function"), []
        self.functions.append("<lambda>")
        self.owners.append(node)
        for arg in node.args.posonlyargs + node.args.args + node.args.kwonlyargs:
            self.current.bind(node.lineno, arg.arg, hard=True)
        self.visit(node.body)
        self.owners.pop()
        self.functions.pop()
        self.current, self.withs = outer, outer_withs

    def visit_ClassDef(self, node):
        binding = self._definition(node)
        self.current.bind(node.lineno, node.name, binding, hard=True)
        for expression in node.bases + node.keywords + node.decorator_list:
            self.visit(expression)
        outer, outer_withs = self.current, self.withs
        self.current, self.withs = self._enter(node, "class"), []
        self.functions.append(node.name)
        self.classes.append(binding)
        for statement in node.body:
            self.visit(statement)
        self.classes.pop()
        self.functions.pop()
        self.current, self.withs = outer, outer_withs

    def visit_Import(self, node):
        for alias in node.names:
            if alias.asname:
                self.current.bind(node.lineno, alias.asname, alias.name)
            else:  # `import torch.serialization` binds `torch`
                top = alias.name.split(".")[0]
                self.current.bind(node.lineno, top, top)

    def absolute(self, node):
        """The module a `from ... import` names, relative imports resolved; None when the
        package is unknown or the dots climb above it."""
        if node.level == 0:
            return node.module
        if self.package is None:
            return None
        parts = self.package.split(".") if self.package else []
        if node.level - 1 > len(parts) or (node.level - 1 == len(parts) and not node.module):
            return None
        base = parts[:len(parts) - (node.level - 1)]
        return ".".join(base + ([node.module] if node.module else [])) or None

    def visit_ImportFrom(self, node):
        module = self.absolute(node)
        for alias in node.names:
            if alias.name == "*":
                self.current.stars.append((node.lineno, module or "." * node.level +
                                           (node.module or ""), module is not None))
                continue
            name = alias.asname or alias.name
            self.current.bind(node.lineno, name, f"{module}.{alias.name}" if module else None)

    def visit_Assign(self, node):
        self.visit(node.value)
        target = node.targets[0] if len(node.targets) == 1 else None
        if isinstance(target, ast.Name):
            value = node.value
            if isinstance(value, (ast.Name, ast.Attribute)):
                self.current.bind(node.lineno, target.id, Alias(value, self.current, node.lineno))
                return
            if isinstance(value, ast.Call) and _is_partial(value, self.current):
                self.current.bind(node.lineno, target.id,
                                  PartialBinding(value, self.current, node.lineno))
                return
        for target in node.targets:
            self.visit(target)

    def visit_Name(self, node):
        if isinstance(node.ctx, (ast.Store, ast.Del)):
            self.current.bind(node.lineno, node.id)

    def visit_ExceptHandler(self, node):
        if node.name:
            self.current.bind(node.lineno, node.name)
        self.generic_visit(node)

    def visit_Global(self, node):
        self.current.global_names.update(node.names)  # bound in the module from here on

    def visit_With(self, node):
        self.withs.append(node)
        self.generic_visit(node)
        self.withs.pop()

    visit_AsyncWith = visit_With

    def visit_Call(self, node):
        if type(node.func) in (ast.Attribute, ast.Name):
            self.candidates.append((node, self.current, ".".join(self.functions) or "<module>",
                                    tuple(self.withs), self.owners[-1] if self.owners else None))
        self.generic_visit(node)


def _decorated(node, name):
    """Whether a decorator's name ends with `name` (`classmethod`, `_restricted_classmethod`)."""
    for decorator in node.decorator_list:
        if isinstance(decorator, ast.Call):
            decorator = decorator.func
        last = decorator.attr if isinstance(decorator, ast.Attribute) else getattr(
            decorator, "id", None)
        if last and last.endswith(name):
            return True
    return False


def final_name(func):
    """The last name of a call's callee: `load` of `torch.load`, `f` of `f`."""
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)


# ---------------------------------------------------------------------------------------------
# What a name refers to.


class External:
    """A dotted name outside what the project reads (numpy, a package not followed)."""

    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name


class Terminal:
    """A loader or an unguarded load: where a chain ends."""

    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name


class Module:
    """One parsed module of the project."""

    def __init__(self, name, path, tree, binder, source):
        self.name, self.path, self.tree, self.binder = name, path, tree, binder
        self.source = source
        self.lines = source.split("\n")
        self.scope = binder.scopes[tree]
        self.calls_by_owner = {}  # id(function node), id(None) for the module's own code
        self.owner_of = {}  # id(call) -> its function node, or None
        for candidate in binder.candidates:
            self.calls_by_owner.setdefault(id(candidate[4]), []).append(candidate)
            self.owner_of[id(candidate[0])] = candidate[4]
        self.fallbacks = {}  # id(function node) -> {id(loader call): fallback}: audit_calls


class Def:
    """A function (or method) of a module, as a call reaches it; `bound`: called through an
    instance or class, so its first parameter is already given."""

    __slots__ = ("module", "node", "qualname", "bound")

    def __init__(self, module, node, qualname, bound):
        self.module, self.node, self.qualname, self.bound = module, node, qualname, bound

    @property
    def name(self):
        return f"{self.module.name}.{self.qualname}" if self.module.name else self.qualname


class Class:
    __slots__ = ("module", "node", "qualname")

    def __init__(self, module, node, qualname):
        self.module, self.node, self.qualname = module, node, qualname


class Partial:
    """functools.partial(func, ...) bound in `module`: func's object and the bound call."""

    __slots__ = ("func", "call", "scope", "module", "line")

    def __init__(self, func, call, scope, module, line):
        self.func, self.call, self.scope, self.module, self.line = func, call, scope, module, line


def parse_source(data, path):
    """(tree, source) of a file's bytes; raises what ast and the decoder raise."""
    tree = ast.parse(data, filename=path)
    return tree, importlib.util.decode_source(data)


class Project:
    """The audited files and the installed packages followed, as modules by dotted name.

    `files`: the audited paths; a file's module name is its path from the first directory up
    that is not a package (has no __init__.py), so `src/pkg/io.py` is `pkg.io`. `roots`: the
    site-packages directories followed (torch's own package never is: what a torch does is its
    measured facts). A module is parsed once, when first needed."""

    def __init__(self, files, roots=()):
        self.roots = list(roots)
        self.tree_paths = {}  # module name -> path
        self.names = {}  # path -> (module name, package)
        for path in files:
            name, package = module_name(path)
            self.names[path] = (name, package)
            if name:
                self.tree_paths.setdefault(name, path)
        self.modules = {}  # module name -> Module or None
        self.by_path = {}  # path -> Module or None
        self.lookups = {}
        self.module_attributes = {}  # (id(module), name) -> what it is

    # Modules ------------------------------------------------------------------------------

    def find(self, name):
        path = self.tree_paths.get(name)
        if path is not None or name.split(".")[0] == "torch":
            return path
        relative = name.replace(".", os.sep)
        for root in self.roots:
            for candidate in (os.path.join(root, relative + ".py"),
                              os.path.join(root, relative, "__init__.py")):
                if os.path.isfile(candidate):
                    return candidate
        return None

    def module(self, name):
        if name in self.modules:
            return self.modules[name]
        self.modules[name] = None  # a cycle of lookups sees it unknown
        path = self.find(name)
        module = self.module_at(path, name) if path else None
        self.modules[name] = module
        return module

    def module_at(self, path, name=None):
        """The file at `path` parsed, or None when it cannot be (its error is the audit's
        concern when the file is audited, not when it is only looked into)."""
        if path in self.by_path:
            return self.by_path[path]
        self.by_path[path] = None
        if name is None:
            name = self.names.get(path, (None, None))[0]
        package = self.names[path][1] if path in self.names else (
            None if name is None else name if path.endswith("__init__.py") else
            name.rpartition(".")[0])
        try:
            with open(path, "rb") as handle:
                data = handle.read()
            tree, source = parse_source(data, path)
            return self.add(path, name, package, tree, source)
        except (OSError, SyntaxError, ValueError, UnicodeDecodeError, RecursionError,
                MemoryError):
            return None  # the Binder's walk too: nesting Python parses but cannot walk

    def add_installed(self, path, root):
        """Names an installed file by its path under `root` (namespace packages included)."""
        relative = os.path.relpath(path, root)[:-3].split(os.sep)
        if relative[-1] == "__init__":
            relative = relative[:-1]
            package = ".".join(relative)
        else:
            package = ".".join(relative[:-1])
        if relative and all(part.isidentifier() for part in relative):
            self.names[path] = (".".join(relative), package)

    def add(self, path, name, package, tree, source):
        binder = Binder(name, package)
        binder.visit(tree)
        module = Module(name, path, tree, binder, source)
        self.by_path[path] = module
        if name:
            self.modules.setdefault(name, module)
        return module

    # Names ---------------------------------------------------------------------------------

    def lookup(self, dotted, depth=0):
        """What the dotted name refers to: Terminal, Module, Def, Class, Partial or External."""
        if dotted in TERMINALS:
            return Terminal(dotted)
        if dotted in self.lookups:
            return self.lookups[dotted]
        self.lookups[dotted] = External(dotted)  # a cycle ends as unknown
        found = self._lookup(dotted, depth)
        self.lookups[dotted] = found
        return found

    def _lookup(self, dotted, depth):
        parts = dotted.split(".")
        for end in range(len(parts), 0, -1):
            module = self.module(".".join(parts[:end]))
            if module is not None:
                found = module
                for attr in parts[end:]:
                    found = self.attribute(found, attr, depth + 1)
                return found
        return External(dotted)

    def attribute(self, obj, attr, depth=0):
        if depth > 40:
            return External("?")
        if isinstance(obj, External):
            return self.lookup(f"{obj.name}.{attr}", depth + 1)
        if isinstance(obj, Module):
            # Memoized per module and name: star imports of star imports (a module importing
            # itself three times) would otherwise be followed k^depth times.
            key = (id(obj), attr)
            if key in self.module_attributes:
                return self.module_attributes[key]
            self.module_attributes[key] = External("?")  # a cycle ends as unknown
            found_object = self._module_attribute(obj, attr, depth)
            self.module_attributes[key] = found_object
            return found_object
        if isinstance(obj, Class):
            return self.class_attribute(obj, attr, depth + 1, set(), "class")
        return External("?")

    def _module_attribute(self, obj, attr, depth):
        """A module's name: its own binding, else what a star import binds, else a submodule."""
        dotted = f"{obj.name}.{attr}" if obj.name else attr
        if dotted in TERMINALS:
            return Terminal(dotted)
        found, target = obj.scope.lookup(attr, None)
        if found:
            return self.target(target, obj, depth + 1)
        for _, star, resolved in reversed(obj.scope.stars):
            through = self.star_name(star, attr, depth) if resolved else None
            if through is not None:
                return through
        if obj.name:
            submodule = self.module(dotted)
            if submodule is not None:
                return submodule
        return External(dotted)

    def star_name(self, star, attr, depth):
        """What `from star import *` binds `attr` to, or None when it binds no such name."""
        if star in TORCH_STARS:
            name = TORCH_STARS[star].get(attr)
            return Terminal(name) if name else None
        module = self.module(star)
        if module is None:
            return None
        if not exported(module, attr):
            return None
        found = self.attribute(module, attr, depth + 1)
        return None if isinstance(found, External) and not module.scope.lookup(attr, None)[0] \
            else found

    def class_attribute(self, cls, attr, depth, seen, access):
        """A class's attribute through its bases (depth first, as most MROs agree), reached
        through the class itself (`access` "class") or an instance of it ("instance")."""
        if id(cls.node) in seen or depth > 40:
            return External("?")
        seen.add(id(cls.node))
        scope = cls.module.binder.scopes.get(cls.node)
        if scope is not None:
            found, target = scope.lookup(attr, None)
            if found:
                got = self.target(target, cls.module, depth + 1, access)
                if (access == "instance" and isinstance(got, Def) and not got.bound and
                        not isinstance(target, DefBinding) and
                        not _decorated(got.node, "staticmethod")):
                    # `fetch = helper` in a class body: Python passes the instance first.
                    got = Def(got.module, got.node, got.qualname, True)
                return got
        for base in self.bases(cls, depth + 1):
            found = self.class_attribute(base, attr, depth + 1, seen, access)
            if not isinstance(found, External):
                return found
        return External("?")

    def bases(self, cls, depth=0, worth=None):
        """The classes `cls` derives from that the project can read, in order; `worth(name)`
        (a base's last name) skips the others unresolved. Bases are written where the class is:
        a class made in a function sees that function's names."""
        scope = cls.module.binder.scopes.get(cls.node)
        enclosing = scope.parent if scope is not None and scope.parent else cls.module.scope
        for base in cls.node.bases:
            if worth is not None and not worth(final_name(base)):
                continue
            resolved = self.resolve(base, enclosing, cls.node.lineno, cls.module, depth + 1)
            if isinstance(resolved, Class):
                yield resolved

    def target(self, target, module, depth, access="module"):
        """A binding's target as an object: an import's dotted name looked up, an alias or a
        partial resolved where it was bound, a def or class of `module`. A method reached
        through its class is bound when it is a classmethod (any decorator named so, like
        Lightning's `_restricted_classmethod`), through an instance unless a staticmethod."""
        if target is None:
            return External("?")
        if isinstance(target, str):
            return self.lookup(target, depth + 1)
        if isinstance(target, DefBinding):
            if isinstance(target.node, ast.ClassDef):
                return Class(module, target.node, target.qualname)
            method = target.owner is not None
            bound = method and (_decorated(target.node, "classmethod") if access == "class"
                                else access == "instance" and not _decorated(target.node,
                                                                              "staticmethod"))
            return Def(module, target.node, target.qualname, bound)
        if isinstance(target, Alias):
            return self.resolve(target.expression, target.scope, target.line, module, depth + 1)
        if isinstance(target, PartialBinding):
            func = self.resolve(target.call.args[0], target.scope, target.line, module,
                                depth + 1)
            return Partial(func, target.call, target.scope, module, target.line)
        return External("?")

    def resolve(self, expression, scope, line, module, depth=0):
        """What a Name or Attribute chain written in `scope` at `line` refers to."""
        if depth > 40:
            return External("?")
        if isinstance(expression, ast.Attribute):
            base = self.resolve(expression.value, scope, line, module, depth + 1)
            if isinstance(base, (External, Module, Class)):
                if isinstance(base, External) and base.name == "?":
                    return base
                return self.attribute(base, expression.attr, depth + 1)
            if isinstance(base, Instance):
                return self.class_attribute(base.cls, expression.attr, depth + 1, set(),
                                            "instance")
            return External("?")
        if not isinstance(expression, ast.Name):
            return External("?")
        name = expression.id
        at = line
        while scope is not None:
            if scope.kind == "class" and at is None:
                scope = scope.parent  # a method does not see its class body's names
                continue
            if scope.kind == "function" and scope.self_name == name and scope.self_class:
                if len(scope.bindings.get(name, ())) == 1:  # never rebound
                    cls = Class(module, scope.self_class.node, scope.self_class.qualname)
                    return cls if scope.self_is_class else Instance(cls)
            found, target = scope.lookup(name, at)
            if found:
                return self.target(target, module, depth + 1)
            if scope.kind == "function":
                at = None  # enclosing scopes are seen as they end up
            if scope.parent is None:
                break
            scope = scope.parent
        if scope is not None and scope.kind == "module":
            for _, star, resolved in reversed(scope.stars):
                through = self.star_name(star, name, depth) if resolved else None
                if through is not None:
                    return through
        return External("?")


class Instance:
    """`self` (or `cls`) in a method: an object of the class, whose attributes its methods are,
    already bound."""

    __slots__ = ("cls",)

    def __init__(self, cls):
        self.cls = cls


def exported(module, name):
    """Whether `from module import *` binds `name`: its literal `__all__`, else a public name it
    binds."""
    listed = module_all(module)
    if listed is not None:
        return name in listed
    return not name.startswith("_") and (module.scope.lookup(name, None)[0] or any(
        resolved for _, _, resolved in module.scope.stars))


def module_all(module):
    """A module's `__all__` when it is a literal list or tuple of strings (with += of more)."""
    names = None
    for statement in module.tree.body:
        if isinstance(statement, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = statement.targets if isinstance(statement, ast.Assign) else [
                statement.target]
            if not any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
                continue
            value = statement.value
            if not isinstance(value, (ast.List, ast.Tuple)):
                return None
            listed = [e.value for e in value.elts
                      if isinstance(e, ast.Constant) and isinstance(e.value, str)]
            names = (names or []) + listed if isinstance(statement, ast.AugAssign) else listed
    return None if names is None else set(names)


def module_name(path):
    """(module name, package) of a file by its directories: the package directories above it
    (each with an __init__.py) and its own name."""
    directory, filename = os.path.split(os.path.abspath(path))
    stem = filename[:-3] if filename.endswith(".py") else filename
    parts = [] if stem == "__init__" else [stem]
    while os.path.isfile(os.path.join(directory, "__init__.py")):
        directory, package = os.path.split(directory)
        if not package:
            break
        parts.insert(0, package)
    if not parts:
        return None, None
    name = ".".join(parts)
    if not all(part.isidentifier() for part in parts):
        return None, None
    package = name if stem == "__init__" else name.rpartition(".")[0]
    return name, package
