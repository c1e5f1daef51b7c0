"""The operators of the condition language: one table, one entry per operator.

Each :class:`Operator` holds everything the library knows about one
operator: its type rule (used by the checker), its missing-value rule, its
Python implementation (the reference semantics, used by the python backend,
by constant folding, by the durable backend's replay and by ``verify``), its
polars implementation (the frame backend), what the durable backend does
with it, and the model ``verify`` reasons with. No other module spells out
what an operator means; they all read :data:`OPERATORS`.

Keys are the operator as written: ``"<"``, ``"+"``, ``"and"``, ``"not"``,
``"neg"`` (unary minus), ``"in"``, ``"not in"``, ``"between"``,
``"is missing"``, ``"is not missing"``.

Calling conventions (the values passed are never missing when the rule is
:data:`PROPAGATES`: the caller returns missing first):

* ``form="binary"``: ``python(a, b)``; ``polars(a, b, left_type, right_type)``
  (the types are the checker's, for date arithmetic); comparisons also take
  ``maybe_nan=(left, right)``: False for a side that cannot be NaN (a
  record field or a constant), which spares the NaN test;
* ``form="logic"``: ``python(fa, fb)`` takes two functions of one argument
  and returns a function of that argument that calls ``fb`` only when
  ``fa``'s value does not decide the result (evaluation order is part of
  the meaning: it decides which values a decision reads); ``polars(a, b)``;
* ``form="unary"``: ``python(v)``; ``polars(v)``;
* ``form="member"``: ``python(v, values)`` where ``values`` supports ``in``;
  ``polars(item, values, item_type)`` where ``values`` is a Python list of
  constants or a list-valued expression;
* ``form="between"``: ``python(v, lo, hi)``; ``polars(v, lo, hi, value_type)``;
* ``form="missing"``: ``python(v)`` (``v`` may be missing); ``polars(v)``.
"""

from __future__ import annotations

import datetime as dt
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from customer_rules.lang.ast import Between, Binary, In, IsMissing, ListOf, Node, Unary
from customer_rules.lang.types import BOOL, DATE, LIST, NUMBER, RECORDS, STRING, T_BOOL, T_DATE, Type

if TYPE_CHECKING:
    import polars as pl

    from customer_rules.errors import PolicyError

# -- missing-value rules ---------------------------------------------------------
#: A missing operand makes the result missing.
PROPAGATES = "propagates"
#: Three-valued (Kleene) logic: ``false and missing`` is false, ``true or
#: missing`` is true, anything else with a missing operand is missing.
KLEENE = "kleene"
#: The result is never missing (``is missing`` tests for it).
NEVER_MISSING = "never missing"

# -- what the durable backend does ----------------------------------------------
#: Computed by Python (the python backend's closure) and written into the
#: fact as a value that durable's conditions compare with constants.
IN_PYTHON = "evaluated in Python"

# -- verify models ---------------------------------------------------------------
#: ``verify`` treats the value as opaque (any value of its type) and relies on
#: the bounded witness search to answer "some input does X" questions.
WITNESS_ONLY = "witness search only"

#: Integers every backend holds exactly (polars ``Int64``).
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
#: Every integer up to this magnitude is exact in a double.
FLOAT_EXACT = 2**53


class Typing(Protocol):
    """What a type rule may ask of the checker."""

    def check(self, node: Node) -> Type:
        """The type of a sub-expression (checking it)."""
        ...

    def error(self, node: Node, message: str, hint: str | None = None) -> PolicyError:
        """A :class:`PolicyError` located at ``node``."""
        ...

    def enum_check(self, t: Type, other: Node) -> None:
        """Refuse a string constant ``other`` that ``t``'s enum does not allow."""
        ...

    def constant(self, node: Node) -> Any:
        """The folded value of a constant node, or :data:`NOT_CONSTANT`."""
        ...


class _NotConstant:
    def __repr__(self) -> str:
        return "NOT_CONSTANT"


