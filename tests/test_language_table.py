"""The operator and function tables are the one definition of the language.

* every entry of :data:`~customer_rules.lang.ops.OPERATORS` and
  :data:`~customer_rules.lang.functions.FUNCTIONS` has every field (type
  rule, missing rule, python and polars implementations, what durable does,
  a verify model that ``verify`` knows);
* per operator and per function, the python backend, the frame backend and
  (where durable_rules is installed) the durable backend give the same
  value on generated records: missing values, huge and boundary numbers,
  dates and non-ASCII strings;
* the cases where they used to disagree are load-time errors or agree.
"""

from __future__ import annotations

import datetime as dt
import math
from functools import cache
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rules_support import AS_OF, engine, policy, record, value

import customer_rules as cr
from customer_rules.lab.verify import MODELS
from customer_rules.lang.ast import ARITH, COMPARE, LOGIC
from customer_rules.lang.functions import FUNCTIONS, Function
from customer_rules.lang.ops import (
    IN_PYTHON,
    KLEENE,
    NEVER_MISSING,
    OPERATORS,
    PROPAGATES,
    WITNESS_ONLY,
    Operator,
)
from customer_rules.lang.parser import parse

pytestmark = pytest.mark.usefixtures("frame_backend")  # the frame backend, also on small tables

try:
    from customer_rules.backends import durable

    HAS_DURABLE = durable.available()
except ImportError:  # pragma: no cover - no durable_rules on this Python
    HAS_DURABLE = False

# -- the tables are complete --------------------------------------------------------------


@pytest.mark.parametrize("key", sorted(OPERATORS))
def test_every_operator_entry_is_complete(key: str) -> None:
    op = OPERATORS[key]
    assert isinstance(op, Operator) and op.symbol == key
    assert op.doc and op.form in ("binary", "logic", "unary", "member", "between", "missing")
    assert callable(op.type_rule) and callable(op.python) and callable(op.polars)
    assert op.missing in (PROPAGATES, KLEENE, NEVER_MISSING)
    assert op.durable  # a durable construct, or IN_PYTHON
    assert op.verify in ("intervals", "regions", "affine", WITNESS_ONLY)
    if op.verify == "intervals" and op.form == "binary":
        assert op.flipped in OPERATORS and op.negated in OPERATORS and op.pieces
        assert OPERATORS[op.flipped].flipped == key and OPERATORS[op.negated].negated == key
        assert op.durable.startswith("$")


def test_every_operator_of_the_grammar_is_in_the_table() -> None:
    assert set(ARITH + COMPARE + LOGIC) <= set(OPERATORS)
    for text, key in [
        ("not a", "not"),
        ("-a", "neg"),
        ("a in [1]", "in"),
        ("a not in [1]", "not in"),
        ("a between 1 and 2", "between"),
        ("a is missing", "is missing"),
        ("a is not missing", "is not missing"),
    ]:
        from customer_rules.lang.ops import operator_of

        entry = operator_of(parse(text))
        assert entry is not None and entry.symbol == key


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_function_entry_is_complete(name: str) -> None:
    fn = FUNCTIONS[name]
    assert isinstance(fn, Function) and fn.name == name
    assert fn.doc and fn.args and all(fn.args)
    assert callable(fn.type_rule) and callable(fn.python) and callable(fn.polars)
    assert fn.missing  # PROPAGATES or what the function does with a missing argument
    assert fn.form in ("strict", "lazy", "population")
    assert fn.durable == IN_PYTHON
    assert fn.verify in MODELS or fn.verify == WITNESS_ONLY
    # every function is exercised by the differential tests below
    assert name in FUNCTION_CASES


def test_every_operator_has_a_differential_case() -> None:
    assert set(OPERATOR_CASES) == set(OPERATORS)
    assert set(FUNCTION_CASES) == set(FUNCTIONS)


