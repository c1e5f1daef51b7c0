"""The python backend: compiles checked ASTs to closures over one record.

This is the reference semantics every other backend must reproduce:

* a missing value (``None``) propagates through arithmetic, comparisons,
  ``in`` and ``between``; ``and``/``or``/``not`` follow three-valued
  (Kleene) logic; a rule matches only when its condition is ``True``;
* ``x / 0`` is missing, and so is a result out of range (a date outside
  years 1-9999, an integer too large to turn into a float);
* ``date - date`` is whole days; ``date ± n`` moves by ``n`` days;
* every value read is cached per record and becomes the decision's evidence.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable, Mapping
from typing import Any

from customer_rules.backends.base import Outcome, decision_of
from customer_rules.errors import NotFittedError
from customer_rules.lang.ast import (
    Binary,
    Call,
    Duration,
    In,
    ListOf,
    Literal,
    Name,
    Node,
    conjuncts,
)
from customer_rules.lang.compile import CheckedPolicy, CheckedRule, key_of
from customer_rules.lang.functions import FUNCTIONS, Env, Function
from customer_rules.lang.ops import COMPARISONS, NOT_CONSTANT, PROPAGATES, Operator, operator_of
from customer_rules.lang.population import Cut, lowest_first
from customer_rules.model.decision import Counterfactual, Decision, Need

Fn = Callable[["Context"], Any]

_MISS = object()

class Context:
    """What one evaluation reads from: the record, ``as_of`` and a value cache."""

    __slots__ = ("as_of", "record", "values")

    def __init__(self, record: Any, as_of: dt.date) -> None:
        self.record = record
        self.as_of = as_of
        self.values: dict[str, Any] = {}


def _cached(key: str, compute: Fn) -> Fn:
    def get(ctx: Context) -> Any:
        values = ctx.values
        v = values.get(key, _MISS)
        if v is _MISS:
            v = values[key] = compute(ctx)
        return v

    return get


def _field(key: str) -> Fn:
    """A record field, read once per record (into the cache, so it is evidence)."""
    field_of = operator.attrgetter(key)

    def field(ctx: Context) -> Any:
        values = ctx.values
        v = values.get(key, _MISS)
        if v is _MISS:
            v = values[key] = field_of(ctx.record)
        return v

    return field


def _param(key: str, value: Any) -> Fn:
    """A parameter: a constant that is evidence once read."""

    def param(ctx: Context) -> Any:
        ctx.values[key] = value
        return value

    return param


def _feature(key: str, func: Callable[[Any, dt.date], Any]) -> Fn:
    """A feature without arguments, computed once per record."""

    def feature(ctx: Context) -> Any:
        values = ctx.values
        v = values.get(key, _MISS)
        if v is _MISS:
            v = values[key] = func(ctx.record, ctx.as_of)
        return v

    return feature


class Compiler:
    """Compiles the nodes of one checked policy to closures."""

    def __init__(self, checked: CheckedPolicy, cuts: Mapping[str, Cut] | None = None) -> None:
        self.checked = checked
        self.cuts = cuts
        self.ns = checked.namespace
        self.derived: dict[str, Fn] = {}

    def constant(self, node: Node) -> Any:
        """The folded value of a constant node (TypeError when it is not one)."""
        value = self.checked.constant(node)
        if value is NOT_CONSTANT:
            raise TypeError(node)
        return value

    def compile(self, node: Node) -> Fn:
        if isinstance(node, Literal):
            v = node.value
            return lambda ctx: v
        if isinstance(node, Duration):
            d = node.days
            return lambda ctx: d
        if isinstance(node, Name):
            return self._name(node)
        if isinstance(node, Call):
            return self._call(node)
        if isinstance(node, ListOf):
            items = tuple(self.constant(i) for i in node.items)
            return lambda ctx: items
        op = operator_of(node)
        if op is None:
            raise TypeError(f"cannot compile {node!r}")
        if isinstance(node, Binary):
            return self._binary(node, op)
        if isinstance(node, In):
            return self._in(node, op)
        fs = [self.compile(c) for c in node.children()]
        impl = op.python
        if op.missing != PROPAGATES:  # is (not) missing: reads the value as it is
            (fv,) = fs
            if op.symbol == "is missing":
                return lambda ctx: fv(ctx) is None
            if op.symbol == "is not missing":
                return lambda ctx: fv(ctx) is not None
            return lambda ctx: impl(fv(ctx))
        if len(fs) == 1:
            (f,) = fs

            def unary(ctx: Context) -> Any:
                v = f(ctx)
                return None if v is None else impl(v)

            return unary

        def strict(ctx: Context) -> Any:
            # operands left to right; the first missing one decides
            values = []
            for f in fs:
                v = f(ctx)
                if v is None:
                    return None
                values.append(v)
            return impl(*values)

        return strict

    def _name(self, node: Name) -> Fn:
        key = node.dotted
        if node.parts[0] == "params":
            return _param(key, self.checked.params[node.parts[1]])
        if key in self.derived:
            return self.derived[key]
        if key in self.ns.fields:
            return _field(key)
        return _feature(key, self.ns.features[key].compute)

    def _binary(self, node: Binary, entry: Operator) -> Fn:
        op = node.op
        if entry.form == "logic":
            # a chain of one connective (a and b and c) is one closure over its
            # operands, in order: same evaluation, fewer nested calls
            operands: list[Node] = []
            todo: list[Node] = [node]
            while todo:
                n = todo.pop()
                if isinstance(n, Binary) and n.op == op:
                    todo += [n.right, n.left]
                else:
                    operands.append(n)
            return entry.python(*(self.compile(o) for o in operands))  # type: ignore[no-any-return]
        fl = self.compile(node.left)
        fr = self.compile(node.right)
        if op in COMPARISONS:
            cmp = entry.python
            if isinstance(node.right, Literal | Duration) or (
                isinstance(node.right, Name) and node.right.parts[0] == "params"
            ):
                raw = c = self.constant(node.right)
                if isinstance(node.right, Name):  # a parameter: it is evidence too
                    pkey = node.right.dotted

                    def cmp_param(ctx: Context) -> Any:
                        a = fl(ctx)
                        ctx.values[pkey] = raw
                        return None if a is None else cmp(a, c)

                    return cmp_param

                left = node.left
                if isinstance(left, Name) and left.dotted in self.ns.fields and left.dotted not in self.derived:
                    # the hot path of decision tables: a record field against a
                    # constant, read through the cache without extra calls
                    key = left.dotted
                    field_of = operator.attrgetter(key)

                    def cmp_field(ctx: Context) -> Any:
                        values = ctx.values
                        a = values.get(key, _MISS)
                        if a is _MISS:
                            a = values[key] = field_of(ctx.record)
                        return None if a is None else cmp(a, c)

                    return cmp_field

                def cmp_const(ctx: Context) -> Any:
                    a = fl(ctx)
                    return None if a is None else cmp(a, c)

                return cmp_const

            def cmp_(ctx: Context) -> Any:
                a = fl(ctx)
                if a is None:
                    return None
                b = fr(ctx)
                return None if b is None else cmp(a, b)

            return cmp_
        arith = entry.python  # missing when undefined (x / 0, overflow, NaN)

        def arith_(ctx: Context) -> Any:
            a = fl(ctx)
            if a is None:
                return None
            b = fr(ctx)
            if b is None:
                return None
            return arith(a, b)

        return arith_

    def _in(self, node: In, entry: Operator) -> Fn:
        fi = self.compile(node.item)
        member = entry.python
        if isinstance(node.container, ListOf):
            items = frozenset(self.constant(i) for i in node.container.items)

            def in_list(ctx: Context) -> Any:
                v = fi(ctx)
                return None if v is None else member(v, items)

            return in_list
        fc = self.compile(node.container)

        def in_field(ctx: Context) -> Any:
            v = fi(ctx)
            if v is None:
                return None
            values = fc(ctx)
            return None if values is None else member(v, values)

        return in_field

    def _population(self, node: Call, fn: Function) -> Fn:
        key = key_of(node)
        cut = self.cuts.get(key) if self.cuts is not None else None
        if cut is None:
            scheme = self.checked.policy.id

            def not_fitted(ctx: Context) -> Any:
                raise NotFittedError(
                    f"scheme {scheme!r} compares customers with a population ({key}): "
                    "call engine.fit(customers) first"
                )

            return not_fitted
        fs = [self.compile(a) for a in node.args]
        cutoff = cut.cutoff
        impl: Fn = fn.python(Env(cut=cut, cutoff=cutoff), *fs)
        if node.name == "percentile":
            return _cached(key, impl)
        cutoff_key = f"cutoff({key})"

        def in_group(ctx: Context) -> Any:  # top or bottom
            ctx.values[cutoff_key] = cutoff  # the cut-off is evidence
            return impl(ctx)

        return _cached(key, in_group)

    def _call(self, node: Call) -> Fn:
        name = node.name
        fn = FUNCTIONS.get(name)
        if fn is None:  # a feature that takes (constant) arguments
            feat = self.ns.features[name]
            args = tuple(self.constant(a) for a in node.args)
            func = feat.compute
            # parameters passed as arguments (a window length...) are evidence too
            read = {a.dotted: self.constant(a) for a in node.args if isinstance(a, Name)}

            key = key_of(node)

            # the cache, the parameters and the call in one closure (no nested calls)
            if read:

                def call_feature(ctx: Context) -> Any:
                    values = ctx.values
                    v = values.get(key, _MISS)
                    if v is _MISS:
                        values.update(read)
                        v = values[key] = func(ctx.record, ctx.as_of, *args)
                    return v

            else:

                def call_feature(ctx: Context) -> Any:
                    values = ctx.values
                    v = values.get(key, _MISS)
                    if v is _MISS:
                        v = values[key] = func(ctx.record, ctx.as_of, *args)
                    return v

            return call_feature
        if fn.population:
            return self._population(node, fn)
        fs = [self.compile(a) for a in node.args]
        if fn.form == "lazy":
            lazy: Fn = fn.python(*fs)
            return lazy
        impl = fn.python

        if len(fs) == 1:
            (f1,) = fs

            def call1(ctx: Context) -> Any:
                v = f1(ctx)
                return None if v is None else impl(ctx.as_of, v)

            return call1

        def call(ctx: Context) -> Any:
            vals = []
            missing = False
            for f in fs:  # every argument is read (and is evidence); a loop: no comprehension frame
                v = f(ctx)
                if v is None:
                    missing = True
                vals.append(v)
            return None if missing else impl(ctx.as_of, *vals)

        return call


class PythonPolicy:
    """One checked policy compiled to closures; decides single records."""

    def __init__(
        self, checked: CheckedPolicy, scheme: str | None = None, cuts: Mapping[str, Cut] | None = None
    ) -> None:
        self.checked = checked
        self.scheme = scheme or checked.policy.id
        self.cuts = cuts
        comp = Compiler(checked, cuts)
        # each derived value: its computation, and the cached form rules read
        self.derived_fns: list[tuple[str, Fn]] = []
        for name, node, _ in checked.derived:
            compute = comp.compile(node)
            comp.derived[name] = _cached(name, compute)
            self.derived_fns.append((name, compute))
        self.compiler = comp
        self.rules = [(r, comp.compile(r.node)) for r in checked.rules]
        self.flags = [(f.id, comp.compile(f.node)) for f in checked.flags]
        self.hit = checked.policy.hit
        self.rank = checked.label_rank
        self._conjuncts: dict[str, list[tuple[Fn, tuple[str, str, Any] | None]]] | None = None

    def evaluate(self, record: Any, as_of: dt.date, record_id: str | None = None) -> Outcome:
        """Which rules hold for ``record`` on ``as_of``, and every value read."""
        ctx = Context(record, as_of)
        matched = []
        unknown = []
        for rule, fn in self.rules:
            r = fn(ctx)
            if r is True:
                matched.append(rule)
            elif r is None:
                unknown.append(rule)
        values = ctx.values
        for name, compute in self.derived_fns:  # derived values are always part of the evidence
            if name not in values:  # (computed here, as its cached form would store it)
                values[name] = compute(ctx)
        flags = [fid for fid, ffn in self.flags if ffn(ctx) is True]
        return Outcome(matched, unknown, flags, ctx.values)

    def decide(self, record: Any, as_of: dt.date, record_id: str | None = None) -> Decision:
        outcome = self.evaluate(record, as_of, record_id)
        return decision_of(
            self.checked, self.scheme, outcome, record=record, as_of=as_of, record_id=record_id, source=self
        )

    # -- counterfactuals (computed on demand) --------------------------------
    def counterfactuals(self, decision: Decision, limit: int = 3) -> list[Counterfactual]:
        """Rules ranked above the decision that fail only on simple thresholds.

        For each, which comparisons would have to change and the value the
        record has, e.g. "needs value.revenue_12m >= 500000, has 462000".
        Nearest misses (fewest failed comparisons) first.
        """
        conj = self._conjuncts
        if conj is None:
            conj = self._conjuncts = {
                r.id: [(self.compiler.compile(c), self._need_of(c)) for c in conjuncts(r.node)]
                for r in self.checked.rules
            }
        ctx = Context(decision.record, decision.as_of)
        values = ctx.values = dict(decision.evidence)
        rules = self.checked.rules
        decided = next((r for r in rules if r.id == decision.rule), None) if decision.rule else None
        found: list[tuple[CheckedRule, list[tuple[str, str, Any]]]] = []
        for rule in rules:
            if decision.rule is not None and rule.id == decision.rule:
                if self.hit == "first":
                    break
                continue
            if rule.id in decision.also_matched or rule.label == decision.label:
                continue
            if (
                decided is not None
                and self.hit == "priority"
                and (self.rank[rule.label] > self.rank[decided.label])
            ):
                continue
            needs: list[tuple[str, str, Any]] = []
            for fn, need in conj[rule.id]:
                if fn(ctx) is True:
                    continue
                if need is None:
                    break
                needs.append(need)
            else:
                if needs:
                    found.append((rule, needs))
        found.sort(key=lambda f: len(f[1]))  # nearest first (stable: rule order among equals)
        return [
            Counterfactual(rule.id, rule.label, tuple(Need(p, op, t, values.get(p)) for p, op, t in needs))
            for rule, needs in found[:limit]
        ]

    def _need_of(self, node: Node) -> tuple[str, str, Any] | None:
        """What a conjunct asks of one value, ``(path, op, threshold)``, when it is
        a simple threshold (worked out once per conjunct, not per explanation)."""
        if isinstance(node, Call) and node.name in ("top", "top_pct", "bottom", "bottom_pct") and self.cuts:
            cut = self.cuts.get(key_of(node))
            measure = node.args[0]
            if cut is None or cut.cutoff is None or not isinstance(measure, Name | Call):
                return None
            return key_of(measure), "<=" if lowest_first(node.name) else ">=", cut.cutoff
        if not isinstance(node, Binary) or node.op not in COMPARISONS:
            return None
        left, right, op = node.left, node.right, node.op
        if not isinstance(left, Name | Call) or (
            isinstance(left, Call) and left.name in FUNCTIONS and FUNCTIONS[left.name].form == "strict"
        ):
            if isinstance(right, Name | Call):
                left, right, op = right, left, COMPARISONS[op].flipped
            else:
                return None
        try:
            threshold = self.compiler.constant(right)
        except TypeError:
            return None
        return key_of(left), op, threshold


class PythonBackend:
    """The python backend: compiles policies to closures that decide one record."""

    name = "python"
    decides_records = True
    decides_tables = False

    def compile(
        self, checked: CheckedPolicy, scheme: str, cuts: Mapping[str, Cut] | None = None
    ) -> PythonPolicy:
        return PythonPolicy(checked, scheme, cuts=cuts)