#: What :meth:`Typing.constant` (and constant folding) gives for a node whose
#: value depends on the record.
NOT_CONSTANT: Any = _NotConstant()


@dataclass(frozen=True)
class Operator:
    """One operator of the language (see the module docs for the conventions)."""

    symbol: str
    form: str  # binary | logic | unary | member | between | missing
    doc: str
    type_rule: Callable[[Typing, Node], Type]
    missing: str  # PROPAGATES | KLEENE | NEVER_MISSING
    python: Callable[..., Any]
    polars: Callable[..., Any]
    #: a durable_rules construct (``"$lt"``, ``"$and"``, ...) when the Rete
    #: network evaluates the operator itself, else :data:`IN_PYTHON`
    durable: str
    #: the model ``verify`` reasons with: ``"intervals"`` (exact sets of
    #: numbers, dates, strings and booleans), ``"regions"`` (set algebra of
    #: the operands' regions), ``"affine"`` (``a * x + b`` over one variable,
    #: else opaque), or :data:`WITNESS_ONLY`
    verify: str
    #: comparisons: ``b flipped a`` means ``a symbol b``
    flipped: str = ""
    #: comparisons: the operator true exactly where this one is false (on known values)
    negated: str = ""
    #: comparisons: the parts of the number line, relative to the constant,
    #: where ``x symbol constant`` holds (``below``, ``at``, ``above``)
    pieces: tuple[str, ...] = ()


# ---------------------------------------------------------------------------
# range checks shared by the checker (constants) and the backends