# -- differential tests -------------------------------------------------------------------
# P, Q: fractions of any sign; R: a non-negative fraction; N, M: whole numbers;
# D1..D3: dates; S1, S2: free text; B1, B2: booleans; L: a list of strings.
FIELDS = {
    "P": "value.profit_12m",
    "Q": "value.growth_rate",
    "R": "value.revenue_12m",
    "N": "value.orders_12m",
    "M": "value.overdue_days",
    "D1": "birthday",
    "D2": "deal.first_contact_at",
    "D3": "deal.lost_at",
    "S1": "name",
    "S2": "segment",
    "B1": "value.bad_debt",
    "B2": "value.litigation",
    "L": "identity",
}

OPERATOR_CASES: dict[str, list[str]] = {
    "==": ["P == Q", "N == M", "R == 0.1", "D1 == D2", "S1 == S2", 'S1 == "客户"', "B1 == B2", "N == 3"],
    "!=": ["P != Q", "N != M", "D1 != D2", "S1 != S2", "B1 != true", "P != 0"],
    "<": ["P < Q", "N < M", "P < N", "D1 < D2", "R < 1e200", "N < 9007199254740992"],
    "<=": ["P <= Q", "N <= M", "D2 <= D3", "Q <= -0.0"],
    ">": ["P > Q", "N > M", "D1 > 2026-01-01", "R > 5e-324"],
    ">=": ["P >= Q", "N >= M", "D3 >= D1", "P >= 2.0"],
    "+": ["P + Q", "N + M", "N + 9223372036854775000", "D1 + N", "D2 + 30d", "P + N"],
    "-": ["P - Q", "N - M", "D1 - D2", "D3 - 2w", "P * 1e308 * 10 - P * 1e308 * 10", "(P - P) > 0"],
    "*": ["P * Q", "N * M", "N * N", "R * 1e200", "P * 1e308 * 10 > 0"],
    "/": ["P / Q", "N / M", "R / 0", "N / 3", "(P * 1e308 * 10) / (Q * 1e308 * 10)"],
    "and": ["B1 and B2", "B1 and P > 0", "(N > 2) and (Q < 0)"],
    "or": ["B1 or B2", "B1 or P > 0", "(N > 2) or (Q < 0)"],
    "not": ["not B1", "not (P > Q)"],
    "neg": ["-P", "-N", "-(P - Q)"],
    "in": ["N in [0, 1, 3]", 'S1 in ["客户", "ａ", "x"]', '"media" in L', "P in [0.5, 2.0]", "D1 in [2026-01-01]"],
    "not in": ["N not in [0, 1, 3]", 'S2 not in ["é", "x"]', '"lawyer" not in L', "N not in []"],
    "between": ["P between -1 and 1", "N between 1 and M", "D1 between D2 and D3", "Q between P and R"],
    "is missing": ["P is missing", "D1 is missing", "S1 is missing", "(P / Q) is missing"],
    "is not missing": ["N is not missing", "B1 is not missing", "(D1 - D2) is not missing"],
}

FUNCTION_CASES: dict[str, list[str]] = {
    "abs": ["abs(P)", "abs(N - M)"],
    "min": ["min(P, Q)", "min(N, M, 3)", "min(P, N)"],
    "max": ["max(P, Q)", "max(N, M, 3)", "max(P, Q, R)"],
    "len": ["len(L)", "len(cases)"],
    "count_distinct": ["count_distinct(L)"],
    "has_any": ['has_any(L, ["media", "lawyer"])', 'has_any(L, ["police"])'],
    "days_since": ["days_since(D1)", "days_since(D2 + N)"],
    "days_until": ["days_until(D3)", "days_until(D1)"],
    "count_true": ["count_true(B1, B2, P > 0)", "count_true(S1 == S2)"],
    "if": ["if(B1, P, Q)", "if(P > Q, S1, S2)", "if(B2, D1, D2)", "if(N > 2, N, M)"],
    "coalesce": ["coalesce(P, Q, 0.5)", "coalesce(N, M)", "coalesce(S1, S2, \"无\")", "coalesce(D1, D2)"],
    "top": ["top(P, 2)", "top(N, 1)"],
    "top_pct": ["top_pct(P, 50)", "top_pct(Q, 10)"],
    "top_within": ["top_within(P, 1, B1)"],
    "top_pct_within": ["top_pct_within(Q, 50, N > 1)"],
    "bottom": ["bottom(P, 2)", "bottom(N, 1)"],
    "bottom_pct": ["bottom_pct(P, 50)", "bottom_pct(Q, 10)", "bottom_pct(P * 1e308 * 10 - P * 1e308 * 10, 50)"],
    "bottom_within": ["bottom_within(P, 1, B1)"],
    "bottom_pct_within": ["bottom_pct_within(Q, 50, N > 1)"],
    "percentile": ["percentile(P)", "percentile(N)"],
}


