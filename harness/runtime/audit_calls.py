"""Finds every call of torch's loaders in Python sources, with Python's own `ast`.

Run by `loadmatrix audit` in an env's sandbox (the newest, whose Python parses the newest
syntax): `python3 audit_calls.py REQUEST.json OUT_DIR`. The request is {"files": [path, ...],
"jobs": N}, each path a string or {"hex": ...} (a name that is not UTF-8). Nothing of the audited
code is imported or run. Share k of the files (k, k + N, ...) is audited by its own process,
which appends one line per file to OUT_DIR/result-k.jsonl as it finishes it: {"index", "status":
"ok"|"error", "error", "parsed", "calls": [...]} (files, not stdout: a large codebase's answer is
more than a captured stdout holds, and a run cut short keeps what it did).
doc/audit.md documents a call's fields; doc/protocol.md the spans the driver rewrites by.

A file that never calls `load`, `load_url` or `load_state_dict_from_url` nor imports one under
another name cannot hold a call this resolver finds, so it is read but not parsed ("parsed":
false): most of a large codebase, and most of the time an audit would take.
"""

import ast
import importlib.util
import json
import os
import re
import signal
import sys

import _loadmatrix_runtime as protocol

# The loaders and the wrappers torch ships that call torch.load, by canonical name.
LOADERS = {
    "torch.load",
    "torch.serialization.load",
    "torch.hub.load_state_dict_from_url",
    "torch.utils.model_zoo.load_url",
}
# Parameters that may be passed by position: (name, index), per loader. weights_only is
# keyword-only in torch.load and positional in the hub wrapper.
POSITIONAL = {
    "torch.load": {"pickle_module": 2},
    "torch.serialization.load": {"pickle_module": 2},
    "torch.hub.load_state_dict_from_url": {"weights_only": 6},
    "torch.utils.model_zoo.load_url": {"weights_only": 6},
}
SAFE_GLOBALS = "torch.serialization.safe_globals"
LOADER_NAMES = {"load", "load_url", "load_state_dict_from_url"}
# What a file must contain for the resolver below to find a call in it: a loader's name called
# (`torch.load(`, `load (`) or imported under another name (`load as tload`). Nothing else can
# resolve to a loader (an assignment such as `tl = torch.load` is not followed), so a file
# without either is not parsed.
MAY_CALL_A_LOADER = re.compile(
    rb"\b(?:load|load_url|load_state_dict_from_url)(?:(?:\s|\\\n)*\(|(?:\s|\\\n)+as\b)")


# ---------------------------------------------------------------------------------------------
# Names: what a name or dotted expression refers to, from the imports in scope.


class Scope:
    """The bindings of one scope, in source order, per name: (line, target, hard). `target` is
    the dotted name an import binds the name to, or None for any other binding. A def, class or
    parameter hides an import of the same name ("hard"); an assignment may be a fallback
    (`except ImportError: torch = None`), so it hides nothing an earlier import bound."""

    def __init__(self, kind, parent):
        self.kind = kind  # "module", "class" or "function"
        self.parent = parent
        self.bindings = {}  # name -> [(line, target, hard)], in source order
        self.global_names = set()  # declared `global`: bound in the module, not here

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


def _target_names(node):
    if isinstance(node, ast.Name):
        yield node.id
    elif isinstance(node, (ast.Tuple, ast.List)):
        for element in node.elts:
            yield from _target_names(element)
    elif isinstance(node, ast.Starred):
        yield from _target_names(node.value)


