"""Records from a table, column-wise: the nested dicts the record model reads
are built column by column (``_row_dicts``), and must be exactly what nesting
each row of ``iter_rows`` gives; records come back unchanged across the
slices ``records_from_canonical`` works in."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import model_validator

import customer_rules as cr
from customer_rules.errors import RecordError
from customer_rules.lab.generate import _set as set_path
from customer_rules.model import tables
from customer_rules.model.tables import (
    _row_dicts,
    customer_spec,
    prepare,
    records_from_canonical,
)

SUB = pl.Struct({"q": pl.Int64()})
ITEM = pl.Struct({"k": pl.String(), "d": pl.List(pl.Date()), "sub": pl.List(SUB), "n": pl.Int64()})
SCHEMA = {
    "id": pl.String(),
    "a.x": pl.Int64(),
    "a.b.y": pl.Float64(),
    "a.b.z": pl.Date(),
    "c.w": pl.String(),
    "a.tags": pl.List(pl.String()),
    "items": pl.List(ITEM),
}


def nest(row: dict[str, Any]) -> dict[str, Any]:
    """The reference: one row of ``iter_rows(named=True)`` nested by its dotted
    keys, one cell at a time, its lists as the tuples a record holds."""
    out: dict[str, Any] = {}
    for path, value in row.items():
        set_path(out, path, tuples(value))
    return out


def tuples(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(tuples(v) for v in value)
    if isinstance(value, dict):
        return {k: tuples(v) for k, v in value.items()}
    return value


def maybe(s: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | s


dates = st.dates(dt.date(1990, 1, 1), dt.date(2030, 12, 31))
subs = maybe(st.fixed_dictionaries({"q": maybe(st.integers(-5, 5))}))
items = maybe(
    st.fixed_dictionaries(
        {
            "k": maybe(st.text(max_size=3)),
            "d": maybe(st.lists(maybe(dates), max_size=2)),
            "sub": maybe(st.lists(subs, max_size=2)),
            "n": maybe(st.integers(-(2**40), 2**40)),
        }
    )
)
rows = st.fixed_dictionaries(
    {
        "id": st.text(min_size=1, max_size=4),
        "a.x": maybe(st.integers(-(2**40), 2**40)),
        "a.b.y": maybe(st.floats(allow_nan=False)),
        "a.b.z": maybe(dates),
        "c.w": maybe(st.text(max_size=3)),
        "a.tags": maybe(st.lists(maybe(st.text(max_size=2)), max_size=3)),
        "items": maybe(st.lists(items, max_size=3)),
    }
)


@settings(max_examples=150, deadline=None)
@given(st.lists(rows, max_size=12))
def test_row_dicts_are_the_rows_nested(data: list[dict[str, Any]]) -> None:
    frame = pl.DataFrame(data, schema=SCHEMA)
    assert _row_dicts(frame) == [nest(r) for r in frame.iter_rows(named=True)]


def test_records_come_back_unchanged_across_slices(monkeypatch: pytest.MonkeyPatch) -> None:
    records = cr.sample_customers(40)
    table = cr.frame_from_records(records)
    monkeypatch.setattr(tables, "_ROWS_AT_ONCE", 7)  # six slices, the last one short
    assert cr.records_from_frame(table) == records
    split = cr.tables_from_records(records)
    customers = split.pop("customers")
    assert cr.records_from_frame(customers, tables=split) == records


class Picky(cr.Customer):
    """A record model with a validator of its own, refusing ids ending in 3."""

    @model_validator(mode="after")
    def _no_threes(self) -> Picky:
        if self.id.endswith("3"):
            raise ValueError("ids ending in 3 are refused")
        return self


def test_a_refused_row_keeps_its_own_row_number_in_every_slice(monkeypatch: pytest.MonkeyPatch) -> None:
    dicts = [{"id": f"c{i}"} for i in range(25)]
    monkeypatch.setattr(tables, "_ROWS_AT_ONCE", 4)
    # prepare runs a model with validators of its own over every row (through records_from_canonical)
    assert prepare(pl.DataFrame(dicts), spec=customer_spec(Picky), warn=False).valid.height == 22
    every = prepare(pl.DataFrame(dicts), spec=customer_spec(cr.Customer), warn=False).valid
    out = records_from_canonical(every, Picky)
    refused = [(row, err.record_id) for row, err in out if isinstance(err, RecordError)]
    assert refused == [(3, "c3"), (13, "c13"), (23, "c23")]
    kept = [(row, rec.id) for row, rec in out if not isinstance(rec, RecordError)]
    assert kept == [(i, f"c{i}") for i in range(25) if i not in (3, 13, 23)]