def _expand(expr: str) -> str:
    # longest names first (D1 before D)
    for short in sorted(FIELDS, key=len, reverse=True):
        expr = _replace_word(expr, short, FIELDS[short])
    return expr


def _replace_word(text: str, word: str, by: str) -> str:
    out = []
    i = 0
    while i < len(text):
        if text.startswith(word, i) and not (i and (text[i - 1].isalnum() or text[i - 1] in "._\"")) and not (
            i + len(word) < len(text) and (text[i + len(word)].isalnum() or text[i + len(word)] in "_\"")
        ):
            out.append(by)
            i += len(word)
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


FRACTIONS = st.one_of(
    st.none(),
    st.sampled_from([0.0, -0.0, 0.1, -1.5, 2.0, 2.0**53, 1e200, -1e200, 1e308, 5e-324, -5e-324]),
    st.floats(allow_nan=False, allow_infinity=False),
)
WHOLE = st.one_of(st.none(), st.sampled_from([0, 1, 3, 2**31, 2**53]), st.integers(0, 2**53))
DATES = st.one_of(
    st.none(),
    st.sampled_from([dt.date(1, 1, 1), dt.date(9999, 12, 31), AS_OF, dt.date(2026, 1, 1)]),
    st.dates(dt.date(1900, 1, 1), dt.date(2100, 12, 31)),
)
TEXT = st.one_of(st.none(), st.sampled_from(["客户", "ａ", "é", "x", "١٢", ""]), st.text(max_size=4))
IDENTITIES = st.lists(st.sampled_from(["media", "lawyer", "police", "celebrity"]), max_size=3, unique=True)


@st.composite
def records(draw: st.DrawFn) -> list[dict[str, Any]]:
    out = []
    for i in range(draw(st.integers(1, 4))):
        rev = draw(FRACTIONS)
        out.append(
            {
                "id": f"c{i}",
                "name": draw(TEXT),
                "segment": draw(TEXT),
                "birthday": draw(DATES),
                "identity": draw(IDENTITIES),
                "value": {
                    "profit_12m": draw(FRACTIONS),
                    "growth_rate": draw(FRACTIONS),
                    "revenue_12m": abs(rev) if rev is not None else None,
                    "orders_12m": draw(WHOLE),
                    "overdue_days": draw(WHOLE),
                    "bad_debt": draw(st.none() | st.booleans()),
                    "litigation": draw(st.none() | st.booleans()),
                },
                "deal": {"first_contact_at": draw(DATES), "lost_at": draw(DATES)},
            }
        )
    return out


def _frame(recs: list[dict[str, Any]]) -> pl.DataFrame:
    columns: dict[str, pl.Series] = {"id": pl.Series([r["id"] for r in recs], dtype=pl.String())}
    for path in FIELDS.values():
        head, _, leaf = path.partition(".")
        values = [r[head][leaf] if leaf else r[head] for r in recs]
        if path == "identity":
            columns[path] = pl.Series(values, dtype=pl.List(pl.String()))
        elif path in ("birthday", "deal.first_contact_at", "deal.lost_at"):
            columns[path] = pl.Series(values, dtype=pl.Date())
        elif path in ("name", "segment"):
            columns[path] = pl.Series(values, dtype=pl.String())
        elif path in ("value.orders_12m", "value.overdue_days"):
            columns[path] = pl.Series(values, dtype=pl.Int64())
        elif path in ("value.bad_debt", "value.litigation"):
            columns[path] = pl.Series(values, dtype=pl.Boolean())
        else:
            columns[path] = pl.Series(values, dtype=pl.Float64())
    return pl.DataFrame(columns)


