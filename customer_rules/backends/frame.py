"""The frame backend: checked policies compiled to polars expressions.

One policy becomes a handful of expressions evaluated over a whole table at
once; the labels are those the python backend (the reference semantics)
gives row by row:

* missing values are nulls and propagate through arithmetic, comparisons,
  ``in`` and ``between``; ``and``/``or``/``not`` are polars' ``&``/``|``/``~``,
  which follow three-valued (Kleene) logic on nullable booleans;
* a rule matches only when its condition is true (``when`` treats null as
  false);
* ``x / 0`` is null; dates are shifted and subtracted as whole days, and a
  date outside years 1-9999 is null;
* ``min``/``max`` are null when any argument is (unlike
  ``pl.min_horizontal``);
* features come from their declared polars implementations; a feature
  without one is computed by its Python implementation, per row, from only
  the columns it declares it reads (see ``backends/table_features.py``);
* population-relative calls read the cut-offs ``Engine.fit`` learned, and
  stability rules (hysteresis) read the grade history, as in python.

This module imports polars at import time: import it lazily.
"""

from __future__ import annotations

import datetime as dt
import math
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import polars as pl

from customer_rules.backends.base import CompiledPolicy
from customer_rules.backends.table_features import FeatureTable, FeatureUse, python_features
from customer_rules.errors import CustomerRulesError, EvaluationError, NotFittedError, RecordError
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
    to_text,
    walk,
)
from customer_rules.lang.compile import CheckedPolicy, CheckedRule, key_of
from customer_rules.lang.functions import FUNCTIONS, Env, Function
from customer_rules.lang.ops import (
    COMPARISONS,
    NOT_CONSTANT,
    PROPAGATES,
    Operator,
    operator_of,
    polars_days,
)
from customer_rules.lang.population import Cut
from customer_rules.lang.stability import Sticky, sticky
from customer_rules.lang.types import NUMBER
from customer_rules.model.frames import FrameResult, from_polars
from customer_rules.model.tables import (
    ROW,
    ModelSpec,
    collect_engine,
    customer_spec,
    dtype_of,
    empty_value,
    prepare,
)

if TYPE_CHECKING:
    from customer_rules.model.decision import Decision

_EPOCH = dt.date(1970, 1, 1)
_STR_LIST = pl.List(pl.String())


def lit(value: Any) -> pl.Expr:
    """A typed literal for a constant of the language."""
    if isinstance(value, bool):
        return pl.lit(value, dtype=pl.Boolean())
    if isinstance(value, int):
        return pl.lit(value, dtype=pl.Int64())
    if isinstance(value, float):
        return pl.lit(value, dtype=pl.Float64())
    if isinstance(value, str):
        return pl.lit(value, dtype=pl.String())
    if isinstance(value, dt.date):
        return pl.lit(value, dtype=pl.Date())
    raise TypeError(f"not a constant of the language: {value!r}")


def _null(dtype: pl.DataType) -> pl.Expr:
    return pl.lit(None, dtype=dtype)


days = polars_days

#: whole-number arithmetic that :meth:`FrameCompiler._whole_range` bounds
_WHOLE_ARITHMETIC = frozenset({"+", "-", "*"})
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


# ---------------------------------------------------------------------------
# Expressions
# ---------------------------------------------------------------------------


