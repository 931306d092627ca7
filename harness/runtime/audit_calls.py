"""Finds every call of torch's loaders in Python sources, with Python's own `ast`: called
directly, or through the names and wrappers audit_names.py and audit_wrappers.py follow.

Run by `loadmatrix audit` in an env's sandbox (the newest, whose Python parses the newest
syntax): `python3 audit_calls.py REQUEST.json OUT_DIR`. The request is {"files": [path, ...],
"roots": [site-packages, ...], "jobs": N}, each path a string or {"hex": ...} (a name that is not
UTF-8); `roots` are the installed packages followed (none: only the audited files). Nothing of
the audited code is imported or run.

First the names that can reach a loader are found, to a fixed point: the loaders' own, then
every function, method, alias or partial of the files that mention one of them and reaches a
loader through it (`reaching_names`). Then share k of the files (k, k + N, ...) is audited by its
own forked process, which appends one line per file to OUT_DIR/result-k.jsonl as it finishes it:
{"index", "status": "ok"|"error", "error", "parsed", "notes", "calls": [...]} (files, not stdout:
a large codebase's answer is more than a captured stdout holds, and a run cut short keeps what it
did). doc/audit.md documents a call's fields; doc/protocol.md the spans the driver rewrites by.

A file that calls or binds none of those names and names no unguarded loader's module cannot
hold a call this resolver finds, so it is read but not parsed ("parsed": false): most of a large
codebase, and most of the time an audit would take.
"""

import ast
import json
import os
import re
import signal
import sys

import _loadmatrix_runtime as protocol
from audit_names import (FUNCTION, LOADER_WORDS, TORCH_STARS, Class, Def, DefBinding, Partial,
                         Project, Terminal, parse_source, words_pattern)
from audit_wrappers import Wrappers, dotted_name, literal_kind, written

SAFE_GLOBALS = "torch.serialization.safe_globals"
# Beside the names: torch.distributed.checkpoint's load_state_dict is known by its module
# (`import torch.distributed.checkpoint as dcp`). A star import needs no pattern of its own: a
# call of what it binds spells a name the rounds match.
ALWAYS_PARSED = re.compile(rb"distributed\.checkpoint|distributed import checkpoint")


# ---------------------------------------------------------------------------------------------
# The names that reach a loader.


def reaches(wrappers, obj, seen=None):
    """Whether calling `obj` can reach a loader; a class, whether one of its methods can (its
    own or its bases')."""
    if isinstance(obj, Terminal):
        return True
    if isinstance(obj, Def):
        return bool(wrappers.paths(obj))
    if isinstance(obj, Partial):
        return reaches(wrappers, obj.func)
    if isinstance(obj, Class):
        seen = seen if seen is not None else set()
        if id(obj.node) in seen:
            return False
        seen.add(id(obj.node))
        project = wrappers.project
        scope = obj.module.binder.scopes.get(obj.node)
        for name, bound in (scope.bindings.items() if scope else ()):
            target = bound[-1][1]
            if (isinstance(target, DefBinding) and not _dunder(name) and
                    isinstance(target.node, FUNCTION) and
                    reaches(wrappers, project.target(target, obj.module, 0, "instance"))):
                return True
        # A base that reaches a loader is itself among the names (found in a round before): any
        # other is not resolved (nn.Module's module would be parsed for nothing).
        return any(reaches(wrappers, base, seen)
                   for base in project.bases(obj, worth=wrappers.may_reach))
    return False


def _binding_names(module):
    """(scope, name, last target) of a module's and its classes' bindings."""
    for node, scope in module.binder.scopes.items():
        if scope.kind == "function":
            continue
        for name, bound in scope.bindings.items():
            yield scope, name, bound[-1][1]


def _dunder(name):
    return name.startswith("__") and name.endswith("__")


