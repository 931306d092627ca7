"""Loads that run through wrappers: which calls reach a loader, through which chain of calls, and
what the loader's arguments are there.

A call's `LoaderPath`s: one per load it can reach (a helper with a URL branch and a file branch
reaches two). Each says the chain of calls below the call (every hop's call, the loader's last),
the loader, and for weights_only, pickle_module and mmap how the loader receives it, as a
`flow`:

    ("lit", "true" | "false" | "none")  a literal
    ("expr",)                           an expression (passed, its value unknown)
    ("omitted",)                        left out
    ("maybe",)                          maybe passed, by *args or by a **kwargs not followed
    ("param", name, if_none)            the enclosing function's parameter `name`, passed
                                        through; `if_none`: the literal it is set to when None
                                        (`if weights_only is None: weights_only = False`)
    ("kw", name)                        the enclosing function's **kwargs, by key `name`

A wrapper's paths are in its own parameters' terms; a call to it binds its arguments to them
(by keyword, position, defaults, *args and **kwargs, as Python does), which is how a
helper's `weights_only=None` or a forced `False` reaches the user's call.
"""

import ast

from audit_names import (FUNCTION, MAX_DEPTH, Alias, Class, Def, DefBinding, External, Instance,
                         Module, Partial, PartialBinding, Terminal, UNGUARDED, final_name)

# Parameters that may be passed by position: (name, index), per loader. weights_only is
# keyword-only in torch.load and positional in the hub wrapper.
POSITIONAL = {
    "torch.load": {"pickle_module": 2},
    "torch.serialization.load": {"pickle_module": 2},
    "torch.hub.load_state_dict_from_url": {"weights_only": 6},
    "torch.utils.model_zoo.load_url": {"weights_only": 6},
}
FORMS = ("weights_only", "pickle_module", "mmap")
# The last names of the unguarded loads, resolved wherever they are called: `load_state_dict`
# is not among the names a file is parsed for (nn.Module's is in most files).
UNGUARDED_NAMES = {name.rsplit(".", 1)[-1] for name in UNGUARDED}
LIT, EXPR, OMITTED, MAYBE, PARAM, KW = "lit", "expr", "omitted", "maybe", "param", "kw"


def literal_kind(expression):
    if isinstance(expression, ast.Constant):
        if expression.value is True:
            return "true"
        if expression.value is False:
            return "false"
        if expression.value is None:
            return "none"
    return "dynamic"


def written(flow, form):
    """A flow at a reported call, as doc/audit.md writes the form: weights_only's "true",
    "false", "none", "omitted" or "dynamic"; the others' "passed", "omitted" or "dynamic"."""
    kind = flow[0]
    if kind == OMITTED:
        return "omitted"
    if form == "weights_only":
        return flow[1] if kind == LIT else "dynamic"
    return "passed" if kind in (LIT, EXPR, PARAM) else "dynamic"


class CallArgs:
    """A call's arguments: positional (expression) list, whether a *args follows them, keywords
    by name, and the **mapping expressions."""

    def __init__(self, positional, starred, keywords, mappings):
        self.positional, self.starred = positional, starred
        self.keywords, self.mappings = keywords, mappings

    @staticmethod
    def of(call, skip=0):
        positional, starred = [], False
        for arg in call.args[skip:]:
            if isinstance(arg, ast.Starred) or starred:
                starred = True
                continue
            positional.append(arg)
        keywords = {k.arg: k.value for k in call.keywords if k.arg is not None}
        mappings = [k.value for k in call.keywords if k.arg is None]
        return CallArgs(positional, starred, keywords, mappings)

    def after(self, bound):
        """This call's arguments appended to a partial's `bound` ones (a keyword given at the
        call replaces the partial's)."""
        if bound.starred:
            return CallArgs(bound.positional, True, {**bound.keywords, **self.keywords},
                            bound.mappings + self.mappings)
        return CallArgs(bound.positional + self.positional, self.starred,
                        {**bound.keywords, **self.keywords}, bound.mappings + self.mappings)