@cache
def _engines(key: str, exprs: tuple[str, ...]) -> tuple[cr.Engine, cr.Engine | None]:
    derive = {f"e{i}": _expand(e) for i, e in enumerate(exprs)}
    p = policy(derive=derive, scores=list(derive), pid="t")
    return engine(p), (engine(p, backend="durable") if HAS_DURABLE else None)


def _same(a: Any, b: Any) -> bool:
    """Equal values: NaN equals NaN; a whole number may come back as the equal
    decimal (``min(0.5, 0)`` is 0 in python, 0.0 in polars: same comparisons)."""
    if a is None or b is None:
        return a is b
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return type(a) is type(b) and bool(a == b)


def _differential(key: str, exprs: list[str], recs: list[dict[str, Any]]) -> None:
    python, durable_engine = _engines(key, tuple(exprs))
    names = [f"e{i}" for i in range(len(exprs))]
    fn = FUNCTIONS.get(key)
    if fn is not None and fn.population:
        python.fit([cr.Customer.model_validate(r) for r in recs])
        if durable_engine is not None:
            durable_engine.fit([cr.Customer.model_validate(r) for r in recs])
    frame = python.classify_frame(_frame(recs), as_of=AS_OF, scores=True, rejected="raise")
    assert frame.height == len(recs)
    for row, rec in zip(frame.iter_rows(named=True), recs, strict=True):
        reference = python.decide("t", rec, as_of=AS_OF).evidence
        for name, expr in zip(names, exprs, strict=True):
            want = reference[name]
            got = row[f"t__score__{name}"]
            assert _same(want, got), (key, expr, rec["id"], want, got)
        if durable_engine is not None:
            other = durable_engine.decide("t", rec, as_of=AS_OF).evidence
            for name, expr in zip(names, exprs, strict=True):
                assert _same(reference[name], other[name]), (key, expr, rec["id"], reference[name], other[name])


DIFF = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("key", sorted(OPERATOR_CASES))
@DIFF
@given(recs=records())
def test_operator_backends_agree(key: str, recs: list[dict[str, Any]]) -> None:
    _differential(key, OPERATOR_CASES[key], recs)


@pytest.mark.parametrize("name", sorted(FUNCTION_CASES))
@DIFF
@given(recs=records())
def test_function_backends_agree(name: str, recs: list[dict[str, Any]]) -> None:
    _differential(name, FUNCTION_CASES[name], recs)


# -- the cases that used to disagree --------------------------------------------------------


def _load_error(when: str, **kw: Any) -> cr.PolicyError:
    with pytest.raises(cr.PolicyError) as info:
        engine(policy([{"id": "r", "when": when, "then": "yes"}], **kw))
    return info.value


def test_an_integer_beyond_int64_meeting_a_record_value_is_refused_at_load() -> None:
    err = _load_error("value.orders_12m < 99999999999999999999")
    assert err.line == 1 and err.column == 20 and err.rule == "r"
    assert "64-bit" in err.message
    _load_error("value.orders_12m in [1, 9223372036854775808]")


def test_an_integer_beyond_int64_that_folds_away_is_fine() -> None:
    # folded at load: the backends only ever see the (representable) result
    assert value("9" * 400 + " / 2") is None
    assert value("-9223372036854775808") == -(2**63)
    p = policy([{"id": "r", "when": "value.revenue_12m < 99999999999999999999 / 2", "then": "yes"}])
    e = engine(p)
    recs = [record(value={"revenue_12m": 1e19}), {"id": "c2", "value": {"revenue_12m": 1e20}}]
    python = [e.decide("t", r, as_of=AS_OF).label for r in recs]
    frame = e.classify_frame(
        pl.DataFrame({"id": ["c1", "c2"], "value.revenue_12m": [1e19, 1e20]}), as_of=AS_OF
    )["t"].to_list()
    assert python == frame == ["yes", None]