class Index:
    """The names a call must spell to reach a loader, found in rounds over `paths` (a share of
    the audited files and of the installed ones followed) to a fixed point: each round parses
    the files that mention a name new in that round, and finds the names of their functions,
    classes, aliases, imports and partials that reach a loader. A method that reaches one is
    named ".name": it makes a call `x.name(...)` worth resolving, but a file is parsed for its
    class's name (which `Cls.name(...)`, a subclass or an import of the class spells), since
    `x.name` on an object of unknown type is not followed. With several shares, each finds its
    own and the driver of the rounds unites them (`main`)."""

    def __init__(self, project, paths, read):
        self.project = project
        self.pending = list(paths)
        self.domain = set(paths)
        self.matched = set()  # the paths a round's names matched: at the fixed point, the ones
        self.read = read      # a call to a loader can be in
        self.parsed = []
        self.names = set()
        self.wrappers = Wrappers(project, self.may_reach)

    def may_reach(self, name):
        return name in self.names or f".{name}" in self.names

    def round(self, new):
        """Takes the names new in this round; gives the names this share's files reach a loader
        by that are not among them yet."""
        self.names |= set(new)
        spelled = [name for name in new if not name.startswith(".")]
        pattern = words_pattern(spelled) if spelled else None
        words = [word.encode() for word in spelled]
        still = []
        for path in self.pending:
            data = self.read(path) if pattern else None
            # A substring search first: most files hold none of a round's few new names.
            if (data is not None and any(word in data for word in words) and
                    pattern.search(data)):
                self.matched.add(path)
                module = within_budget(self.project.module_at, path)
                if module is not None:
                    self.parsed.append(module)
            else:
                still.append(path)
        self.pending = still
        names = self.names
        # One Wrappers for every round: a def found to reach a loader still does; one found not
        # to is asked again when it calls a name new in this round (how a wrapper of a wrapper
        # found last round is found).
        wrappers = self.wrappers
        wrappers.forget_unreached({name.lstrip(".") for name in new})
        found = set()
        for module in self.parsed:
            # One file's names, within its budget: a hostile file loses its own names only.
            within_budget(self.names_of, module, wrappers, found)
        return found

    def names_of(self, module, wrappers, found):
        """Adds to `found` the names `module` binds that reach a loader."""
        names = self.names
        for scope, name, target in _binding_names(module):
            # A dunder (`__init__`, `__call__`) is reached by construction, a call or an
            # operator, none of which the audit follows; as a name it would only make every
            # file that mentions it parsed.
            key = f".{name}" if scope.kind == "class" else name
            if key in names or key in found or _dunder(name):
                continue
            if (not isinstance(target, DefBinding) and
                    not wrappers.binding_worth_resolving(target)):
                continue
            obj = self.project.target(target, module, 0, "instance" if scope.kind == "class"
                                      else "module")
            if reaches(wrappers, obj):
                found.add(key)
                if scope.kind == "class" and scope.node.name not in names:
                    found.add(scope.node.name)  # the class that has the method


def reaching_names(index):
    """The fixed point of one share's rounds."""
    names = set(LOADER_WORDS)
    new = set(names)
    while new:
        new = index.round(new) - names
        names |= new
    return names


# ---------------------------------------------------------------------------------------------
# Calls: each loader call described as doc/audit.md lists.