def representable(value: Any) -> str | None:
    """Why a folded constant cannot be represented by every backend, or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX:
        return f"the whole number {value} is outside the 64-bit range every backend holds exactly"
    if isinstance(value, float) and not math.isfinite(value):
        return f"{value!r} is not a finite number"
    return None


def inexact_in_float(value: Any) -> bool:
    """True for a whole number a double cannot hold exactly (such as 2**53 + 1).

    Python compares such a number with a fraction exactly; polars and
    durable_rules compare it as the nearest double. Below 2**53 every whole
    number is exact; above, only some are (2**60 is, 2**53 + 1 is not)."""
    if not isinstance(value, int) or isinstance(value, bool) or abs(value) <= FLOAT_EXACT:
        return False
    try:
        return float(value) != value
    except OverflowError:
        return True


# ---------------------------------------------------------------------------
# type rules


def _compare_type(tc: Typing, node: Node) -> Type:
    assert isinstance(node, Binary)
    lt = tc.check(node.left)
    rt = tc.check(node.right)
    if lt.kind != rt.kind or lt.kind in (LIST, RECORDS):
        hint = None
        if lt.kind == DATE and rt.kind == STRING:
            hint = "write dates without quotes: 2026-01-31"
        raise tc.error(node, f"cannot compare a {lt.kind} with a {rt.kind}", hint)
    if node.op not in ("==", "!=") and lt.kind in (STRING, BOOL):
        raise tc.error(node, f"'{node.op}' does not order {lt.kind}s; use == or !=")
    if lt.kind == STRING:
        tc.enum_check(lt, node.right)
        tc.enum_check(rt, node.left)
    if lt.kind == NUMBER:
        _exact_against(tc, lt, node.right)
        _exact_against(tc, rt, node.left)
    return T_BOOL


def _exact_against(tc: Typing, t: Type, other: Node) -> None:
    """Refuse a whole-number constant a double cannot hold compared with a
    fraction: python compares it exactly, polars and durable_rules as a double."""
    if t.integer:
        return
    value = tc.constant(other)
    if inexact_in_float(value):
        raise tc.error(
            other,
            f"{value} cannot be compared exactly with a fractional number (beyond 2**53 a double"
            " skips some whole numbers, and this is one)",
            f"write it as a decimal ({float(value)!r}) or compare with a whole-number value",
        )


def _arith_type(tc: Typing, node: Node) -> Type:
    assert isinstance(node, Binary)
    op = node.op
    lt = tc.check(node.left)
    rt = tc.check(node.right)
    if lt.kind == NUMBER and rt.kind == NUMBER:
        return Type(NUMBER, integer=lt.integer and rt.integer and op != "/")
    if op in "+-" and lt.kind == DATE and rt.kind == NUMBER:
        if not rt.integer:
            raise tc.error(node.right, "only whole days can be added to a date", "use e.g. 30d")
        return T_DATE
    if op == "+" and lt.kind == NUMBER and rt.kind == DATE and lt.integer:
        return T_DATE
    if op == "-" and lt.kind == DATE and rt.kind == DATE:
        return Type(NUMBER, integer=True)
    raise tc.error(node, f"cannot apply '{op}' to a {lt.kind} and a {rt.kind}")


def _logic_type(tc: Typing, node: Node) -> Type:
    assert isinstance(node, Binary)
    for side in (node.left, node.right):
        t = tc.check(side)
        if t.kind != BOOL:
            raise tc.error(side, f"'{node.op}' needs true/false on both sides, got a {t.kind}")
    return T_BOOL


def _not_type(tc: Typing, node: Node) -> Type:
    assert isinstance(node, Unary)
    t = tc.check(node.operand)
    if t.kind != BOOL:
        raise tc.error(node, f"'not' needs true/false, got a {t.kind}")
    return T_BOOL


def _neg_type(tc: Typing, node: Node) -> Type:
    assert isinstance(node, Unary)
    t = tc.check(node.operand)
    if t.kind != NUMBER:
        raise tc.error(node, f"'-' needs a number, got a {t.kind}")
    return Type(NUMBER, integer=t.integer)


def _in_type(tc: Typing, node: Node) -> Type:
    assert isinstance(node, In)
    it = tc.check(node.item)
    c = node.container
    if isinstance(c, ListOf):
        for item in c.items:
            if tc.constant(item) is NOT_CONSTANT:
                raise tc.error(item, "list items must be constants")
            t = tc.check(item)
            if t.kind != it.kind:
                raise tc.error(item, f"list item is a {t.kind}, the value a {it.kind}")
            if it.kind == STRING:
                tc.enum_check(it, item)
            if it.kind == NUMBER:
                _exact_against(tc, it, item)
        return T_BOOL
    ct = tc.check(c)
    if ct.kind != LIST or ct.item is None:
        raise tc.error(c, f"'in' needs a list on the right, got a {ct.kind}")
    if ct.item.kind != it.kind:
        raise tc.error(node, f"the list holds {ct.item.kind}s, the value is a {it.kind}")
    if it.kind == STRING:
        tc.enum_check(ct.item, node.item)
    return T_BOOL


def _between_type(tc: Typing, node: Node) -> Type:
    assert isinstance(node, Between)
    tv = tc.check(node.value)
    if tv.kind not in (NUMBER, DATE):
        raise tc.error(node, f"'between' needs numbers or dates, got a {tv.kind}")
    for bound in (node.low, node.high):
        tb = tc.check(bound)
        if tb.kind != tv.kind:
            raise tc.error(bound, f"'between' bound is a {tb.kind}, the value a {tv.kind}")
        if tv.kind == NUMBER:
            _exact_against(tc, tv, bound)
            _exact_against(tc, tb, node.value)
    return T_BOOL


def _missing_type(tc: Typing, node: Node) -> Type:
    assert isinstance(node, IsMissing)
    tc.check(node.value)
    return T_BOOL


# ---------------------------------------------------------------------------
# python implementations


def _whole(x: Any) -> Any:
    # a whole-number result outside the 64-bit range is missing (polars would wrap around)
    if x.__class__ is int and not INT64_MIN <= x <= INT64_MAX:
        return None
    return x


def _add(a: Any, b: Any) -> Any:
    try:
        if isinstance(a, dt.date):
            return a + dt.timedelta(days=int(b))
        if isinstance(b, dt.date):
            return b + dt.timedelta(days=int(a))
        return _whole(a + b)
    except OverflowError:  # undefined like x / 0: missing, not a crash
        return None


def _sub(a: Any, b: Any) -> Any:
    try:
        if isinstance(a, dt.date):
            if isinstance(b, dt.date):
                return (a - b).days
            return a - dt.timedelta(days=int(b))
        return _whole(a - b)
    except OverflowError:
        return None


def _mul(a: Any, b: Any) -> Any:
    try:
        return _whole(a * b)
    except OverflowError:
        return None


def _div(a: Any, b: Any) -> Any:
    if b == 0:
        return None
    try:
        return a / b
    except OverflowError:
        return None


def _and(*fs: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``f1 and f2 and ...`` in Kleene logic: operands left to right, the first
    false one decides (the rest are not evaluated); else missing if any is."""
    if len(fs) == 2:
        fa, fb = fs

        def and_(x: Any) -> Any:
            a = fa(x)
            if a is False:
                return False
            b = fb(x)
            if b is False:
                return False
            if a is None or b is None:
                return None
            return True

        return and_

    def and_n(x: Any) -> Any:
        unknown = False
        for f in fs:
            v = f(x)
            if v is False:
                return False
            if v is None:
                unknown = True
        return None if unknown else True

    return and_n


