"""The analysis: one pass over a module's ``ast`` with light, scope-local data flow.

Every expression is visited once, statement by statement, in each scope
(module, class body, function). Each scope keeps a small environment:

* ``order``: names bound to values whose order is arbitrary -- a ``set``, or a
  directory listing -- and what became of them (converted to a list, collected
  by a loop, sorted in place). RPT001/RPT002 fire only when such a value
  reaches an order-dependent *sink* (a loop that does more than collect, an
  index, ``enumerate``, a return, an attribute, a call we do not know), never
  for ``sorted()``, ``len()``, ``set()`` or membership tests. Preferring
  precision keeps the linter worth reading.
* ``taint``: names bound to a clock/pid/uuid value (RPT005 fires when one
  reaches a seed).
* statement-order facts: CUDA work seen (RPT009), model/DataLoader created
  and global seed set (RPT011).

Facts that need the whole module -- whether a ``torch.Generator`` is ever
given ``manual_seed``, whether deterministic algorithms are enabled -- are
settled after the pass. No code is imported or executed.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from . import catalog as C
from .names import Aliases, dotted

__all__ = ["RawFinding", "check_tree"]

_TRY_TYPES: tuple[type, ...] = (ast.Try,) + ((ast.TryStar,) if hasattr(ast, "TryStar") else ())
_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_SET_ANNOTATIONS = frozenset({"set", "frozenset", "Set", "FrozenSet", "AbstractSet", "MutableSet"})


@dataclass(frozen=True)
class RawFinding:
    """A finding before path, selection and noqa are applied."""

    node: ast.AST
    code: str
    message: str
    fix: str | None = None


class _Unordered:
    """A value whose iteration order is arbitrary.

    ``kind`` is where the arbitrariness comes from ("set" or "listing"),
    ``container`` what the value is now ("set", "seq" or "map"), ``report`` the
    node a finding points at, ``what`` how the message names the origin.
    """

    __slots__ = ("kind", "container", "report", "what")

    def __init__(self, kind: str, container: str, report: ast.AST, what: str) -> None:
        self.kind = kind
        self.container = container
        self.report = report
        self.what = what


V = tuple[_Unordered, ...]
_NONE: V = ()


def _try_parts(s: ast.stmt) -> tuple[list[ast.stmt], list[ast.ExceptHandler], list[ast.stmt],
                                    list[ast.stmt]]:
    """(body, handlers, orelse, finalbody) of a ``try`` or ``try/except*`` statement."""
    return (getattr(s, "body", []), getattr(s, "handlers", []), getattr(s, "orelse", []),
            getattr(s, "finalbody", []))


def _const_str(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _terminal(node: ast.AST) -> str | None:
    """Last identifier of a Name/Attribute/string-keyed Subscript (``args.seed`` -> ``seed``)."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Subscript):
        return _const_str(node.slice)
    return None


def _kw(call: ast.Call, name: str, position: int | None = None) -> ast.expr | None:
    for k in call.keywords:
        if k.arg == name:
            return k.value
    if position is not None and len(call.args) > position:
        arg = call.args[position]
        if not any(isinstance(a, ast.Starred) for a in call.args[: position + 1]):
            return arg
    return None


def _names_seed(name: str) -> bool:
    """Whether an identifier or dict key names a seed (``seed``, ``base_seed``, ``randomSeed``)."""
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
    return bool(C.SEED_HOLDER.search(words)) and not C.TIMING_WORD.search(words)