class CallFinder:
    """The calls of a module that reach a loader, each described: one per load it reaches."""

    def __init__(self, module, project, wrappers):
        self.module = module
        self.project = project
        self.wrappers = wrappers
        self.lines = module.lines
        self.calls = []
        self.owners = {}  # the functions (or None: the module) the calls are in
        for node, scope, function, withs, owner in module.binder.candidates:
            # A call reaching several loads of one form (Lightning's `_load` has two torch.load
            # branches) is one call site, with the first chain and how many loads it stands for.
            forms = {}
            for path in wrappers.call_paths(module, node, scope, None):
                facts = self.describe(node, path, scope, function, withs)
                key = (facts["callee"], facts["weights_only"], facts["pickle_module"],
                       facts["mmap"], facts["weights_only_keyword"], json.dumps(
                           facts["fallback"], sort_keys=True), json.dumps(facts["safe_globals"]))
                if key in forms:
                    forms[key]["loads"] += 1
                    continue
                facts["loads"] = 1
                forms[key] = facts
                self.calls.append((node, path, facts))
                self.owners[id(owner)] = owner

    def segment(self, node, max_lines=8, lines=None):
        """The call's source text, from its own lines only (ast.get_source_segment splits the
        whole file on every call: quadratic in a file of many calls)."""
        lines = self.lines if lines is None else lines
        end, end_col = getattr(node, "end_lineno", None), getattr(node, "end_col_offset", None)
        if end is None or end_col is None or not 0 < node.lineno <= end <= len(lines):
            return None
        first = node.lineno - 1
        if end - 1 == first:
            return lines[first].encode("utf-8")[node.col_offset:end_col].decode(
                "utf-8", "replace")
        parts = [lines[first].encode("utf-8")[node.col_offset:].decode("utf-8", "replace")]
        parts += lines[first + 1:min(end - 1, first + max_lines)]
        if end - 1 < first + max_lines:
            parts.append(lines[end - 1].encode("utf-8")[:end_col].decode("utf-8", "replace"))
        return "\n".join(parts)

    def column(self, node, lines=None):
        """1-based, in Unicode code points (SARIF's unicodeCodePoints); ast counts UTF-8 bytes."""
        lines = self.lines if lines is None else lines
        if not 0 < node.lineno <= len(lines):
            return node.col_offset + 1
        prefix = lines[node.lineno - 1].encode("utf-8")[: node.col_offset]
        return len(prefix.decode("utf-8", "replace")) + 1

    def safe_globals(self, module, scope, withs):
        """The innermost enclosing `with torch.serialization.safe_globals(...)`: its names when
        they are written out, else {"names": None}."""
        for block in reversed(withs):
            for item in block.items:
                manager = item.context_expr
                if not isinstance(manager, ast.Call):
                    continue
                resolved = self.project.resolve(manager.func, scope, block.lineno, module)
                if dotted_name(resolved) != SAFE_GLOBALS:
                    continue
                listed = manager.args[0] if manager.args else None
                if not isinstance(listed, (ast.List, ast.Tuple)):
                    return {"names": None}
                names = []
                for element in listed.elts:
                    if isinstance(element, ast.Tuple) and len(element.elts) == 2:
                        written_name = element.elts[1]
                        if isinstance(written_name, ast.Constant) and isinstance(
                                written_name.value, str):
                            names.append(written_name.value)
                            continue
                    name = dotted_name(self.project.resolve(element, scope, block.lineno,
                                                            module))
                    names.append(name if name != "?" else ast.unparse(element))
                return {"names": names}
        return None

    def frame(self, frame):
        lines = frame.module.lines
        return {"path": frame.module.path, "line": frame.call.lineno,
                "column": self.column(frame.call, lines), "function": frame.function,
                "code": _one_line(self.segment(frame.call, lines=lines))}

    def describe(self, node, path, scope, function, withs):
        segment = self.segment(node)
        code = _one_line(segment)
        safe_globals = self.safe_globals(self.module, scope, withs)
        if safe_globals is None and path.chain:
            inner = path.chain[-1]
            safe_globals = self.safe_globals(inner.module, inner.scope, inner.withs)
        facts = {
            "line": node.lineno,
            "column": self.column(node),
            "end_line": getattr(node, "end_lineno", None) or node.lineno,
            "function": function,
            "callee": path.callee,
            "weights_only": written(path.flows["weights_only"], "weights_only"),
            "pickle_module": written(path.flows["pickle_module"], "pickle_module"),
            "mmap": written(path.flows["mmap"], "mmap"),
            "safe_globals": safe_globals,
            "input": loaded_input(node),
            "code": code,
            "spans": CallSpans(self.lines, node, segment, code).spans() if code else None,
            "via": path.via,
            "weights_only_keyword": path.keyword,
            "weights_only_bound": path.bound,
            "weights_only_left_out": written(path.left_out, "weights_only"),
            "chain": [self.frame(frame) for frame in path.chain],
            "fallback": None,
        }
        if path.chain:
            facts["fallback"] = inner_fallback(path.chain[-1], self.wrappers)
        return facts


def inner_fallback(frame, wrappers):
    """The fallback of the loader call a chain ends at, found among the loader calls of the
    function it is in; it names the module's path, since its attempt line is there."""
    module = frame.module
    owner = module.owner_of.get(id(frame.call))
    table = module.fallbacks.get(id(owner))
    if table is None:
        module.fallbacks[id(owner)] = {}
        calls = []
        for node, scope, _, _, _ in module.calls_by_owner.get(id(owner), ()):
            for path in wrappers.call_paths(module, node, scope, None):
                if not path.chain:
                    calls.append((node, path, {
                        "line": node.lineno, "fallback": None,
                        "weights_only": written(path.flows["weights_only"], "weights_only"),
                        "input": loaded_input(node)}))
        if calls:
            find_fallbacks(calls, parent_map(owner or module.tree))
        table = module.fallbacks[id(owner)] = {id(node): facts["fallback"]
                                               for node, _, facts in calls}
    fallback = table.get(id(frame.call))
    return dict(fallback, path=module.path) if fallback else None


