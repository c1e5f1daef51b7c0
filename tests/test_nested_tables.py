"""A nested record list given as a separate table (keyed by ``customer_id``)
is validated and read exactly as the same items given as a list-of-struct
column: the same rows rejected with the same messages, the same valid table."""

from __future__ import annotations

import warnings
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import customer_rules as cr
from customer_rules.model.tables import customer_spec, prepare

SPEC = customer_spec(cr.Customer)
ITEM = {
    "id": pl.String(),
    "opened_at": pl.String(),
    "closed_at": pl.String(),
    "damage_amount": pl.Float64(),
    "severity": pl.String(),
}

days = st.sampled_from(["2026-01-05", "2026-02-01", "2026-13-01", "yesterday", None])
cases = st.fixed_dictionaries(
    {
        "id": st.sampled_from(["k1", "k2", "k3", None]),
        "opened_at": days,
        "closed_at": days,
        "damage_amount": st.sampled_from([0.0, 12.5, -3.0, None]),
        "severity": st.sampled_from(["minor", "major", "weird", None]),
    }
)


def prepared(data: pl.DataFrame, tables: dict[str, pl.DataFrame] | None = None) -> tuple[list[Any], pl.DataFrame]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = prepare(data, tables, spec=SPEC, warn=False)
    return p.rejected.to_dicts(), p.valid.select("id", "cases")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(cases, max_size=3), min_size=1, max_size=6))
def test_a_separate_table_is_read_as_the_same_list_column(lists: list[list[dict[str, Any]]]) -> None:
    ids = [f"c{i}" for i in range(len(lists))]
    as_column = pl.DataFrame(
        {"id": ids, "cases": lists}, schema={"id": pl.String(), "cases": pl.List(pl.Struct(ITEM))}
    )
    table = pl.DataFrame(
        [{"customer_id": cid, **item} for cid, items in zip(ids, lists, strict=True) for item in items],
        schema={"customer_id": pl.String(), **ITEM},
    )
    rejected, valid = prepared(as_column)
    rejected_t, valid_t = prepared(as_column.drop("cases"), {"cases": table})
    assert rejected_t == rejected
    assert valid_t.equals(valid)


def test_items_go_to_every_row_of_their_id_and_unknown_ids_are_left_out() -> None:
    customers = pl.DataFrame({"id": ["a", "b", "a", "7"]})
    table = pl.DataFrame(
        {
            "customer_id": ["a", "zz", "a", "7"],
            "id": ["k1", "k9", "k2", "k7"],
            "opened_at": ["2026-01-01"] * 4,
            "not_a_field": [1, 2, 3, 4],
        }
    )
    rejected, valid = prepared(customers, {"cases": table})
    assert rejected == []
    ids = [[c["id"] for c in row] for row in valid.get_column("cases").to_list()]
    assert ids == [["k1", "k2"], [], ["k1", "k2"], ["k7"]]
    numbered = table.with_columns(pl.Series("customer_id", [1, 2, 1, 7]))  # keys read as text
    _, again = prepared(customers, {"cases": numbered})
    assert [len(row) for row in again.get_column("cases").to_list()] == [0, 0, 0, 1]


def test_a_table_without_its_key_or_given_twice_is_an_error() -> None:
    customers = pl.DataFrame({"id": ["a"]})
    with pytest.raises(ValueError, match="needs a 'customer_id' column"):
        prepared(customers, {"cases": pl.DataFrame({"id": ["k1"]})})
    with pytest.raises(ValueError, match="given twice"):
        prepared(customers.with_columns(pl.lit([], dtype=pl.List(pl.Struct(ITEM))).alias("cases")),
                 {"cases": pl.DataFrame({"customer_id": ["a"], "id": ["k1"]})})
