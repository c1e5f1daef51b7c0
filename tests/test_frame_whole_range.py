"""Whole-number arithmetic in 64 bits where the frame compiler knows the
result stays there (``FrameCompiler._whole_range``): the same values as the
operator's exact 128-bit form it replaces, on generated tables, for a
made-up policy (bounded fields, an unbounded one, results at and beyond the
64-bit edge) and for the built-in schemes that add whole numbers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from rules_support import AS_OF, engine, policy

import customer_rules as cr
from customer_rules.backends.frame import FrameCompiler
from customer_rules.lang.parser import parse

EDGE = 3074457345618258602  # 3 * EDGE is 2**63 - 2: the largest multiple of 3 in 64 bits

DERIVE = {
    "d_sum": "behaviour.wants_data * 0 + behaviour.passive - behaviour.decides_fast",
    "d_mix": "coalesce(behaviour.wants_data, behaviour.passive * 2) * max(behaviour.spots_flaws, behaviour.decides_fast)",
    "d_nested": "d_sum * d_mix - 7",
    "d_if": "if(behaviour.passive > 1, behaviour.wants_data * 2, 0 - 1) + d_sum",
    "d_unbounded": "value.orders_12m * 3 + behaviour.passive",
    "d_edge": f"behaviour.wants_data * {EDGE}",
    "d_beyond": f"behaviour.wants_data * {EDGE + 1}",
}

SIGNALS = ["behaviour.wants_data", "behaviour.passive", "behaviour.decides_fast", "behaviour.spots_flaws"]


def _policy() -> cr.Policy:
    return policy(
        [
            {"id": "r1", "when": "d_nested >= 3 or d_if < 0", "then": "yes"},
            {"id": "r2", "when": "d_unbounded > 100 or d_edge > 1", "then": "no"},
        ],
        derive=DERIVE,
        scores=list(DERIVE),
        default="no",
    )


@contextmanager
def _no_ranges() -> Iterator[None]:
    """Every whole-number operation in its exact 128-bit form (the reference)."""
    with mock.patch.object(FrameCompiler, "_whole_range", lambda self, node: None):
        yield


def _run(eng: cr.Engine, table: pl.DataFrame, schemes: list[str] | None = None) -> pl.DataFrame:
    out = eng.classify_frame(table, as_of=AS_OF, schemes=schemes, reasons=True, scores=True, labels=True)
    assert isinstance(out, pl.DataFrame)
    return out


def test_ranges_are_read_from_field_bounds_and_stay_within_64_bits() -> None:
    checked = engine(_policy()).checked("t")
    comp = FrameCompiler(checked, scheme="t", as_of=AS_OF, features=mock.Mock())
    rng = {name: comp._whole_range(parse(text)) for name, text in DERIVE.items()}
    assert rng["d_sum"] == (-3, 3)
    assert rng["d_mix"] == (0, 18)
    assert rng["d_nested"] == (-61, 47)
    assert rng["d_if"] == (-4, 9)
    assert rng["d_unbounded"] is None  # orders_12m has no upper bound
    assert rng["d_edge"] == (0, 3 * EDGE)
    assert rng["d_beyond"] is None  # 3 * (EDGE + 1) is past 2**63 - 1


signal = st.one_of(st.none(), st.integers(0, 3))
rows_st = st.lists(
    st.fixed_dictionaries(
        {
            **dict.fromkeys(SIGNALS, signal),
            "value.orders_12m": st.one_of(st.none(), st.integers(0, 2**62)),
        }
    ),
    min_size=1,
    max_size=30,
)


def _table(rows: list[dict[str, Any]]) -> pl.DataFrame:
    schema = {"id": pl.String(), **{s: pl.Int64() for s in SIGNALS}, "value.orders_12m": pl.Int64()}
    return pl.DataFrame([{"id": f"c{i}", **r} for i, r in enumerate(rows)], schema=schema, orient="row")


FAST = engine(_policy())
with _no_ranges():
    EXACT = engine(_policy())
    _run(EXACT, _table([{}]))  # the plan is made (and cached) without ranges


@settings(max_examples=60, deadline=None)
@given(rows_st)
def test_bounded_arithmetic_gives_the_exact_form_s_values(rows: list[dict[str, Any]]) -> None:
    table = _table(rows)
    assert _run(FAST, table).equals(_run(EXACT, table))


def test_builtin_schemes_give_the_same_answers_without_ranges() -> None:
    table = cr.frame_from_records(cr.sample_customers(400))
    schemes = ["social_style", "nine_types", "rfm"]
    fast = cr.Engine(load_entry_points=False).fit(table, as_of=cr.SAMPLE_AS_OF)
    with _no_ranges():
        exact = cr.Engine(load_entry_points=False).fit(table, as_of=cr.SAMPLE_AS_OF)
        reference = _run(exact, table, schemes)
    assert _run(fast, table, schemes).equals(reference)