def loaded_input(call):
    """The call's first argument, as a fallback compares it with its attempt's."""
    first = call.args[0] if call.args and not isinstance(call.args[0], ast.Starred) else None
    return ast.dump(first) if first is not None else None


def parent_map(tree):
    """Each node's parent under `tree`: a fallback is looked for up to its function, so a call's
    function is walked, not its whole module."""
    return {child: parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)}


_LIMIT = 200


def _one_line(code, limit=_LIMIT):
    """The call as written, on one line and bounded, for reports."""
    if code is None:
        return None
    code = " ".join(code.split())
    return code if len(code) <= limit else code[: limit - 3] + "..."


class CallSpans:
    """Where a call's parts are in its `code`, in UTF-8 bytes (what the driver indexes), so the
    driver rewrites the call by offset instead of parsing its text again: the callee expression,
    each named keyword (`name=value` and its value), and, for a call `code` holds whole, its
    closing parenthesis and trailing comma. `code` is the segment with every run of whitespace
    made one space and cut at 200 characters: each position is carried through both, and a part
    past the cut is left out."""

    def __init__(self, lines, node, segment, code):
        self.lines = lines
        self.node = node
        self.segment = segment
        self.code = code
        cut = code.endswith("...") and len(code) == _LIMIT
        self.usable = len(code) - 3 if cut else len(code)  # characters before any cut
        # The segment's first line starts at the call's column; the others at their start.
        self.starts = {}
        offset = 0
        for number, part in enumerate(segment.split("\n")):
            self.starts[node.lineno + number] = offset
            offset += len(part) + 1
        self.to_code = _collapse_map(segment)

    def _segment_index(self, line, byte_column):
        """The segment's character index of a position ast gives (line, UTF-8 column)."""
        if line not in self.starts or not 0 < line <= len(self.lines):
            return None
        text = self.lines[line - 1].encode("utf-8")
        first = self.node.col_offset if line == self.node.lineno else 0
        if not first <= byte_column <= len(text):
            return None
        index = self.starts[line] + len(text[first:byte_column].decode("utf-8", "replace"))
        return index if index <= len(self.segment) else None

    def _span(self, node):
        """[begin, end) in code's bytes of a node (of its tokens: never starts or ends with
        whitespace), or None where the code does not hold it."""
        end_line = getattr(node, "end_lineno", None)
        end_col = getattr(node, "end_col_offset", None)
        if end_line is None or end_col is None:
            return None
        begin = self._segment_index(node.lineno, node.col_offset)
        end = self._segment_index(end_line, end_col)
        if begin is None or end is None or not begin < end:
            return None
        begin, end = self.to_code[begin], self.to_code[end - 1] + 1
        if end > self.usable:
            return None
        return [self._bytes(begin), self._bytes(end)]

    def _bytes(self, index):
        return len(self.code[:index].encode("utf-8", "surrogatepass"))

    def spans(self):
        callee = self._span(self.node.func)
        keywords = []
        for keyword in self.node.keywords:
            if keyword.arg is None:
                continue  # **kwargs: nothing to rewrite in it
            whole, value = self._span(keyword), self._span(keyword.value)
            if whole is None or value is None:
                continue  # past the cut
            # The name as written (ast gives it NFKC-normalised: `ｍmap` is `mmap`).
            written = self.code.encode("utf-8", "surrogatepass")[whole[0]:whole[0] + len(
                keyword.arg.encode("utf-8"))]
            if written != keyword.arg.encode("utf-8"):
                return None
            keywords.append({"name": keyword.arg, "span": whole, "value": value})
        close_paren, trailing_comma = self._close()
        return {"callee": callee, "keywords": keywords, "close_paren": close_paren,
                "trailing_comma": trailing_comma}

    def _close(self):
        """The closing parenthesis and a trailing comma before it, where code holds the call
        whole; (None, None) otherwise."""
        end = self._segment_index(self.node.end_lineno, self.node.end_col_offset)
        if end is None or end != len(self.segment) or self.usable != len(self.code):
            return None, None
        paren = self.to_code[end - 1]
        if paren != len(self.code) - 1 or self.code[paren] != ")":
            return None, None
        before = paren - 1
        while before >= 0 and self.code[before] == " ":
            before -= 1
        # Only a comma between the arguments and `)`: any comma inside an argument is followed
        # by its closing bracket or quote.
        comma = [self._bytes(before), self._bytes(before + 1)] if (
            before >= 0 and self.code[before] == ",") else None
        return self._bytes(paren), comma