def test_nan_and_inf_parameters_are_refused_at_load() -> None:
    for bad in (float("nan"), float("inf"), -float("inf")):
        with pytest.raises(cr.PolicyError) as info:
            engine(policy([{"id": "r", "when": "value.revenue_12m > params.x", "then": "yes"}], params={"x": bad}))
        assert info.value.field == "params.x"
    with pytest.raises(cr.PolicyError):
        engine(policy([{"id": "r", "when": "value.orders_12m > params.x", "then": "yes"}], params={"x": 2**63}))


def test_a_decimal_that_overflows_is_refused_by_the_parser() -> None:
    err = _load_error("value.revenue_12m > 1e999")
    assert err.column == 21


def test_nan_from_arithmetic_gives_the_same_label_everywhere() -> None:
    # inf - inf is NaN: every comparison false, != true, not missing (IEEE, as in Python)
    nan = "(value.revenue_12m * 1e200 * 1e200 - value.revenue_12m * 1e200 * 1e200)"
    p = policy(
        [{"id": "a", "when": f"{nan} > 0 or {nan} <= 0", "then": "yes"}, {"id": "b", "when": f"{nan} != 0", "then": "no"}]
    )
    e = engine(p)
    python = e.decide("t", record(value={"revenue_12m": 1.0}), as_of=AS_OF).label
    frame = e.classify_frame(pl.DataFrame({"id": ["c1"], "value.revenue_12m": [1.0]}), as_of=AS_OF)["t"][0]
    assert python == frame == "no"


def test_an_inexact_whole_number_compared_with_a_fraction_is_refused_at_load() -> None:
    err = _load_error("value.revenue_12m == 9007199254740993")
    assert err.column == 22 and "exactly" in err.message
    _load_error("value.revenue_12m between 0 and 9007199254740993")
    _load_error("value.revenue_12m in [9007199254740993]")
    # exact in a double, or compared with a whole number: fine
    engine(policy([{"id": "r", "when": "value.revenue_12m == 9007199254740992", "then": "yes"}]))
    engine(policy([{"id": "r", "when": "value.orders_12m == 9007199254740993", "then": "yes"}]))


def test_a_float_field_at_2_53_gets_one_label_everywhere() -> None:
    p = policy([{"id": "r", "when": "value.revenue_12m < 9007199254740994", "then": "yes"}], default="no")
    e = engine(p)
    python = e.decide("t", record(value={"revenue_12m": 2.0**53}), as_of=AS_OF).label
    frame = e.classify_frame(pl.DataFrame({"id": ["c1"], "value.revenue_12m": [2.0**53]}), as_of=AS_OF)["t"][0]
    assert python == frame == "yes"


@pytest.mark.parametrize("digits", ["１２", "١٢", "۱۲", "१२", "٣"])
def test_only_ascii_digits_are_numbers(digits: str) -> None:
    with pytest.raises(cr.PolicyError) as info:
        parse(f"value.orders_12m > {digits}")
    assert info.value.column == 20 and "ASCII" in (info.value.hint or "")
    with pytest.raises(cr.PolicyError):
        parse(f"2026-01-0{digits[0]}")


def test_whole_number_overflow_is_missing_everywhere() -> None:
    p = policy(derive={"v": "value.orders_12m * value.orders_12m"}, scores=["v"])
    e = engine(p)
    assert e.decide("t", record(value={"orders_12m": 2**40}), as_of=AS_OF).evidence["v"] is None
    frame = e.classify_frame(pl.DataFrame({"id": ["c1"], "value.orders_12m": [2**40]}), as_of=AS_OF, scores=True)
    assert frame["t__score__v"][0] is None