class Signature:
    """A def's parameters as a call binds them; `bound`: the first is already given (self, cls)."""

    def __init__(self, node, bound):
        arguments = node.args
        positional = arguments.posonlyargs + arguments.args
        defaults = [None] * (len(positional) - len(arguments.defaults)) + arguments.defaults
        pairs = list(zip([a.arg for a in positional], defaults))
        self.posonly = {a.arg for a in arguments.posonlyargs}
        if bound and pairs:
            pairs = pairs[1:]
        self.positional = [name for name, _ in pairs]
        self.defaults = {name: default for name, default in pairs if default is not None}
        for arg, default in zip(arguments.kwonlyargs, arguments.kw_defaults):
            if default is not None:
                self.defaults[arg.arg] = default
        self.kwonly = {a.arg for a in arguments.kwonlyargs}
        self.kwarg = arguments.kwarg.arg if arguments.kwarg else None

    def bind(self, args, name):
        """How `args` set parameter `name`: ("value", expression), ("default", expression),
        ("mappings",) (a **mapping may hold it), or ("maybe",)."""
        if name in args.keywords and name not in self.posonly:
            return ("value", args.keywords[name])
        if name in self.positional:
            index = self.positional.index(name)
            if index < len(args.positional):
                return ("value", args.positional[index])
            if args.starred:
                return ("maybe",)
        if args.mappings and name not in self.posonly:
            return ("mappings",)
        if name in self.defaults:
            return ("default", self.defaults[name])
        return ("maybe",)  # a required parameter left out: the call raises TypeError

    def user_keyword(self, flow):
        """The keyword a caller passes to set what `flow` (in this def's terms) carries, or
        None."""
        if flow[0] == PARAM and flow[1] not in self.posonly:
            return flow[1]
        if flow[0] == KW:
            return flow[1]
        return None


def body_nodes(node):
    """The nodes of a function's body, not of the functions, lambdas and classes inside it."""
    nested = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
    stack = [statement for statement in (node.body if isinstance(node.body, list) else
                                         [node.body]) if not isinstance(statement, nested)]
    while stack:
        current = stack.pop()
        yield current
        for child in ast.iter_child_nodes(current):
            if not isinstance(child, nested):
                stack.append(child)


def _statement_lists(statements):
    """Every list of statements in a body, the body's own first, not inside nested functions
    or classes."""
    yield statements
    for statement in statements:
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        for field in ("body", "orelse", "finalbody"):
            inner = getattr(statement, field, None)
            if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                yield from _statement_lists(inner)
        for handler in getattr(statement, "handlers", ()):
            yield from _statement_lists(handler.body)
        for case in getattr(statement, "cases", ()):
            yield from _statement_lists(case.body)


def _none_rewrite(statement):
    """(name, literal) of `if name is None: name = True|False`, else None."""
    if not isinstance(statement, ast.If):
        return None
    test = statement.test
    if not (isinstance(test, ast.Compare) and isinstance(test.left, ast.Name) and
            len(test.ops) == 1 and isinstance(test.ops[0], ast.Is) and
            isinstance(test.comparators[0], ast.Constant) and test.comparators[0].value is None):
        return None
    name = test.left.id
    for inner in statement.body:
        if (isinstance(inner, ast.Assign) and len(inner.targets) == 1 and
                isinstance(inner.targets[0], ast.Name) and inner.targets[0].id == name and
                literal_kind(inner.value) in ("true", "false")):
            return name, literal_kind(inner.value), inner.targets[0]
    return None