class Binder(ast.NodeVisitor):
    """Records each scope's bindings; scopes are keyed by their node (the module, a class or a
    function)."""

    def __init__(self):
        self.scopes = {}
        self.current = None
        self.functions = []  # the enclosing function's qualified name, in parts
        self.withs = []  # the enclosing `with` statements, innermost last
        # Calls that may be a loader's, with what resolving and describing them needs: the
        # bindings are complete only after the walk (a function sees names bound after it).
        self.candidates = []  # (call, scope, function name, with statements)

    def _enter(self, node, kind):
        scope = Scope(kind, self.current)
        self.scopes[node] = scope
        return scope

    def visit_Module(self, node):
        self.current = self._enter(node, "module")
        self.generic_visit(node)

    def _outer_parts(self, arguments):
        """Defaults and annotations are evaluated in the enclosing scope."""
        for default in arguments.defaults + [d for d in arguments.kw_defaults if d is not None]:
            self.visit(default)
        for arg in arguments.posonlyargs + arguments.args + arguments.kwonlyargs + [
                arguments.vararg, arguments.kwarg]:
            if arg is not None and arg.annotation is not None:
                self.visit(arg.annotation)

    def _function(self, node):
        self.current.bind(node.lineno, node.name, hard=True)
        for decorator in node.decorator_list:
            self.visit(decorator)
        self._outer_parts(node.args)
        if node.returns is not None:
            self.visit(node.returns)
        outer, outer_withs = self.current, self.withs
        self.current, self.withs = self._enter(node, "function"), []
        self.functions.append(node.name)
        arguments = node.args
        for arg in arguments.posonlyargs + arguments.args + arguments.kwonlyargs:
            self.current.bind(node.lineno, arg.arg, hard=True)
        for arg in (arguments.vararg, arguments.kwarg):
            if arg is not None:
                self.current.bind(node.lineno, arg.arg, hard=True)
        for statement in node.body:
            self.visit(statement)
        self.functions.pop()
        self.current, self.withs = outer, outer_withs

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function

    def visit_Lambda(self, node):
        self._outer_parts(node.args)
        outer, outer_withs = self.current, self.withs
        self.current, self.withs = self._enter(node, "function"), []
        self.functions.append("<lambda>")
        for arg in node.args.posonlyargs + node.args.args + node.args.kwonlyargs:
            self.current.bind(node.lineno, arg.arg, hard=True)
        self.visit(node.body)
        self.functions.pop()
        self.current, self.withs = outer, outer_withs

    def visit_ClassDef(self, node):
        self.current.bind(node.lineno, node.name, hard=True)
        for expression in node.bases + node.keywords + node.decorator_list:
            self.visit(expression)
        outer, outer_withs = self.current, self.withs
        self.current, self.withs = self._enter(node, "class"), []
        self.functions.append(node.name)
        for statement in node.body:
            self.visit(statement)
        self.functions.pop()
        self.current, self.withs = outer, outer_withs

    def visit_Import(self, node):
        for alias in node.names:
            if alias.asname:
                self.current.bind(node.lineno, alias.asname, alias.name)
            else:  # `import torch.serialization` binds `torch`
                top = alias.name.split(".")[0]
                self.current.bind(node.lineno, top, top)

    def visit_ImportFrom(self, node):
        module = node.module if node.level == 0 else None  # relative: not resolved
        for alias in node.names:
            name = alias.asname or alias.name
            self.current.bind(node.lineno, name, f"{module}.{alias.name}" if module else None)

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
        func = node.func
        if (type(func) is ast.Attribute and func.attr in LOADER_NAMES) or type(func) is ast.Name:
            self.candidates.append((node, self.current, ".".join(self.functions) or "<module>",
                                    tuple(self.withs)))
        self.generic_visit(node)

    def visit_comprehension(self, node):
        self.generic_visit(node)


def resolve(expression, scope, line):
    """The dotted name `expression` (a Name or Attribute chain) refers to, or None."""
    if isinstance(expression, ast.Attribute):
        base = resolve(expression.value, scope, line)
        return f"{base}.{expression.attr}" if base else None
    if not isinstance(expression, ast.Name):
        return None
    at = line
    while scope is not None:
        if scope.kind == "class" and at is None:
            scope = scope.parent  # a method does not see its class body's names
            continue
        found, target = scope.lookup(expression.id, at)
        if found:
            return target
        if scope.kind == "function":
            at = None  # enclosing scopes are seen as they end up
        scope = scope.parent
    return None


