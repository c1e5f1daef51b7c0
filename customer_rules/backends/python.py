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

from customer_rules.errors import EvaluationError, NotFittedError
from customer_rules.lang.ast import (
    Between,
    Binary,
    Call,
    Duration,
    In,
    IsMissing,
    ListOf,
    Literal,
    Name,
    Node,
    Unary,
    conjuncts,
)
from customer_rules.lang.check import POPULATION_FUNCTIONS
from customer_rules.lang.compile import CheckedPolicy, CheckedRule, key_of
from customer_rules.lang.population import Cut
from customer_rules.model.decision import Counterfactual, Decision, Need

Fn = Callable[["Context"], Any]

_MISS = object()

_CMP: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_FLIP = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


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


def _record_getter(path: str) -> Fn:
    get = operator.attrgetter(path)
    return lambda ctx: get(ctx.record)


def _date_shift(d: Any, days: Any) -> Any:
    if isinstance(d, dt.date):
        return d + dt.timedelta(days=int(days))
    return d + days


def _sub(a: Any, b: Any) -> Any:
    if isinstance(a, dt.date):
        if isinstance(b, dt.date):
            return (a - b).days
        return a - dt.timedelta(days=int(b))
    return a - b


def _div(a: Any, b: Any) -> Any:
    return None if b == 0 else a / b


_ARITH: dict[str, Callable[[Any, Any], Any]] = {
    "+": lambda a, b: (
        _date_shift(a, b)
        if isinstance(a, dt.date)
        else (_date_shift(b, a) if isinstance(b, dt.date) else a + b)
    ),
    "-": _sub,
    "*": operator.mul,
    "/": _div,
}


