"""``fit_frame``: population cut-offs learned from a table are the ones
``Engine.fit`` learns from the same customers as records (the command line
fits this way, so a 100 000-row file fits in about a second)."""

from __future__ import annotations

import datetime as dt
import types
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import customer_rules as cr
from customer_rules.engine.fitting import table_population


def fit_frame(engine: cr.Engine, data: Any, **options: Any) -> cr.Engine:
    """Fitting a table goes through ``Engine.fit`` (``customer_rules.engine.fitting``)."""
    return engine.fit(data, **options)

AS_OF = dt.date(2026, 11, 22)


def cuts(engine: cr.Engine) -> dict[str, Any]:
    return {sid: entry["cuts"] for sid, entry in engine.fitted_.items()}


def test_sample_customers_fit_the_same_from_a_table() -> None:
    customers = cr.sample_customers(300)
    by_records = cr.Engine().fit(customers, as_of=AS_OF)
    by_table = fit_frame(cr.Engine(), cr.frame_from_records(customers), as_of=AS_OF)
    assert set(by_table.fitted_) == set(by_records.population_schemes())
    assert cuts(by_table) == cuts(by_records)
    # and so every customer gets the same label from either engine
    for c in customers[:60]:
        for sid in by_records.population_schemes():
            assert by_table.decide(sid, c, as_of=AS_OF).label == by_records.decide(sid, c, as_of=AS_OF).label


def test_pandas_tables_and_separate_nested_tables() -> None:
    customers = cr.sample_customers(150)
    tables = cr.tables_from_records(customers, pandas=True)
    engine = fit_frame(
        cr.Engine(),
        tables["customers"],
        as_of=AS_OF,
        tables={k: v for k, v in tables.items() if k != "customers"},
    )
    assert cuts(engine) == cuts(cr.Engine().fit(customers, as_of=AS_OF))


def test_invalid_rows_are_left_out_and_listed() -> None:
    frame = pl.DataFrame(
        {"id": ["a", "b", "c", None], "value.profit_12m": ["10", "oops", "30", "40"]},
    )
    engine = fit_frame(cr.Engine(), frame, as_of=AS_OF, schemes=["value_pyramid"])
    assert [(r.row, r.record_id) for r in engine.fit_rejected_] == [(1, "b"), (3, None)]
    assert engine.fitted_["value_pyramid"]["population"] == 2
    expected = cr.Engine().fit(
        [{"id": "a", "value": {"profit_12m": 10}}, {"id": "c", "value": {"profit_12m": 30}}],
        as_of=AS_OF,
        schemes=["value_pyramid"],
    )
    assert cuts(engine) == cuts(expected)


def test_a_measure_without_a_frame_version_falls_back_to_records() -> None:
    @cr.feature(type="number", description="profit per order (no frame version)")
    def profit_per_order(customer: cr.Customer, as_of: dt.date) -> float | None:
        v = customer.value
        if v.profit_12m is None or not v.orders_12m:
            return None
        return v.profit_12m / v.orders_12m

    plugin = types.SimpleNamespace(register_features=cr.hookimpl(lambda: [profit_per_order]))
    policy = cr.load_policy(
        """
id: per_order
version: "1"
hit: first
labels:
  - {id: top, zh: 前列, en: Top}
  - {id: rest, zh: 其余, en: Rest}
rules:
  - {id: top, when: "top_pct(profit_per_order, 20)", then: top}
default: rest
""",
        format="yaml",
        engine=cr.Engine(plugins=[plugin], load_entry_points=False),
    )
    customers = cr.sample_customers(100)

    def engine() -> cr.Engine:
        return cr.Engine([policy], plugins=[plugin], load_entry_points=False)

    table = fit_frame(engine(), cr.frame_from_records(customers), as_of=AS_OF, schemes=["per_order"])
    records = engine().fit(customers, as_of=AS_OF, schemes=["per_order"])
    assert cuts(table) == cuts(records)


@settings(max_examples=40, deadline=None)
@given(
    profits=st.lists(
        st.one_of(st.none(), st.floats(-1e6, 1e6, allow_nan=False), st.integers(-1000, 1000)),
        min_size=0,
        max_size=40,
    )
)
def test_any_population_fits_alike(profits: list[float | None]) -> None:
    """Ties, missing values, negatives and tiny populations: the same cut-offs."""
    customers = [{"id": f"c{i}", "value": {"profit_12m": p}} for i, p in enumerate(profits)]
    frame = pl.DataFrame(
        {
            "id": [c["id"] for c in customers],
            "value.profit_12m": [None if p is None else float(p) for p in profits],
        },
        schema={"id": pl.String(), "value.profit_12m": pl.Float64()},
    )
    table = fit_frame(fresh_engine(), frame, as_of=AS_OF, schemes=["value_pyramid"])
    records = fresh_engine().fit(customers, as_of=AS_OF, schemes=["value_pyramid"])
    assert cuts(table) == cuts(records)


def fresh_engine() -> cr.Engine:
    return cr.Engine(load_entry_points=False)


def test_engine_fit_takes_a_table() -> None:
    customers = cr.sample_customers(200)
    table = cr.frame_from_records(customers)
    by_records = cr.Engine().fit(customers, as_of=AS_OF)
    assert cuts(cr.Engine().fit(table, as_of=AS_OF)) == cuts(by_records)
    assert cuts(cr.Engine().fit(table.to_pandas(), as_of=AS_OF)) == cuts(by_records)
    with pytest.raises(ValueError, match="fitting a table needs as_of"):
        cr.Engine().fit(table)


def test_fit_frame_returns_the_engine_and_needs_a_table() -> None:
    engine = cr.Engine()
    assert fit_frame(engine, pl.DataFrame({"id": ["a"]}), as_of=AS_OF) is engine
    with pytest.raises(TypeError, match="polars DataFrame"):
        table_population([{"id": "a"}])
