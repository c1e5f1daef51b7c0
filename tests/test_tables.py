"""Column-wise validation (customer_rules.model.tables): the check screens.

``prepare`` builds the bad-row mask only from the checks whose screen (an
aggregate over the whole column) fired; a check whose screen did not fire
must be false on every row, or a bad row would be let through. The screens
here are exact: each is true exactly when its check is true on some row.
"""

from __future__ import annotations

import datetime as dt
import math
from unittest import mock

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from customer_rules.model import tables as tables_module
from customer_rules.model.tables import _top_level_checks, customer_spec, map_columns, prepare

FLOATS = st.one_of(
    st.none(),
    st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 0.0, 1.0, 100.0, 100.5, -1e-9]),
    st.floats(min_value=-5, max_value=200, allow_nan=False),
)
INTS = st.one_of(st.none(), st.integers(min_value=-3, max_value=6))
DATES = st.one_of(st.none(), st.dates(min_value=dt.date(2020, 1, 1), max_value=dt.date(2020, 1, 10)))
KINDS = st.one_of(st.none(), st.sampled_from(["person", "company", "retailer", "terminal", "robot", ""]))
IDENTITY = st.one_of(
    st.none(), st.lists(st.one_of(st.none(), st.sampled_from(["media", "fleet", "nobody"])), max_size=3)
)
IDS = st.one_of(st.none(), st.sampled_from(["", "a", "b"]))
ORDERS_TEXT = st.one_of(st.none(), st.sampled_from(["1", "-2", "3.0", "x", "1e3", ""]))


@st.composite
def tables(draw: st.DrawFn) -> pl.DataFrame:
    n = draw(st.integers(min_value=0, max_value=8))

    def column(strategy: st.SearchStrategy[object]) -> list[object]:
        return draw(st.lists(strategy, min_size=n, max_size=n))

    return pl.DataFrame(
        {
            "id": pl.Series(column(IDS), dtype=pl.String()),
            "kind": pl.Series(column(KINDS), dtype=pl.String()),
            "identity": pl.Series(column(IDENTITY), dtype=pl.List(pl.String())),
            "value.share_of_wallet": pl.Series(column(FLOATS), dtype=pl.Float64()),
            "value.revenue_12m": pl.Series(column(FLOATS), dtype=pl.Float32()),
            "compliance.score": pl.Series(column(FLOATS), dtype=pl.Float64()),
            "value.credit_rating": pl.Series(column(INTS), dtype=pl.Int64()),
            "value.loyalty": pl.Series(column(INTS), dtype=pl.Int8()),
            "value.orders_12m": pl.Series(column(ORDERS_TEXT), dtype=pl.String()),
            "value.growth_rate": pl.Series(column(FLOATS), dtype=pl.Float64()),
            "deal.first_contact_at": pl.Series(column(DATES), dtype=pl.Date()),
            "deal.last_contact_at": pl.Series(column(DATES), dtype=pl.Date()),
        }
    )


@settings(max_examples=60, deadline=None)
@given(tables())
def test_each_screen_fires_exactly_when_its_check_is_true_on_a_row(frame: pl.DataFrame) -> None:
    spec = customer_spec()
    sources, _ = map_columns(frame.schema, spec, warn=False)
    _, checks, screens = _top_level_checks(spec, frame.schema, sources)
    assert len(checks) == len(screens)
    fired = frame.select(s.alias(str(i)) for i, s in enumerate(screens)).row(0)
    if frame.height:
        found = frame.select(b.any().alias(str(i)) for i, (b, _) in enumerate(checks)).row(0)
    else:
        found = tuple(False for _ in checks)
    for (bad, _), hit, truth in zip(checks, fired, found, strict=True):
        assert bool(hit) == bool(truth) or (frame.height == 0 and bool(hit)), str(bad)


@settings(max_examples=40, deadline=None)
@given(tables())
def test_rejected_rows_equal_those_of_the_full_mask(frame: pl.DataFrame) -> None:
    """The rows ``prepare`` rejects are the rows some check (or item) fails,
    each with every message, as when the mask was built from every check."""
    spec = customer_spec()
    sources, _ = map_columns(frame.schema, spec, warn=False)
    _, checks, _ = _top_level_checks(spec, frame.schema, sources)
    with mock.patch.object(tables_module, "SCREEN_ROWS", 0):  # screened at every size
        prepared = prepare(frame, warn=False)
    assert prepared.rejected.equals(
        prepare(frame, warn=False).rejected
    )  # as a small table: every check's mask
    expected = frame.with_row_index("row").filter(pl.any_horizontal([b for b, _ in checks])).get_column("row")
    got = prepared.rejected.get_column("row")
    # a bad list item also rejects its row (identity's items are checked as checks too)
    assert got.cast(pl.Int64()).to_list() == expected.cast(pl.Int64()).to_list()
    assert prepared.valid.height + prepared.rejected.height == frame.height