class Caller:
    """The function a call is written in, as its arguments' flows see it: its parameters, and
    how its body rebinds them. The one rebinding followed is `if name is None: name = True` (or
    False), which holds for the statements after it in the same block (Lightning 2.6's `_load`
    does it in its URL branch only, so its file branch still passes None on)."""

    def __init__(self, node):
        self.node = node
        arguments = node.args
        names = [a.arg for a in arguments.posonlyargs + arguments.args + arguments.kwonlyargs]
        self.params = set(names)
        self.kwarg = arguments.kwarg.arg if arguments.kwarg else None
        self.rewrites = {}  # name -> [(ids of the nodes it holds for, literal)]
        allowed = set()
        body = node.body if isinstance(node.body, list) else []
        for statements in _statement_lists(body):
            for index, statement in enumerate(statements):
                rewrite = _none_rewrite(statement)
                if rewrite is None:
                    continue
                name, literal, target = rewrite
                allowed.add(id(target))
                after = {id(inner) for later in statements[index + 1:]
                         for inner in ast.walk(later)}
                self.rewrites.setdefault(name, []).append((after, literal))
        self.impure = set()
        for current in body_nodes(node):
            if (isinstance(current, ast.Name) and isinstance(current.ctx, (ast.Store, ast.Del))
                    and id(current) not in allowed):
                self.impure.add(current.id)
            elif isinstance(current, (ast.Global, ast.Nonlocal)):
                self.impure.update(current.names)

    def flow_of_name(self, use):
        name = use.id
        if name not in self.params or name in self.impure:
            return None
        if_none = None
        for after, literal in self.rewrites.get(name, ()):
            if id(use) in after:
                if_none = literal
        return (PARAM, name, if_none)


def value_flow(expression, caller, line):
    if isinstance(expression, ast.Constant):
        kind = literal_kind(expression)
        return (LIT, kind) if kind != "dynamic" else (EXPR,)
    if isinstance(expression, ast.Name) and caller is not None:
        flow = caller.flow_of_name(expression)
        if flow is not None:
            return flow
    return (EXPR,)


def mappings_flow(args, name, caller):
    """`**kwargs` passed on: the caller's own **kwargs (by key `name`), else unknown."""
    if caller is not None and caller.kwarg and caller.kwarg not in caller.impure and all(
            isinstance(m, ast.Name) and m.id == caller.kwarg for m in args.mappings):
        return (KW, name)
    return (MAYBE,)


def loader_flow(args, loader, form, caller, line):
    """How a loader's `form` argument is set by a call of it."""
    if form in args.keywords:
        return value_flow(args.keywords[form], caller, line)
    index = POSITIONAL.get(loader, {}).get(form)
    if index is not None and index < len(args.positional):
        return value_flow(args.positional[index], caller, line)
    if args.mappings:
        return mappings_flow(args, form, caller)
    if index is not None and args.starred:
        return (MAYBE,)
    return (OMITTED,)


def through(flow, args, signature, caller, line):
    """An inner flow (in the called def's terms) as the call sets it (in the caller's terms)."""
    kind = flow[0]
    if kind in (LIT, EXPR, OMITTED, MAYBE):
        return flow
    name = flow[1]
    if kind == PARAM:
        bound, if_none = signature.bind(args, name), flow[2]
    elif name in signature.positional or name in signature.kwonly:
        return (OMITTED,)  # a keyword naming one of the def's parameters binds it, not **kwargs
    else:  # a **kwargs key: only a keyword or a mapping passes it
        if_none = None
        bound = (("value", args.keywords[name]) if name in args.keywords else
                 ("mappings",) if args.mappings else ("absent",))
    if bound[0] == "value":
        result = value_flow(bound[1], caller, line)
    elif bound[0] == "default":
        result = value_flow(bound[1], None, line)  # evaluated where the def is
    elif bound[0] == "mappings":
        result = mappings_flow(args, name, caller)
    elif bound[0] == "absent":
        result = (OMITTED,)
    else:
        result = (MAYBE,)
    if if_none:
        if result == (LIT, "none"):
            result = (LIT, if_none)
        elif result[0] == PARAM:
            result = (PARAM, result[1], result[2] or if_none)
    return result


