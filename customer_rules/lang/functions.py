"""The built-in functions of the condition language: one table, one entry each.

Each :class:`Function` holds its type rule (used by the checker), its
missing-value rule, its Python implementation (the reference semantics),
its polars implementation (the frame backend), what the durable backend
does with it and the model ``verify`` reasons with. The checker, every
backend and the verifier read :data:`FUNCTIONS`; adding a function is one
entry here plus its tests (see the docs page "Add a function to the
language").

Calling conventions, by ``form``:

* ``"strict"``: ``python(as_of, *values)`` — never called with a missing
  value (the rule is :data:`~customer_rules.lang.ops.PROPAGATES`: the
  caller gives missing first); ``polars(env, *exprs)``, which the frame
  backend wraps so that a null argument gives null;
* ``"lazy"``: ``python(*fns)`` takes one function of the evaluation context
  per argument and returns a function of the context; it decides itself
  which arguments to evaluate and what a missing one means;
  ``polars(env, *exprs)``;
* ``"population"``: like ``"lazy"``, with the fitted cut (``env.cut``,
  ``env.cutoff``) first: ``python(env, *fns)``, ``polars(env, *exprs)``.

An argument of kind :data:`CONSTANTS` is a bracketed list of constants; it
is passed as a tuple of values (python) or a list of values (polars).
``env`` has ``as_of`` (a date), ``today`` (days since 1970-01-01) and, for
population functions, ``cut`` (:class:`~customer_rules.lang.population.Cut`)
and ``cutoff`` (the cut-off after any hysteresis shift).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from customer_rules.lang.ast import Call, ListOf, Node, walk
from customer_rules.lang.ops import IN_PYTHON, NOT_CONSTANT, PROPAGATES, WITNESS_ONLY, Typing, polars_days
from customer_rules.lang.types import BOOL, DATE, LIST, NUMBER, RECORDS, STRING, T_BOOL, Type

if TYPE_CHECKING:
    import polars as pl

#: The kind of an argument that must be a bracketed list of constants.
CONSTANTS = "[constants]"
_SCALARS = (NUMBER, STRING, BOOL, DATE)


@dataclass(frozen=True)
class Function:
    """One built-in function (see the module docs for the conventions)."""

    name: str
    doc: str
    #: accepted kinds per position; ``variadic`` repeats the last one
    args: tuple[tuple[str, ...], ...]
    type_rule: Callable[[Typing, Call], Type]
    #: PROPAGATES, or what the function does with a missing argument
    missing: str
    form: str  # strict | lazy | population
    python: Callable[..., Any]
    polars: Callable[..., Any]
    #: what the durable backend does with it (every function: IN_PYTHON)
    durable: str
    #: the model ``verify`` reasons with (a name ``verify`` knows), or WITNESS_ONLY
    verify: str
    variadic: bool = False
    #: a group function's end of the measure: ``"highest"`` (``top``...) or
    #: ``"lowest"`` (``bottom``...); ``None`` for every other function
    ranks: str | None = None
    #: a ``"strict"`` function whose polars implementation is already null
    #: wherever an argument is: the frame backend then adds no missing-value
    #: test of its own (which repeats every argument it tests: a larger plan
    #: for polars to build and to run, for the same answer)
    polars_nulls: bool = False

    @property
    def population(self) -> bool:
        """True when the value depends on a fitted population (it needs ``fit``)."""
        return self.form == "population"

    def signature(self) -> str:
        parts = [" | ".join(kinds) for kinds in self.args]
        if self.variadic:
            parts.append("...")
        return f"{self.name}({', '.join(parts)})"


@dataclass(frozen=True)
class Env:
    """What an implementation may read besides its arguments: the date and,
    for population functions, the fitted cut and the cut-off in force.
    ``never_null`` (polars implementations) says, per argument, whether it is
    known never to be missing (a constant, a coalesce with such an
    argument...): a test for its missing value can then be left out."""

    as_of: dt.date | None = None
    cut: Any = None
    cutoff: float | None = None
    never_null: tuple[bool, ...] = ()

    def known(self, position: int) -> bool:
        """Whether the argument at ``position`` is known never to be missing."""
        return position < len(self.never_null) and self.never_null[position]

    @property
    def today(self) -> int:
        """``as_of`` as days since 1970-01-01."""
        assert self.as_of is not None
        return (self.as_of - dt.date(1970, 1, 1)).days


# ---------------------------------------------------------------------------
# type rules


def check_args(tc: Typing, fn: Function, node: Call) -> list[Type]:
    """Check every argument against the kinds ``fn`` accepts; their types.

    A :data:`CONSTANTS` argument must be a list of constants of the first
    argument's item type (its type is not in the result)."""
    seen: list[Type] = []
    for i, arg in enumerate(node.args):
        kinds = fn.args[min(i, len(fn.args) - 1)]
        if kinds == (CONSTANTS,):
            if not isinstance(arg, ListOf):
                raise tc.error(arg, f"{fn.name}() needs a [list] of values as argument {i + 1}")
            item = seen[0].item if seen else None
            assert item is not None
            for x in arg.items:
                if tc.constant(x) is NOT_CONSTANT or tc.check(x).kind != item.kind:
                    raise tc.error(x, f"{fn.name}() values must be {item.kind} constants")
                tc.enum_check(item, x)
            continue
        t = tc.check(arg)
        if t.kind not in kinds:
            raise tc.error(arg, f"{fn.name}() argument {i + 1} must be a {' or '.join(kinds)}")
        seen.append(t)
    return seen