# ---------------------------------------------------------------------------------------------
# Calls: each loader call described as doc/audit.md lists.


def literal_kind(expression):
    if isinstance(expression, ast.Constant):
        if expression.value is True:
            return "true"
        if expression.value is False:
            return "false"
        if expression.value is None:
            return "none"
    return "dynamic"


def argument(call, callee, name):
    """("passed", expression) when `name` is passed by keyword or position, ("dynamic", None)
    when a *args or **kwargs may pass it, else ("omitted", None)."""
    for keyword in call.keywords:
        if keyword.arg == name:
            return "passed", keyword.value
    index = POSITIONAL.get(callee, {}).get(name)
    plain = [a for a in call.args if not isinstance(a, ast.Starred)]
    starred = len(plain) != len(call.args)
    if index is not None and not starred and index < len(plain):
        return "passed", plain[index]
    if any(keyword.arg is None for keyword in call.keywords):
        return "dynamic", None
    if index is not None and starred:
        return "dynamic", None
    return "omitted", None


def weights_only_of(call, callee):
    how, value = argument(call, callee, "weights_only")
    return literal_kind(value) if how == "passed" else how


class CallFinder:
    """The loader calls among the binder's candidates, each described."""

    def __init__(self, binder, source):
        self.lines = source.split("\n")  # as ast numbers lines (splitlines also splits on \f)
        self.source = source
        self.calls = []
        # Names an import binds to a loader under another name (`from torch import load as tl`).
        aliases = {name for scope in binder.scopes.values()
                   for name, bound in scope.bindings.items()
                   if any(target and target.rsplit(".", 1)[-1] in LOADER_NAMES
                          for _, target, _ in bound)}
        for node, scope, function, withs in binder.candidates:
            func = node.func
            if type(func) is ast.Name and func.id not in LOADER_NAMES and func.id not in aliases:
                continue
            callee = resolve(func, scope, node.lineno)
            if callee in LOADERS:
                facts = self.describe(node, callee, scope, function, withs)
                self.calls.append((node, callee, facts))

    def segment(self, node, max_lines=8):
        """The call's source text, from its own lines only (ast.get_source_segment splits the
        whole file on every call: quadratic in a file of many calls)."""
        end, end_col = getattr(node, "end_lineno", None), getattr(node, "end_col_offset", None)
        if end is None or end_col is None or not 0 < node.lineno <= end <= len(self.lines):
            return None
        first = node.lineno - 1
        if end - 1 == first:
            return self.lines[first].encode("utf-8")[node.col_offset:end_col].decode(
                "utf-8", "replace")
        parts = [self.lines[first].encode("utf-8")[node.col_offset:].decode("utf-8", "replace")]
        parts += self.lines[first + 1:min(end - 1, first + max_lines)]
        if end - 1 < first + max_lines:
            parts.append(self.lines[end - 1].encode("utf-8")[:end_col].decode("utf-8", "replace"))
        return "\n".join(parts)

    def column(self, node):
        """1-based, in Unicode code points (SARIF's unicodeCodePoints); ast counts UTF-8 bytes."""
        if not 0 < node.lineno <= len(self.lines):
            return node.col_offset + 1
        prefix = self.lines[node.lineno - 1].encode("utf-8")[: node.col_offset]
        return len(prefix.decode("utf-8", "replace")) + 1

    @staticmethod
    def safe_globals(scope, withs):
        """The innermost enclosing `with torch.serialization.safe_globals(...)`: its names when
        they are written out, else {"names": None}."""
        for block in reversed(withs):
            for item in block.items:
                manager = item.context_expr
                if not isinstance(manager, ast.Call):
                    continue
                if resolve(manager.func, scope, block.lineno) != SAFE_GLOBALS:
                    continue
                listed = manager.args[0] if manager.args else None
                if not isinstance(listed, (ast.List, ast.Tuple)):
                    return {"names": None}
                names = []
                for element in listed.elts:
                    if isinstance(element, ast.Tuple) and len(element.elts) == 2:
                        written = element.elts[1]
                        if isinstance(written, ast.Constant) and isinstance(written.value, str):
                            names.append(written.value)
                            continue
                    names.append(resolve(element, scope, block.lineno) or ast.unparse(element))
                return {"names": names}
        return None

    def describe(self, node, callee, scope, function, withs):
        pickle_module, _ = argument(node, callee, "pickle_module")
        mmap, _ = argument(node, callee, "mmap")
        first = node.args[0] if node.args and not isinstance(node.args[0], ast.Starred) else None
        segment = self.segment(node)
        code = _one_line(segment)
        return {
            "line": node.lineno,
            "column": self.column(node),
            "end_line": getattr(node, "end_lineno", None) or node.lineno,
            "function": function,
            "callee": callee,
            "weights_only": weights_only_of(node, callee),
            "pickle_module": pickle_module,
            "mmap": mmap,
            "safe_globals": self.safe_globals(scope, withs),
            "input": ast.dump(first) if first is not None else None,
            "code": code,
            "spans": CallSpans(self.lines, node, segment, code).spans() if code else None,
        }


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