def bound_how(args, signature, keyword):
    """How a call sets a helper's parameter `keyword` (LoaderPath.bound)."""
    if keyword is None:
        return None
    if keyword in args.keywords:
        return "keyword"
    if keyword in signature.positional and (
            signature.positional.index(keyword) < len(args.positional) or args.starred):
        return "position"
    return "mappings" if args.mappings else "default"


class Frame:
    """One hop of a chain: a call written in `module`, in `function`."""

    __slots__ = ("module", "call", "function", "scope", "withs")

    def __init__(self, module, call, function, scope, withs):
        self.module, self.call, self.function = module, call, function
        self.scope, self.withs = scope, withs


class LoaderPath:
    """One load a call reaches: the chain below the call (the loader's call last; empty for
    the loader called directly), the loader, the flows, the keyword of the called helper that
    sets the loader's weights_only (None when no argument of the call reaches it), and the
    helper itself (its dotted name, None for a direct call)."""

    __slots__ = ("chain", "callee", "flows", "keyword", "via", "bound", "left_out")

    def __init__(self, chain, callee, flows, keyword, via, bound=None):
        self.chain, self.callee, self.flows = chain, callee, flows
        self.keyword, self.via = keyword, via
        # How the call sets `keyword`: "keyword", "position", "mappings" (a **mapping may),
        # "default" (it does not), or None.
        self.bound = bound
        self.left_out = (OMITTED,)  # the loader's weights_only when the call leaves it out


def dotted_name(obj):
    if isinstance(obj, (External, Terminal)):
        return obj.name
    if isinstance(obj, (Def, Class)):
        return f"{obj.module.name}.{obj.qualname}" if obj.module.name else obj.qualname
    if isinstance(obj, Module):
        return obj.name or "?"
    if isinstance(obj, Instance):
        return dotted_name(obj.cls)
    return "?"