def _number_like(tc: Typing, node: Call) -> Type:
    types = check_args(tc, FUNCTIONS[node.name], node)
    return Type(NUMBER, integer=all(t.integer for t in types))


def _whole(tc: Typing, node: Call) -> Type:
    check_args(tc, FUNCTIONS[node.name], node)
    return Type(NUMBER, integer=True)


def _truth(tc: Typing, node: Call) -> Type:
    check_args(tc, FUNCTIONS[node.name], node)
    return T_BOOL


def _share(tc: Typing, node: Call) -> Type:
    """top(...), bottom(...) and friends: the size must be a constant count or percentage."""
    check_args(tc, FUNCTIONS[node.name], node)
    amount = node.args[1]
    value = tc.constant(amount)
    if value is NOT_CONSTANT:
        raise tc.error(amount, f"the size in {node.name}() must be a constant or a parameter")
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise tc.error(amount, f"the size in {node.name}() must be a number")
    if "_pct" in node.name:
        if not 0 <= value <= 100:
            raise tc.error(amount, f"{node.name}() takes a percentage from 0 to 100, got {value}")
    elif value < 0 or int(value) != value:
        raise tc.error(amount, f"{node.name}() takes a whole count of at least 0, got {value}")
    return T_BOOL


def _fraction(tc: Typing, node: Call) -> Type:
    check_args(tc, FUNCTIONS[node.name], node)
    return Type(NUMBER)


def _same(tc: Typing, node: Call) -> Type:
    """coalesce: any argument may be the result, so all are of one kind."""
    types = check_args(tc, FUNCTIONS[node.name], node)
    first = types[0]
    for arg, t in zip(node.args, types, strict=True):
        if t.kind != first.kind:
            raise tc.error(arg, f"{node.name}() arguments must all be {first.kind}s")
    # the allowed strings are those of all of them (none when one is free
    # text); whole only if all are
    enums = [t.enum for t in types]
    enum = tuple(dict.fromkeys(e for es in enums if es for e in es)) if all(enums) else None
    return Type(first.kind, enum=enum or None, integer=all(t.integer for t in types))


def _branch(tc: Typing, node: Call) -> Type:
    cond, then, other = node.args
    if tc.check(cond).kind != BOOL:
        raise tc.error(cond, "if() needs a condition (true/false) as its first argument")
    ta = tc.check(then)
    tb = tc.check(other)
    for arg, t in ((then, ta), (other, tb)):
        if t.kind in (LIST, RECORDS):
            raise tc.error(arg, f"if() gives a single value, not a {t.kind}")
    if ta.kind != tb.kind:
        raise tc.error(other, f"if() branches must be of one type: a {ta.kind} and a {tb.kind}")
    # either branch may be the result: strings allowed by both, whole only if both are
    enum = tuple(dict.fromkeys([*ta.enum, *tb.enum])) if ta.enum and tb.enum else None
    return Type(ta.kind, enum=enum, integer=ta.integer and tb.integer)