class Compiler:
    """Compiles the nodes of one checked policy to closures."""

    def __init__(
        self, checked: CheckedPolicy, cuts: Mapping[str, Cut] | None = None, shift: float = 0.0
    ) -> None:
        self.checked = checked
        self.cuts = cuts
        # hysteresis: >0 makes every numeric threshold harder to pass, <0 easier
        self.shift = shift
        self.ns = checked.namespace
        self.derived: dict[str, Fn] = {}

    def constant(self, node: Node) -> Any:
        if isinstance(node, Literal):
            return node.value
        if isinstance(node, Duration):
            return node.days
        if isinstance(node, Name) and node.parts[0] == "params":
            return self.checked.params[node.parts[1]]
        if isinstance(node, Unary) and node.op == "-":
            return -self.constant(node.operand)
        raise TypeError(node)

    def compile(self, node: Node) -> Fn:
        if isinstance(node, Literal):
            v = node.value
            return lambda ctx: v
        if isinstance(node, Duration):
            d = node.days
            return lambda ctx: d
        if isinstance(node, Name):
            return self._name(node)
        if isinstance(node, Unary):
            f = self.compile(node.operand)
            if node.op == "not":

                def not_(ctx: Context) -> Any:
                    v = f(ctx)
                    return None if v is None else not v

                return not_

            def neg(ctx: Context) -> Any:
                v = f(ctx)
                return None if v is None else -v

            return neg
        if isinstance(node, Binary):
            return self._binary(node)
        if isinstance(node, In):
            return self._in(node)
        if isinstance(node, Between):
            fv, flo, fhi = (self.compile(n) for n in (node.value, node.low, node.high))

            def between(ctx: Context) -> Any:
                v = fv(ctx)
                if v is None:
                    return None
                lo = flo(ctx)
                hi = fhi(ctx)
                if lo is None or hi is None:
                    return None
                return bool(lo <= v <= hi)

            return between
        if isinstance(node, IsMissing):
            f = self.compile(node.value)
            if node.negated:
                return lambda ctx: f(ctx) is not None
            return lambda ctx: f(ctx) is None
        if isinstance(node, Call):
            return self._call(node)
        if isinstance(node, ListOf):
            items = tuple(self.constant(i) for i in node.items)
            return lambda ctx: items
        raise TypeError(f"cannot compile {node!r}")

    def _name(self, node: Name) -> Fn:
        key = node.dotted
        if node.parts[0] == "params":
            value = self.checked.params[node.parts[1]]
            return _cached(key, lambda ctx: value)
        if key in self.derived:
            return self.derived[key]
        if key in self.ns.fields:
            return _cached(key, _record_getter(key))
        feat = self.ns.features[key]
        func = feat.compute
        return _cached(key, lambda ctx: func(ctx.record, ctx.as_of))

    def _shifted(self, op: str, c: Any) -> Any:
        if not self.shift or op not in ("<", "<=", ">", ">=") or isinstance(c, bool):
            return c
        if not isinstance(c, int | float):
            return c
        delta = self.shift * abs(c)
        return c + delta if op in (">", ">=") else c - delta

    def _binary(self, node: Binary) -> Fn:
        op = node.op
        fl = self.compile(node.left)
        fr = self.compile(node.right)
        if op == "and":

            def and_(ctx: Context) -> Any:
                a = fl(ctx)
                if a is False:
                    return False
                b = fr(ctx)
                if b is False:
                    return False
                if a is None or b is None:
                    return None
                return True

            return and_
        if op == "or":

            def or_(ctx: Context) -> Any:
                a = fl(ctx)
                if a is True:
                    return True
                b = fr(ctx)
                if b is True:
                    return True
                if a is None or b is None:
                    return None
                return False

            return or_
        if op in _CMP:
            cmp = _CMP[op]
            if isinstance(node.right, Literal | Duration) or (
                isinstance(node.right, Name) and node.right.parts[0] == "params"
            ):
                raw = self.constant(node.right)
                c = self._shifted(op, raw)
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
        arith = _ARITH[op]

        def arith_(ctx: Context) -> Any:
            a = fl(ctx)
            if a is None:
                return None
            b = fr(ctx)
            if b is None:
                return None
            try:
                return arith(a, b)
            except OverflowError:  # undefined like x / 0: missing, not a crash
                return None

        return arith_

    def _in(self, node: In) -> Fn:
        fi = self.compile(node.item)
        neg = node.negated
        if isinstance(node.container, ListOf):
            items = frozenset(self.constant(i) for i in node.container.items)

            def in_list(ctx: Context) -> Any:
                v = fi(ctx)
                return None if v is None else ((v in items) is not neg)

            return in_list
        fc = self.compile(node.container)

        def in_field(ctx: Context) -> Any:
            v = fi(ctx)
            if v is None:
                return None
            return (v in fc(ctx)) is not neg

        return in_field

    def _population(self, node: Call) -> Fn:
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
        measure = self.compile(node.args[0])
        if node.name == "percentile":
            return _cached(key, lambda ctx: None if (m := measure(ctx)) is None else cut.percentile(m))
        cond = self.compile(node.args[2]) if node.name.endswith("_within") else None
        cutoff_key = f"cutoff({key})"
        cutoff = cut.cutoff
        if self.shift and cutoff is not None:
            cutoff = self._shifted(">=", cutoff)

        def top(ctx: Context) -> Any:
            ctx.values[cutoff_key] = cutoff
            m = measure(ctx)
            if m is None:
                return None
            if cond is not None:
                c = cond(ctx)
                if c is not True:
                    return c
            return cutoff is not None and m >= cutoff

        # shifted (hysteresis) cut-offs are not cached by key, for the same reason
        return top if self.shift else _cached(key, top)

    def _call(self, node: Call) -> Fn:
        name = node.name
        if name in POPULATION_FUNCTIONS:
            return self._population(node)
        feat = self.ns.features.get(name)
        if feat is not None and name not in _BUILTINS and name not in _SPECIAL:
            args = tuple(self.constant(a) for a in node.args)
            func = feat.compute
            # parameters passed as arguments (a window length...) are evidence too
            read = {a.dotted: self.constant(a) for a in node.args if isinstance(a, Name)}

            def call_feature(ctx: Context) -> Any:
                ctx.values.update(read)
                return func(ctx.record, ctx.as_of, *args)

            return _cached(key_of(node), call_feature)
        if name == "has_any":
            fl = self.compile(node.args[0])
            assert isinstance(node.args[1], ListOf)
            wanted = frozenset(self.constant(i) for i in node.args[1].items)
            return lambda ctx: not wanted.isdisjoint(fl(ctx))
        fs = [self.compile(a) for a in node.args]
        if name == "count_true":
            return lambda ctx: sum(1 for f in [f(ctx) for f in fs] if f is True)
        if name == "if":
            fc, fa, fb = fs

            def if_(ctx: Context) -> Any:
                c = fc(ctx)
                if c is None:
                    return None
                return fa(ctx) if c else fb(ctx)

            return if_
        if name == "coalesce":

            def coalesce(ctx: Context) -> Any:
                for f in fs:
                    v = f(ctx)
                    if v is not None:
                        return v
                return None

            return coalesce
        impl = _BUILTINS[name]

        def call(ctx: Context) -> Any:
            vals = [f(ctx) for f in fs]
            if any(v is None for v in vals):
                return None
            return impl(ctx, *vals)

        return call