class Wrappers:
    """Which calls reach a loader. `may_reach(name)`: whether a call whose callee's last name is
    `name` is worth resolving (the names that can reach a loader: loaders, wrappers, their
    aliases); memoized per def while that set is fixed."""

    def __init__(self, project, may_reach):
        self.project = project
        self.may_reach = may_reach
        self.memo = {}
        self.active = set()  # the defs being worked out, innermost last
        self.cut = False  # whether the def being worked out was cut short below
        self.called = {}  # memo key -> the last names of the calls its def makes
        self.callers = {}

    def caller(self, node):
        if node is None:
            return None
        found = self.callers.get(id(node))
        if found is None:
            found = self.callers[id(node)] = Caller(node)
        return found

    def worth_resolving(self, func, scope, depth=0):
        """Whether a callee can reach a loader: its last name is one that can, or it is a local
        alias or partial of one (a function's own `fetch = torch.hub.load_state_dict_from_url`,
        which no other file can call)."""
        name = final_name(func)
        if self.may_reach(name) or name in UNGUARDED_NAMES:
            return True
        if not isinstance(func, ast.Name) or depth > 8:
            return False
        while scope is not None:
            bound = scope.bindings.get(func.id)
            if bound:
                target = bound[-1][1]
                if isinstance(target, DefBinding):
                    # A def or class made in a function: no other file can call it, so no
                    # round names it; it is resolved where it is called.
                    return scope.kind == "function"
                return self.binding_worth_resolving(target, depth + 1)
            scope = scope.parent
        return False

    def binding_worth_resolving(self, target, depth=0):
        """Whether what an import, alias or partial binds can reach a loader, by the names it
        is made of (`from torch import load as tl` in a function, which no round names)."""
        if isinstance(target, str):
            return self.may_reach(target.rsplit(".", 1)[-1])
        if isinstance(target, Alias):
            return self.worth_resolving(target.expression, target.scope, depth)
        if isinstance(target, PartialBinding):
            return self.worth_resolving(target.call.args[0], target.scope, depth)
        return False

    def forget_unreached(self, names):
        """Forgets which defs reach no loader among those that call one of `names` (new names
        that can reach one), so they are asked again."""
        names = set(names)
        for key in [key for key, paths in self.memo.items()
                    if not paths and self.called.get(key, set()) & names]:
            del self.memo[key]

    def paths(self, func, depth=0):
        """The loads a def reaches, in its parameters' terms. A result cut short (by the depth
        limit, or by a recursive call back into a def being worked out) is not kept: asked
        again from elsewhere, it may reach more."""
        key = (id(func.node), func.bound)
        if key in self.memo:
            return self.memo[key]
        if not isinstance(func.node, FUNCTION):
            return []
        if depth > MAX_DEPTH or key in self.active:
            self.cut = True
            return []
        module = func.module
        owned = module.calls_by_owner.get(id(func.node), ())
        if key not in self.called:
            self.called[key] = {final_name(candidate[0].func) for candidate in owned}
        calls = [candidate for candidate in owned
                 if self.worth_resolving(candidate[0].func, candidate[1])]
        if not calls:
            self.memo[key] = []
            return []
        caller = self.caller(func.node)
        found = []
        self.active.add(key)
        outer_cut, self.cut = self.cut, False
        try:
            for call, scope, function, withs, _ in calls:
                frame = Frame(module, call, function, scope, withs)
                for path in self.call_paths(module, call, scope, caller, depth + 1):
                    found.append(LoaderPath([frame] + path.chain, path.callee, path.flows,
                                            path.keyword, path.via))
        finally:
            self.active.discard(key)
        if not self.cut:
            self.memo[key] = found
        self.cut = self.cut or outer_cut
        return found

    def call_paths(self, module, call, scope, caller, depth=0):
        """The loads `call` (written in `module`, in `scope`, inside `caller` or None) reaches,
        its flows in the caller's terms."""
        if not self.worth_resolving(call.func, scope):
            return []
        target = self.project.resolve(call.func, scope, call.lineno, module)
        args = CallArgs.of(call)
        prefix = []
        for _ in range(MAX_DEPTH):  # a partial of a partial binds both's arguments
            if not isinstance(target, Partial):
                break
            partial = target
            prefix = [Frame(partial.module, partial.call, "<partial>", partial.scope, ())] + prefix
            args = args.after(CallArgs.of(partial.call, skip=1))
            target = partial.func
        if isinstance(target, Terminal):
            flows = {form: loader_flow(args, target.name, form, caller, call.lineno)
                     for form in FORMS}
            via = f"functools.partial({target.name})" if prefix else None
            how = ("keyword" if "weights_only" in args.keywords else
                   "position" if POSITIONAL.get(target.name, {}).get("weights_only", 99) < len(
                       args.positional) else "mappings" if args.mappings else "default")
            return [LoaderPath(prefix, target.name, flows, "weights_only", via, how)]
        if not isinstance(target, Def):
            return []
        signature = Signature(target.node, target.bound)
        found = []
        for inner in self.paths(target, depth):
            flows = {form: through(inner.flows[form], args, signature, caller, call.lineno)
                     for form in FORMS}
            keyword = signature.user_keyword(inner.flows["weights_only"])
            via = dotted_name(target)
            path = LoaderPath(prefix + inner.chain, inner.callee, flows, keyword,
                              f"functools.partial({via})" if prefix else via,
                              bound_how(args, signature, keyword))
            # What the loader receives when this call leaves the keyword out: a helper that
            # passes its own default on still passes it (a torch without the argument raises
            # whatever the call says); one that hands on **kwargs leaves it out too.
            if keyword is not None:
                without = CallArgs(args.positional, args.starred,
                                   {k: v for k, v in args.keywords.items() if k != keyword},
                                   args.mappings)
                path.left_out = through(inner.flows["weights_only"], without, signature, caller,
                                        call.lineno)
            found.append(path)
        return found