def _collapse_map(text):
    """For each character of `text`, its index in `" ".join(text.split())`: a run of whitespace
    goes where its one space (or nothing, at either end) goes."""
    out = []
    position = 0
    pending_space = False
    for char in text:
        if char.isspace():
            pending_space = position > 0
            out.append(position)
            continue
        if pending_space:
            position += 1
            pending_space = False
        out.append(position)
        position += 1
    return out


def find_fallbacks(calls, parents):
    """Marks a call that retries a load on the full unpickler after a weights-only attempt:
    in an `except` handler of a `try` whose body loads the same input without
    weights_only=False, or in a loop over weights_only values that holds both True and False."""
    loaders = {id(node): facts for node, _, facts in calls}
    for node, _, facts in calls:
        if facts.get("fallback"):
            continue  # the helper's own retry, found in its module
        facts["fallback"] = None
        child, parent = node, parents.get(node)
        while parent is not None:
            if isinstance(parent, ast.ExceptHandler) and _may_catch_a_refusal(parent):
                attempt = _attempt_in(parents.get(parent), loaders, facts)
                if attempt and facts["weights_only"] != "true":
                    facts["fallback"] = {"kind": "except", "attempt_line": attempt["line"]}
                    break
            if isinstance(parent, (ast.For, ast.AsyncFor)) and child is not parent.iter:
                if _loops_over_both(parent, node):
                    facts["fallback"] = {"kind": "retry", "attempt_line": node.lineno}
                    break
            if isinstance(parent, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                break
            child, parent = parent, parents.get(parent)
    for _, _, facts in calls:
        del facts["input"]


# What a handler catches when it is the shim for an old torch (no weights_only: TypeError), not
# a weights-only refusal (UnpicklingError, or whatever a broad handler catches).
_NOT_A_REFUSAL = {"TypeError", "AttributeError", "ImportError", "ModuleNotFoundError"}


def _may_catch_a_refusal(handler):
    caught = handler.type
    names = caught.elts if isinstance(caught, ast.Tuple) else [caught]
    for name in names:
        if name is None:
            return True  # a bare except
        last = name.attr if isinstance(name, ast.Attribute) else getattr(name, "id", None)
        if last not in _NOT_A_REFUSAL:
            return True
    return False


def _attempt_in(try_node, loaders, facts):
    if not isinstance(try_node, ast.Try) and type(try_node).__name__ != "TryStar":
        return None
    for statement in try_node.body:
        for inner in ast.walk(statement):
            attempt = loaders.get(id(inner))
            if (attempt and attempt["weights_only"] != "false" and facts["input"] is not None
                    and attempt["input"] == facts["input"]):
                return attempt
    return None


def _loops_over_both(loop, call):
    """`for flag in (True, False): torch.load(..., weights_only=flag)`."""
    if not isinstance(loop.target, ast.Name) or not isinstance(loop.iter, (ast.Tuple, ast.List)):
        return False
    values = {literal_kind(element) for element in loop.iter.elts}
    if not {"true", "false"} <= values:
        return False
    for keyword in call.keywords:
        if keyword.arg == "weights_only" and isinstance(keyword.value, ast.Name):
            return keyword.value.id == loop.target.id
    return False


# ---------------------------------------------------------------------------------------------


class Session:
    """What every file's audit shares: the project (the audited files, and the installed
    packages followed under `roots`), the names that reach a loader, the wrappers. `share`
    (k, n): this process indexes files k, k + n, ... of the audited ones and of the installed
    ones; the names are then `index_to_fixed_point`'s, or the driver's of several shares."""

    def __init__(self, paths, roots=(), share=(0, 1)):
        self.project = Project(paths, roots)
        self.data = {}
        self.errors = {}
        self.installed = []
        for root in roots:
            for directory, subdirectories, files in os.walk(root):
                if directory == root:  # torch's own package: what it does is measured
                    subdirectories[:] = [d for d in subdirectories if d != "torch"]
                subdirectories[:] = sorted(d for d in subdirectories if d != "__pycache__")
                for name in sorted(files):
                    if name.endswith(".py"):
                        path = os.path.join(directory, name)
                        self.project.add_installed(path, root)
                        self.installed.append(path)
        self.paths = list(paths)
        self.share(*share)

    def share(self, k, n):
        self.index = Index(self.project, self.paths[k::n] + self.installed[k::n], self.read)
        self.names = self.pattern = self.wrappers = None

    def index_to_fixed_point(self):
        reaching_names(self.index)
        self.use()
        return self

    def use(self):
        """Audits with the names the index found (its own rounds', or the driver's it was
        told): Wrappers afresh, since the rounds' memo was of fewer names."""
        self.names = self.index.names
        self.pattern = words_pattern([name for name in self.names if not name.startswith(".")])
        self.wrappers = Wrappers(self.project, self.index.may_reach)

    def read(self, path):
        """A file's bytes, read once for the rounds and the audit; None when it cannot be read
        (`errors` says why)."""
        if path not in self.data:
            try:
                with open(path, "rb") as handle:
                    self.data[path] = handle.read()
            except OSError as error:
                self.data[path] = None
                self.errors[path] = error
        return self.data[path]


SESSION = None


def star_notes(session, module):
    """What a star import the audit cannot follow leaves unknown, one note each."""
    notes = []
    for line, star, resolved in module.scope.stars:
        if not resolved:
            notes.append(f"line {line}: `from {star} import *`: the package it is relative to "
                         "is not known (the file is not inside a package), so the names it binds "
                         "are not")
        elif star not in TORCH_STARS and session.project.module(star) is None:
            project = session.project
            if star.split(".")[0] == "torch" and "torch" not in project.tree_paths:
                where = "torch's own modules are not read (what a torch does is its measured facts)"
            else:
                where = (f"{star} has no Python source among the audited files" +
                         ("" if project.roots else " (--follow-installed reads an env's installed "
                          "packages)") + ", or it cannot be parsed")
            notes.append(f"line {line}: `from {star} import *`: {where}, so the names it binds "
                         "are not known")
    return notes


def audit_file(path, session=None):
    session = session or SESSION or Session([path]).index_to_fixed_point()
    data = session.read(path)  # the rounds' read, when the file was in them
    if data is None:
        error = session.errors[path]
        if isinstance(error, PermissionError):
            return {"status": "error", "parsed": False,
                    "error": "cannot read: the sandbox user (nobody) may not read it; make it and "
                             "its directories world-readable, or audit a readable copy"}
        return {"status": "error", "error": f"cannot read: {error.strerror}", "parsed": False}
    # The index's rounds matched every name against every file of its share already.
    matched = (path in session.index.matched if path in session.index.domain else
               session.pattern.search(data))
    if not matched and not ALWAYS_PARSED.search(data):
        return {"status": "ok", "parsed": False, "calls": []}
    module = session.project.by_path.get(path)
    if module is None:
        try:
            tree, source = parse_source(data, path)
        except SyntaxError as error:
            where = f"line {error.lineno}: " if error.lineno else ""
            return {"status": "error", "error": f"{where}{error.msg}", "parsed": False}
        except (ValueError, UnicodeDecodeError, RecursionError, MemoryError) as error:
            return {"status": "error", "error": f"{type(error).__name__}: {error}",
                    "parsed": False}
        name, package = session.project.names.get(path, (None, None))
        module = session.project.add(path, name, package, tree, source)
    finder = CallFinder(module, session.project, session.wrappers)
    if finder.calls:
        parents = {}
        for owner in finder.owners.values():
            parents.update(parent_map(owner or module.tree))
        find_fallbacks(finder.calls, parents)
    answer = {"status": "ok", "parsed": True, "calls": [facts for _, _, facts in finder.calls]}
    notes = star_notes(session, module)
    if notes:
        answer["notes"] = notes
    return answer


# A file's own budget: the rest of its share goes on without it (a Python-level loop over a
# pathological file is interrupted; a parse that never returns is the driver's to time out).
FILE_BUDGET_SECONDS = 30


class FileTookTooLong(BaseException):
    pass


def _on_alarm(signum, frame):
    raise FileTookTooLong()


def within_budget(work, *args):
    """work(*args) within one file's budget; None when it runs out or fails (the rounds go on
    without what that file would have added)."""
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, FILE_BUDGET_SECONDS)
    try:
        return work(*args)
    except (FileTookTooLong, Exception):  # noqa: BLE001 - one file's fault is that file's
        return None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def audit_share(paths, indices, out_path):
    """Audits paths[i] for each i of `indices`, in order, appending one JSON line per file to
    `out_path` as it is done: a run cut short keeps what it finished, and the driver sees on
    which file each share stopped."""
    signal.signal(signal.SIGALRM, _on_alarm)
    with open(out_path, "a", encoding="utf-8") as out:
        for index in indices:
            signal.setitimer(signal.ITIMER_REAL, FILE_BUDGET_SECONDS)
            try:
                result = audit_file(paths[index])
            except FileTookTooLong:
                result = {"status": "error", "parsed": False,
                          "error": f"auditing it took longer than {FILE_BUDGET_SECONDS} s"}
            except Exception as error:  # noqa: BLE001 - one file's fault is that file's error
                result = {"status": "error", "error": f"{type(error).__name__}: {error}",
                          "parsed": False}
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            result["index"] = index
            out.write(json.dumps(protocol.valid_text(result)) + "\n")
            out.flush()


