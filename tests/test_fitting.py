"""Fitting (customer_rules.engine.fitting): one module for records and tables;
the cut-offs are learned with polars, the same way for both."""

from __future__ import annotations

import math

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

import customer_rules as cr
from customer_rules.engine.fitting import cuts_from_records, cuts_from_table, learn, table_population
from customer_rules.lang.ast import Call, Literal, Name
from customer_rules.lang.population import round_half_up


def reference(name: str, amount: float, measures: list[float | None]) -> tuple[float | None, int, int]:
    """The cut-off written out by hand: the n-th highest known value."""
    known = sorted((v for v in measures if v is not None), reverse=True)
    size = round_half_up(amount / 100 * len(known)) if name == "top_pct" else int(amount)
    cutoff = known[min(size, len(known)) - 1] if size > 0 and known else None
    return cutoff, size, len(known)


measure_lists = st.lists(
    st.one_of(st.none(), st.integers(-(10**9), 10**9), st.floats(-1e12, 1e12, allow_nan=False)), max_size=40
)


@settings(max_examples=200, deadline=None)
@given(
    measures=measure_lists,
    name=st.sampled_from(["top", "top_pct"]),
    amount=st.integers(0, 120),
)
def test_learned_cut_offs_are_the_nth_highest_known_value(
    measures: list[float | None], name: str, amount: int
) -> None:
    call = Call(name, (Name(("value", "revenue_12m")), Literal(amount)))
    expected = reference(name, amount, measures)
    by_list = learn(call, measures, {})
    series = pl.Series([None if v is None else float(v) for v in measures], dtype=pl.Float64())
    by_series = learn(call, series, {})
    assert by_list == by_series
    assert (by_list.cutoff, by_list.size, by_list.count) == expected


@settings(max_examples=100, deadline=None)
@given(measures=measure_lists)
def test_percentiles_keep_the_known_values_in_order(measures: list[float | None]) -> None:
    cut = learn(Call("percentile", (Name(("value", "revenue_12m")),)), measures, {})
    known = sorted(float(v) for v in measures if v is not None)
    assert cut.values == tuple(known)
    if known:
        assert cut.percentile(known[-1]) == 1.0
        assert math.isclose(cut.percentile(known[0] - 1) or 0.0, 0.0)


def test_records_and_tables_give_the_same_cut_offs() -> None:
    engine = cr.Engine()
    customers = cr.sample_customers(120)
    frame, rejected = table_population(cr.frame_from_records(customers))
    assert rejected == []
    checked_any = False
    for sid in engine.population_schemes():
        checked = engine.checked(sid)
        by_table = cuts_from_table(checked, sid, frame, cr.SAMPLE_AS_OF)
        by_records = cuts_from_records(checked, customers, cr.SAMPLE_AS_OF)
        assert by_table is not None
        assert by_table == by_records
        checked_any = True
    assert checked_any