# ---------------------------------------------------------------------------
# python implementations


def _has_any(as_of: dt.date, values: Any, wanted: tuple[Any, ...]) -> bool:
    return any(w in values for w in wanted)


def _count_true(*fns: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def count_true(x: Any) -> int:
        n = 0
        for f in fns:  # every argument is read (it is evidence); a plain loop: no list, no frame
            if f(x) is True:
                n += 1
        return n

    return count_true


def _if(fc: Callable[[Any], Any], fa: Callable[[Any], Any], fb: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def if_(x: Any) -> Any:
        c = fc(x)
        if c is None:
            return None
        return fa(x) if c else fb(x)

    return if_


def _coalesce(*fns: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def coalesce(x: Any) -> Any:
        for f in fns:
            v = f(x)
            if v is not None:
                return v
        return None

    return coalesce


def _top(
    env: Any, fm: Callable[[Any], Any], _n: Callable[[Any], Any], fc: Callable[[Any], Any] | None = None
) -> Callable[[Any], Any]:
    cutoff = env.cutoff

    def top(x: Any) -> Any:
        m = fm(x)
        if m is None:
            return None
        if fc is not None:
            c = fc(x)
            if c is not True:
                return c
        return cutoff is not None and m >= cutoff

    return top


def _bottom(
    env: Any, fm: Callable[[Any], Any], _n: Callable[[Any], Any], fc: Callable[[Any], Any] | None = None
) -> Callable[[Any], Any]:
    cutoff = env.cutoff

    def bottom(x: Any) -> Any:
        m = fm(x)
        if m is None:
            return None
        if fc is not None:
            c = fc(x)
            if c is not True:
                return c
        return cutoff is not None and m <= cutoff

    return bottom


def _percentile(env: Any, fm: Callable[[Any], Any]) -> Callable[[Any], Any]:
    cut = env.cut

    def percentile(x: Any) -> Any:
        m = fm(x)
        return None if m is None else cut.percentile(m)

    return percentile


# ---------------------------------------------------------------------------
# polars implementations (polars is imported only when one is called)


def _pl_has_any(env: Any, values: pl.Expr, wanted: list[Any]) -> pl.Expr:
    """Null for a missing list (the function propagates missing values)."""
    import polars as pl

    if not wanted:
        return pl.when(values.is_not_null()).then(pl.lit(False))
    # one list.contains per value: a set intersection with a list literal took
    # 1.7x the CPU of the whole 1M-row run (every scheme), and list.eval +
    # is_in + list.any, 4x faster at 200k rows, adds ~8 ms to every small
    # call (polars plans each list.eval anew); benchmarks/README.md
    return pl.any_horizontal([values.list.contains(pl.lit(v)) for v in wanted])


def _pl_count_true(env: Any, *args: pl.Expr) -> pl.Expr:
    import polars as pl

    return pl.sum_horizontal([a.fill_null(False).cast(pl.Int64()) for a in args])


def _pl_if(env: Any, c: pl.Expr, a: pl.Expr, b: pl.Expr) -> pl.Expr:
    import polars as pl

    if env.known(0):  # the condition is never missing: no test for it (it would repeat it)
        return pl.when(c).then(a).otherwise(b)
    return pl.when(c.is_null()).then(None).when(c).then(a).otherwise(b)


def _pl_coalesce(env: Any, *args: pl.Expr) -> pl.Expr:
    import polars as pl

    return pl.coalesce(args)


def _pl_top(env: Any, m: pl.Expr, _n: pl.Expr, cond: pl.Expr | None = None) -> pl.Expr:
    import polars as pl

    null = pl.lit(None, dtype=pl.Boolean())
    inside = pl.lit(False) if env.cutoff is None else m >= pl.lit(float(env.cutoff))
    if cond is None and env.cutoff is not None:
        return inside  # null exactly where the measure is (no test that repeats it)
    chain: Any = pl.when(m.is_null()).then(null)
    if cond is not None:
        chain = chain.when(cond.is_null()).then(null).when(~cond).then(pl.lit(False))
    out: pl.Expr = chain.otherwise(inside)
    return out


def _pl_bottom(env: Any, m: pl.Expr, _n: pl.Expr, cond: pl.Expr | None = None) -> pl.Expr:
    import math

    import polars as pl

    null = pl.lit(None, dtype=pl.Boolean())
    cutoff = env.cutoff
    # as in Python, nothing is at or below a NaN cut-off, and a NaN measure is at or
    # below no number (in polars NaN is above every number)
    nothing = cutoff is None or math.isnan(cutoff)
    inside = pl.lit(False) if nothing else m <= pl.lit(float(cutoff))
    if cond is None and not nothing:
        return inside  # null exactly where the measure is (no test that repeats it)
    chain: Any = pl.when(m.is_null()).then(null)
    if cond is not None:
        chain = chain.when(cond.is_null()).then(null).when(~cond).then(pl.lit(False))
    out: pl.Expr = chain.otherwise(inside)
    return out


def _pl_percentile(env: Any, m: pl.Expr) -> pl.Expr:
    import polars as pl

    cut = env.cut
    values = cut.values
    if not values:
        return pl.lit(None, dtype=pl.Float64())
    series = pl.Series(list(values), dtype=pl.Float64())
    index = pl.lit(series).search_sorted(m.cast(pl.Float64()), side="right")
    # the shares as Python divides them (polars may divide a column by a constant
    # through its reciprocal, one ulp away from what the record backend gives)
    shares = pl.Series([cut.share(i) for i in range(len(values) + 1)], dtype=pl.Float64())
    return pl.when(m.is_null()).then(None).otherwise(pl.lit(shares).gather(index))


def _pl_min(env: Any, *args: pl.Expr) -> pl.Expr:
    import polars as pl

    return pl.min_horizontal(args)


def _pl_max(env: Any, *args: pl.Expr) -> pl.Expr:
    import polars as pl

    return pl.max_horizontal(args)


def _pl_int(e: pl.Expr) -> pl.Expr:
    import polars as pl

    return e.cast(pl.Int64())


def _pl_today(env: Any) -> pl.Expr:
    import polars as pl

    return pl.lit(env.today, dtype=pl.Int64())


# ---------------------------------------------------------------------------
# the table

_POP_MISSING = "missing when the measure is; under *_within a condition that is not true gives its value"

FUNCTIONS: dict[str, Function] = {
    f.name: f
    for f in (
        Function(
            "abs",
            "absolute value",
            ((NUMBER,),),
            _number_like,
            PROPAGATES,
            "strict",
            lambda as_of, x: abs(x),
            lambda env, x: x.abs(),
            IN_PYTHON,
            WITNESS_ONLY,
            polars_nulls=True,
        ),
        Function(
            "min",
            "smallest argument",
            ((NUMBER,), (NUMBER,)),
            _number_like,
            PROPAGATES,
            "strict",
            lambda as_of, *xs: min(xs),
            _pl_min,
            IN_PYTHON,
            "extremum",
            variadic=True,
        ),
        Function(
            "max",
            "largest argument",
            ((NUMBER,), (NUMBER,)),
            _number_like,
            PROPAGATES,
            "strict",
            lambda as_of, *xs: max(xs),
            _pl_max,
            IN_PYTHON,
            "extremum",
            variadic=True,
        ),
        Function(
            "len",
            "number of items in a list",
            ((LIST, RECORDS),),
            _whole,
            PROPAGATES,
            "strict",
            lambda as_of, xs: len(xs),
            lambda env, x: _pl_int(x.list.len()),
            IN_PYTHON,
            "size",
            polars_nulls=True,
        ),
        Function(
            "count_distinct",
            "number of different items in a list",
            ((LIST,),),
            _whole,
            PROPAGATES,
            "strict",
            lambda as_of, xs: len(set(xs)),
            lambda env, x: _pl_int(x.list.n_unique()),
            IN_PYTHON,
            "size",
            polars_nulls=True,
        ),
        Function(
            "has_any",
            "true when the list field holds any of the listed values",
            ((LIST,), (CONSTANTS,)),
            _truth,
            PROPAGATES,
            "strict",
            _has_any,
            _pl_has_any,
            IN_PYTHON,
            "membership",
            polars_nulls=True,
        ),
        Function(
            "days_since",
            "whole days from the date to as_of",
            ((DATE,),),
            _whole,
            PROPAGATES,
            "strict",
            lambda as_of, d: (as_of - d).days,
            lambda env, d: _pl_today(env) - polars_days(d),
            IN_PYTHON,
            "day_count",
            polars_nulls=True,
        ),
        Function(
            "days_until",
            "whole days from as_of to the date",
            ((DATE,),),
            _whole,
            PROPAGATES,
            "strict",
            lambda as_of, d: (d - as_of).days,
            lambda env, d: polars_days(d) - _pl_today(env),
            IN_PYTHON,
            "day_count",
            polars_nulls=True,
        ),
        Function(
            "count_true",
            "how many of the conditions are true (false and missing count 0; never missing)",
            ((BOOL,),),
            _whole,
            "never missing: a missing condition counts 0",
            "lazy",
            _count_true,
            _pl_count_true,
            IN_PYTHON,
            "count",
            variadic=True,
        ),
        *(
            Function(
                f"{end}{suffix}",
                f"population-relative: among the {doc.format(word)}",
                args,
                _share,
                _POP_MISSING,
                "population",
                python,
                polars,
                IN_PYTHON,
                "top",
                ranks=word,
            )
            # the two ends of a ranked measure: one entry per end and form
            for end, word, python, polars in (
                ("top", "highest", _top, _pl_top),
                ("bottom", "lowest", _bottom, _pl_bottom),
            )
            for suffix, doc, args in (
                ("", "N {} values of the measure (fitted)", ((NUMBER,), (NUMBER,))),
                ("_pct", "{} P percent of the measure (fitted)", ((NUMBER,), (NUMBER,))),
                ("_within", "N {} of the records where the condition holds", ((NUMBER,), (NUMBER,), (BOOL,))),
                ("_pct_within", "{} P percent of the records where the condition holds", ((NUMBER,), (NUMBER,), (BOOL,))),
            )
        ),
        Function(
            "percentile",
            "population-relative: share (0-1) of the fitted population with a value at or below this one",
            ((NUMBER,),),
            _fraction,
            "missing when the measure is",
            "population",
            _percentile,
            _pl_percentile,
            IN_PYTHON,
            "share",
        ),
        Function(
            "if",
            "if(condition, a, b): a when the condition is true, b when it is false, missing when it is"
            " missing (only the chosen branch is evaluated)",
            ((BOOL,), _SCALARS, _SCALARS),
            _branch,
            "missing when the condition is; otherwise the chosen branch's value",
            "lazy",
            _if,
            _pl_if,
            IN_PYTHON,
            "branch",
        ),
        Function(
            "coalesce",
            "the first argument that is not missing",
            (_SCALARS, _SCALARS),
            _same,
            "missing only when every argument is",
            "lazy",
            _coalesce,
            _pl_coalesce,
            IN_PYTHON,
            "first_known",
            variadic=True,
        ),
    )
}

#: Functions whose value depends on the whole population: they need ``fit``.
POPULATION_FUNCTIONS = frozenset(name for name, f in FUNCTIONS.items() if f.population)


def check_call(tc: Typing, node: Call) -> Type:
    """The type of a call of a built-in function (arity, nesting, then its rule)."""
    fn = FUNCTIONS[node.name]
    n = len(node.args)
    if n < len(fn.args) or (n > len(fn.args) and not fn.variadic):
        raise tc.error(node, f"{fn.name}() takes {len(fn.args)} argument(s), got {n}")
    if fn.population:
        for arg in node.args:
            inner = next(
                (x for x in walk(arg) if isinstance(x, Call) and x.name in POPULATION_FUNCTIONS), None
            )
            if inner is not None:
                raise tc.error(inner, f"{inner.name}() cannot be used inside {fn.name}()")
    return fn.type_rule(tc, node)


def is_builtin(node: Node) -> bool:
    """True for a call of a built-in function (not a feature with arguments)."""
    return isinstance(node, Call) and node.name in FUNCTIONS


__all__ = [
    "CONSTANTS",
    "FUNCTIONS",
    "POPULATION_FUNCTIONS",
    "Env",
    "Function",
    "check_args",
    "check_call",
    "is_builtin",
]