def audit_file(path):
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except PermissionError:
        return {"status": "error", "parsed": False,
                "error": "cannot read: the sandbox user (nobody) may not read it; make it and its "
                         "directories world-readable, or audit a readable copy"}
    except OSError as error:
        return {"status": "error", "error": f"cannot read: {error.strerror}", "parsed": False}
    if not MAY_CALL_A_LOADER.search(data):
        return {"status": "ok", "parsed": False, "calls": []}
    try:
        tree = ast.parse(data, filename=path)
        source = importlib.util.decode_source(data)
    except SyntaxError as error:
        where = f"line {error.lineno}: " if error.lineno else ""
        return {"status": "error", "error": f"{where}{error.msg}", "parsed": False}
    except (ValueError, UnicodeDecodeError, RecursionError, MemoryError) as error:
        return {"status": "error", "error": f"{type(error).__name__}: {error}", "parsed": False}
    binder = Binder()
    binder.visit(tree)
    finder = CallFinder(binder, source)
    if finder.calls:
        parents = {child: parent for parent in ast.walk(tree)
                   for child in ast.iter_child_nodes(parent)}
        find_fallbacks(finder.calls, parents)
    return {"status": "ok", "parsed": True, "calls": [facts for _, _, facts in finder.calls]}


# A file's own budget: the rest of its share goes on without it (a Python-level loop over a
# pathological file is interrupted; a parse that never returns is the driver's to time out).
FILE_BUDGET_SECONDS = 30


class FileTookTooLong(BaseException):
    pass


def _on_alarm(signum, frame):
    raise FileTookTooLong()


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


def main():
    with open(sys.argv[1], encoding="utf-8") as handle:
        request = json.load(handle)
    paths = [protocol.path_argument(value) for value in request["files"]]
    jobs = max(1, min(int(request.get("jobs") or os.cpu_count() or 1), len(paths)))
    # Share k is files k, k + jobs, k + 2 * jobs, ...: the driver knows each share's order.
    # Forked children, not multiprocessing, whose locks need a /dev/shm the sandbox may lack.
    children = []
    for share in range(jobs):
        out_path = os.path.join(sys.argv[2], f"result-{share}.jsonl")
        indices = range(share, len(paths), jobs)
        if jobs == 1:
            audit_share(paths, indices, out_path)
            break
        pid = os.fork()
        if pid == 0:
            try:
                audit_share(paths, indices, out_path)
            finally:
                os._exit(0)
        children.append(pid)
    for pid in children:
        os.waitpid(pid, 0)
    protocol.send({"audited": len(paths), "jobs": jobs})
    return 0


if __name__ == "__main__":
    sys.exit(main())