def _or(*fs: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``f1 or f2 or ...`` in Kleene logic: operands left to right, the first
    true one decides (the rest are not evaluated); else missing if any is."""
    if len(fs) == 2:
        fa, fb = fs

        def or_(x: Any) -> Any:
            a = fa(x)
            if a is True:
                return True
            b = fb(x)
            if b is True:
                return True
            if a is None or b is None:
                return None
            return False

        return or_

    def or_n(x: Any) -> Any:
        unknown = False
        for f in fs:
            v = f(x)
            if v is True:
                return True
            if v is None:
                unknown = True
        return None if unknown else False

    return or_n


def _between(v: Any, lo: Any, hi: Any) -> bool:
    return bool(lo <= v <= hi)


# ---------------------------------------------------------------------------
# polars implementations (polars is imported only when one is called)


def polars_days(date: pl.Expr) -> pl.Expr:
    """A date column as whole days since 1970-01-01 (Int64)."""
    import polars as pl

    return date.to_physical().cast(pl.Int64())


_MIN_DAY = (dt.date(1, 1, 1) - dt.date(1970, 1, 1)).days
_MAX_DAY = (dt.date(9999, 12, 31) - dt.date(1970, 1, 1)).days


def polars_from_days(n: pl.Expr) -> pl.Expr:
    """Whole days since 1970-01-01 as a date; null outside years 1-9999."""
    import polars as pl

    return pl.when(n.is_between(_MIN_DAY, _MAX_DAY)).then(n).cast(pl.Int32()).cast(pl.Date())


def _pl_arith(op: str) -> Callable[..., Any]:
    def arith(a: pl.Expr, b: pl.Expr, lt: Type, rt: Type) -> pl.Expr:
        import polars as pl

        if lt.kind == DATE and rt.kind == DATE:
            return polars_days(a) - polars_days(b)
        if lt.kind == DATE:
            return polars_from_days(polars_days(a) + b if op == "+" else polars_days(a) - b)
        if rt.kind == DATE:
            return polars_from_days(a + polars_days(b))
        if op == "/":
            if b.meta.is_literal():
                # polars divides by a constant by multiplying with its reciprocal,
                # which can differ from IEEE division in the last bit (43 / 3);
                # dividing by a column of it is exact, as in python
                b = pl.int_range(pl.len()) * 0 + b
            return pl.when(b == 0).then(pl.lit(None, dtype=pl.Float64())).otherwise(a / b)
        if not (lt.integer and rt.integer):
            return a + b if op == "+" else (a - b if op == "-" else a * b)
        # whole numbers: a result outside the 64-bit range is missing, as in
        # python (polars wraps around). Computed exactly in 128 bits (no sum,
        # difference or product of two 64-bit integers leaves that range) and
        # narrowed back, out-of-range values becoming null; each operand is
        # read once, so nested arithmetic stays a tree of linear size
        wide = pl.Int128()
        a, b = a.cast(wide), b.cast(wide)
        out = a + b if op == "+" else (a - b if op == "-" else a * b)
        return out.cast(pl.Int64(), strict=False)

    return arith


def _pl_compare(fn: Callable[[Any, Any], Any]) -> Callable[..., Any]:
    def compare(
        a: pl.Expr,
        b: pl.Expr,
        lt: Type | None = None,
        rt: Type | None = None,
        maybe_nan: tuple[bool, bool] = (True, True),
    ) -> pl.Expr:
        out: pl.Expr = fn(a, b)
        fractional = [
            e
            for e, t, nan in ((a, lt, maybe_nan[0]), (b, rt, maybe_nan[1]))
            if nan and (t is None or (t.kind == NUMBER and not t.integer))
        ]
        if not fractional:
            return out
        # IEEE, as in Python: NaN (inf - inf) is unequal to everything, ordered
        # with nothing; polars sorts it above every number and equal to itself
        for e in fractional:
            out = (out | e.is_nan()) if fn is operator.ne else (out & ~e.is_nan())
        return out

    return compare


def _pl_in(item: pl.Expr, values: Any, t: Type) -> pl.Expr:
    import polars as pl

    if not isinstance(values, list):  # a list-valued expression (a record list field)
        return (
            pl.when(item.is_null())
            .then(pl.lit(None, dtype=pl.Boolean()))
            .otherwise(values.list.contains(item))
        )
    if not values:
        return pl.when(item.is_null()).then(pl.lit(None, dtype=pl.Boolean())).otherwise(pl.lit(False))
    if t.kind == NUMBER and not (t.integer and all(type(v) is int for v in values)):
        return item.cast(pl.Float64()).is_in([float(v) for v in values])
    return item.is_in(values)


def _pl_between(v: pl.Expr, lo: pl.Expr, hi: pl.Expr, t: Type) -> pl.Expr:
    import polars as pl

    inside = (lo <= v) & (v <= hi)
    if t.kind == NUMBER:  # NaN is within no range (IEEE, as in Python)
        inside = inside & ~v.is_nan() & ~lo.is_nan() & ~hi.is_nan()
    return (
        pl.when(v.is_null() | lo.is_null() | hi.is_null())
        .then(pl.lit(None, dtype=pl.Boolean()))
        .otherwise(inside)
    )


# ---------------------------------------------------------------------------
# the table


def _comparison(
    symbol: str,
    fn: Callable[[Any, Any], Any],
    flipped: str,
    negated: str,
    pieces: str,
    doc: str,
    durable: str,
) -> Operator:
    return Operator(
        symbol,
        "binary",
        doc,
        _compare_type,
        PROPAGATES,
        fn,  # the language's values (numbers, strings, booleans, dates) compare to a bool
        _pl_compare(fn),
        durable,
        "intervals",
        flipped=flipped,
        negated=negated,
        pieces=tuple(pieces.split()),
    )


def _arithmetic(symbol: str, fn: Callable[[Any, Any], Any], doc: str) -> Operator:
    return Operator(
        symbol, "binary", doc, _arith_type, PROPAGATES, fn, _pl_arith(symbol), IN_PYTHON, "affine"
    )


OPERATORS: dict[str, Operator] = {
    op.symbol: op
    for op in (
        _comparison("==", operator.eq, "==", "!=", "at", "equal", "$eq"),
        _comparison("!=", operator.ne, "!=", "==", "below above", "not equal", "$neq"),
        _comparison("<", operator.lt, ">", ">=", "below", "less than", "$lt"),
        _comparison("<=", operator.le, ">=", ">", "below at", "at most", "$lte"),
        _comparison(">", operator.gt, "<", "<=", "above", "greater than", "$gt"),
        _comparison(">=", operator.ge, "<=", "<", "above at", "at least", "$gte"),
        _arithmetic("+", _add, "sum; a date plus whole days is a date"),
        _arithmetic("-", _sub, "difference; date - date is whole days, date - n moves back n days"),
        _arithmetic("*", _mul, "product"),
        _arithmetic("/", _div, "quotient; x / 0 is missing"),
        Operator(
            "and", "logic", "both true", _logic_type, KLEENE, _and, lambda a, b: a & b, "$and", "regions"
        ),
        Operator(
            "or", "logic", "either true", _logic_type, KLEENE, _or, lambda a, b: a | b, "$or", "regions"
        ),
        Operator(
            "not",
            "unary",
            "true when false, false when true",
            _not_type,
            PROPAGATES,
            operator.not_,
            operator.invert,
            "swap",  # the condition's true and false forms change places
            "regions",
        ),
        Operator(
            "neg", "unary", "minus x", _neg_type, PROPAGATES, operator.neg, operator.neg, IN_PYTHON, "affine"
        ),
        Operator(
            "in",
            "member",
            "the value is one of a list of constants, or an item of a list field",
            _in_type,
            PROPAGATES,
            lambda v, values: v in values,
            _pl_in,
            "$or",  # of one $eq per constant (a list field: evaluated in Python)
            "intervals",
        ),
        Operator(
            "not in",
            "member",
            "the value is none of a list of constants, nor an item of a list field",
            _in_type,
            PROPAGATES,
            lambda v, values: v not in values,
            lambda item, values, t: ~_pl_in(item, values, t),
            "$and",  # of one $neq per constant (a list field: evaluated in Python)
            "intervals",
        ),
        Operator(
            "between",
            "between",
            "lo <= x <= hi, inclusive at both ends",
            _between_type,
            PROPAGATES,
            _between,
            _pl_between,
            "$gte $lte",  # with constant bounds; other bounds: evaluated in Python
            "intervals",
        ),
        Operator(
            "is missing",
            "missing",
            "the value is missing",
            _missing_type,
            NEVER_MISSING,
            lambda v: v is None,
            lambda v: v.is_null(),
            "$nex",
            "regions",
        ),
        Operator(
            "is not missing",
            "missing",
            "the value is known",
            _missing_type,
            NEVER_MISSING,
            lambda v: v is not None,
            lambda v: v.is_not_null(),
            "$ex",
            "regions",
        ),
    )
}

COMPARISONS: dict[str, Operator] = {
    k: v for k, v in OPERATORS.items() if v.verify == "intervals" and v.form == "binary"
}
ARITHMETIC: dict[str, Operator] = {k: v for k, v in OPERATORS.items() if v.type_rule is _arith_type}


def operator_of(node: Node) -> Operator | None:
    """The table entry of an operator node (None for other nodes)."""
    if isinstance(node, Binary):
        return OPERATORS[node.op]
    if isinstance(node, Unary):
        return OPERATORS["not" if node.op == "not" else "neg"]
    if isinstance(node, In):
        return OPERATORS["not in" if node.negated else "in"]
    if isinstance(node, Between):
        return OPERATORS["between"]
    if isinstance(node, IsMissing):
        return OPERATORS["is not missing" if node.negated else "is missing"]
    return None


def apply(op: Operator, *values: Any) -> Any:
    """The operator on plain values (missing = None), with its missing rule applied."""
    if op.form == "logic":
        a, b = values
        return op.python(lambda _: a, lambda _: b)(None)
    if op.missing == PROPAGATES and any(v is None for v in values):
        return None
    return op.python(*values)


__all__ = [
    "ARITHMETIC",
    "COMPARISONS",
    "FLOAT_EXACT",
    "INT64_MAX",
    "INT64_MIN",
    "IN_PYTHON",
    "KLEENE",
    "NEVER_MISSING",
    "NOT_CONSTANT",
    "OPERATORS",
    "PROPAGATES",
    "WITNESS_ONLY",
    "Operator",
    "Typing",
    "apply",
    "inexact_in_float",
    "operator_of",
    "polars_days",
    "polars_from_days",
    "representable",
]