_BUILTINS: dict[str, Callable[..., Any]] = {
    "abs": lambda ctx, x: abs(x),
    "min": lambda ctx, *xs: min(xs),
    "max": lambda ctx, *xs: max(xs),
    "len": lambda ctx, xs: len(xs),
    "count_distinct": lambda ctx, xs: len(set(xs)),
    "days_since": lambda ctx, d: (ctx.as_of - d).days,
    "days_until": lambda ctx, d: (d - ctx.as_of).days,
}
# has_any, coalesce, count_true and if are compiled specially (they do not propagate
# missing: if() evaluates only the branch its condition chooses)
_SPECIAL = frozenset({"has_any", "coalesce", "count_true", "if"})


class PythonPolicy:
    """One checked policy compiled to closures; decides single records."""

    def __init__(
        self, checked: CheckedPolicy, scheme: str | None = None, cuts: Mapping[str, Cut] | None = None
    ) -> None:
        self.checked = checked
        self.scheme = scheme or checked.policy.id
        self.cuts = cuts
        policy = checked.policy
        comp = Compiler(checked, cuts)
        for name, node, _ in checked.derived:
            comp.derived[name] = _cached(name, comp.compile(node))
        self._compiler = comp
        self.rules = [(r, comp.compile(r.node)) for r in checked.rules]
        self.flags = [(f.id, comp.compile(f.node)) for f in checked.flags]
        self.derived_fns = [comp.derived[name] for name, _, _ in checked.derived]
        self.hit = policy.hit
        self.default = policy.default
        self.on_many = policy.on_many
        self.rank = checked.label_rank
        self.label_flags = {lab.id: lab.flags for lab in policy.labels}
        self.score_keys = policy.scores
        self._conjuncts: dict[str, list[tuple[Node, Fn]]] | None = None
        self._sticky: dict[str, list[tuple[CheckedRule, Fn]]] = {}
        stability = policy.stability
        self.margin = stability.margin if stability is not None else 0.0
        self.min_days = stability.min_days if stability is not None else 0

    def sticky_rules(self, previous: str) -> list[tuple[CheckedRule, Fn]]:
        """The rules with thresholds moved by the margin in favour of ``previous``."""
        rules = self._sticky.get(previous)
        if rules is None:
            relaxed = Compiler(self.checked, self.cuts, shift=-self.margin)
            tightened = Compiler(self.checked, self.cuts, shift=self.margin)
            for comp in (relaxed, tightened):
                for name, node, _ in self.checked.derived:
                    # not cached by name: the relaxed and the tightened value differ, and a
                    # shared cache would let whichever rule ran first decide for both
                    comp.derived[name] = comp.compile(node)
            rules = [
                (r, (relaxed if r.label == previous else tightened).compile(r.node)) for r in self.checked.rules
            ]
            self._sticky[previous] = rules
        return rules

    def resolve(
        self, matched: list[CheckedRule], record_id: str | None
    ) -> tuple[CheckedRule | None, str | None, tuple[str, ...]]:
        """Apply the hit policy to the matched rules (in rule order).

        Returns the deciding rule (None for the default or unclassified),
        the label and every label matched. Under ``unique`` two matches are
        an :class:`EvaluationError` naming both rules.
        """
        if not matched:
            label = self.default
            return None, label, (label,) if label is not None else ()
        hit = self.hit
        if hit == "unique" and len(matched) > 1:
            raise EvaluationError(
                f"rules {matched[0].id!r} and {matched[1].id!r} both match under hit policy 'unique'",
                scheme=self.scheme,
                rules=(matched[0].id, matched[1].id),
                record_id=record_id,
            )
        if hit == "priority" and len(matched) > 1:
            rank = self.rank
            chosen = min(matched, key=lambda r: (rank[r.label], r.index))
        else:
            chosen = matched[0]
        if hit != "collect":
            return chosen, chosen.label, (chosen.label,)
        labels = tuple(dict.fromkeys(r.label for r in matched))
        if len(labels) == 1:
            return chosen, labels[0], labels
        return chosen, self.on_many or min(labels, key=self.rank.__getitem__), labels

    def decide(
        self,
        record: Any,
        as_of: dt.date,
        record_id: str | None = None,
        rules: list[tuple[CheckedRule, Fn]] | None = None,
    ) -> Decision:
        ctx = Context(record, as_of)
        matched = []
        unknown = []
        for rule, fn in rules or self.rules:
            r = fn(ctx)
            if r is True:
                matched.append(rule)
            elif r is None:
                unknown.append(rule)
        for f in self.derived_fns:  # derived values are always part of the evidence
            f(ctx)
        chosen, label, labels = self.resolve(matched, record_id)
        values = ctx.values
        missing: list[str] = []
        for rule in unknown:
            for k in rule.keys:
                if values.get(k, _MISS) is None and k not in missing:
                    missing.append(k)
        flags = list(self.label_flags.get(label, ())) if label is not None else []
        for fid, ffn in self.flags:
            if ffn(ctx) is True:
                flags.append(fid)
        rule_id = chosen.id if chosen is not None else None
        also = tuple(r.id for r in matched if r is not chosen)
        return Decision(
            scheme=self.scheme,
            label=label,
            rule=rule_id,
            policy_id=self.checked.policy.id,
            policy_version=self.checked.policy.version,
            as_of=as_of,
            evidence=values,
            also_matched=also,
            missing=tuple(missing),
            labels=labels,
            flags=tuple(flags),
            record_id=record_id,
            source=self,
            record=record,
            scores={k: values.get(k) for k in self.score_keys} if self.score_keys else None,
        )

    # -- counterfactuals (computed on demand) --------------------------------
    def counterfactuals(self, decision: Decision, limit: int = 3) -> list[Counterfactual]:
        """Rules ranked above the decision that fail only on simple thresholds.

        For each, which comparisons would have to change and the value the
        record has, e.g. "needs value.revenue_12m >= 500000, has 462000".
        Nearest misses (fewest failed comparisons) first.
        """
        if self._conjuncts is None:
            self._conjuncts = {
                r.id: [(c, self._compiler.compile(c)) for c in conjuncts(r.node)] for r in self.checked.rules
            }
        ctx = Context(decision.record, decision.as_of)
        ctx.values = dict(decision.evidence)
        decided = (
            self.checked.rules[[r.id for r in self.checked.rules].index(decision.rule)]
            if (decision.rule)
            else None
        )
        out: list[Counterfactual] = []
        for rule in self.checked.rules:
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
            needs: list[Need] = []
            ok = True
            for node, fn in self._conjuncts[rule.id]:
                if fn(ctx) is True:
                    continue
                need = self._need(node, ctx)
                if need is None:
                    ok = False
                    break
                needs.append(need)
            if ok and needs:
                out.append(Counterfactual(rule.id, rule.label, tuple(needs)))
        out.sort(key=lambda c: len(c.needs))
        return out[:limit]

    def _need(self, node: Node, ctx: Context) -> Need | None:
        if isinstance(node, Call) and node.name in ("top", "top_pct") and self.cuts:
            cut = self.cuts.get(key_of(node))
            measure = node.args[0]
            if cut is None or cut.cutoff is None or not isinstance(measure, Name | Call):
                return None
            return Need(key_of(measure), ">=", cut.cutoff, ctx.values.get(key_of(measure)))
        if not isinstance(node, Binary) or node.op not in _CMP:
            return None
        left, right, op = node.left, node.right, node.op
        comp = self._compiler
        if not isinstance(left, Name | Call) or (isinstance(left, Call) and left.name in _BUILTINS):
            if isinstance(right, Name | Call):
                left, right, op = right, left, _FLIP[op]
            else:
                return None
        try:
            threshold = comp.constant(right)
        except TypeError:
            return None
        has = ctx.values.get(key_of(left))
        return Need(key_of(left), op, threshold, has)