class FrameCompiler:
    """Compiles the nodes of one checked policy to polars expressions.

    ``tag`` keeps the derived columns of the hysteresis rewrites
    (:mod:`customer_rules.lang.stability`) apart from the policy's own.
    """

    #: Compilers for node types this module does not know (an extension
    #: point for new kinds of condition).
    extensions: ClassVar[dict[type[Node], Callable[[FrameCompiler, Node], pl.Expr]]] = {}

    def __init__(
        self,
        checked: CheckedPolicy,
        *,
        scheme: str,
        as_of: dt.date,
        features: FeatureTable,
        cuts: Mapping[str, Cut] | None = None,
        tag: str = "",
    ) -> None:
        self.checked = checked
        self.ns = checked.namespace
        self.scheme = scheme
        self.as_of = as_of
        self.today = (as_of - _EPOCH).days
        self.features = features
        self.cuts = cuts
        self.tag = tag
        self.derived: dict[str, str] = {}  # derived name -> its column
        self.keys: dict[str, pl.Expr] = {}  # evidence key -> the value read
        self.definitions = {name: node for name, node, _ in checked.derived}
        self._ranges: dict[int, tuple[Node, tuple[int, int] | None]] = {}  # see _whole_range

    def column_name(self, kind: str, name: str | int) -> str:
        return f"__cr:{kind}:{self.scheme}{self.tag}:{name}"

    def constant(self, node: Node) -> Any:
        """The folded value of a constant node (TypeError when it is not one)."""
        value = self.checked.constant(node)
        if value is NOT_CONSTANT:
            raise TypeError(node)
        return value

    def _constant_expr(self, node: Node) -> pl.Expr:
        """A folded constant as a typed literal (null of the node's type when missing)."""
        value = self.constant(node)
        if value is None:
            return _null(dtype_of(self.checked.type_of(node)))
        return lit(value)

    def compile(self, node: Node) -> pl.Expr:
        ext = self.extensions.get(type(node))
        if ext is not None:
            return ext(self, node)
        if not isinstance(node, ListOf) and self.checked.constant(node) is not NOT_CONSTANT:
            # constant sub-expressions are folded (and range-checked) once, at load; under
            # hysteresis the rewritten policy carries the moved thresholds as its constants
            return self._constant_expr(node)
        if isinstance(node, Name):
            return self._name(node)
        if isinstance(node, Call):
            return self._call(node)
        op = operator_of(node)
        if op is None:
            raise TypeError(f"the frame backend cannot compile {type(node).__name__}")
        if isinstance(node, Binary):
            return self._binary(node, op)
        if isinstance(node, In):
            return self._in(node, op)
        impl: Callable[..., pl.Expr] = op.polars
        if isinstance(node, Between):
            return impl(*(self.compile(c) for c in node.children()), self.checked.type_of(node.value))
        return impl(*(self.compile(c) for c in node.children()))

    def _name(self, node: Name) -> pl.Expr:
        key = node.dotted
        if node.parts[0] == "params":
            return lit(self.checked.params[node.parts[1]])
        if key in self.derived:
            return pl.col(self.derived[key])
        column = key if key in self.ns.fields else self.features.column(self.ns.features[key])
        e = pl.col(column)
        self.keys.setdefault(key, e)
        return e

    def _binary(self, node: Binary, op: Operator) -> pl.Expr:
        left = self.compile(node.left)
        r = node.right
        if node.op in COMPARISONS and (
            isinstance(r, Literal | Duration) or (isinstance(r, Name) and r.parts[0] == "params")
        ):
            right = lit(self.constant(r))
        else:
            right = self.compile(r)
        if op.form == "logic":
            out: pl.Expr = op.polars(left, right)
            return out
        lt, rt = self.checked.type_of(node.left), self.checked.type_of(r)
        if node.op in _WHOLE_ARITHMETIC and lt.integer and rt.integer and self._whole_range(node) is not None:
            # whole numbers whose result is known to stay within 64 bits: the
            # operator's exact 128-bit form (ops.py) gives the same values
            a, b = left.cast(pl.Int64()), right.cast(pl.Int64())
            return a + b if node.op == "+" else (a - b if node.op == "-" else a * b)
        if node.op in COMPARISONS:
            # record fields (validated) and constants (range-checked) are never NaN
            maybe_nan = (self._may_be_nan(node.left), self._may_be_nan(r))
            if self.checked.constant(node.left) is not NOT_CONSTANT and self.checked.constant(r) is NOT_CONSTANT:
                # a constant against a computed value is compared the other way
                # round (b > a for a < b): polars 2.1's in-memory engine without
                # optimisations gives one row, not the table's, for a literal
                # compared with a when/then whose condition is false on every
                # row (e.g. a date parameter against date + an all-null field)
                flipped = COMPARISONS[op.flipped]
                return flipped.polars(right, left, rt, lt, maybe_nan=maybe_nan[::-1])  # type: ignore[no-any-return]
            out = op.polars(left, right, lt, rt, maybe_nan=maybe_nan)
        else:
            out = op.polars(left, right, lt, rt)
        return out

    def _whole_range(self, node: Node) -> tuple[int, int] | None:
        """Bounds every present value of the whole-number ``node`` lies within,
        when they are known and within 64 bits: from the record fields'
        ``ge``/``le``, whole constants, derived values' definitions, ``+``,
        ``-``, ``*`` and ``coalesce``/``max``/``min``/``if`` of such nodes; else None."""
        key = id(node)
        if key in self._ranges and self._ranges[key][0] is node:
            return self._ranges[key][1]
        out = self._find_range(node)
        if out is not None and not (out[0] >= _INT64_MIN and out[1] <= _INT64_MAX):
            out = None
        self._ranges[key] = (node, out)
        return out

    def _find_range(self, node: Node) -> tuple[int, int] | None:
        value = self.checked.constant(node)
        if value is not NOT_CONSTANT:
            return (value, value) if isinstance(value, int) and not isinstance(value, bool) else None
        if isinstance(node, Name):
            key = node.dotted
            if key in self.definitions:
                return self._whole_range(self.definitions[key])
            info = self.ns.fields.get(key)
            t = info.type if info is not None else None
            if t is None or t.kind != NUMBER or not t.integer or t.ge is None or t.le is None:
                return None
            return math.ceil(t.ge), math.floor(t.le)
        if isinstance(node, Binary) and node.op in _WHOLE_ARITHMETIC:
            a, b = self._whole_range(node.left), self._whole_range(node.right)
            if a is None or b is None:
                return None
            if node.op == "+":
                return a[0] + b[0], a[1] + b[1]
            if node.op == "-":
                return a[0] - b[1], a[1] - b[0]
            products = [x * y for x in a for y in b]
            return min(products), max(products)
        if isinstance(node, Call) and node.name in ("coalesce", "max", "min", "if") and node.args:
            # each gives one of its (value) arguments or nothing
            ranges = [self._whole_range(x) for x in (node.args[1:] if node.name == "if" else node.args)]
            if any(x is None for x in ranges):
                return None
            return min(x[0] for x in ranges if x), max(x[1] for x in ranges if x)
        return None

    def _may_be_nan(self, node: Node) -> bool:
        if isinstance(node, Name) and node.dotted in self.ns.fields:
            return False
        return self.checked.constant(node) is NOT_CONSTANT

    def _in(self, node: In, op: Operator) -> pl.Expr:
        item = self.compile(node.item)
        container = node.container
        values: Any
        if isinstance(container, ListOf):
            values = [self.constant(i) for i in container.items]
        else:
            values = self.compile(container)
        out: pl.Expr = op.polars(item, values, self.checked.type_of(node.item))
        return out

    def _call(self, node: Call) -> pl.Expr:
        name = node.name
        fn = FUNCTIONS.get(name)
        if fn is None:  # a feature that takes (constant) arguments
            feat = self.ns.features[name]
            constants = tuple(self.constant(a) for a in node.args)
            e = pl.col(self.features.column(feat, constants))
            self.keys.setdefault(key_of(node), e)
            return e
        if fn.population:
            return self._population(node, fn)
        args: list[Any] = [
            [self.constant(i) for i in a.items] if isinstance(a, ListOf) else self.compile(a) for a in node.args
        ]
        known = tuple(isinstance(a, ListOf) or self._never_null(a) for a in node.args)
        out: pl.Expr = fn.polars(Env(as_of=self.as_of, never_null=known), *args)
        if fn.missing == PROPAGATES and not fn.polars_nulls:
            exprs = [a for a, k in zip(args, known, strict=True) if isinstance(a, pl.Expr) and not k]
            if exprs:
                out = pl.when(pl.any_horizontal([a.is_null() for a in exprs])).then(None).otherwise(out)
        return out

    def _never_null(self, node: Node) -> bool:
        """Whether ``node`` is known never to be missing: a constant, a
        ``coalesce`` with such an argument, an ``if`` of such parts, a
        ``count_true``, an ``is (not) missing`` test. The
        missing-value test of a propagating function leaves these out (it
        repeats each argument it tests: a tree twice the size for polars to
        plan, and work for nothing)."""
        value = self.checked.constant(node)
        if value is not NOT_CONSTANT:
            return value is not None
        if isinstance(node, Call) and node.name in FUNCTIONS:
            if node.name == "coalesce":
                return any(self._never_null(a) for a in node.args)
            if node.name == "if":
                return all(self._never_null(a) for a in node.args)
            if node.name == "count_true":
                return True
        return isinstance(node, IsMissing)

    def _population(self, node: Call, fn: Function) -> pl.Expr:
        key = key_of(node)
        cut = self.cuts.get(key) if self.cuts is not None else None
        if cut is None:
            raise NotFittedError(
                f"scheme {self.checked.policy.id!r} compares customers with a population ({key}): "
                "call engine.fit(customers) first"
            )
        cutoff = cut.cutoff
        out: pl.Expr = fn.polars(
            Env(as_of=self.as_of, cut=cut, cutoff=cutoff), *(self.compile(a) for a in node.args)
        )
        return out


# ---------------------------------------------------------------------------
# Schemes
# ---------------------------------------------------------------------------