def _is_true(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def _is_falsy_const(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Constant) and not node.value


def _derive(values: V, at: ast.AST, container: str = "seq") -> V:
    """The order of ``values`` carried into a new sequence built at ``at``."""
    out = []
    for u in values:
        if u.container == "set":
            out.append(_Unordered(u.kind, container, at, u.what))
        elif u.container != container:
            out.append(_Unordered(u.kind, container, u.report, u.what))
        else:
            out.append(u)
    return tuple(out)


class _Module:
    """Per-module state shared by all scopes, and the settled facts checked at the end."""

    def __init__(self, aliases: Aliases) -> None:
        self.aliases = aliases
        self.findings: list[RawFinding] = []
        self.reported: set[tuple[int, str]] = set()
        # RPT004: torch.Generator() calls -> names bound to them; receivers given a seed.
        # Plain names are scoped (a ``g`` seeded in one function says nothing about another
        # function's ``g``); dotted names (``self.gen``) are shared by the whole module.
        self.generators: dict[int, tuple[ast.Call, list[str], int]] = {}
        self.generator_keys: set[str] = set()
        self.created_in: set[tuple[int, str]] = set()
        self.seeded: set[tuple[int, str]] = set()
        self.parent: dict[int, int | None] = {}
        self.chain_seeded: set[int] = set()
        # RPT012: deferred until we know whether deterministic algorithms are enabled.
        self.nondet: list[tuple[ast.AST, str, str, bool]] = []
        self.det_mode = False
        # RPT006: inner additions already covered by an outer one.
        self.arith_done: set[int] = set()

    def report(self, node: ast.AST, code: str, message: str, fix: str | None = None) -> None:
        key = (id(node), code)
        if key in self.reported:
            return
        self.reported.add(key)
        self.findings.append(RawFinding(node, code, message, fix))

    def new_scope(self, parent: int | None) -> int:
        sid = len(self.parent)
        self.parent[sid] = parent
        return sid

    def _is_seeded(self, key: str, scope: int) -> bool:
        """Whether the generator bound to ``key`` in ``scope`` is given a seed somewhere it is visible.

        A seeding in scope S counts when the nearest scope at or above S that
        creates its own generator under this name is ``scope``.
        """
        if "." in key:
            return any(k == key for _, k in self.seeded)
        for seeded_scope, k in self.seeded:
            if k != key:
                continue
            s: int | None = seeded_scope
            while s is not None and (s, key) not in self.created_in:
                s = self.parent[s]
            if s == scope or (s is None and seeded_scope == scope):
                return True
        return False

    def finish(self) -> None:
        for call, keys, scope in self.generators.values():
            if keys and any(self._is_seeded(k, scope) for k in keys):
                continue
            name = f"`{keys[0]}`" if keys else "it"
            self.report(call, "RPT004",
                        f"torch.Generator() is never given manual_seed(): {name} starts from "
                        f"a fixed default seed that ignores the run's seed",
                        "call .manual_seed(seed) on it, e.g. torch.Generator().manual_seed(seed)")
        for node, what, alternative, fixed_by_det in self.nondet:
            if fixed_by_det and self.det_mode:
                continue
            self.report(node, "RPT012", f"{what} is nondeterministic on CUDA",
                        f"{alternative}")


class _Scope:
    """Analysis of one scope's statements, in order."""

    def __init__(self, module: _Module, order: dict[str, V], func: ast.AST | None = None,
                 in_class: bool = False, parent: int | None = None) -> None:
        self.m = module
        self.sid = module.new_scope(parent)
        self.q = module.aliases.qualname
        self.order: dict[str, V] = order
        self.taint: dict[str, tuple[ast.AST, str]] = {}
        self.hits: list[tuple[ast.AST, str]] = []
        self.cuda_devices: set[str] = set()
        self.cuda_work: ast.AST | None = None
        self.created: ast.AST | None = None
        self.seeded_first = False
        self.func = func
        self.in_class = in_class
        self.children: list[ast.AST] = []

    # ------------------------------------------------------------------ driving
    def run(self, body: Sequence[ast.stmt]) -> None:
        self.block(body)
        if self.func is not None:
            for key, values in self.order.items():
                if key.startswith("self."):
                    for u in values:
                        if u.container == "seq":
                            self.sink(u, u.report, f"into {key}, where its order is kept")
        children, self.children = self.children, []
        inherited = {k: v for k, v in self.order.items() if not k.startswith("self.")}
        for child in children:
            if isinstance(child, ast.ClassDef):
                _Scope(self.m, dict(inherited), None, in_class=True, parent=self.sid).run(
                    child.body)
            else:
                assert isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
                scope = _Scope(self.m, dict(inherited), child, parent=self.sid)
                scope.bind_params(child.args)
                scope.run(child.body)

    def bind_params(self, args: ast.arguments) -> None:
        for a in (*args.posonlyargs, *args.args, *args.kwonlyargs):
            ann = a.annotation
            if isinstance(ann, ast.Subscript):
                ann = ann.value
            name = _terminal(ann) if ann is not None else None
            if name in _SET_ANNOTATIONS:
                self.order[a.arg] = (_Unordered("set", "set", a, "set"),)
            else:
                self.order.pop(a.arg, None)
        for extra in (args.vararg, args.kwarg):
            if extra is not None:
                self.order.pop(extra.arg, None)

    def block(self, body: Iterable[ast.stmt]) -> None:
        for s in body:
            self.hits.clear()
            self.stmt(s)

    # ------------------------------------------------------------------ statements
    def stmt(self, s: ast.stmt) -> None:
        if isinstance(s, ast.Expr):
            self.expr(s.value)
        elif isinstance(s, ast.Assign):
            self.assign(s)
        elif isinstance(s, ast.AnnAssign):
            if s.value is not None:
                fake = ast.Assign(targets=[s.target], value=s.value)
                ast.copy_location(fake, s)
                self.assign(fake)
        elif isinstance(s, ast.AugAssign):
            self.aug_assign(s)
        elif isinstance(s, (ast.For, ast.AsyncFor)):
            self.loop(s)
        elif isinstance(s, ast.Return):
            if s.value is not None:
                self.returned(s.value)
        elif isinstance(s, (ast.If, ast.While)):
            self.expr(s.test)
            self.block(s.body)
            self.block(s.orelse)
        elif isinstance(s, (ast.With, ast.AsyncWith)):
            for item in s.items:
                v = self.expr(item.context_expr)
                if item.optional_vars is not None:
                    self.bind(item.optional_vars, v, item.context_expr)
            self.block(s.body)
        elif isinstance(s, _TRY_TYPES):
            body, handlers, orelse, final = _try_parts(s)
            self.block(body)
            for h in handlers:
                if h.type is not None:
                    self.expr(h.type)
                self.block(h.body)
            self.block(orelse)
            self.block(final)
        elif isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for d in s.decorator_list:
                self.expr(d)
            for d in (*s.args.defaults, *(d for d in s.args.kw_defaults if d is not None)):
                self.expr(d)
            self.children.append(s)
        elif isinstance(s, ast.ClassDef):
            for d in (*s.decorator_list, *s.bases, *(k.value for k in s.keywords)):
                self.expr(d)
            self.children.append(s)
        elif isinstance(s, ast.Delete):
            for target in s.targets:
                key = dotted(target)
                if key is not None:
                    self.order.pop(key, None)
        elif isinstance(s, (ast.Raise, ast.Assert)):
            for child in ast.iter_child_nodes(s):
                if isinstance(child, ast.expr):
                    self.expr(child)
        elif isinstance(s, ast.Match):
            self.expr(s.subject)
            for case in s.cases:
                if case.guard is not None:
                    self.expr(case.guard)
                self.block(case.body)
        # Import, Global, Nonlocal, Pass, Break, Continue: nothing to evaluate.

    def returned(self, value: ast.expr) -> None:
        mark = len(self.hits)
        parts = value.elts if isinstance(value, ast.Tuple) else [value]
        for part in parts:
            for u in self.expr(part):
                if u.container == "seq":
                    self.sink(u, part, "into the returned sequence")
        if isinstance(self.func, (ast.FunctionDef, ast.AsyncFunctionDef)) and \
                _names_seed(self.func.name):
            self.report_taint(mark)

    def assign(self, s: ast.Assign) -> None:
        value = s.value
        mark = len(self.hits)
        v = self.expr(value)
        hits = self.hits[mark:]
        for target in s.targets:
            self.target_rules(target, value, s)
            if hits:
                name = _terminal(target)
                if name is not None and _names_seed(name):
                    self.report_taint(mark)
                elif isinstance(target, ast.Name):
                    self.taint[target.id] = hits[0]
            elif isinstance(target, ast.Name):
                self.taint.pop(target.id, None)
            self.bind(target, v, value)

    def aug_assign(self, s: ast.AugAssign) -> None:
        target, value = s.target, s.value
        v = self.expr(value)
        if isinstance(target, (ast.Subscript, ast.Attribute)):
            self.expr(target.value)
        key = dotted(target)
        if key is None:
            return
        current = self.order.get(key, _NONE)
        if v:
            if any(u.container == "set" for u in current) and isinstance(
                    s.op, (ast.BitOr, ast.BitAnd, ast.Sub, ast.BitXor)):
                return
            self.order[key] = current + _derive(v, value)

    def target_rules(self, target: ast.expr, value: ast.expr, s: ast.stmt) -> None:
        """Rules about what is assigned where (RPT003, RPT008, RPT009, RPT011, RPT004 bindings)."""
        if isinstance(target, ast.Attribute):
            if target.attr == "benchmark" and _is_true(value):
                if self.q(target) == "torch.backends.cudnn.benchmark":
                    self.m.report(s, "RPT003",
                                  "cudnn.benchmark = True picks convolution algorithms by "
                                  "timing, which differs between runs")
        elif isinstance(target, ast.Subscript):
            if self.q(target.value) == "os.environ":
                self.env_write(_const_str(target.slice), s)
        if isinstance(value, ast.Call):
            entry = self.m.generators.get(id(value))
            key = dotted(target)
            if entry is not None and key is not None:
                entry[1].append(key)
                self.m.generator_keys.add(key)
                self.m.created_in.add((self.sid, key))
            name = _terminal(target)
            if (name is not None and self.created is None and C.MODEL_TARGET.search(name)
                    and self.builds_new(value, target)):
                self.created = value
        if isinstance(target, ast.Name) and self.cuda_value(value):
            self.cuda_devices.add(target.id)

    def builds_new(self, call: ast.Call, target: ast.expr) -> bool:
        key = dotted(target)
        q = self.q(call.func)
        if q in C.NOT_CREATION or (q is not None and q.rsplit(".", 1)[-1] in C.NOT_CREATION):
            return False
        if isinstance(call.func, ast.Attribute) and dotted(call.func.value) == key:
            return False  # model = model.to(device)
        return all(dotted(a) != key for a in call.args)  # model = DDP(model)

    def bind(self, target: ast.expr, v: V, value: ast.expr) -> None:
        if isinstance(target, ast.Name):
            if v:
                self.order[target.id] = v
            else:
                self.order.pop(target.id, None)
        elif isinstance(target, ast.Attribute):
            key = dotted(target)
            if key is not None and key.split(".", 1)[0] in ("self", "cls"):
                if v:
                    self.order[key] = v
                else:
                    self.order.pop(key, None)
            else:
                self.expr(target.value)
                for u in v:
                    if u.container == "seq":
                        self.sink(u, target, "into an attribute, where its order is kept")
        elif isinstance(target, ast.Subscript):
            self.expr(target.value)
            self.expr(target.slice)
            for u in v:
                if u.container == "seq":
                    self.sink(u, target, "into a stored sequence")
        elif isinstance(target, (ast.Tuple, ast.List)):
            for u in v:
                self.sink(u, target, "into tuple unpacking")
            for elt in target.elts:
                self.bind(elt.value if isinstance(elt, ast.Starred) else elt, _NONE, value)

    # ------------------------------------------------------------------ loops
    def loop(self, s: ast.For | ast.AsyncFor) -> None:
        v = self.expr(s.iter)
        if isinstance(s.iter, ast.Call) and self.q(s.iter.func) == "os.walk":
            v = self.walk_loop(s, v)
        if v:
            sensitive, collected = self._loop_effect(s.body, s.target)
            if sensitive:
                for u in v:
                    self.sink(u, s.iter, "into a for loop")
            else:
                for key in collected:
                    self.order[key] = self.order.get(key, _NONE) + _derive(v, s.iter)
        self.bind(s.target, _NONE, s.iter)
        if isinstance(s.iter, ast.Call) and self.q(s.iter.func) == "os.walk":
            self.bind_walk_lists(s)
        self.block(s.body)
        self.block(s.orelse)

    def walk_loop(self, s: ast.For | ast.AsyncFor, v: V) -> V:
        """``for root, dirs, files in os.walk(p)``: the walk is ordered iff ``dirs`` is sorted in place.

        os.walk descends into ``dirs`` in the order listed, so unless the body
        sorts ``dirs`` (``dirs.sort()`` / ``dirs[:] = sorted(dirs)``) the
        directories come in filesystem order.
        """
        target = s.target
        dirs = target.elts[1] if isinstance(target, ast.Tuple) and len(target.elts) == 3 else None
        name = dirs.id if isinstance(dirs, ast.Name) else None
        if name is not None:
            for node in ast.walk(ast.Module(body=list(s.body), type_ignores=[])):
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                        and node.func.attr == "sort" and dotted(node.func.value) == name):
                    return _NONE
                if (isinstance(node, ast.Assign) and len(node.targets) == 1
                        and isinstance(node.targets[0], ast.Subscript)
                        and dotted(node.targets[0].value) == name):
                    return _NONE
        return (_Unordered("listing", "seq", s.iter, "os.walk()"),)

    def bind_walk_lists(self, s: ast.For | ast.AsyncFor) -> None:
        target = s.target
        if isinstance(target, ast.Tuple) and len(target.elts) == 3:
            for elt in target.elts[1:]:
                if isinstance(elt, ast.Name):
                    self.order[elt.id] = (_Unordered("listing", "seq", s.iter, "os.walk()"),)

    def _loop_effect(self, body: Sequence[ast.stmt], target: ast.expr) -> tuple[bool, list[str]]:
        """Whether a loop body's effect depends on the iteration order, and the lists it fills.

        A body that only appends to lists (which may be sorted later), fills a
        mapping keyed by the element, prints, logs or deletes files is not
        order-sensitive; anything else -- a return, a break, an unknown call,
        an index built from a counter -- is.
        """
        collected: list[str] = []
        counters: set[str] = set()
        for s in ast.walk(ast.Module(body=list(body), type_ignores=[])):
            if isinstance(s, ast.AugAssign) and isinstance(s.target, ast.Name):
                counters.add(s.target.id)
        if self._draws_random(body) or self._body_sensitive(body, collected, counters):
            return True, []
        return False, collected

    def _draws_random(self, body: Sequence[ast.stmt]) -> bool:
        """Whether a loop body draws from a global RNG (a layer's init, torch.rand, random.*).

        Each element then gets the draw that its *position* in the loop gives
        it, so the loop is order-sensitive even if it only fills a mapping.
        """
        for node in ast.walk(ast.Module(body=list(body), type_ignores=[])):
            if not isinstance(node, ast.Call):
                continue
            q = self.q(node.func)
            if q is None:
                continue
            head, _, last = q.rpartition(".")
            if head == "torch" and last in C.TORCH_RANDOM_FUNCS:
                return True
            if head in ("random", "numpy.random") or (
                    head == "torch.nn" and C.PARAMETRIC_LAYER.match(last)):
                return True
        return False

    def _body_sensitive(self, body: Sequence[ast.stmt], collected: list[str],
                        counters: set[str]) -> bool:
        for s in body:
            if isinstance(s, (ast.Pass, ast.Continue, ast.Raise, ast.Assert, ast.Delete,
                              ast.Global, ast.Nonlocal, ast.Import, ast.ImportFrom)):
                continue
            if isinstance(s, ast.Expr):
                call = s.value
                if isinstance(call, ast.Constant):
                    continue
                if not isinstance(call, ast.Call):
                    return True
                func = call.func
                if isinstance(func, ast.Attribute):
                    if func.attr in ("append", "extend", "insert", "appendleft"):
                        key = dotted(func.value)
                        if key is None:
                            return True
                        collected.append(key)
                        continue
                    if func.attr in ("add", "update", "discard", "remove", "unlink", "mkdir",
                                     "close", "touch", "save", "write_bytes", "write_text",
                                     "savefig") or self._is_log(func):
                        continue
                q = self.q(func)
                if q in C.NEUTRAL_LOOP_CALLS:
                    continue
                return True
            elif isinstance(s, ast.Assign):
                for target in s.targets:
                    if isinstance(target, ast.Name):
                        continue
                    if isinstance(target, ast.Subscript) and not self._uses_order(s.value,
                                                                                  counters):
                        continue
                    return True
            elif isinstance(s, ast.AnnAssign):
                if not isinstance(s.target, ast.Name):
                    return True
            elif isinstance(s, ast.AugAssign):
                if isinstance(s.target, ast.Name):
                    if isinstance(s.value, (ast.List, ast.ListComp, ast.Tuple)):
                        collected.append(s.target.id)
                    continue
                if isinstance(s.target, ast.Subscript) and not self._uses_order(s.value,
                                                                                counters):
                    continue
                return True
            elif isinstance(s, (ast.If, ast.For, ast.AsyncFor, ast.While)):
                if self._body_sensitive(s.body, collected, counters) or self._body_sensitive(
                        s.orelse, collected, counters):
                    return True
            elif isinstance(s, (ast.With, ast.AsyncWith)):
                if self._body_sensitive(s.body, collected, counters):
                    return True
            elif isinstance(s, _TRY_TYPES):
                body, handlers, orelse, final = _try_parts(s)
                parts = [body, orelse, final, *(h.body for h in handlers)]
                if any(self._body_sensitive(p, collected, counters) for p in parts):
                    return True
            else:
                return True
        return False

    def _uses_order(self, value: ast.expr, counters: set[str]) -> bool:
        """Whether a value stored inside a loop reveals the iteration position (len(), a counter)."""
        for node in ast.walk(value):
            if isinstance(node, ast.Name) and node.id in counters:
                return True
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                    and node.func.id == "len":
                return True
        return False

    def _is_log(self, func: ast.Attribute) -> bool:
        if func.attr not in C.LOG_METHODS:
            return False
        recv = dotted(func.value) or ""
        last = recv.rsplit(".", 1)[-1].lower()
        return "log" in last or last in ("warnings", "pbar", "tqdm", "writer", "console")

    # ------------------------------------------------------------------ sinks and reports
    def sink(self, u: _Unordered, where: ast.AST, how: str) -> None:
        if u.kind == "set":
            node = where if u.container == "set" else u.report
            line = getattr(where, "lineno", None)
            at = f" (line {line})" if line is not None and line != getattr(node, "lineno",
                                                                            line) else ""
            self.m.report(node, "RPT001",
                          f"set iteration order flows {how}{at}; for str/bytes elements it "
                          f"changes with PYTHONHASHSEED",
                          "iterate over sorted(...) of the set instead")
        else:
            line = getattr(where, "lineno", None)
            at = f" (line {line})" if line is not None and line != getattr(u.report, "lineno",
                                                                            line) else ""
            self.m.report(u.report, "RPT002",
                          f"{u.what} returns entries in filesystem order, which flows "
                          f"{how}{at}",
                          f"wrap it in sorted(...): sorted({u.what[:-1]}...))")

    def report_taint(self, mark: int) -> None:
        for node, what in self.hits[mark:]:
            self.m.report(node, "RPT005",
                          f"seed derived from {what}, which differs in every run",
                          None)

    def env_write(self, key: str | None, node: ast.AST) -> None:
        if key == "PYTHONHASHSEED":
            self.m.report(node, "RPT008",
                          "setting PYTHONHASHSEED inside the program has no effect on the "
                          "running interpreter's hash salt")
        elif key == "CUBLAS_WORKSPACE_CONFIG" and self.cuda_work is not None:
            self.m.report(node, "RPT009",
                          f"CUBLAS_WORKSPACE_CONFIG is set after CUDA work "
                          f"(line {getattr(self.cuda_work, 'lineno', '?')})")

    # ------------------------------------------------------------------ expressions
    def expr(self, e: ast.expr) -> V:
        """Evaluate an expression: visit every sub-expression once, return its arbitrary-order origins."""
        if isinstance(e, ast.Name):
            tainted = self.taint.get(e.id)
            if tainted is not None:
                self.hits.append(tainted)
            return self.order.get(e.id, _NONE)
        if isinstance(e, ast.Constant):
            return _NONE
        if isinstance(e, ast.Call):
            return self.call(e)
        if isinstance(e, ast.Attribute):
            key = dotted(e)
            if key is not None and key in self.order:
                return self.order[key]
            self.expr(e.value)
            return _NONE
        if isinstance(e, ast.Subscript):
            v = self.expr(e.value)
            self.expr(e.slice)
            for u in v:
                if u.container == "seq":
                    self.sink(u, e, "into indexing")
            return _NONE
        if isinstance(e, ast.BinOp):
            return self.binop(e)
        if isinstance(e, ast.BoolOp):
            out: V = _NONE
            for value in e.values:
                out += self.expr(value)
            return out
        if isinstance(e, ast.IfExp):
            self.expr(e.test)
            return self.expr(e.body) + self.expr(e.orelse)
        if isinstance(e, (ast.List, ast.Tuple)):
            out = _NONE
            for elt in e.elts:
                if isinstance(elt, ast.Starred):
                    out += _derive(self.expr(elt.value), e)
                else:
                    self.expr(elt)
            return out
        if isinstance(e, ast.Set):
            for elt in e.elts:
                self.expr(elt.value if isinstance(elt, ast.Starred) else elt)
            if all(isinstance(x, ast.Constant) and isinstance(x.value, int) for x in e.elts):
                return _NONE  # small ints hash to themselves: the order is stable
            return (_Unordered("set", "set", e, "set"),)
        if isinstance(e, ast.Dict):
            for k, value in zip(e.keys, e.values):
                if k is not None:
                    self.expr(k)
                mark = len(self.hits)
                self.expr(value)
                key = _const_str(k)
                if key is not None and _names_seed(key):
                    self.report_taint(mark)
            return _NONE
        if isinstance(e, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            return self.comprehension(e)
        if isinstance(e, ast.Compare):
            self.expr(e.left)
            for c in e.comparators:
                self.expr(c)
            return _NONE
        if isinstance(e, ast.NamedExpr):
            v = self.expr(e.value)
            self.bind(e.target, v, e.value)
            return v
        if isinstance(e, ast.Await):
            return self.expr(e.value)
        if isinstance(e, (ast.Yield, ast.YieldFrom)):
            if e.value is not None:
                for u in self.expr(e.value):
                    if u.container == "seq" or isinstance(e, ast.YieldFrom):
                        self.sink(u, e.value, "into the yielded items")
            return _NONE
        if isinstance(e, ast.Lambda):
            self.expr(e.body)
            return _NONE
        for child in ast.iter_child_nodes(e):
            if isinstance(child, ast.expr):
                self.expr(child)
        return _NONE

    def comprehension(self, e: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp) -> V:
        first: V = _NONE
        for gen in e.generators:
            v = self.expr(gen.iter)
            if v and not first:
                first = v
            for cond in gen.ifs:
                self.expr(cond)
        if isinstance(e, ast.DictComp):
            self.expr(e.key)
            self.expr(e.value)
        else:
            self.expr(e.elt)
        if isinstance(e, ast.SetComp):
            return (_Unordered("set", "set", e, "set"),)
        if not first:
            return _NONE
        if isinstance(e, ast.DictComp):
            if all(u.container == "set" for u in first):
                return _NONE  # a mapping keyed by the elements; only its order is arbitrary
            return _derive(first, e, "map")
        return _derive(first, e)

    def binop(self, e: ast.BinOp) -> V:
        """Evaluate a (possibly very long, e.g. generated) left-nested chain without recursion."""
        spine: list[ast.BinOp] = []
        node: ast.expr = e
        while isinstance(node, ast.BinOp):
            spine.append(node)
            node = node.left
        for b in spine:  # outermost first: it reports the whole ``seed + ... + rank`` sum
            if isinstance(b.op, (ast.Add, ast.BitXor, ast.BitOr)) and id(b) not in \
                    self.m.arith_done:
                self.seed_arithmetic(b)
        acc = self.expr(node)
        for b in reversed(spine):
            acc = self._combine(b, acc, self.expr(b.right))
        return acc

    def _combine(self, e: ast.BinOp, left: V, right: V) -> V:
        op = type(e.op)
        if op in (ast.BitOr, ast.BitAnd, ast.Sub, ast.BitXor):
            if any(u.container == "set" for u in left + right) or self._keys_view(
                    e.left) or self._keys_view(e.right):
                return (_Unordered("set", "set", e, "set"),)
            return _NONE
        if (op is ast.Add or op is ast.Mult) and (left or right):
            return _derive(left + right, e)
        return _NONE

    @staticmethod
    def _keys_view(node: ast.expr) -> bool:
        return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("keys", "items") and not node.args)

    # ------------------------------------------------------------------ calls
    def call(self, node: ast.Call) -> V:
        func = node.func
        q = self.q(func)
        receiver = func.value if isinstance(func, ast.Attribute) else None
        attr = func.attr if isinstance(func, ast.Attribute) else None
        last = q.rsplit(".", 1)[-1] if q is not None else attr
        if receiver is not None and attr in ("manual_seed", "set_state"):
            if isinstance(receiver, ast.Call):
                self.m.chain_seeded.add(id(receiver))
            else:
                key = dotted(receiver)
                if key is not None:
                    self.m.seeded.add((self.sid, key))
        # receiver first, then arguments, left to right (the order Python evaluates them)
        recv: V = self.expr(receiver) if receiver is not None else _NONE
        if receiver is None and not isinstance(func, ast.Name):
            self.expr(func)
        seed_sink = q in C.SEED_SINK_QUALNAMES or last in C.SEED_SINK_SUFFIXES
        args: list[V] = []
        for i, a in enumerate(node.args):
            mark = len(self.hits)
            args.append(self.expr(a.value if isinstance(a, ast.Starred) else a))
            if seed_sink and i == 0:
                self.report_taint(mark)
        kws: list[V] = []
        for k in node.keywords:
            mark = len(self.hits)
            kws.append(self.expr(k.value))
            if k.arg is not None and (k.arg in C.SEED_KEYWORDS or (seed_sink and k.arg in (
                    "seed", "entropy", "x"))):
                self.report_taint(mark)
        self.call_rules(node, q or "", last, attr)
        return self.call_flow(node, q, last, attr, recv, args, kws)

    def call_flow(self, node: ast.Call, q: str | None, last: str | None, attr: str | None,
                  recv: V, args: list[V], kws: list[V]) -> V:
        """What a call does to values of arbitrary order (RPT001/RPT002)."""
        func = node.func
        receiver = func.value if isinstance(func, ast.Attribute) else None
        if q in C.LISTING_FUNCS:
            return (_Unordered("listing", "seq", node, C.LISTING_FUNCS[q]),)
        if receiver is not None and attr in C.LISTING_METHODS:
            if self.q(receiver) != "glob":
                return (_Unordered("listing", "seq", node, f"{ast.unparse(func)}()"),)
        flat = [u for v in args for u in v] + [u for v in kws for u in v]
        if attr is not None and recv:
            return self.method_flow(node, attr, recv, flat)
        if receiver is not None and attr in ("extend", "__iadd__") and flat:
            key = dotted(receiver)
            if key is not None:
                self.order[key] = self.order.get(key, _NONE) + _derive(tuple(flat), node)
                return _NONE
        if attr == "join" or attr == "format":
            return _NONE
        name = func.id if isinstance(func, ast.Name) else None
        if name in ("set", "frozenset") and not self.m.aliases.is_imported(name):
            if node.args and self._int_iterable(node.args[0]):
                return _NONE
            return (_Unordered("set", "set", node, "set"),)
        if not flat:
            return _NONE
        if name in ("list", "tuple") or q in C.TRANSPARENT_FUNCS:
            return _derive(tuple(flat), node)
        if name in ("enumerate", "zip"):
            for u in flat:
                self.sink(u, node, f"into {name}()")
            return _NONE
        if name == "next":
            for u in flat:
                self.sink(u, node, "into picking the first element")
            return _NONE
        if q in C.ORDERED_CONSUMERS:
            for u in flat:
                self.sink(u, node, f"into {q}()")
            return _NONE
        if name in C.SAFE_FUNCS or q in C.SAFE_QUALNAMES:
            return _NONE
        if isinstance(func, ast.Attribute) and self._is_log(func):
            return _NONE
        if last is not None and (last.endswith("Error") or last.endswith("Exception")
                                 or last.endswith("Warning")):
            return _NONE
        for u in flat:
            if u.container == "seq":
                self.sink(u, node, f"into {ast.unparse(func)}()")
        return _NONE

    def _int_iterable(self, node: ast.expr) -> bool:
        """``range(...)`` or a literal of ints: their set order is the same in every run."""
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            return node.func.id == "range"
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            return all(isinstance(e, ast.Constant) and isinstance(e.value, int)
                       for e in node.elts)
        return False

    def method_flow(self, node: ast.Call, attr: str, recv: V, flat: list[_Unordered]) -> V:
        func = node.func
        assert isinstance(func, ast.Attribute)
        key = dotted(func.value)
        if attr == "sort":
            if key is not None:
                self.order.pop(key, None)
            return _NONE
        sets = tuple(u for u in recv if u.container == "set")
        seqs = tuple(u for u in recv if u.container != "set")
        out: V = _NONE
        if sets:
            if attr == "pop":
                for u in sets:
                    self.sink(u, node, "into picking an arbitrary element")
            elif attr in ("union", "intersection", "difference", "symmetric_difference", "copy"):
                out += (_Unordered("set", "set", node, "set"),)
        if seqs:
            if attr in ("index", "pop"):
                for u in seqs:
                    self.sink(u, node, f"into .{attr}() positions")
            elif attr in ("copy", "keys", "values", "items"):
                out += _derive(seqs, node)
            elif attr in ("extend", "__iadd__") and key is not None:
                self.order[key] = recv + _derive(tuple(flat), node)
        return out

    # ------------------------------------------------------------------ per-call rules
    def call_rules(self, node: ast.Call, q: str, last: str | None, attr: str | None) -> None:
        # RPT004: generators without a seed
        seed_kw = C.UNSEEDED_CTORS.get(q)
        if seed_kw is not None:
            arg = _kw(node, seed_kw, 0)
            if arg is None and not any(k.arg is None for k in node.keywords) or (
                    isinstance(arg, ast.Constant) and arg.value is None):
                self.m.report(node, "RPT004",
                              f"{q.replace('numpy.', 'np.')}() without a seed draws its seed "
                              f"from the operating system",
                              "pass a seed derived from the run's seed, e.g. "
                              "derive_seed(seed, 'purpose')")
        elif q in C.TORCH_GENERATORS:
            if id(node) not in self.m.chain_seeded:
                self.m.generators[id(node)] = (node, [], self.sid)
        # RPT005: clock, pid, uuid, urandom, hash(str)
        clock = C.CLOCK_SOURCES.get(q)
        if clock is not None:
            self.hits.append((node, clock))
        elif q == "hash" and node.args and self._stringish(node.args[0]):
            self.hits.append((node, "hash() of a string (salted by PYTHONHASHSEED)"))
        if q in C.ENTROPY_RESEEDS:
            self.entropy_reseed(node, *C.ENTROPY_RESEEDS[q])
        # RPT004 bookkeeping: a generator handed to a function may be seeded there
        if self.m.generator_keys:
            for a in node.args:
                key = dotted(a)
                if key is not None and key in self.m.generator_keys:
                    self.m.seeded.add((self.sid, key))
        # RPT007 and the deterministic-mode fact used by RPT012
        if q == "torch.use_deterministic_algorithms":
            mode = _kw(node, "mode", 0)
            warn = _kw(node, "warn_only")
            if not _is_falsy_const(mode):
                if _is_true(warn):
                    self.m.report(node, "RPT007",
                                  "use_deterministic_algorithms(True, warn_only=True) lets "
                                  "nondeterministic kernels run with only a warning")
                elif warn is None or _is_falsy_const(warn):
                    self.m.det_mode = True
        elif q == "torch.set_deterministic_debug_mode":
            mode = _kw(node, "debug_mode", 0)
            if (isinstance(mode, ast.Constant) and mode.value in ("warn", 1)):
                self.m.report(node, "RPT007",
                              "set_deterministic_debug_mode('warn') lets nondeterministic "
                              "kernels run with only a warning",
                              "use set_deterministic_debug_mode('error') or "
                              "torch.use_deterministic_algorithms(True)")
            elif isinstance(mode, ast.Constant) and mode.value in ("error", 2):
                self.m.det_mode = True
        elif q.startswith("reprotorch") and last in ("set_deterministic", "deterministic"):
            self.m.det_mode = True
        elif last == "seed_everything" and _is_true(_kw(node, "deterministic")):
            self.m.det_mode = True
        # RPT008 / RPT009: environment writes
        if q in ("os.environ.setdefault", "os.putenv", "os.environ.__setitem__"):
            self.env_write(_const_str(node.args[0]) if node.args else None, node)
        elif q == "os.environ.update":
            for k in node.keywords:
                self.env_write(k.arg, node)
            for a in node.args:
                if isinstance(a, ast.Dict):
                    for k2 in a.keys:
                        self.env_write(_const_str(k2), node)
        # RPT009: CUDA work
        if self.cuda_work is None and self.is_cuda_work(node, q, attr):
            self.cuda_work = node
        # RPT010 / RPT011: DataLoader, model creation, global seeding
        is_loader = q in C.DATALOADERS or (last in ("DataLoader", "StatefulDataLoader")
                                          and q.startswith(("torch.", "torchdata.")))
        if is_loader:
            self.check_dataloader(node, last or "DataLoader")
        if self.created is None and (is_loader or self.is_model_ctor(q, last)):
            self.created = node
        if q in C.GLOBAL_SEED_QUALNAMES or last in C.GLOBAL_SEED_SUFFIXES:
            if self.created is not None and not self.seeded_first:
                self.m.report(node, "RPT011",
                              f"the global seed is set after the model/DataLoader was created "
                              f"(line {getattr(self.created, 'lineno', '?')}); its initial "
                              f"weights or order did not use this seed")
                self.seeded_first = True
            elif self.created is None:
                self.seeded_first = True
        # RPT012: nondeterministic CUDA ops
        self.check_nondet(node, q, last, attr)

    def entropy_reseed(self, node: ast.Call, shown: str, seed_kw: str | None) -> None:
        """RPT005: ``random.seed()``, ``np.random.seed(None)``, ``torch.seed()`` -- reseeding from OS entropy."""
        if seed_kw is None:
            self.m.report(node, "RPT005",
                          f"{shown}() reseeds the global generator from OS entropy, differently "
                          f"in every run",
                          "seed it from the run's seed instead, e.g. "
                          "torch.manual_seed(derive_seed(seed, 'purpose'))")
            return
        if any(k.arg is None for k in node.keywords) or any(
                isinstance(a, ast.Starred) for a in node.args):
            return  # *args/**kwargs may carry the seed
        arg = _kw(node, seed_kw, 0)
        if arg is None or (isinstance(arg, ast.Constant) and arg.value is None):
            self.m.report(node, "RPT005",
                          f"{shown}() without a seed reseeds the global generator from OS "
                          f"entropy or the clock, differently in every run",
                          f"pass the run's seed, e.g. {shown}(derive_seed(seed, 'worker', "
                          f"worker_id))")

    def _stringish(self, node: ast.expr) -> bool:
        if isinstance(node, ast.Constant):
            return isinstance(node.value, (str, bytes))
        if isinstance(node, ast.JoinedStr):
            return True
        if isinstance(node, ast.Tuple):
            return any(self._stringish(e) for e in node.elts)
        if isinstance(node, ast.BinOp):
            return self._stringish(node.left) or self._stringish(node.right)
        if isinstance(node, ast.Call):
            f = node.func
            return (isinstance(f, ast.Name) and f.id in ("str", "repr")) or (
                isinstance(f, ast.Attribute) and f.attr in ("encode", "join", "format", "lower",
                                                              "upper", "strip"))
        name = _terminal(node)
        return name is not None and not C.INT_HINT.search(name)

    def seed_arithmetic(self, e: ast.BinOp) -> None:
        """RPT006: ``seed + rank``, ``base + num_workers * rank + worker_id``, ``seed ^ rank``."""
        terms: list[ast.expr] = []
        stack: list[ast.expr] = [e]
        op = type(e.op)
        while stack:
            n = stack.pop()
            if isinstance(n, ast.BinOp) and type(n.op) is op:
                self.m.arith_done.add(id(n))
                stack.append(n.left)
                stack.append(n.right)
            else:
                terms.append(n)
        has_seed = any(self._term_is(t, self._is_seed_name) for t in terms)
        has_worker = any(self._term_is(t, self._is_worker_name) for t in terms)
        if has_seed and has_worker:
            self.m.report(e, "RPT006",
                          f"seed made by arithmetic ({ast.unparse(e)}) collides across seeds: "
                          f"(seed=0, rank=1) and (seed=1, rank=0) get the same stream")

    def _term_is(self, t: ast.expr, pred: Callable[[ast.expr], bool]) -> bool:
        if isinstance(t, ast.BinOp) and isinstance(t.op, (ast.Mult, ast.LShift)):
            return self._term_is(t.left, pred) or self._term_is(t.right, pred)
        if isinstance(t, ast.Call) and isinstance(t.func, ast.Name) and t.func.id == "int" \
                and t.args:
            return self._term_is(t.args[0], pred)
        return pred(t)

    def _is_seed_name(self, t: ast.expr) -> bool:
        if isinstance(t, ast.Call):
            last = (self.q(t.func) or "").rsplit(".", 1)[-1]
            return last == "initial_seed"
        name = _terminal(t)
        return name is not None and bool(C.SEED_NAME.search(name))

    def _is_worker_name(self, t: ast.expr) -> bool:
        if isinstance(t, ast.Call):
            last = (self.q(t.func) or "").rsplit(".", 1)[-1]
            return last in ("get_rank", "get_local_rank", "get_node_rank")
        if isinstance(t, ast.Subscript):
            key = _const_str(t.slice)
            return key in ("RANK", "LOCAL_RANK", "NODE_RANK", "SLURM_PROCID", "SLURM_LOCALID")
        name = _terminal(t)
        if name is None:
            return False
        if name == "id" and isinstance(t, ast.Attribute):
            owner = (_terminal(t.value) or "").lower()
            return "worker" in owner or owner == "info"
        return bool(C.WORKER_NAME.search(name))

    def cuda_value(self, value: ast.expr) -> bool:
        """Whether an expression spells a CUDA device (``"cuda"``, ``torch.device("cuda:0")``)."""
        if isinstance(value, ast.Constant):
            return isinstance(value.value, str) and value.value.startswith("cuda")
        if isinstance(value, ast.JoinedStr):
            return bool(value.values) and (_const_str(value.values[0]) or "").startswith("cuda")
        if isinstance(value, ast.Name):
            return value.id in self.cuda_devices
        if isinstance(value, ast.Call):
            if self.q(value.func) == "torch.device" and value.args:
                return self.cuda_value(value.args[0])
            return False
        if isinstance(value, ast.IfExp):
            return self.cuda_value(value.body)
        return False

    def is_cuda_work(self, node: ast.Call, q: str, attr: str | None) -> bool:
        if attr == "cuda":
            return q != "torch.cuda"
        if attr == "to":
            target = _kw(node, "device", 0)
            if target is not None and self.cuda_value(target):
                return True
        if q.startswith("torch.cuda."):
            rest = q[len("torch.cuda."):]
            return rest.split(".", 1)[0] not in C.CUDA_LAZY_OK and not rest.startswith("amp")
        dev = _kw(node, "device")
        return dev is not None and self.cuda_value(dev)

    def is_model_ctor(self, q: str, last: str | None) -> bool:
        if q.startswith("torch.nn.") and last and C.PARAMETRIC_LAYER.match(last):
            return True
        if q.startswith("torchvision.models.") or q in ("timm.create_model",):
            return True
        return last == "from_pretrained"

    def check_dataloader(self, node: ast.Call, name: str) -> None:
        if any(k.arg is None for k in node.keywords):
            return  # **kwargs may carry generator= or worker_init_fn=
        if any(isinstance(a, ast.Starred) for a in node.args):
            return
        pos = C.DATALOADER_POSITIONS
        if _kw(node, "generator", pos["generator"]) is not None:
            return
        if _kw(node, "worker_init_fn", pos["worker_init_fn"]) is not None:
            return
        shuffle = _kw(node, "shuffle", pos["shuffle"])
        workers = _kw(node, "num_workers", pos["num_workers"])
        reasons = []
        if shuffle is not None and not _is_falsy_const(shuffle):
            reasons.append("shuffle order")
        if workers is not None and not _is_falsy_const(workers):
            reasons.append("worker seeds")
        if not reasons:
            return
        verb = "come" if len(reasons) > 1 else "comes"
        tail = " and depend on num_workers" if "worker seeds" in reasons else ""
        self.m.report(node, "RPT010",
                      f"{name} without generator= or worker_init_fn=: its "
                      f"{' and '.join(reasons)} {verb} from the global torch RNG stream{tail}")

    def check_nondet(self, node: ast.Call, q: str, last: str | None, attr: str | None) -> None:
        entry = C.NONDET_FUNCS.get(q)
        method = False
        if entry is None and isinstance(node.func, ast.Attribute) and attr in C.NONDET_METHODS:
            recv_q = self.q(node.func.value)
            if recv_q is not None and recv_q.split(".", 1)[0] in ("numpy", "pandas", "np"):
                return
            entry = C.NONDET_METHODS[node.func.attr]
            method = True
        if entry is None:
            return
        what, alternative, fixed = entry
        key = attr if method else last
        if key in ("interpolate", "upsample", "Upsample"):
            mode = _const_str(_kw(node, "mode", 2 if key == "Upsample" else 3))
            if mode not in C.NONDET_MODES["interpolate"]:
                return
        elif key == "pad":
            mode = _const_str(_kw(node, "mode", 2))
            if mode not in C.NONDET_MODES["pad"]:
                return
            fixed = mode == "replicate"
        elif key in ("embedding_bag", "EmbeddingBag"):
            if _const_str(_kw(node, "mode")) not in C.NONDET_MODES["embedding_bag"]:
                return
        elif key in ("index_put_", "index_put"):
            if not _is_true(_kw(node, "accumulate", 2)):
                return
        elif key == "bincount":
            if _kw(node, "weights", 1 if not method else 0) is None:
                return
        elif key == "cumsum":
            if self._integer_data(node, method):
                return
        self.m.nondet.append((node, what, alternative, fixed))

    def _integer_data(self, node: ast.Call, method: bool) -> bool:
        dtype = _kw(node, "dtype")
        if dtype is not None:
            name = (_terminal(dtype) or "").lower()
            return "int" in name or "long" in name or "bool" in name
        subject: ast.expr | None
        if method and isinstance(node.func, ast.Attribute):
            subject = node.func.value
        else:
            subject = node.args[0] if node.args else None
        if isinstance(subject, ast.Compare):
            return True
        while isinstance(subject, ast.Call) and isinstance(subject.func, ast.Attribute):
            if subject.func.attr in ("long", "int", "bool", "short", "byte"):
                return True
            if subject.func.attr == "to" and subject.args:
                name = (_terminal(subject.args[0]) or "").lower()
                return "int" in name or "long" in name
            subject = subject.func.value
        return False


def check_tree(tree: ast.Module, aliases: Aliases) -> list[RawFinding]:
    """Run every rule over a parsed module; findings in discovery order."""
    module = _Module(aliases)
    _Scope(module, {}).run(tree.body)
    module.finish()
    return module.findings
