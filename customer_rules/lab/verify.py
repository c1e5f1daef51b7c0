"""``cr.verify``: static analysis of a decision table.

Each rule's condition is translated into the set of inputs where it is
*true* and the set where it is *false* (the rest is where it is missing,
following the language's three-valued logic), as unions of boxes over the
values the policy reads (see :mod:`._regions`). Comparisons of one record
field with constants (``<``, ``between``, ``in``, ``is missing``, ``==``
on enums and booleans, membership in list fields, date arithmetic with
constants, ``days_since``…) are translated exactly; so are ``and``, ``or``,
``not``, ``if``, ``coalesce``, ``min`` and ``max`` over them. Anything else
— features, population-relative tests, arithmetic over several fields —
becomes an *opaque* value that may take any value of its type.

That makes every set an over-approximation of what records can reach, so:

* "no input does X" (a rule is unreachable or never true, a label can
  never be produced, rules never overlap, nothing is uncovered) is proved
  exactly, opaque values or not;
* "some input does X" is proved by a witness: a box that constrains record
  fields only gives a record directly; otherwise a bounded search (the
  sample customers, then records generated with hypothesis) looks for one,
  and when it finds none the finding says the question is undecided.

Every witness is confirmed by running the policy on it (python backend).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import html
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from customer_rules.errors import CustomerRulesError
from customer_rules.lab.regions import (
    BOOL,
    EMPTY,
    FULL,
    INF,
    NUM,
    STR,
    Box,
    Iv,
    Region,
    Space,
    TooComplex,
    Var,
)
from customer_rules.lang.ast import (
    COMPARE,
    Between,
    Binary,
    Call,
    In,
    IsMissing,
    ListOf,
    Name,
    Node,
    Unary,
    conjuncts,
    to_text,
)
from customer_rules.lang.compile import CheckedPolicy, check_policy, resolve_params
from customer_rules.lang.functions import FUNCTIONS
from customer_rules.lang.ops import COMPARISONS, NOT_CONSTANT, PROPAGATES
from customer_rules.lang.policy import Policy
from customer_rules.lang.types import DATE, LIST, NUMBER, RECORDS, STRING, Type
from customer_rules.model.decision import show

if TYPE_CHECKING:
    from customer_rules.backends.python import PythonPolicy
    from customer_rules.engine.engine import Engine, Scheme
    from customer_rules.model.records import Customer

Severity = Literal["error", "warning", "info"]

_NC = NOT_CONSTANT  # "not a constant"
_DAY_MIN = float(dt.date(1, 1, 1).toordinal())
_DAY_MAX = float(dt.date(9999, 12, 31).toordinal())

#: The function models (``Function.verify`` in the function table) this
#: analysis reasons with; any other function is an opaque value (witness
#: search only), known only where its arguments are when it propagates missing.
MODELS = frozenset(
    {"membership", "top", "share", "branch", "first_known", "extremum", "day_count", "size", "count"}
)


# ---------------------------------------------------------------------------
# terms: what a numeric or string expression is, in terms of variables


@dataclass(eq=False)
class _Const:
    value: Any


@dataclass(eq=False)
class _Lin:
    """``a * var + b`` for a number (or date ordinal) variable; ``var`` itself for others."""

    var: Var
    a: float = 1.0
    b: float = 0.0
    req: Region = field(default_factory=lambda: FULL)


class _Lazy:
    """A region computed when first needed (and kept)."""

    __slots__ = ("_make", "_value")

    def __init__(self, make: Region | Callable[[], Region]) -> None:
        self._make = make
        self._value: Region | None = make if isinstance(make, list) else None

    def get(self) -> Region:
        if self._value is None:
            make = self._make
            assert callable(make)
            self._value = make()
        return self._value


class _TF:
    """Where a condition is true (``t``) and false (``f``); each computed on first use."""

    __slots__ = ("_f", "_t")

    def __init__(self, t: Region | Callable[[], Region], f: Region | Callable[[], Region]) -> None:
        self._t = _Lazy(t)
        self._f = _Lazy(f)

    @property
    def t(self) -> Region:
        return self._t.get()

    @property
    def f(self) -> Region:
        return self._f.get()


@dataclass(eq=False)
class _If:
    c: _TF
    then: Term
    other: Term


@dataclass(eq=False)
class _Coalesce:
    items: tuple[Term, ...]


@dataclass(eq=False)
class _MinMax:
    fn: str
    items: tuple[Term, ...]


Term = _Const | _Lin | _If | _Coalesce | _MinMax


def _date_ord(v: Any) -> Any:
    return v.toordinal() if isinstance(v, dt.date) else v


class _Translator:
    """Turns the conditions of one checked policy into (true, false) regions."""

    def __init__(self, checked: CheckedPolicy, as_of: dt.date, space: Space) -> None:
        self.checked = checked
        self.ns = checked.namespace
        self.params: dict[str, Any] = dict(checked.params)
        self.derived = {name: node for name, node, _ in checked.derived}
        self.space = space
        self.today = as_of.toordinal()
        self.hints: dict[str, set[Any]] = {}
        self._conds: dict[Node, _TF] = {}
        self._terms: dict[Node, Term | None] = {}
        self.opaque: dict[str, str] = {}  # opaque variable -> why it is opaque

    # -- helpers ---------------------------------------------------------------
    def type_of(self, node: Node) -> Type:
        return self.checked.type_of(node)

    def hint(self, var: Var, value: Any) -> None:
        if var.exact and var.path is not None and var.member is None:
            if var.date and isinstance(value, int | float) and math.isfinite(value):
                try:
                    value = dt.date.fromordinal(int(value))
                except (ValueError, OverflowError):
                    return
            self.hints.setdefault(var.path, set()).add(value)

    def field_var(self, path: str) -> Var | None:
        info = self.ns.fields.get(path)
        if info is None:
            return None
        t = info.type
        if t.kind == NUMBER:
            return self.space.add(
                Var(
                    path,
                    NUM,
                    integer=t.integer,
                    ge=t.ge if t.ge is not None else -INF,
                    le=t.le if t.le is not None else INF,
                    path=path,
                )
            )
        if t.kind == DATE:
            return self.space.add(Var(path, NUM, integer=True, date=True, path=path, ge=_DAY_MIN, le=_DAY_MAX))
        if t.kind == STRING:
            return self.space.add(Var(path, STR, enum=t.enum, path=path))
        if t.kind == "bool":
            return self.space.add(Var(path, BOOL, path=path))
        return None

    def member_var(self, path: str, item: Any) -> Var:
        return self.space.add(
            Var(f"{item} in {path}", BOOL, nullable=False, path=path, member=str(item))
        )

    def opaque_var(
        self,
        node: Node,
        t: Type,
        why: str,
        *,
        nullable: bool = True,
        ge: float = -INF,
        le: float = INF,
    ) -> Var:
        key = to_text(node)
        self.opaque.setdefault(key, why)
        if t.kind in (NUMBER, DATE):
            if t.kind == DATE:
                ge, le = max(ge, _DAY_MIN), min(le, _DAY_MAX)
            var = Var(key, NUM, exact=False, nullable=nullable, integer=t.integer or t.kind == DATE, ge=ge, le=le,
                      date=t.kind == DATE)
        elif t.kind == STRING:
            var = Var(key, STR, exact=False, nullable=nullable, enum=t.enum)
        else:
            var = Var(key, BOOL, exact=False, nullable=nullable)
        return self.space.add(var)

    # -- constants ---------------------------------------------------------------
    def const(self, node: Node) -> Any:
        """The folded value of a constant expression (folded by the checker with
        the operator table's meaning), or ``_NC``."""
        return self.checked.constant(node)

    # -- conditions ----------------------------------------------------------------
    def cond(self, node: Node) -> _TF:
        done = self._conds.get(node)
        if done is None:
            done = self._cond(node)
            self._conds[node] = done
        return done

    def _cond(self, node: Node) -> _TF:
        sp = self.space
        c = self.const(node)
        if c is not _NC:
            if c is True:
                return _TF(FULL, EMPTY)
            if c is False:
                return _TF(EMPTY, FULL)
            return _TF(EMPTY, EMPTY)
        if isinstance(node, Name):
            if node.dotted in self.derived:
                return self.cond(self.derived[node.dotted])
            var = self.field_var(node.dotted)
            if var is None:
                feat = self.ns.features.get(node.dotted)
                why = "a feature computed from the record" if feat is not None else "not a record field"
                var = self.opaque_var(node, self.type_of(node), why)
            return _TF([{var.key: sp.bools([True])}], [{var.key: sp.bools([False])}])
        if isinstance(node, Unary) and node.op == "not":
            inner = self.cond(node.operand)
            return _TF(lambda: inner.f, lambda: inner.t)
        if isinstance(node, Binary) and node.op in ("and", "or"):
            a, b = self.cond(node.left), self.cond(node.right)
            if node.op == "and":
                return _TF(lambda: sp.r_and(a.t, b.t), lambda: sp.r_or(a.f, b.f))
            return _TF(lambda: sp.r_or(a.t, b.t), lambda: sp.r_and(a.f, b.f))
        if isinstance(node, Binary) and node.op in COMPARE:
            return self.compare(node)
        if isinstance(node, In):
            return self.in_(node)
        if isinstance(node, Between):
            lo, hi = self.const(node.low), self.const(node.high)
            term = self.term(node.value)
            if lo is _NC or hi is _NC or term is None:
                return self.atom(node, "a range with bounds that are not constants")
            if lo is None or hi is None:
                return _TF(EMPTY, EMPTY)
            tm: Term = term
            return self._known(tm, lambda: sp.r_and(self.cmp_true(tm, ">=", lo), self.cmp_true(tm, "<=", hi)))
        if isinstance(node, IsMissing):
            if self.type_of(node.value).kind == "bool":
                inner = self.cond(node.value)

                def known() -> Region:
                    return sp.r_or(inner.t, inner.f)
            else:
                term = self.term(node.value)
                if term is None:
                    return self.atom(node, "a list is never missing")

                def known() -> Region:
                    return self.present(term)

            tf = _TF(lambda: sp.r_not(known()), known)
            return _TF(lambda: tf.f, lambda: tf.t) if node.negated else tf
        if isinstance(node, Call):
            return self.call_cond(node)
        return self.atom(node, "an expression the analysis does not model")

    def _known(self, term: Term, true: Callable[[], Region]) -> _TF:
        """True where ``true()`` says; false wherever else the term is known."""
        tf = _TF(true, lambda: self.space.r_minus(self.present(term), tf.t))
        return tf

    def atom(self, node: Node, why: str, req: Region | Callable[[], Region] = FULL) -> _TF:
        """An opaque condition: true, false or missing (true/false only where ``req`` holds)."""
        var = self.opaque_var(node, Type("bool"), why)
        sp = self.space
        need = _Lazy(req)
        return _TF(
            lambda: sp.r_and([{var.key: sp.bools([True])}], need.get()),
            lambda: sp.r_and([{var.key: sp.bools([False])}], need.get()),
        )

    def call_cond(self, node: Call) -> _TF:
        sp = self.space
        name = node.name
        fn = FUNCTIONS.get(name)
        model = fn.verify if fn is not None else None
        if model == "membership":
            path = node.args[0]
            items = self.const(node.args[1])
            if isinstance(path, Name) and path.dotted in self.ns.fields and items is not _NC:
                members = [self.member_var(path.dotted, i) for i in items]
                t: Region = [{m.key: sp.bools([True])} for m in members]
                f: Region = [{m.key: sp.bools([False]) for m in members}] if members else FULL
                return _TF(lambda: sp.simplify(t), f)
            return self.atom(node, "has_any over a value that is not a record list field")
        if model == "top":
            measure = self.term(node.args[0])
            known = _Lazy(lambda: self.present(measure) if measure is not None else FULL)
            var = self.opaque_var(node, Type("bool"), "a population-relative test (fitted cut-off)")
            on: Region = [{var.key: sp.bools([True])}]
            off: Region = [{var.key: sp.bools([False])}]
            if name.endswith("_within"):
                group = self.cond(node.args[2])
                return _TF(
                    lambda: sp.r_and(sp.r_and(on, known.get()), group.t),
                    lambda: sp.r_or(sp.r_and(sp.r_and(off, known.get()), group.t), sp.r_and(known.get(), group.f)),
                )
            return _TF(lambda: sp.r_and(on, known.get()), lambda: sp.r_and(off, known.get()))
        if model == "branch":
            c, a, b = (self.cond(x) for x in node.args)
            return _TF(
                lambda: sp.r_or(sp.r_and(c.t, a.t), sp.r_and(c.f, b.t)),
                lambda: sp.r_or(sp.r_and(c.t, a.f), sp.r_and(c.f, b.f)),
            )
        if model == "first_known":
            out = self.cond(node.args[-1])
            for arg in reversed(node.args[:-1]):
                out = self._first_known(self.cond(arg), out)
            return out
        feat = self.ns.features.get(name)
        why = "a feature computed from the record" if feat is not None else f"{name}() is not modelled"
        return self.atom(node, why)

    def _first_known(self, first: _TF, rest: _TF) -> _TF:
        """``coalesce(first, rest)`` for conditions: ``first`` where it is known, else ``rest``."""
        sp = self.space
        unknown = _Lazy(lambda: sp.r_not(sp.r_or(first.t, first.f)))
        return _TF(
            lambda: sp.r_or(first.t, sp.r_and(unknown.get(), rest.t)),
            lambda: sp.r_or(first.f, sp.r_and(unknown.get(), rest.f)),
        )

    def compare(self, node: Binary) -> _TF:
        sp = self.space
        op = node.op
        left, right = node.left, node.right
        lc, rc = self.const(left), self.const(right)
        if lc is not _NC and rc is _NC:
            left, right, op, lc, rc = right, left, COMPARISONS[op].flipped, rc, lc
        if self.type_of(left).kind == "bool" and isinstance(rc, bool) and op in ("==", "!="):
            inner = self.cond(left)
            return inner if (op == "==") == rc else _TF(lambda: inner.f, lambda: inner.t)
        lt = self.term(left)
        if rc is not _NC:
            if lt is None:
                return self.atom(node, "a comparison the analysis does not model")
            if rc is None:
                return _TF(EMPTY, EMPTY)
            return self._known(lt, lambda: self.cmp_true(lt, op, rc))
        rt = self.term(right)
        if lt is None or rt is None:
            return self.atom(node, "a comparison the analysis does not model")
        if isinstance(lt, _Lin) and isinstance(rt, _Lin) and lt.var.key == rt.var.key and lt.var.kind == NUM:
            # a x + b op c x + d  <=>  (a - c) x op d - b
            diff = _Lin(lt.var, lt.a - rt.a, lt.b - rt.b, sp.r_and(lt.req, rt.req))
            if diff.a == 0:
                p = self.present(diff)
                return _TF(p, EMPTY) if _holds(op, diff.b, 0) else _TF(EMPTY, p)
            return self._known(diff, lambda: self.cmp_true(diff, op, 0))
        return self.atom(
            node,
            "a comparison of two values read from the record",
            lambda: sp.r_and(self.present(lt), self.present(rt)),
        )

    def in_(self, node: In) -> _TF:
        sp = self.space
        container = node.container
        if isinstance(container, ListOf):
            values = self.const(container)
            found = self.term(node.item)
            if values is _NC or found is None:
                return self.atom(node, "membership the analysis does not model")
            term: Term = found

            def true() -> Region:
                t: Region = EMPTY
                for v in values:
                    t = sp.r_or(t, self.cmp_true(term, "==", v))
                return t

            tf = self._known(term, true)
        else:
            item = self.const(node.item)
            if isinstance(container, Name) and container.dotted in self.ns.fields and item is not _NC:
                if item is None:
                    return _TF(EMPTY, EMPTY)
                m = self.member_var(container.dotted, item)
                tf = _TF([{m.key: sp.bools([True])}], [{m.key: sp.bools([False])}])
            else:
                item_term = self.term(node.item)
                return self.atom(
                    node,
                    "membership the analysis does not model",
                    (lambda: self.present(item_term)) if item_term is not None else FULL,
                )
        return _TF(lambda: tf.f, lambda: tf.t) if node.negated else tf

    # -- terms -----------------------------------------------------------------------
    def term(self, node: Node) -> Term | None:
        if node in self._terms:
            return self._terms[node]
        t = self._term(node)
        self._terms[node] = t
        return t

    def _term(self, node: Node) -> Term | None:
        c = self.const(node)
        if c is not _NC:
            return _Const(c)
        sp = self.space
        t = self.type_of(node)
        if t.kind in (LIST, RECORDS):
            return None
        if isinstance(node, Name):
            if node.dotted in self.derived:
                return self.term(self.derived[node.dotted])
            var = self.field_var(node.dotted)
            if var is not None:
                return _Lin(var)
            return _Lin(self.opaque_var(node, t, "a feature computed from the record"))
        if isinstance(node, Unary) and node.op == "-":
            inner = self.term(node.operand)
            if isinstance(inner, _Lin) and inner.var.kind == NUM:
                return _Lin(inner.var, -inner.a, -inner.b, inner.req)
        if isinstance(node, Binary) and node.op in ("+", "-", "*", "/"):
            lt, rt = self.term(node.left), self.term(node.right)
            lin = _affine(node.op, lt, rt)
            if lin is not None:
                return lin
            req = FULL
            for side in (lt, rt):
                if side is not None:
                    req = sp.r_and(req, self.present(side))
            return self._opaque_term(node, t, "arithmetic over several values", req)
        if isinstance(node, Call):
            return self.call_term(node, t)
        if t.kind == "bool":
            return _If(self.cond(node), _Const(True), _Const(False))
        return self._opaque_term(node, t, "an expression the analysis does not model")

    def _opaque_term(
        self, node: Node, t: Type, why: str, req: Region = FULL, **kw: Any
    ) -> _Lin:
        return _Lin(self.opaque_var(node, t, why, **kw), req=req)

    def call_term(self, node: Call, t: Type) -> Term | None:
        sp = self.space
        name = node.name
        args = node.args
        fn = FUNCTIONS.get(name)
        model = fn.verify if fn is not None else None
        if model == "branch":
            c = self.const(args[0])
            if c is not _NC:
                if c is None:
                    return _Const(None)
                chosen = self.term(args[1] if c else args[2])
                return chosen
            a, b = self.term(args[1]), self.term(args[2])
            if a is None or b is None:
                return None
            return _If(self.cond(args[0]), a, b)
        if model == "first_known":
            items = [self.term(a) for a in args]
            if any(i is None for i in items):
                return None
            return _Coalesce(tuple(i for i in items if i is not None))
        if model == "extremum":
            items = [self.term(a) for a in args]
            if any(i is None for i in items):
                return None
            return _MinMax(name, tuple(i for i in items if i is not None))
        if model == "day_count":
            inner = self.term(args[0])
            if isinstance(inner, _Lin) and inner.var.date:
                if name == "days_since":  # today - (a x + b)
                    return _Lin(inner.var, -inner.a, self.today - inner.b, inner.req)
                return _Lin(inner.var, inner.a, inner.b - self.today, inner.req)
        if model == "size":
            return self._opaque_term(node, t, f"{name}() of a list", nullable=False, ge=0)
        if model == "count":
            return self._opaque_term(
                node, t, "a count of conditions", nullable=False, ge=0, le=float(len(args))
            )
        if model == "share":
            measure = self.term(args[0])
            req = self.present(measure) if measure is not None else FULL
            return self._opaque_term(node, t, "a population-relative value (fitted)", req, ge=0, le=1)
        req = FULL
        if fn is not None and fn.missing == PROPAGATES:
            for arg in args:
                at = self.term(arg)
                if at is not None:
                    req = sp.r_and(req, self.present(at))
        why = "a feature computed from the record" if name in self.ns.features else f"{name}() is not modelled"
        return self._opaque_term(node, t, why, req)

    # -- reading terms ----------------------------------------------------------------
    def present(self, term: Term) -> Region:
        sp = self.space
        if isinstance(term, _Const):
            return FULL if term.value is not None else EMPTY
        if isinstance(term, _Lin):
            return sp.r_and([{term.var.key: sp.present(term.var)}], term.req)
        if isinstance(term, _If):
            return sp.r_or(sp.r_and(term.c.t, self.present(term.then)), sp.r_and(term.c.f, self.present(term.other)))
        if isinstance(term, _Coalesce):
            out: Region = EMPTY
            for item in term.items:
                out = sp.r_or(out, self.present(item))
            return out
        both: Region = FULL
        for item in term.items:
            both = sp.r_and(both, self.present(item))
        return both

    def cmp_true(self, term: Term, op: str, c: Any) -> Region:
        """Where ``term op c`` is true."""
        sp = self.space
        if isinstance(term, _Const):
            if term.value is None:
                return EMPTY
            return FULL if _holds(op, _date_ord(term.value), _date_ord(c)) else EMPTY
        if isinstance(term, _Lin):
            var = term.var
            if var.kind == NUM:
                k = _date_ord(c)
                if not isinstance(k, int | float) or isinstance(k, bool) or term.a == 0:
                    return EMPTY
                k = (k - term.b) / term.a
                if term.a < 0:
                    op = COMPARISONS[op].flipped
                self.hint(var, k)
                dom = sp.nums(var, _intervals(op, k))
            elif var.kind == STR:
                if not isinstance(c, str) or op not in ("==", "!="):
                    return EMPTY
                self.hint(var, c)
                dom = sp.strings(var, [c], co=op == "!=")
            else:
                if not isinstance(c, bool) or op not in ("==", "!="):
                    return EMPTY
                self.hint(var, c)
                dom = sp.bools([c] if op == "==" else [not c])
            if sp.d_empty(var, dom):
                return EMPTY
            return sp.r_and([{var.key: dom}], term.req)
        if isinstance(term, _If):
            return sp.r_or(
                sp.r_and(term.c.t, self.cmp_true(term.then, op, c)),
                sp.r_and(term.c.f, self.cmp_true(term.other, op, c)),
            )
        if isinstance(term, _Coalesce):
            first, rest = term.items[0], term.items[1:]
            t = self.cmp_true(first, op, c)
            if rest:
                unknown = sp.r_not(self.present(first))
                t = sp.r_or(t, sp.r_and(unknown, self.cmp_true(_Coalesce(rest), op, c)))
            return t
        # min / max: missing when any item is
        items = term.items
        everything = self.present(term)
        if op == "!=":
            return sp.r_minus(everything, self.cmp_true(term, "==", c))
        big = (term.fn == "max") == (op in (">", ">="))
        if op == "==":
            bound = "<=" if term.fn == "max" else ">="
            within: Region = FULL
            hit: Region = EMPTY
            for item in items:
                within = sp.r_and(within, self.cmp_true(item, bound, c))
                hit = sp.r_or(hit, self.cmp_true(item, "==", c))
            return sp.r_and(within, hit)
        if big:  # max > c: some item is; min < c likewise
            some: Region = EMPTY
            for item in items:
                some = sp.r_or(some, self.cmp_true(item, op, c))
            return sp.r_and(everything, some)
        every: Region = FULL
        for item in items:
            every = sp.r_and(every, self.cmp_true(item, op, c))
        return every


def _holds(op: str, a: Any, b: Any) -> bool:
    try:
        return bool(COMPARISONS[op].python(a, b))
    except TypeError:
        return False


def _intervals(op: str, k: float) -> list[Iv]:
    """Where ``x op k`` holds on the number line (the operator's ``pieces``)."""
    pieces = COMPARISONS[op].pieces
    below, at, above = "below" in pieces, "at" in pieces, "above" in pieces
    if below and above:  # !=
        return [Iv(-INF, k, True, False), Iv(k, INF, False, True)]
    if below:
        return [Iv(-INF, k, True, at)]
    if above:
        return [Iv(k, INF, at, True)]
    return [Iv(k, k)]


def _affine(op: str, lt: Term | None, rt: Term | None) -> _Lin | None:
    """``lt op rt`` as ``a x + b`` when one side is a constant number (or days)."""

    def num(t: Term | None) -> float | None:
        if isinstance(t, _Const) and isinstance(t.value, int | float) and not isinstance(t.value, bool):
            return float(t.value)
        return None

    if isinstance(lt, _Lin) and lt.var.kind == NUM:
        c = num(rt)
        if c is None:
            if isinstance(rt, _Const) and isinstance(rt.value, dt.date) and op == "-" and lt.var.date:
                return _Lin(lt.var, lt.a, lt.b - rt.value.toordinal(), lt.req)
            return None
        if op == "+":
            return _Lin(lt.var, lt.a, lt.b + c, lt.req)
        if op == "-":
            return _Lin(lt.var, lt.a, lt.b - c, lt.req)
        if op == "*" and c != 0 and not lt.var.date:
            return _Lin(lt.var, lt.a * c, lt.b * c, lt.req)
        if op == "/" and c != 0 and not lt.var.date:
            return _Lin(lt.var, lt.a / c, lt.b / c, lt.req)
        return None
    if isinstance(rt, _Lin) and rt.var.kind == NUM:
        c = num(lt)
        if c is None:
            if isinstance(lt, _Const) and isinstance(lt.value, dt.date) and op == "-" and rt.var.date:
                return _Lin(rt.var, -rt.a, lt.value.toordinal() - rt.b, rt.req)
            return None
        if op == "+":
            return _Lin(rt.var, rt.a, rt.b + c, rt.req)
        if op == "-" and not rt.var.date:
            return _Lin(rt.var, -rt.a, c - rt.b, rt.req)
        if op == "*" and c != 0 and not rt.var.date:
            return _Lin(rt.var, rt.a * c, rt.b * c, rt.req)
    return None


# ---------------------------------------------------------------------------
# findings


@dataclass(frozen=True)
class Finding:
    """One problem (or open question) in a policy.

    ``severity`` is ``error`` (records will be mishandled: a gap with every
    input known, two rules matching under ``unique``), ``warning`` (dead
    policy text: an unreachable rule, a label nothing produces, a condition
    that is always true or always false) or ``info`` (gaps that only open
    when inputs are missing, questions the analysis left undecided).
    ``kind`` is one of :data:`KINDS`; ``rules`` the rule (or flag) ids
    concerned; ``witness`` a record (as a dict) showing the problem, when
    there is one; ``exact`` whether the finding was decided by the analysis
    itself (``False``: by a search for a witness).
    """

    severity: Severity
    kind: str
    rules: tuple[str, ...]
    message: str
    witness: Mapping[str, Any] | None = None
    labels: tuple[str, ...] = ()
    exact: bool = True

    def explain(self) -> str:
        head = f"{self.severity}: {self.kind}"
        if self.rules:
            head += f" [{', '.join(self.rules)}]"
        lines = [f"{head} — {self.message}"]
        if self.witness is not None:
            lines.append("  e.g. " + witness_text(self.witness))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.explain()

    def _repr_html_(self) -> str:
        return "<div class='cr-finding'>" + _finding_row_html(self, table=False) + "</div>"


#: The kinds of finding, in the order they are listed.
KINDS = (
    "gap",
    "overlap",
    "unreachable",
    "dead_label",
    "always_false",
    "always_true",
    "missing_gap",
    "undecided",
)
_SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


def witness_text(witness: Mapping[str, Any]) -> str:
    """A witness record as ``path = value`` pairs (its id left out)."""
    flat = dict(_flatten(witness))
    flat.pop("id", None)
    if not flat:
        return "a record with nothing recorded"
    return ", ".join(f"{k} = {_show(v)}" for k, v in flat.items())


def _show(v: Any) -> str:
    if isinstance(v, tuple | list) and v and isinstance(v[0], Mapping):
        return f"[{len(v)} item(s)]"
    return show(v)


def _flatten(d: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for k, v in d.items():
        if isinstance(v, Mapping):
            yield from _flatten(v, f"{prefix}{k}.")
        else:
            yield f"{prefix}{k}", v


def _finding_row_html(f: Finding, table: bool = True) -> str:
    e = html.escape
    colour = {"error": "#b00020", "warning": "#a05a00", "info": "#555"}[f.severity]
    cells = [
        f"<b style='color:{colour}'>{e(f.severity)}</b>",
        f"<code>{e(f.kind)}</code>",
        e(", ".join(f.rules)) or "—",
        e(f.message),
        f"<code>{e(witness_text(f.witness))}</code>" if f.witness is not None else "—",
    ]
    if table:
        return "<tr>" + "".join(f"<td style='text-align:left'>{c}</td>" for c in cells) + "</tr>"
    return " ".join(cells[:3]) + f": {cells[3]}" + (f"<br>e.g. {cells[4]}" if f.witness is not None else "")


class Findings(Sequence[Finding]):
    """What :func:`verify` found in one policy, most severe first.

    A sequence of :class:`Finding`; ``errors``, ``warnings`` and ``infos``
    filter by severity, ``ok`` is true when there is no error or warning,
    ``kinds()`` lists the kinds found. ``notes`` says how the questions
    were decided (exactly, by search, or not at all).
    """

    def __init__(
        self, policy_id: str, findings: Iterable[Finding], notes: Iterable[str] = (), as_of: dt.date | None = None
    ) -> None:
        self.policy_id = policy_id
        self.as_of = as_of
        self._items = sorted(findings, key=lambda f: (_SEVERITY_ORDER[f.severity], KINDS.index(f.kind), f.rules))
        self.notes = tuple(notes)

    def __getitem__(self, i: Any) -> Any:
        return self._items[i]

    def __len__(self) -> int:
        return len(self._items)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self._items if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self._items if f.severity == "warning"]

    @property
    def infos(self) -> list[Finding]:
        return [f for f in self._items if f.severity == "info"]

    @property
    def ok(self) -> bool:
        """No error and no warning (infos do not count)."""
        return not self.errors and not self.warnings

    def kinds(self) -> list[str]:
        return list(dict.fromkeys(f.kind for f in self._items))

    def of_kind(self, kind: str) -> list[Finding]:
        return [f for f in self._items if f.kind == kind]

    def explain(self) -> str:
        head = f"verify {self.policy_id}: " + (
            "no findings"
            if not self._items
            else f"{len(self.errors)} error(s), {len(self.warnings)} warning(s), {len(self.infos)} info"
        )
        return "\n".join([head, *(f.explain() for f in self._items)])

    def __str__(self) -> str:
        return self.explain()

    def __repr__(self) -> str:
        return f"Findings({self.policy_id!r}, {[(f.severity, f.kind, f.rules) for f in self._items]!r})"

    def _repr_html_(self) -> str:
        e = html.escape
        if not self._items:
            return f"<div class='cr-findings'><b>verify {e(self.policy_id)}</b>: no findings ✓</div>"
        rows = "".join(_finding_row_html(f) for f in self._items)
        return (
            f"<div class='cr-findings'><b>verify {e(self.policy_id)}</b>: {len(self.errors)} error(s), "
            f"{len(self.warnings)} warning(s), {len(self.infos)} info"
            "<table><tr><th>severity</th><th>kind</th><th>rules</th><th>finding</th><th>witness</th></tr>"
            f"{rows}</table></div>"
        )


# ---------------------------------------------------------------------------
# running the policy on concrete records


@dataclass(frozen=True)
class _Outcome:
    truth: tuple[bool | None, ...]
    label: str | None
    error: bool


class _Runner:
    def __init__(self, compiled: PythonPolicy, as_of: dt.date) -> None:
        self.compiled = compiled
        self.as_of = as_of

    def run(self, record: Customer) -> _Outcome | None:
        from customer_rules.backends.python import Context
        from customer_rules.errors import EvaluationError

        ctx = Context(record, self.as_of)
        try:
            truth = tuple(fn(ctx) for _, fn in self.compiled.rules)
        except CustomerRulesError:
            return None
        try:
            label = self.compiled.decide(record, self.as_of, record.id).label
            error = False
        except EvaluationError:
            label, error = None, True
        return _Outcome(truth, label, error)


@dataclass
class _Question:
    """Is there a record where ``test`` holds? ``region`` over-approximates where it may."""

    name: str
    region: Region
    test: Callable[[_Outcome, Customer], bool]
    answer: bool | None = None
    witness: dict[str, Any] | None = None
    exact: bool = True
    too_complex: bool = False
    complete: bool = False  # a witness must have every field the policy reads


def _witness_of(
    space: Space, box: Box, hints: Mapping[str, set[Any]], today: dt.date | None = None
) -> dict[str, Any]:
    from customer_rules.lab.generate import nest

    flat: dict[str, Any] = {}
    members: dict[str, list[str]] = {}
    for key, dom in box.items():
        var = space.vars[key]
        if var.path is None:
            continue
        if var.member is not None:
            if True in dom.bools:
                members.setdefault(var.path, []).append(var.member)
            continue
        pref = sorted(hints.get(var.path, ()), key=_hint_key)
        if var.date and today is not None:
            pref = [*pref, today]
        value = space.sample(var, dom, [h.toordinal() if isinstance(h, dt.date) else h for h in pref])
        if value is not None:
            flat[var.path] = value
    for path, items in members.items():
        flat[path] = tuple(items)
    return nest(flat, "witness")


def _hint_key(v: Any) -> tuple[int, str]:
    return (0, repr(v)) if not isinstance(v, float) or float(v).is_integer() else (1, repr(v))


def _clean_witness(data: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in data.items():
        if v is None or v == () or v == []:
            continue
        if isinstance(v, Mapping):
            inner = _clean_witness(v)
            if inner:
                out[k] = inner
        else:
            out[k] = v
    return out


def _default_engine() -> Engine:
    """The built-in schemes and features (shared with ``cr.load_policy``)."""
    from customer_rules.engine.api import _builtin_engine

    return _builtin_engine()


@lru_cache(maxsize=1)
def _pool() -> tuple[Customer, ...]:
    """The sample customers: realistic witness candidates, and the population a
    population-relative scheme is fitted on when the engine has not fitted it."""
    from customer_rules.lab.sample import sample_customers

    return tuple(sample_customers())


def resolve(
    policy: Policy | Scheme | str | Path, engine: Engine | None
) -> tuple[Policy, Engine, dict[str, Any], Scheme | None]:
    """The policy, the engine, the parameter values and the scheme (if the engine has it)."""
    from customer_rules.engine.api import load_policy
    from customer_rules.engine.engine import Scheme

    eng = engine if engine is not None else _default_engine()
    scheme: Scheme | None = None
    if isinstance(policy, Scheme):
        scheme, pol = policy, policy.policy
    elif isinstance(policy, Policy):
        pol = policy
    elif isinstance(policy, str) and policy in eng.schemes:
        scheme = eng.schemes[policy]
        pol = scheme.policy
    else:
        path = Path(policy)
        if not path.exists():
            raise KeyError(f"{policy!r} is neither a scheme of the engine nor a policy file")
        pol = load_policy(path)
    in_engine = eng.schemes.get(pol.id)
    if in_engine is not None and in_engine.policy == pol:
        scheme = scheme or in_engine
        params = eng.params(pol.id)
    else:
        params = resolve_params(pol, None, scheme.params_model if scheme is not None else None)
    return pol, eng, params, scheme


def compiled_for(
    policy: Policy, engine: Engine, params: Mapping[str, Any], as_of: dt.date
) -> tuple[PythonPolicy, str | None]:
    """The policy compiled for the python backend, fitted if it ranks customers.

    Reuses the engine's fitted scheme when it runs this very policy with
    these parameters; otherwise fits a throwaway engine on the sample data.
    """
    from customer_rules.backends.python import PythonPolicy

    checked = check_policy(policy, engine.namespace, params)
    if not checked.population_relative:
        return PythonPolicy(checked), None
    sid = policy.id
    scheme = engine.schemes.get(sid)
    if scheme is not None and scheme.policy == policy and engine.is_fitted(sid) and engine.params(sid) == dict(params):
        compiled = engine.compiled(sid)
        return PythonPolicy(compiled.checked, sid, cuts=compiled.cuts), None
    tmp_id = f"{sid}__lab"
    copy = policy.model_copy(update={"id": tmp_id, "params": {**policy.params, **params}})
    tmp = engine.sibling([copy])
    tmp.fit(_pool(), as_of=as_of, schemes=[tmp_id])
    return PythonPolicy(tmp.checked(tmp_id), tmp_id, cuts=tmp.cuts(tmp_id)), (
        "population cut-offs fitted on the sample customers"
    )


# ---------------------------------------------------------------------------
# the analysis


def verify(
    policy: Policy | Scheme | str | Path,
    engine: Engine | None = None,
    *,
    as_of: Any = None,
    max_examples: int = 200,
    search: bool = True,
) -> Findings:
    """Find gaps, overlaps, unreachable rules, dead labels and constant conditions.

    ``policy`` is a :class:`Policy`, a :class:`Scheme`, a scheme id of
    ``engine`` or a policy file. ``engine`` supplies the features and the
    parameter values (default: the built-in schemes and features, as for
    :func:`load_policy`); a scheme the engine has fitted is searched with
    its cut-offs, other population-relative schemes with cut-offs fitted on
    the sample customers. ``as_of`` is the date
    witnesses are built against (default: the sample data's date).
    ``max_examples`` bounds the search for witnesses where the analysis
    alone cannot decide; ``search=False`` skips it (those questions are
    then reported as undecided).

    Returns :class:`Findings` (empty when the policy is clean).
    """
    from customer_rules.engine.engine import normalise_as_of
    from customer_rules.lab.sample import SAMPLE_AS_OF

    day = normalise_as_of(as_of) if as_of is not None else SAMPLE_AS_OF
    pol, eng, params, scheme = resolve(policy, engine)
    checked = check_policy(pol, eng.namespace, params)
    space = Space()
    tr = _Translator(checked, day, space)
    return _Analysis(pol, checked, tr, eng, params, scheme, day, max_examples, search).run()


class _Analysis:
    def __init__(
        self,
        policy: Policy,
        checked: CheckedPolicy,
        tr: _Translator,
        engine: Engine,
        params: Mapping[str, Any],
        scheme: Scheme | None,
        as_of: dt.date,
        max_examples: int,
        search: bool,
    ) -> None:
        self.policy = policy
        self.checked = checked
        self.tr = tr
        self.space = tr.space
        self.engine = engine
        self.params = params
        self.scheme = scheme
        self.as_of = as_of
        self.max_examples = max_examples
        self.search = search
        self.findings: list[Finding] = []
        self.notes: list[str] = []
        self._runner: _Runner | None = None
        self._failed: set[Node] = set()

    # -- translation ---------------------------------------------------------------
    def translate(self, node: Node) -> Region | None:
        """Where ``node`` is true (None: too many cases)."""
        if node in self._failed:
            return None
        self.space.renew()
        try:
            return self.tr.cond(node).t
        except TooComplex:
            self._failed.add(node)
            return None

    def runner(self) -> _Runner:
        if self._runner is None:
            compiled, note = compiled_for(self.policy, self.engine, self.params, self.as_of)
            if note:
                self.notes.append(note)
            self._runner = _Runner(compiled, self.as_of)
        return self._runner

    def run(self) -> Findings:
        policy = self.policy
        rules = self.checked.rules
        ids = [r.id for r in rules]
        sp = self.space
        conds = [self.translate(r.node) for r in rules]
        ok = [c is not None for c in conds]
        truth: list[Region] = [c if c is not None else FULL for c in conds]
        hit = policy.hit
        rank = self.checked.label_rank
        questions: list[_Question] = []

        def q(name: str, region: Region | None, test: Callable[[_Outcome, Customer], bool]) -> _Question:
            qq = _Question(name, region if region is not None else FULL, test, too_complex=region is None)
            questions.append(qq)
            return qq

        def guarded(make: Callable[[], Region]) -> Region | None:
            sp.renew()
            try:
                return make()
            except TooComplex:
                return None

        # which earlier rules take a rule's records away
        def shadows(j: int) -> list[int]:
            if hit == "first":
                return list(range(j))
            if hit == "priority":
                lj = rank[rules[j].label]
                return [i for i in range(len(rules)) if i != j and (rank[rules[i].label], i) < (lj, j)]
            if hit == "unique":
                return [i for i in range(len(rules)) if i != j]
            return []

        can_match = [
            q(f"match {r.id}", truth[j] if ok[j] else None, _is_true(j))
            for j, r in enumerate(rules)
        ]
        reach: list[Region | None] = []
        can_decide: list[_Question] = []
        for j, r in enumerate(rules):
            sh = shadows(j)
            region = None
            if ok[j] and all(ok[i] for i in sh):
                region = guarded(partial(self._minus_all, truth[j], [truth[i] for i in sh]))
            reach.append(region)
            can_decide.append(
                q(
                    f"decide {r.id}",
                    region,
                    _decides(j, sh),
                )
            )
        not_always = [
            q(
                f"not always {r.id}",
                guarded(partial(sp.r_not, truth[j])) if ok[j] else None,
                _not_true(j),
            )
            for j, r in enumerate(rules)
        ]
        # conjunct-level: a part of a rule that always holds
        parts: list[tuple[int, Node, _Question]] = []
        for j, r in enumerate(rules):
            cs = conjuncts(r.node)
            if len(cs) < 2:
                continue
            for part in cs:
                tr_part = self.translate(part)
                if tr_part is None:
                    continue
                region = guarded(partial(sp.r_not, tr_part))
                if region is not None and not region:
                    parts.append((j, part, _Question("part", region, _never, answer=False)))

        gap_q = complete_q = None
        if policy.default is None:
            covered_ok = all(ok)
            uncovered = guarded(partial(self._minus_all, FULL, truth)) if covered_ok else None
            gap_q = q("gap", uncovered, _uncovered)
            fields = [v for v in sp.vars.values() if v.exact and v.nullable and v.path is not None]
            complete_box: Box = {v.key: sp.present(v) for v in fields}
            # start from the records with every field known: the branches for
            # missing values drop out early, which keeps the cases few
            complete = guarded(partial(self._minus_all, [complete_box], truth)) if covered_ok else None
            paths = [v.path for v in fields if v.path is not None]
            complete_q = q("complete gap", complete, _uncovered_known(paths))
            complete_q.complete = True
        overlaps: list[tuple[int, int, _Question]] = []
        if hit == "unique":
            for i in range(len(rules)):
                for j in range(i + 1, len(rules)):
                    region = guarded(partial(sp.r_and, truth[i], truth[j])) if ok[i] and ok[j] else None
                    overlaps.append((i, j, q(f"overlap {ids[i]} {ids[j]}", region, _both(i, j))))
        label_qs: dict[str, _Question] = {}
        exempt = {policy.default, policy.on_many, *(self.scheme.unreachable if self.scheme else ())}
        for lab in policy.label_ids:
            if lab in exempt:
                continue
            own = [j for j, r in enumerate(rules) if r.label == lab]
            if not own:
                label_qs[lab] = _Question(f"label {lab}", EMPTY, _never, answer=False)
                continue
            if hit == "collect":
                others = [
                    i for i, r in enumerate(rules)
                    if r.label != lab and (policy.on_many is not None or rank[r.label] < rank[lab])
                ]
                region = None
                if all(ok[i] for i in [*own, *others]):
                    region = guarded(
                        partial(self._union_minus, [truth[j] for j in own], [truth[i] for i in others])
                    )
            else:
                parts_r = [reach[j] for j in own]
                known = [p for p in parts_r if p is not None]
                region = None if len(known) < len(parts_r) else guarded(partial(self._union, known))
            label_qs[lab] = q(f"label {lab}", region, _label_is(lab))

        self.answer(questions)

        # -- findings ----------------------------------------------------------------------
        add = self.findings.append
        undecided: list[tuple[str, tuple[str, ...], _Question]] = []

        def state(qq: _Question, what: str, rule_ids: tuple[str, ...]) -> bool | None:
            if qq.answer is None:
                undecided.append((what, rule_ids, qq))
            return qq.answer

        for j, r in enumerate(rules):
            m = state(can_match[j], f"whether rule {r.id!r} can match", (r.id,))
            if m is False:
                add(Finding("warning", "always_false", (r.id,),
                            f"rule {r.id!r} never matches: its condition can never be true",
                            labels=(r.label,), exact=can_match[j].exact))
                continue
            if hit in ("first", "priority"):
                d = state(can_decide[j], f"whether rule {r.id!r} can decide", (r.id,))
                if d is False:
                    sh = self._shadowers(j, shadows(j), truth, ok)
                    by = ", ".join(repr(ids[i]) for i in sh) or "earlier rules"
                    add(Finding("warning", "unreachable", (r.id, *(ids[i] for i in sh)),
                                f"rule {r.id!r} can never decide: every record it matches is taken by {by}",
                                labels=(r.label,), exact=can_decide[j].exact))
            na = not_always[j]
            a = state(na, f"whether rule {r.id!r} always matches", (r.id,))
            if a is False:
                last = hit == "first" and j == len(rules) - 1
                add(Finding("info" if last else "warning", "always_true", (r.id,),
                            f"rule {r.id!r} matches every record"
                            + (" (a catch-all: consider `default:`)" if last else ""),
                            labels=(r.label,), exact=na.exact))
        for j, part, _ in parts:
            r = rules[j]
            add(Finding("warning", "always_true", (r.id,),
                        f"part of rule {r.id!r} always holds: {to_text(part)}", labels=(r.label,)))
        if complete_q is not None and gap_q is not None:
            c = state(complete_q, "whether some record with every input known is left unclassified", ())
            if c:
                add(_gap_finding(policy, complete_q))
            else:
                g = state(gap_q, "whether some record is left unclassified", ())
                if g:
                    add(Finding("info", "missing_gap", (),
                                "records missing some inputs match no rule and stay unclassified"
                                " (no default)", witness=gap_q.witness, exact=gap_q.exact))
        for i, j, qq in overlaps:
            o = state(qq, f"whether rules {ids[i]!r} and {ids[j]!r} overlap", (ids[i], ids[j]))
            if o:
                add(Finding("error", "overlap", (ids[i], ids[j]),
                            f"rules {ids[i]!r} and {ids[j]!r} both match some records (hit policy unique)",
                            witness=qq.witness, labels=(rules[i].label, rules[j].label), exact=qq.exact))
        for lab, qq in label_qs.items():
            own_ids = tuple(r.id for r in rules if r.label == lab)
            p = state(qq, f"whether label {lab!r} can be produced", own_ids)
            if p is False:
                why = "no rule gives it" if not own_ids else "none of its rules can decide"
                add(Finding("warning", "dead_label", own_ids,
                            f"label {lab!r} is never produced: {why}, and it is not the default",
                            labels=(lab,), exact=qq.exact))
        for flag in self.checked.flags:
            t = self.translate(flag.node)
            if t is None:
                continue
            never = t
            always = guarded(partial(sp.r_not, t))
            if never is not None and not never:
                add(Finding("warning", "always_false", (flag.id,), f"flag {flag.id!r} can never hold"))
            elif always is not None and not always:
                add(Finding("warning", "always_true", (flag.id,), f"flag {flag.id!r} always holds"))
        for what, rule_ids, qq in undecided:
            why = self._why(qq)
            add(Finding("info", "undecided", rule_ids, f"could not decide {what}: {why}", exact=False))
        return Findings(policy.id, self.findings, self.notes, self.as_of)

    # -- helpers ---------------------------------------------------------------------------
    def _union(self, regions: list[Region]) -> Region:
        out: Region = EMPTY
        for r in regions:
            out = self.space.r_or(out, r)
        return out

    def _union_minus(self, regions: list[Region], others: list[Region]) -> Region:
        return self._minus_all(self._union(regions), others)

    def _minus_all(self, region: Region, others: list[Region]) -> Region:
        out = region
        # the result does not depend on the order: small regions first keep it small
        for o in sorted(others, key=len):
            if not out:
                break
            out = self.space.r_minus(out, o)
        return out

    def _shadowers(self, j: int, sh: list[int], truth: list[Region], ok: list[bool]) -> list[int]:
        self.space.renew()
        out = []
        for i in sh:
            if not ok[i]:
                out.append(i)
                continue
            try:
                if self.space.r_and(truth[i], truth[j]):
                    out.append(i)
            except TooComplex:
                out.append(i)
        return out

    def _why(self, qq: _Question) -> str:
        if qq.too_complex:
            reason = "the conditions split into too many cases"
        else:
            keys = {k for box in qq.region for k in box if not self.space.vars[k].exact}
            reasons = sorted({f"{k} ({self.tr.opaque.get(k, 'opaque')})" for k in keys})
            reason = "it depends on " + "; ".join(reasons[:3]) + (" …" if len(reasons) > 3 else "")
        searched = (
            f"; a search of {self.max_examples} generated records and the sample customers found no example"
            if self.search
            else "; no search was run"
        )
        return reason + searched

    def answer(self, questions: list[_Question]) -> None:
        sp = self.space
        hints = self.tr.hints
        pending: list[_Question] = []
        for qq in questions:
            if qq.answer is not None:
                continue
            if not qq.too_complex and not qq.region:
                qq.answer = False  # proved: no input at all
                continue
            exact_boxes = [] if qq.too_complex else [b for b in qq.region if sp.exact(b)]
            found = False
            for box in [*exact_boxes, *([] if qq.too_complex else [b for b in qq.region if not sp.exact(b)])][:20]:
                w = _witness_of(sp, box, hints, self.as_of)
                if self._confirm(qq, w):
                    qq.answer, qq.witness = True, w
                    qq.exact = sp.exact(box)
                    found = True
                    break
            if not found:
                pending.append(qq)
        if not pending or not self.search:
            return
        # the sample customers, then generated records
        runner = self.runner()
        for rec in _pool():
            outcome = runner.run(rec)
            if outcome is None:
                continue
            for qq in pending:
                if qq.answer is None and qq.test(outcome, rec):
                    qq.answer, qq.exact = True, False
                    qq.witness = self.project(rec)
            pending = [qq for qq in pending if qq.answer is None]
            if not pending:
                return
        if pending:
            self._search(pending, runner)

    def project(self, record: Customer) -> dict[str, Any]:
        """The part of a record the policy reads (its fields; nested lists when features read them)."""
        from customer_rules.lab.generate import FEATURE_FIELDS, nest

        paths = [v.path for v in self.space.vars.values() if v.exact and v.path is not None]
        if self.tr.opaque:
            paths.extend(FEATURE_FIELDS)
        flat: dict[str, Any] = {}
        for path in dict.fromkeys(paths):
            value = _read(record, path)
            if isinstance(value, tuple) and value and hasattr(value[0], "model_dump"):
                value = tuple(_clean_witness(v.model_dump()) for v in value)
            flat[path] = value
        return _clean_witness(nest(flat, str(record.id)))

    def _confirm(self, qq: _Question, witness: Mapping[str, Any]) -> bool:
        from customer_rules.lab.generate import to_customer

        rec = to_customer(witness)
        if rec is None:
            return False
        outcome = self.runner().run(rec)
        return outcome is not None and qq.test(outcome, rec)

    def _search(self, pending: list[_Question], runner: _Runner) -> None:
        try:
            from customer_rules.lab.generate import need_hypothesis, records

            hypothesis = need_hypothesis()
        except ImportError:
            self.notes.append("no witness search: hypothesis is not installed (customer-rules[lab])")
            return
        self.extend_hints(runner)
        paths = [v.path for v in self.space.vars.values() if v.exact and v.path is not None]
        nested = bool(self.tr.opaque)
        for complete in (False, True):
            group = [qq for qq in pending if qq.complete == complete]
            if group:
                strategy = records(paths, self.tr.hints, self.as_of, nested=nested, missing=not complete)
                self._find(hypothesis, strategy, group, runner)

    def _find(self, hypothesis: Any, strategy: Any, pending: list[_Question], runner: _Runner) -> None:
        from customer_rules.lab.generate import settings, to_customer

        left = list(pending)

        def probe(data: dict[str, Any]) -> bool:
            rec = to_customer(data)
            if rec is None:
                return False
            outcome = runner.run(rec)
            if outcome is None:
                return False
            for qq in left:
                if qq.answer is None and qq.test(outcome, rec):
                    qq.answer, qq.exact, qq.witness = True, False, _clean_witness(data)
            left[:] = [qq for qq in left if qq.answer is None]
            return not left

        with contextlib.suppress(hypothesis.errors.NoSuchExample):
            hypothesis.find(strategy, probe, settings=settings(self.max_examples, shrink=False))

    def extend_hints(self, runner: _Runner) -> None:
        """Population cut-offs are good values to try for the measures they rank."""
        cuts = runner.compiled.cuts or {}
        from customer_rules.lang.compile import key_of

        for call in self.checked.population:
            cut = cuts.get(key_of(call))
            measure = call.args[0]
            while isinstance(measure, Name) and measure.dotted in self.tr.derived:
                measure = self.tr.derived[measure.dotted]
            if (
                cut is not None
                and cut.cutoff is not None
                and isinstance(measure, Name)
                and measure.dotted in self.checked.namespace.fields
            ):
                self.tr.hints.setdefault(measure.dotted, set()).add(cut.cutoff)


Test = Callable[[_Outcome, "Customer"], bool]


def _gap_finding(policy: Policy, qq: _Question) -> Finding:
    """Records with every input known that no rule covers: an error, or
    information when the policy declares the gap intended (with why)."""
    what = "no rule covers some records with every input known, and there is no default"
    if policy.intended_gap is None:
        return Finding("error", "gap", (), what, witness=qq.witness, exact=qq.exact)
    why = f"no rule covers some records with every input known, by design: {policy.intended_gap.en}"
    return Finding("info", "gap", (), why, witness=qq.witness, exact=qq.exact)


def _never(o: _Outcome, c: Customer) -> bool:
    return False


def _uncovered(o: _Outcome, c: Customer) -> bool:
    return not o.error and not any(t is True for t in o.truth)


def _uncovered_known(paths: Sequence[str]) -> Test:
    def test(o: _Outcome, c: Customer) -> bool:
        return _uncovered(o, c) and all(_read(c, p) is not None for p in paths)

    return test


def _is_true(j: int) -> Test:
    def test(o: _Outcome, c: Customer) -> bool:
        return o.truth[j] is True

    return test


def _not_true(j: int) -> Test:
    def test(o: _Outcome, c: Customer) -> bool:
        return o.truth[j] is not True

    return test


def _decides(j: int, shadows: Sequence[int]) -> Test:
    sh = tuple(shadows)

    def test(o: _Outcome, c: Customer) -> bool:
        return o.truth[j] is True and all(o.truth[i] is not True for i in sh)

    return test


def _both(i: int, j: int) -> Test:
    def test(o: _Outcome, c: Customer) -> bool:
        return o.truth[i] is True and o.truth[j] is True

    return test


def _label_is(label: str) -> Test:
    def test(o: _Outcome, c: Customer) -> bool:
        return o.label == label

    return test


def _read(record: Any, path: str) -> Any:
    obj = record
    for part in path.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    if obj == ():
        return None
    return obj


__all__ = ["KINDS", "Finding", "Findings", "verify"]