def _share_worker(session, share, jobs, paths, out_path, commands, answers):
    """A forked share: index rounds on command (a JSON line of new names, answered with a line
    of the names found), then, on an empty line, its files' audit."""
    session.share(share, jobs)
    with os.fdopen(commands, "r", encoding="utf-8") as reader, \
            os.fdopen(answers, "w", encoding="utf-8") as writer:
        for line in reader:
            new = json.loads(line)
            if new is None:
                break
            found = session.index.round(new)
            writer.write(json.dumps(sorted(found)) + "\n")
            writer.flush()
    session.use()
    audit_share(paths, range(share, len(paths), jobs), out_path)


def main():
    with open(sys.argv[1], encoding="utf-8") as handle:
        request = json.load(handle)
    paths = [protocol.path_argument(value) for value in request["files"]]
    roots = [protocol.path_argument(value) for value in request.get("roots") or ()]
    jobs = max(1, min(int(request.get("jobs") or os.cpu_count() or 1), len(paths)))
    global SESSION
    SESSION = Session(paths, roots)
    if jobs == 1:
        SESSION.index_to_fixed_point()
        audit_share(paths, range(len(paths)), os.path.join(sys.argv[2], "result-0.jsonl"))
        protocol.send({"audited": len(paths), "jobs": jobs})
        return 0
    # Share k is files k, k + jobs, k + 2 * jobs, ...: the driver knows each share's order.
    # Forked children, not multiprocessing, whose locks need a /dev/shm the sandbox may lack;
    # each keeps what it parsed for the rounds from one round to the next and for its audit.
    children = []
    for share in range(jobs):
        command_read, command_write = os.pipe()
        answer_read, answer_write = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(command_write)
                os.close(answer_read)
                for _, writer, reader in children:
                    writer.close()
                    reader.close()
                _share_worker(SESSION, share, jobs, paths,
                              os.path.join(sys.argv[2], f"result-{share}.jsonl"),
                              command_read, answer_write)
            finally:
                os._exit(0)
        os.close(command_read)
        os.close(answer_write)
        children.append((pid, os.fdopen(command_write, "w", encoding="utf-8"),
                         os.fdopen(answer_read, "r", encoding="utf-8")))
    names = set(LOADER_WORDS)
    new = set(names)
    live = list(children)
    while new:
        found = set()
        for child in list(live):
            try:
                child[1].write(json.dumps(sorted(new)) + "\n")
                child[1].flush()
            except OSError:
                live.remove(child)  # a share that died: the driver retries its files
        for child in list(live):
            line = child[2].readline()
            if not line:
                live.remove(child)
                continue
            found |= set(json.loads(line))
        new = found - names
        names |= new
    for pid, writer, reader in children:
        try:
            writer.write("null\n")
            writer.close()
        except OSError:
            pass
        reader.close()
    for pid, _, _ in children:
        os.waitpid(pid, 0)
    protocol.send({"audited": len(paths), "jobs": jobs, "names": len(names)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