def gather(values: Sequence[Any], index: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """``values[index]`` per row; a null index gives the last value (the fallback)."""
    series = pl.Series(list(values), dtype=dtype)
    return pl.lit(series).gather(index.fill_null(len(values) - 1))


@dataclass
class Choice:
    """How one set of rule conditions decides: the rule, the label, conflicts."""

    index: pl.Expr  # Int32: position of the deciding rule, or null
    rule_ids: list[str | None]  # rule ids, then None (no rule)
    label_index: pl.Expr  # Int32: position in label_values
    label_values: list[str | None]  # the candidate labels, the fallback last
    labels: pl.Expr  # List(String): every label matched (collect), else [label]
    conflict: pl.Expr  # Boolean: two rules match under 'unique'
    conflict_rules: tuple[pl.Expr, pl.Expr]  # String: the first two matching rules

    def rule(self, dtype: pl.DataType | None = None) -> pl.Expr:
        return gather(self.rule_ids, self.index, dtype or pl.String())

    def label(self, dtype: pl.DataType | None = None) -> pl.Expr:
        return gather(self.label_values, self.label_index, dtype or pl.String())


#: how many inputs each coalesce of :func:`_first` takes (a tree of them above that)
_FIRST_FANOUT = 8


def _index_dtype(largest: int) -> pl.DataType:
    """The narrowest integer type that holds the indexes ``0..largest``."""
    if largest <= 0xFF:
        return pl.UInt8()
    if largest <= 0xFFFF:
        return pl.UInt16()
    return pl.Int32()


def _first(conds: Sequence[tuple[int, pl.Expr]], fanout: int = _FIRST_FANOUT) -> pl.Expr:
    """Index (Int32) of the first true condition in the given order, or null.

    One ``when(c).then(i)`` per condition (null unless ``c`` is true, so an
    unknown condition never decides), and the first non-null of them:

    * a coalesce, not a when-chain: polars evaluates a chain of n branches in
      O(n²) work, the coalesce in O(n);
    * a tree of coalesces of ``fanout`` inputs each, not one of n:
      polars materialises every input of a coalesce before it reduces them,
      so one wide coalesce holds n full columns at once (128 MB of Int32 at 320 rules
      and 100k rows) where the tree holds a few, in cache (first-non-null is
      associative: the answer is the same);
    * the indexes as the narrowest unsigned type that holds them, cast to
      Int32 once at the end: each per-rule column is a quarter (UInt8) or
      half (UInt16) the memory of an Int32 one.

    Measured at 320 rules (CPU): 2-2.5× faster than the flat Int32 coalesce
    at 100k and 1M rows, the same at 10 rules (``benchmarks/README.md``).
    """
    if not conds:
        return _null(pl.Int32())
    dtype = _index_dtype(max(i for i, _ in conds))
    level: list[pl.Expr] = [pl.when(c).then(pl.lit(i, dtype=dtype)) for i, c in conds]
    while len(level) > fanout:
        groups = [level[j : j + fanout] for j in range(0, len(level), fanout)]
        level = [pl.coalesce(g) if len(g) > 1 else g[0] for g in groups]
    out = pl.coalesce(level) if len(level) > 1 else level[0]
    return out.cast(pl.Int32())


def choose(
    checked: CheckedPolicy,
    conds: Sequence[pl.Expr],
    column: Callable[[str, pl.Expr], pl.Expr] | None = None,
) -> Choice:
    """The decision of a hit policy over rule-condition columns.

    ``column(kind, expr)``, when given, computes ``expr`` as a column of its
    own and returns the expression that reads it: the deciding rule's index
    (and a collect policy's label index) is then evaluated once, not once
    per output that reads it (label, rule, reason, labels), and the plan
    polars optimises for every call stays small.
    """
    policy = checked.policy
    rules = checked.rules
    rank = checked.label_rank
    ids: list[str | None] = [r.id for r in rules]
    labels_of = [r.label for r in rules]
    default = policy.default
    ordered = list(enumerate(conds))
    keep = column or (lambda _kind, e: e)
    conflict: pl.Expr = lit(False)
    pair = (_null(pl.String()), _null(pl.String()))
    if policy.hit == "priority":
        order = sorted(range(len(rules)), key=lambda i: (rank[rules[i].label], i))
        index = keep("i", _first([(i, conds[i]) for i in order]))
    else:
        index = keep("i", _first(ordered))
    if policy.hit == "unique" and len(conds) > 1:
        count = pl.sum_horizontal([c.fill_null(False).cast(pl.Int32()) for c in conds])
        conflict = count >= 2
        second = _first([(i, c & (index < i)) for i, c in ordered[1:]])
        pair = (gather([*ids, None], index, pl.String()), gather([*ids, None], second, pl.String()))
    default_list = pl.lit([default] if default is not None else [], dtype=_STR_LIST)
    label_values: list[str | None]
    if policy.hit == "collect" and rules:
        label_values = [*policy.label_ids, default]
        position = {lab: i for i, lab in enumerate(policy.label_ids)}
        present = sorted(dict.fromkeys(labels_of), key=rank.__getitem__)
        any_of = {
            lab: pl.any_horizontal(
                [c.fill_null(False) for c, r in zip(conds, rules, strict=True) if r.label == lab]
            )
            for lab in present
        }
        n_labels = pl.sum_horizontal([a.cast(pl.Int32()) for a in any_of.values()])
        best = _first([(position[lab], any_of[lab]) for lab in present])
        many = pl.lit(position[policy.on_many], dtype=pl.Int32()) if policy.on_many else best
        label_index = keep(
            "li", pl.when(n_labels > 1).then(many).when(n_labels == 1).then(best).otherwise(None)
        )

        def matched(holds: Callable[[int], pl.Expr]) -> pl.Expr:
            parts = [pl.when(holds(i)).then(lit(lab)) for i, lab in enumerate(labels_of)]
            return pl.concat_list(parts).list.drop_nulls().list.unique(maintain_order=True)

        labels = pl.when(n_labels > 0).then(
            by_pattern(conds, matched) if len(conds) <= PATTERN_BITS else matched(lambda i: conds[i])
        ).otherwise(default_list)
        choice = Choice(index, [*ids, None], label_index, label_values, labels, conflict, pair)
    else:
        label_values = [*labels_of, default]
        one = [[v] if v is not None else [] for v in label_values]  # [label], or [] without one
        choice = Choice(index, [*ids, None], index, label_values, gather(one, index, _STR_LIST), conflict, pair)
    return choice


#: how many true/false facts :func:`by_pattern` packs into one whole number
PATTERN_BITS = 62


def by_pattern(facts: Sequence[pl.Expr], value: Callable[[Callable[[int], pl.Expr]], pl.Expr]) -> pl.Expr:
    """``value`` (a list made of literals) per row, computed once per distinct
    combination of ``facts`` instead of once per row.

    Each row's facts (true; false or missing) are packed into one whole
    number; ``value`` gets ``holds(i)``, whether fact ``i`` holds, over the
    distinct numbers, and the result is gathered back to every row. A list
    column built row by row from dozens of parts costs seconds at a million
    rows (the flags of all schemes: 1.4 s at 200,000 rows, 0.5 s this way);
    customers share few combinations. Up to :data:`PATTERN_BITS` facts (the
    caller builds row by row beyond).
    """
    key = pl.sum_horizontal([f.fill_null(False).cast(pl.Int64()) * (1 << i) for i, f in enumerate(facts)])
    distinct = key.unique().sort()  # (read twice: in one order both times)
    out = value(lambda i: (distinct & (1 << i)) != 0)
    return out.gather(key.replace_strict(distinct, pl.int_range(distinct.len(), dtype=pl.get_index_type())))


def label_flags(checked: CheckedPolicy, label: pl.Expr, flag_cols: Sequence[str]) -> pl.Expr:
    """The label's own flags, then the policy flags that hold (as in python)."""
    own = [(lab.id, f) for lab in checked.policy.labels for f in lab.flags]
    flags = list(zip(flag_cols, checked.flags, strict=True))
    if not own and not flags:
        return pl.lit([], dtype=_STR_LIST)
    with_flags = [lab.id for lab in checked.policy.labels if lab.flags]
    facts = [label == lab for lab in with_flags] + [pl.col(c) for c, _ in flags]
    if len(facts) > PATTERN_BITS:
        parts = [pl.when(label == lab).then(lit(f)) for lab, f in own]
        parts += [pl.when(pl.col(c)).then(lit(f.id)) for c, f in flags]
        return pl.concat_list(parts).list.drop_nulls()

    def value(holds: Callable[[int], pl.Expr]) -> pl.Expr:
        parts = [pl.when(holds(with_flags.index(lab))).then(lit(f)) for lab, f in own]
        parts += [pl.when(holds(len(with_flags) + j)).then(lit(f.id)) for j, (_, f) in enumerate(flags)]
        return pl.concat_list(parts).list.drop_nulls()

    return by_pattern(facts, value)


@dataclass
class SchemePlan:
    """Everything one scheme evaluates: column batches, then its outputs."""

    scheme: str
    checked: CheckedPolicy
    stages: list[list[pl.Expr]] = field(default_factory=list)  # with_columns batches, in order
    outputs: dict[str, pl.Expr] = field(default_factory=dict)  # name -> expr over stage columns
    conflict: pl.Expr = field(default_factory=lambda: lit(False))
    conflict_rules: tuple[pl.Expr, pl.Expr] = field(
        default_factory=lambda: (_null(pl.String()), _null(pl.String()))
    )

    def exprs(self) -> list[pl.Expr]:
        return [e for stage in self.stages for e in stage] + list(self.outputs.values())


def derived_needed(checked: CheckedPolicy, roots: Iterable[Node], names: Iterable[str]) -> set[str]:
    """The derived values that ``roots`` (and the derived ``names``) read, transitively."""
    definitions = {name: node for name, node, _ in checked.derived}
    needed: set[str] = set()
    todo = [*roots, *(definitions[n] for n in names)]
    needed.update(names)
    while todo:
        for n in walk(todo.pop()):
            if isinstance(n, Name) and n.dotted in definitions and n.dotted not in needed:
                needed.add(n.dotted)
                todo.append(definitions[n.dotted])
    return needed


def _compile_rules(
    comp: FrameCompiler, checked: CheckedPolicy, *, flags: bool, derived: Iterable[str] = ()
) -> tuple[list[list[pl.Expr]], list[str], list[str]]:
    """Derived values (one batch each) and rule/flag condition columns.

    Only the derived values the rules (flags, the named ``derived``) read
    are computed; policy flags only when ``flags``.
    """
    roots = [r.node for r in checked.rules] + ([f.node for f in checked.flags] if flags else [])
    needed = derived_needed(checked, roots, derived)
    # a derived value goes in the batch after the latest one it reads: the
    # independent ones are computed together (in parallel)
    level: dict[str, int] = {}
    stages: list[list[pl.Expr]] = []
    constant: set[str] = set()  # the columns of derived values that read no input column
    for name, node, _ in checked.derived:
        if name not in needed:
            continue
        reads = [level[n.dotted] for n in walk(node) if isinstance(n, Name) and n.dotted in level]
        level[name] = max(reads, default=-1) + 1
        col = comp.column_name("d", name)
        if level[name] == len(stages):
            stages.append([])
        stages[level[name]].append(_broadcast(comp.compile(node), constant, col).alias(col))
        comp.derived[name] = col
    rule_cols = [comp.column_name("r", i) for i in range(len(checked.rules))]
    flag_cols = [comp.column_name("g", i) for i in range(len(checked.flags))] if flags else []
    last = [_broadcast(comp.compile(r.node), constant).alias(c) for r, c in zip(checked.rules, rule_cols, strict=True)]
    if flags:
        last += [
            _broadcast(comp.compile(f.node), constant).alias(c) for f, c in zip(checked.flags, flag_cols, strict=True)
        ]
    stages.append(last)
    return stages, rule_cols, flag_cols


def _broadcast(expr: pl.Expr, constant: set[str], column: str | None = None) -> pl.Expr:
    """``expr`` as one value for every row when it reads no input column, only
    literals and ``constant`` derived columns (a derived ``abs(26)``, a rule
    ``152d <= d`` on it); ``column``, the column ``expr`` becomes, is then
    added to ``constant``. Polars' in-memory engine folds such a column into
    a one-row series and then refuses it ("length 1 doesn't match the
    DataFrame height"); an explicit ``first()`` makes it a broadcast scalar."""
    if not set(expr.meta.root_names()) <= constant:
        return expr
    if column is not None:
        constant.add(column)
    return expr.first()


def _rule_text(rule: CheckedRule, lang: str) -> str:
    because = rule.definition.because
    return f"{rule.id}: {because.get(lang) if because is not None else 'when ' + to_text(rule.node)}"


def _reads(
    comp: FrameCompiler, node: Node, reached: pl.Expr | None, out: dict[str, list[pl.Expr | None]]
) -> None:
    """Where the python backend's evaluation of ``node`` reads each input
    (record field or feature, by evidence key): ``out[key]`` gets a mask per
    place (``None``: always), given that ``node`` is evaluated where
    ``reached`` holds (``None``: always).

    This is the python backend's evaluation order (``backends/python.py``,
    the ``python`` forms of ``lang/ops.py`` and ``lang/functions.py``): ``and``
    stops at a false operand and ``or`` at a true one; a comparison,
    arithmetic or ``in`` evaluates its second operand only when the first
    is known, other propagating operators stop at the first missing
    operand; ``if`` evaluates the chosen branch only; ``coalesce`` stops at
    the first known argument; a population function reads its condition
    only when the measure is known; the other functions read every
    argument. A derived value reads nothing here: its definition is
    evaluated for every record (it is evidence), as its own place.
    A property test (``tests/test_frame_missing.py``) holds the two equal.
    """

    def when(mask: pl.Expr) -> pl.Expr:
        return mask if reached is None else reached & mask

    def unless_null(first: Node) -> pl.Expr:
        return when(comp.compile(first).is_not_null())

    if isinstance(node, Name):
        key = node.dotted
        if node.parts[0] != "params" and key not in comp.definitions:
            comp.compile(node)  # the input's column (compiling it records it in comp.keys)
            out.setdefault(key, []).append(reached)
        return
    if isinstance(node, Call):
        fn = FUNCTIONS.get(node.name)
        if fn is None:  # a feature with (constant) arguments
            comp.compile(node)
            out.setdefault(key_of(node), []).append(reached)
            return
        args = node.args
        if fn.population:
            _reads(comp, args[0], reached, out)
            if len(args) > 2:  # *_within: the condition, once the measure is known
                _reads(comp, args[2], unless_null(args[0]), out)
            return
        if node.name == "if":
            c = comp.compile(args[0])
            _reads(comp, args[0], reached, out)
            _reads(comp, args[1], when(c.fill_null(False)), out)
            _reads(comp, args[2], when(~c.fill_null(True)), out)
            return
        if node.name == "coalesce":
            before: pl.Expr | None = reached
            for arg in args:
                _reads(comp, arg, before, out)
                unknown = comp.compile(arg).is_null()
                before = unknown if before is None else before & unknown
            return
        for arg in args:  # count_true and the strict functions read every argument
            _reads(comp, arg, reached, out)
        return
    op = operator_of(node)
    if op is None:
        return  # a literal, a duration, a list of constants
    if isinstance(node, Binary) and op.form == "logic":
        left = comp.compile(node.left)
        _reads(comp, node.left, reached, out)
        goes_on = left.fill_null(True) if op.symbol == "and" else ~left.fill_null(False)  # not false / not true
        _reads(comp, node.right, when(goes_on), out)
        return
    children = node.children()
    if isinstance(node, Binary | In) or op.missing != PROPAGATES or len(children) == 1:
        first, *rest = children
        _reads(comp, first, reached, out)
        for child in rest:  # (Binary, In: the second operand once the first is known)
            _reads(comp, child, reached if op.missing != PROPAGATES else unless_null(first), out)
        return
    known: pl.Expr | None = reached  # the others: left to right, up to the first missing operand
    for child in children:
        _reads(comp, child, known, out)
        present = comp.compile(child).is_not_null()
        known = present if known is None else known & present


def _missing(comp: FrameCompiler, rule_cols: Sequence[str]) -> pl.Expr:
    """The inputs that were missing in rules that could not be decided
    (joined text), as the python backend lists them
    (:func:`~customer_rules.backends.base.missing_of`): the inputs the
    undecided rules name that evaluation read (see :func:`_reads`: every
    rule, derived value and flag is evaluated) and are missing, in the
    order the policy first names them."""
    checked, keys = comp.checked, comp.keys
    places: dict[str, list[pl.Expr | None]] = {}
    for root in [r.node for r in checked.rules] + [n for _, n, _ in checked.derived] + [f.node for f in checked.flags]:
        _reads(comp, root, None, places)
    naming: dict[str, list[pl.Expr]] = {}  # per input, "undecided" of each rule that names it
    for rule, col in zip(checked.rules, rule_cols, strict=True):
        for k in rule.keys:
            naming.setdefault(k, []).append(pl.col(col).is_null())
    listed: dict[str, pl.Expr] = {}  # per input, in order: whether the row lists it
    for k in checked.input_order:
        masks = places.get(k)
        if masks is None:
            continue  # read nowhere
        where = [m for m in masks if m is not None]
        read = lit(True) if len(where) < len(masks) else pl.any_horizontal(where)
        listed[k] = keys[k].is_null() & read & pl.any_horizontal(naming[k])
    if not listed:
        return lit("")
    # one text per input, joined skipping the others (texts are cheap to
    # join row by row, unlike lists: no by_pattern here, measured slower)
    return pl.concat_str([pl.when(c).then(lit(k)) for k, c in listed.items()], separator=", ", ignore_nulls=True)


def plan_scheme(
    compiled: CompiledPolicy,
    as_of: dt.date,
    features: FeatureTable,
    *,
    reasons: bool,
    flags: bool,
    labels: bool,
    scores: bool,
    lang: str,
) -> SchemePlan:
    """Compile one scheme's policy (and cut-offs) for a run on ``as_of``."""
    scheme = compiled.scheme
    checked = compiled.checked
    policy = checked.policy
    comp = FrameCompiler(checked, scheme=scheme, as_of=as_of, features=features, cuts=compiled.cuts)
    plan = SchemePlan(scheme, checked)
    wanted = set(policy.scores) if scores else set()
    if reasons:  # the missing inputs of a reason are among those the python backend reads (see _missing)
        wanted |= {name for name, _, _ in checked.derived}
    stages, rule_cols, flag_cols = _compile_rules(comp, checked, flags=flags, derived=wanted)
    plan.stages = stages
    decided: list[pl.Expr] = []

    def column(kind: str, expr: pl.Expr) -> pl.Expr:
        name = comp.column_name(kind, "")
        decided.append(expr.alias(name))
        return pl.col(name)

    base = choose(checked, [pl.col(c) for c in rule_cols], column)
    plan.stages.append(decided)
    # labels and rule ids come out as Enum columns (label order = the policy's)
    label_dtype = pl.Enum(list(policy.label_ids))
    rule_dtype = pl.Enum([r.id for r in checked.rules])
    label, rule, chosen_labels = base.label(label_dtype), base.rule(rule_dtype), base.labels
    flag_list = label_flags(checked, label, flag_cols) if flags else None
    reason: pl.Expr | None = None
    if reasons:
        texts = [_rule_text(r, lang) for r in checked.rules]
        missing = column("missing", _missing(comp, rule_cols))  # (a column: read twice below)
        unmatched = (
            pl.format("no rule matched: default '{}'", lit(policy.default))
            if policy.default is not None
            else lit("no rule matched")
        )
        unmatched = (
            pl.when(missing == "").then(unmatched).otherwise(pl.format("{}; missing: {}", unmatched, missing))
        )
        reason = (
            pl.when(base.index.is_null())
            .then(unmatched)
            .otherwise(gather([*texts, None], base.index, pl.String()))
        )
    conflict = base.conflict
    pair = base.conflict_rules

    stability = policy.stability
    if stability is not None and (stability.min_days or stability.margin):
        plan_hysteresis = _Hysteresis(comp, sticky(checked, compiled.cuts), features, flag_cols)
        plan.stages = _merge(plan.stages, plan_hysteresis.stages)
        kept = plan_hysteresis.decide(base, flag_list, reason, stability.min_days, stability.margin)
        label, rule = kept.label.cast(label_dtype), kept.rule.cast(rule_dtype)
        chosen_labels, flag_list, reason = kept.labels, kept.flags, kept.reason
        conflict = conflict | kept.conflict
        pair = (
            pl.when(base.conflict).then(pair[0]).otherwise(kept.conflict_rules[0]),
            pl.when(base.conflict).then(pair[1]).otherwise(kept.conflict_rules[1]),
        )

    plan.outputs[scheme] = label.alias(scheme)
    plan.outputs[f"{scheme}__rule"] = rule.alias(f"{scheme}__rule")
    if reason is not None:
        plan.outputs[f"{scheme}__reason"] = reason.alias(f"{scheme}__reason")
    if flag_list is not None:
        plan.outputs[f"{scheme}__flags"] = flag_list.alias(f"{scheme}__flags")
    if labels:
        plan.outputs[f"{scheme}__labels"] = chosen_labels.alias(f"{scheme}__labels")
    if scores:
        for name in policy.scores:
            plan.outputs[f"{scheme}__score__{name}"] = pl.col(comp.derived[name]).alias(
                f"{scheme}__score__{name}"
            )
    plan.conflict = conflict
    plan.conflict_rules = pair
    return plan


def _merge(a: list[list[pl.Expr]], b: list[list[pl.Expr]]) -> list[list[pl.Expr]]:
    """Batches of two independent column sets, evaluated side by side."""
    out = []
    for i in range(max(len(a), len(b))):
        out.append([*(a[i] if i < len(a) else []), *(b[i] if i < len(b) else [])])
    return out


@dataclass
class _Kept:
    label: pl.Expr
    rule: pl.Expr
    labels: pl.Expr
    flags: pl.Expr | None
    reason: pl.Expr | None
    conflict: pl.Expr
    conflict_rules: tuple[pl.Expr, pl.Expr]


class _Hysteresis:
    """Stability rules of one scheme, column-wise (as :func:`customer_rules.backends.base.stabilise`
    decides one record), comparing with the policy's hysteresis rewrites."""

    def __init__(
        self, comp: FrameCompiler, rewrites: Sticky | None, features: FeatureTable, flag_cols: list[str]
    ) -> None:
        self.comp = comp
        checked = self.checked = comp.checked
        self.flag_cols = flag_cols
        scheme = comp.scheme
        e = pl.element()
        mask = (e.struct.field("scheme") == lit(scheme)) & (e.struct.field("since") <= lit(comp.as_of))
        since = e.struct.field("since")
        latest = pl.col("grades").list.agg(e.filter(mask & (since == since.filter(mask).max())).first())
        self.prev_col = comp.column_name("p", "label")
        self.since_col = comp.column_name("p", "since")
        self.stages: list[list[pl.Expr]] = [
            [
                latest.struct.field("label").alias(self.prev_col),
                latest.struct.field("since").alias(self.since_col),
            ]
        ]
        self.sticky: dict[str, Choice] = {}
        if rewrites is not None:
            relaxed = FrameCompiler(
                rewrites.relaxed,
                scheme=scheme,
                as_of=comp.as_of,
                features=features,
                cuts=rewrites.relaxed_cuts,
                tag="~r",
            )
            tight = FrameCompiler(
                rewrites.tightened,
                scheme=scheme,
                as_of=comp.as_of,
                features=features,
                cuts=rewrites.tightened_cuts,
                tag="~t",
            )
            # shifted flags are never read (a kept decision reports the unshifted ones)
            r_stages, r_cols, _ = _compile_rules(relaxed, rewrites.relaxed, flags=False)
            t_stages, t_cols, _ = _compile_rules(tight, rewrites.tightened, flags=False)
            self.stages = _merge(self.stages, _merge(r_stages, t_stages))
            for lab in checked.policy.label_ids:
                conds = [
                    pl.col(rc if rule.label == lab else tc)
                    for rule, rc, tc in zip(checked.rules, r_cols, t_cols, strict=True)
                ]
                self.sticky[lab] = choose(checked, conds)

    def _by_previous(self, pick: Callable[[Choice], pl.Expr], dtype: pl.DataType) -> pl.Expr:
        prev = pl.col(self.prev_col)
        items = list(self.sticky.items())
        if not items:
            return _null(dtype)
        chain: Any = pl.when(prev == lit(items[0][0])).then(pick(items[0][1]))
        for lab, choice in items[1:]:
            chain = chain.when(prev == lit(lab)).then(pick(choice))
        out: pl.Expr = chain.otherwise(_null(dtype))
        return out

    def decide(
        self,
        base: Choice,
        flags: pl.Expr | None,
        reason: pl.Expr | None,
        min_days: int,
        margin: float,
    ) -> _Kept:
        prev = pl.col(self.prev_col)
        held = lit(self.comp.today) - days(pl.col(self.since_col))
        label_ids = list(self.checked.policy.label_ids)
        base_label = base.label()
        changed = prev.is_not_null() & prev.is_in(label_ids) & (base_label.is_null() | (base_label != prev))
        said = base_label.fill_null("unclassified")
        keep_days = (changed & (held < min_days)) if min_days else lit(False)
        label, rule, labels = base_label, base.rule(), base.labels
        conflict: pl.Expr = lit(False)
        pair = (_null(pl.String()), _null(pl.String()))
        keep_margin: pl.Expr = lit(False)
        sticky_rule = _null(pl.String())
        sticky_labels = pl.lit([], dtype=_STR_LIST)
        if margin:
            sticky_label = self._by_previous(lambda c: c.label(), pl.String())
            sticky_rule = self._by_previous(lambda c: c.rule(), pl.String())
            sticky_labels = self._by_previous(lambda c: c.labels, _STR_LIST)
            tried = (changed & ~keep_days).fill_null(False)
            conflict = tried & self._by_previous(lambda c: c.conflict, pl.Boolean()).fill_null(False)
            pair = (
                self._by_previous(lambda c: c.conflict_rules[0], pl.String()),
                self._by_previous(lambda c: c.conflict_rules[1], pl.String()),
            )
            keep_margin = tried & (sticky_label == prev).fill_null(False)
        keep_days = keep_days.fill_null(False)
        new_label = pl.when(keep_days | keep_margin).then(prev).otherwise(label)
        new_rule = (
            pl.when(keep_days).then(_null(pl.String())).when(keep_margin).then(sticky_rule).otherwise(rule)
        )
        new_labels = (
            pl.when(keep_days)
            .then(pl.concat_list([prev]))
            .when(keep_margin)
            .then(sticky_labels)
            .otherwise(labels)
        )
        new_flags = None
        if flags is not None:
            # kept for min_days: python keeps the old decision's flags; kept by the
            # margin: the sticky decision's (its label's flags, the same policy flags)
            new_flags = (
                pl.when(keep_margin).then(label_flags(self.checked, prev, self.flag_cols)).otherwise(flags)
            )
        new_reason = None
        if reason is not None:
            note_days = pl.format(
                "hysteresis: kept {}, held {} of the {} days required before a change (rules said {})",
                prev,
                held,
                lit(min_days),
                said,
            )
            note_margin = pl.format(
                "hysteresis: kept {}; the change to {} is within the "
                + f"{margin:.0%}"
                + " margin of its thresholds",
                prev,
                said,
            )
            new_reason = (
                pl.when(keep_days).then(note_days).when(keep_margin).then(note_margin).otherwise(reason)
            )
        return _Kept(new_label, new_rule, new_labels, new_flags, new_reason, conflict, pair)


# ---------------------------------------------------------------------------
# Running a table
# ---------------------------------------------------------------------------


_REJECTED_SCHEMA = {"row": pl.Int64(), "id": pl.String(), "reason": pl.String()}
# the rejected rows inside: the details of a RecordError, or an EvaluationError's parts
ERROR_SCHEMA = {
    **_REJECTED_SCHEMA,
    "details": _STR_LIST,
    "scheme": pl.String(),
    "message": pl.String(),
    "rules": _STR_LIST,
}


def result_of(data: Any, kind: str, source: pl.DataFrame, result: pl.DataFrame, rejected: pl.DataFrame) -> FrameResult:
    """A run's result columns and rejected rows as the :class:`FrameResult` the caller sees."""
    frame = _assemble(data, kind, source, result)
    rejected = rejected.sort("row")
    return FrameResult(
        frame=frame,
        rejected=from_polars(rejected.select(list(_REJECTED_SCHEMA)), kind),
        n_rows=source.height,
        n_rejected=rejected.height,
        errors=[_error_of(r) for r in rejected.head(1).iter_rows(named=True)],
    )


def _error_of(row: Mapping[str, Any]) -> CustomerRulesError:
    from customer_rules.model.tables import split_details

    if row.get("scheme"):
        return EvaluationError(
            row["message"], scheme=row["scheme"], rules=tuple(row["rules"] or ()), record_id=row["id"]
        )
    return RecordError(row["id"], split_details(row["details"] or [row["reason"]]), row=row["row"])


def _needed_columns(exprs: Iterable[pl.Expr]) -> set[str]:
    out: set[str] = set()
    for e in exprs:
        out.update(e.meta.root_names())
    return out


@dataclass(frozen=True)
class RunPlan:
    """Everything a table run evaluates, made once per set of schemes, date and
    options (:func:`plan_run`) and reusable for any number of tables."""

    plans: tuple[SchemePlan, ...]
    feature_exprs: tuple[pl.Expr, ...]  # features with a polars implementation
    fallback: tuple[FeatureUse, ...]  # features computed in Python from the columns they read
    roots: frozenset[str]  # the input columns read
    children: tuple[str, ...]  # the record lists read (validated only when read)
    spec: ModelSpec
    as_of: dt.date
    conflicts: tuple[tuple[SchemePlan, str, pl.Expr], ...]  # 'unique' schemes' conflict columns
    batches: tuple[tuple[pl.Expr, ...], ...]  # with_columns batches, in order
    outputs: tuple[pl.Expr, ...]


def plan_run(
    policies: Sequence[CompiledPolicy],
    as_of: dt.date,
    *,
    reasons: bool,
    flags: bool,
    labels: bool,
    scores: bool,
    lang: str,
    spec: ModelSpec | None = None,
) -> RunPlan:
    """Compile the policies of one run (on ``as_of``, with these options) to polars.
    ``spec`` is the engine's record spec (plugin namespaces; default: core)."""
    spec = spec or customer_spec()
    features = FeatureTable()
    plans = [
        plan_scheme(
            compiled,
            as_of,
            features,
            reasons=reasons,
            flags=flags,
            labels=labels,
            scores=scores,
            lang=lang,
        )
        for compiled in policies
    ]
    feature_exprs: list[pl.Expr] = []
    fallback: list[FeatureUse] = []
    for use in features.uses.values():
        e = use.expr(as_of)
        if e is None:
            fallback.append(use)
        else:
            feature_exprs.append(e)
    every = feature_exprs + [e for p in plans for e in p.exprs()] + [p.conflict for p in plans]
    roots = _needed_columns(every) | features.columns_read(spec)
    depth = max((len(p.stages) for p in plans), default=0)
    batches = []
    for i in range(depth):
        batch = tuple(e for p in plans if i < len(p.stages) for e in p.stages[i])
        if batch:
            batches.append(batch)
    conflicts: list[tuple[SchemePlan, str, pl.Expr]] = []
    for n, p in enumerate(plans):
        if p.checked.policy.hit == "unique":
            for side in (0, 1):
                col = f"__cr:u:{n}:{side}"
                conflicts.append((p, col, pl.when(p.conflict).then(p.conflict_rules[side]).alias(col)))
    return RunPlan(
        plans=tuple(plans),
        feature_exprs=tuple(feature_exprs),
        fallback=tuple(fallback),
        roots=frozenset(roots),
        children=tuple(c for c in spec.children if c in roots),
        spec=spec,
        as_of=as_of,
        conflicts=tuple(conflicts),
        batches=tuple(batches),
        outputs=tuple(e for p in plans for e in p.outputs.values()),
    )


def run_frame(
    policies: Sequence[CompiledPolicy] | RunPlan,
    source: pl.DataFrame,
    tables: Mapping[str, pl.DataFrame],
    as_of: dt.date,
    *,
    reasons: bool = False,
    flags: bool = False,
    labels: bool = False,
    scores: bool = False,
    lang: str = "en",
    spec: ModelSpec | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Decide a validated table under the compiled policies, column-wise.
    ``spec`` is the engine's record spec (plugin namespaces; default: core).
    ``policies`` may be a :class:`RunPlan` made before (for ``as_of``; the
    options are then the plan's)."""
    if isinstance(policies, RunPlan):
        run = policies
        if run.as_of != as_of:
            raise ValueError(f"the plan was made for {run.as_of}, not {as_of}")
    else:
        run = plan_run(
            policies, as_of, reasons=reasons, flags=flags, labels=labels, scores=scores, lang=lang, spec=spec
        )
    spec = run.spec
    if run.fallback:
        names = ", ".join(sorted({u.feature.name for u in run.fallback}))
        warnings.warn(
            f"feature(s) {names} have no frame implementation (polars): computed in Python, row by row,"
            " from the columns they read",
            UserWarning,
            stacklevel=4,
        )
    canonical = set(spec.slots) | set(spec.children)
    prepared = prepare(source, tables, children=list(run.children), spec=spec)
    frame = prepared.valid
    rejected = prepared.rejected.with_columns(
        scheme=_null(pl.String()), message=_null(pl.String()), rules=pl.lit([], dtype=_STR_LIST)
    )
    present = set(frame.columns)  # (each .columns call builds a new list)
    missing = [c for c in (run.roots & canonical) | {"id"} if c not in present]
    if missing:
        frame = frame.with_columns([empty_value(c, spec).alias(c) for c in sorted(missing)])
    # only the columns the run reads, taken as they are: an eager select
    # copies every column it keeps into one chunk (1M rows of every scheme:
    # 0.9x the input's size); each part below is made contiguous on its own
    # the ids only for the (rare) rows a conflict rejects, unless the run reads
    # them (Python features do): not carried through every part of the run
    ids = pl.DataFrame([frame.get_column(ROW), frame.get_column("id")])
    carried = {ROW, "id"} if run.fallback else {ROW}
    frame = pl.DataFrame([frame.get_column(c) for c in frame.columns if c in run.roots or c in carried])
    if run.fallback:
        frame, entries = python_features(frame, run.fallback, as_of, spec)
        bad = pl.DataFrame(entries, schema=ERROR_SCHEMA)
        if bad.height:
            rejected = pl.concat([rejected, bad], how="diagonal_relaxed")
    conflict_cols = run.conflicts

    def decide(part: pl.DataFrame) -> pl.DataFrame:
        # one chunk per column: a table in many chunks (parquet row groups,
        # concat(rechunk=False)) evaluates ~35% slower
        lf = part.rechunk().lazy()
        if run.feature_exprs:
            lf = lf.with_columns(run.feature_exprs)
        for batch in run.batches:
            lf = lf.with_columns(batch)
        out = lf.select(pl.col(ROW), *run.outputs, *[e for _, _, e in conflict_cols])
        engine, flags = collect_engine(part.height), _query_flags(part.height)
        try:
            return out.collect(engine=engine, optimizations=flags)
        except pl.exceptions.InvalidOperationError:
            if engine == "streaming":
                raise
            # polars 2.1's in-memory engine: a when/then whose condition holds on no
            # row is its one-value otherwise branch, and that compared with a literal
            # stays one row ("length 1 doesn't match the DataFrame height"; a value
            # column all null on a small table does it). The streaming engine
            # broadcasts it. A genuine error fails here again.
            return out.collect(engine="streaming", optimizations=flags)

    if frame.height <= PART_ROWS:
        result = decide(frame)
    else:
        parts = range(0, frame.height, PART_ROWS)
        result = pl.concat([decide(frame.slice(start, PART_ROWS)) for start in parts])
    if conflict_cols:
        result, bad = _conflicts(result, conflict_cols, ids)
        if bad.height:
            rejected = pl.concat([rejected, bad], how="diagonal_relaxed")
    return result, rejected


#: a larger table is decided this many rows at a time: the run's query holds
#: every intermediate column of the rows it decides (every built-in scheme:
#: about 200 columns), so deciding 1M rows at once took 1.4x the input's size
#: in extra memory, in parts of 200k (each made contiguous) 0.41x, for a few
#: query plans more (benchmarks/README.md)
PART_ROWS = 200_000

#: below this many rows a run's query is not optimised by polars: the plan of
#: every built-in scheme has ~10,000 expression nodes and optimising them
#: (common subexpressions, simplification, pushdowns) costs more than it
#: saves on a small table (measured, CPU: 10 rows 47.6 -> 38.4 ms, 1,000 rows
#: 51.1 -> 44.3 ms, 10,000 rows 76.4 -> 73.3 ms; benchmarks/README.md).
#: Type coercion and checks stay on: the answer is the same.
PLAIN_ROWS = 10_000


def _query_flags(rows: int) -> pl.QueryOptFlags:
    """Polars' optimisations for the query of a run over ``rows`` rows."""
    return pl.QueryOptFlags.none() if rows < PLAIN_ROWS else pl.QueryOptFlags()


def _conflicts(
    result: pl.DataFrame, cols: Sequence[tuple[SchemePlan, str, pl.Expr]], ids: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Rows where a 'unique' scheme had two matches: rejected, as python does.
    ``ids``: ROW and id of every row decided."""
    names = [c for _, c, _ in cols]
    if all(result.get_column(c).null_count() == result.height for c in names):  # no conflict (the usual case)
        return _without(result, set(names)), pl.DataFrame(schema=ERROR_SCHEMA)
    any_bad = pl.any_horizontal([pl.col(c).is_not_null() for c in names])
    bad = result.filter(any_bad)
    bad = bad.join(ids.filter(pl.col(ROW).is_in(bad.get_column(ROW).implode())), on=ROW, how="left", maintain_order="left")
    rows = []
    pairs = [(cols[i][0], cols[i][1], cols[i + 1][1]) for i in range(0, len(cols), 2)]
    for r in bad.iter_rows(named=True):
        for plan, ca, cb in pairs:  # the first scheme in order, as python raises there
            if r[ca] is not None:
                message = f"rules {r[ca]!r} and {r[cb]!r} both match under hit policy 'unique'"
                err = EvaluationError(message, scheme=plan.scheme, rules=(r[ca], r[cb]), record_id=r["id"])
                rows.append(
                    {
                        "row": r[ROW],
                        "id": r["id"],
                        "reason": str(err),
                        "details": None,
                        "scheme": plan.scheme,
                        "message": message,
                        "rules": [r[ca], r[cb]],
                    }
                )
                break
    rej = pl.DataFrame(rows, schema=ERROR_SCHEMA)
    return result.filter(~any_bad).drop(names), rej


def record_error_row(row: int, err: RecordError) -> dict[str, Any]:
    """A rejected row for a record the model refused."""
    return {
        "row": row,
        "id": err.record_id,
        "reason": str(err),
        "details": [f"{p}: {m}" for p, m in err.errors],
    }


def reason_of(decision: Decision, lang: str = "en") -> str:
    """The compact reason text of a python decision (the frame backend's format)."""
    if decision.note:
        return decision.note
    source = decision.source
    if decision.rule is not None and source is not None:
        for rule in source.checked.rules:
            if rule.id == decision.rule:
                return _rule_text(rule, lang)
    default = source.checked.policy.default if source is not None else None
    text = f"no rule matched: default '{default}'" if default is not None else "no rule matched"
    if decision.missing:
        text += "; missing: " + ", ".join(decision.missing)
    return text


def _assemble(data: Any, kind: str, source: pl.DataFrame, result: pl.DataFrame) -> Any:
    """The input rows that were classified, with the result columns added."""
    new = result.drop(ROW)
    keep = result.get_column(ROW)
    whole = keep.len() == source.height
    if kind == "pandas":
        import pandas as pd

        base = data if whole else data.iloc[keep.to_numpy()]
        extra = from_polars(new, "pandas")
        extra.index = base.index
        base = base.drop(columns=[c for c in new.columns if c in base.columns])
        return pd.concat([base, extra], axis=1)
    rows = source if whole else source[keep]
    out = _without(rows, set(new.columns)).hstack(new)
    return out.lazy() if kind == "lazy" else out


def _without(frame: pl.DataFrame, names: set[str]) -> pl.DataFrame:
    """``frame`` without the columns ``names``, its other columns shared as
    they are: ``DataFrame.drop`` plans a query and took ~85 ms on 1M rows of
    133 columns in 500 chunks (the tiled benchmark table) even dropping none."""
    keep = [s for s in frame.get_columns() if s.name not in names]
    if len(keep) == frame.width:
        return frame
    return pl.DataFrame(keep) if keep else frame.drop([c for c in frame.columns if c in names])


class FramePolicy:
    """A checked policy (and its cut-offs) compiled for tables: :meth:`plan` gives
    the polars expressions of a run on one date."""

    def __init__(self, checked: CheckedPolicy, scheme: str, cuts: Mapping[str, Cut] | None = None) -> None:
        self.checked = checked
        self.scheme = scheme
        self.cuts = cuts

    def plan(self, as_of: dt.date, features: Any, **options: Any) -> SchemePlan:
        """The scheme's columns for a run on ``as_of`` (see :func:`plan_scheme`)."""
        return plan_scheme(self, as_of, features, **options)


class FrameBackend:
    """The frame backend: policies compiled to polars expressions over whole tables."""

    name = "frame"
    decides_records = False
    decides_tables = True

    def compile(self, checked: CheckedPolicy, scheme: str, cuts: Mapping[str, Cut] | None = None) -> FramePolicy:
        return FramePolicy(checked, scheme, cuts)
