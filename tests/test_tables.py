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
from polars.testing import assert_frame_equal
from pydantic import ValidationError

from customer_rules.model import tables as tables_module
from customer_rules.model.records import Customer
from customer_rules.model.tables import (
    ROW,
    _top_level_checks,
    customer_spec,
    frame_from_records,
    map_columns,
    prepare,
)

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
    _, checks, screens, _ = _top_level_checks(spec, frame.schema, sources)
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
    _, checks, _, _ = _top_level_checks(spec, frame.schema, sources)
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


# -- text dates inside nested record lists (issue 14: no per-item cliff) ---------------------
#
# A table read from JSON or CSV holds the dates of nested items (cases,
# interactions, deductions) as text. ``prepare`` reads them column-wise over
# every item at once; it must accept and refuse exactly what the record
# model does, item by item, with pydantic's messages.

TEXT_DAY = st.one_of(
    st.dates(dt.date(2025, 12, 28), dt.date(2026, 1, 4)).map(dt.date.isoformat),
    st.sampled_from(
        [
            "2026-02-30",
            "2026-1-2",
            "02/01/2026",
            "abc",
            "",
            " 2026-01-02",
            "2026-01-02T00:00:00",
            "2026-01-02T05:00:00",
            "20260102",
            "0000-01-01",
            "1700000000",
        ]
    ),
)
MAYBE_DAY = st.one_of(st.none(), TEXT_DAY)
NESTED_SCHEMA = {
    "id": pl.String(),
    "cases": pl.List(
        pl.Struct(
            {
                "id": pl.String(),
                "opened_at": pl.String(),
                "closed_at": pl.String(),
                "repair_visits": pl.List(pl.String()),
            }
        )
    ),
    "interactions": pl.List(pl.Struct({"at": pl.String(), "kind": pl.String()})),
    "compliance.deductions": pl.List(
        pl.Struct(
            {"at": pl.String(), "points": pl.Int64(), "reason": pl.String(), "resolved_at": pl.String()}
        )
    ),
}


@st.composite
def nested_text_date_rows(draw: st.DrawFn) -> list[dict[str, object]]:
    """Rows of a table as JSON gives them: nested items with text dates,
    mostly valid (so some rows pass), some not (so some rows are refused)."""
    rows: list[dict[str, object]] = []
    for i in range(draw(st.integers(1, 6))):
        cases = [
            {
                "id": draw(st.sampled_from([f"k{j}", f"k{j}", "dup"])),
                "opened_at": draw(MAYBE_DAY if j else TEXT_DAY),
                "closed_at": draw(MAYBE_DAY),
                "repair_visits": draw(st.none() | st.lists(TEXT_DAY, max_size=2)),
            }
            for j in range(draw(st.integers(0, 3)))
        ]
        interactions = [
            {"at": draw(MAYBE_DAY), "kind": draw(st.none() | st.sampled_from(["call", "visit", "fax"]))}
            for _ in range(draw(st.integers(0, 3)))
        ]
        deductions = [
            {
                "at": draw(TEXT_DAY),
                "points": draw(st.integers(-1, 3)),
                "reason": "late",
                "resolved_at": draw(MAYBE_DAY),
            }
            for _ in range(draw(st.integers(0, 2)))
        ]
        rows.append(
            {"id": f"c{i}", "cases": cases, "interactions": interactions, "compliance.deductions": deductions}
        )
    return rows


def _as_record(row: dict[str, object]) -> dict[str, object]:
    """A table row as the record dict JSON gives (null struct fields left out)."""

    def items(key: str) -> list[dict[str, object]]:
        listed = row[key]
        assert isinstance(listed, list)
        return [{k: v for k, v in item.items() if v is not None} for item in listed]

    return {
        "id": row["id"],
        "cases": items("cases"),
        "interactions": items("interactions"),
        "compliance": {"deductions": items("compliance.deductions")},
    }


@settings(max_examples=40, deadline=None)
@given(nested_text_date_rows())
def test_text_dates_in_nested_lists_are_judged_as_the_record_model_judges_them(
    rows: list[dict[str, object]],
) -> None:
    table = pl.DataFrame(rows, schema=NESTED_SCHEMA)
    prepared = prepare(table, warn=False)
    accepted: list[Customer] = []
    refused: dict[int, list[str]] = {}
    for i, row in enumerate(rows):
        try:
            accepted.append(Customer.model_validate(_as_record(row)))
        except ValidationError as exc:
            # a rule of the record itself has no location in pydantic's error: "(record)" in the table's
            refused[i] = sorted(f"{'.'.join(map(str, e['loc'])) or '(record)'}: {e['msg']}" for e in exc.errors())
    rejected = prepared.rejected
    assert rejected.get_column("row").to_list() == list(refused)
    for details, model_says in zip(rejected.get_column("details").to_list(), refused.values(), strict=True):
        # the same messages; but pydantic runs a declared cross-field rule
        # (``Value error``) only when the fields it reads were valid, the table
        # checks every rule: a rule message more only beside a message about a
        # field (a nested record's own rule counts: pydantic then skips the
        # rules of the records around it, as a duplicate case id beside a
        # deduction resolved before it was made, found by hypothesis on 3.13)
        extra = set(details) - set(model_says)
        assert all(": Value error, " in m for m in extra), extra
        assert not extra or any(not m.startswith("(record): ") for m in model_says), extra
        assert len(details) == len(set(details))
        # a list of dates is judged as one value: the first bad item's message
        for missed in set(model_says) - set(details):
            where, _, _ = missed.partition(": ")
            parent, _, item = where.rpartition(".")
            assert item.isdigit() and any(d.startswith(parent + ".") for d in details), missed
    # the valid rows: the table the records give, read one by one
    expected = frame_from_records(accepted)
    valid = prepared.valid.drop(ROW)
    assert_frame_equal(valid, expected.select(valid.columns))


@settings(max_examples=40, deadline=None)
@given(nested_text_date_rows(), st.integers(1, 4))
def test_items_checked_over_a_contiguous_copy_as_over_their_chunks(
    rows: list[dict[str, object]], parts: int
) -> None:
    """issue 14: a nested list column in many small chunks has its items
    checked over a contiguous copy (``_contiguous_for_checks``); the valid
    table and the rejected rows, with their messages, are those its chunks give."""
    table = pl.DataFrame(rows, schema=NESTED_SCHEMA)
    size = -(-table.height // parts)
    chunked = pl.concat([table.slice(i, size) for i in range(0, table.height, size)], rechunk=False)
    results = []
    for per_check in (0, 10**9):  # never copied; always copied (when in chunks)
        with mock.patch.object(tables_module, "ITEMS_PER_CHUNK_CHECK", per_check):
            results.append(prepare(chunked, warn=False))
    assert_frame_equal(results[0].valid, results[1].valid)
    assert_frame_equal(results[0].rejected, results[1].rejected)
    assert_frame_equal(results[0].rejected, prepare(table, warn=False).rejected)
    sources, _ = map_columns(chunked.schema, customer_spec(), warn=False)
    in_chunks = chunked.get_column("cases").n_chunks() > 1
    with mock.patch.object(tables_module, "ITEMS_PER_CHUNK_CHECK", 10**9):  # the copy is made only for chunks
        assert tables_module._contiguous_for_checks(chunked, sources["cases"], 1) == in_chunks
    with mock.patch.object(tables_module, "ITEMS_PER_CHUNK_CHECK", 0):
        assert not tables_module._contiguous_for_checks(chunked, sources["cases"], 1)


# -- text columns read whole (issue 14: a table from pl.read_csv) ------------------------------
#
# ``prepare`` first reads, in one pass, the table's own columns of another
# type than their field's (text dates, whole floats for an integer, ...) that
# polars reads exactly on every row (``_read_exactly``), and checks them as if
# they had been given typed. A column with any value polars does not read is
# judged as given. Either way the result must be the one judging as given
# gives: the same valid table, the same rejected rows and messages.

WHOLE_FLOATS = st.one_of(st.none(), st.sampled_from([0.0, 1.0, 3.0, -1.0]), st.sampled_from([2.5, math.nan]))


@st.composite
def text_tables(draw: st.DrawFn) -> pl.DataFrame:
    n = draw(st.integers(min_value=1, max_value=8))
    clean = draw(st.booleans())  # clean: every text date one polars reads exactly

    def column(strategy: st.SearchStrategy[object]) -> list[object]:
        return draw(st.lists(strategy, min_size=n, max_size=n))

    day = st.one_of(st.none(), st.dates(dt.date(2025, 12, 28), dt.date(2026, 1, 4)).map(dt.date.isoformat))
    frame = pl.DataFrame(
        {
            "id": pl.Series([f"c{i}" for i in range(n)], dtype=pl.String()),
            "birthday": pl.Series(column(day if clean else MAYBE_DAY), dtype=pl.String()),
            "deal.first_contact_at": pl.Series(column(day), dtype=pl.String()),
            "deal.last_contact_at": pl.Series(column(day if clean else MAYBE_DAY), dtype=pl.String()),
            "value.orders_12m": pl.Series(column(ORDERS_TEXT), dtype=pl.String()),
            "value.credit_rating": pl.Series(column(WHOLE_FLOATS), dtype=pl.Float64()),
            "value.loyalty": pl.Series(column(st.none() | st.sampled_from([0.0, 2.0])), dtype=pl.Float32()),
        }
    )
    if draw(st.booleans()):  # the deal as one struct column, as JSON gives it (null: no deal)
        deal = pl.struct(pl.col("^deal\\..*$").name.map(lambda c: c.removeprefix("deal.")))
        missing = pl.Series(column(st.booleans()))
        frame = frame.with_columns(deal=pl.when(missing).then(None).otherwise(deal)).drop("^deal\\..*$")
    return frame


@settings(max_examples=60, deadline=None)
@given(text_tables())
def test_text_columns_read_whole_give_what_judging_them_as_given_gives(frame: pl.DataFrame) -> None:
    read = prepare(frame, warn=False)
    with mock.patch.object(tables_module, "_read_exactly", lambda data, fields: {}):
        as_given = prepare(frame, warn=False)
    assert_frame_equal(read.valid, as_given.valid)
    assert_frame_equal(read.rejected, as_given.rejected)


def test_a_table_read_from_csv_has_its_dates_read_whole_and_classifies_as_typed(tmp_path) -> None:
    import customer_rules as cr

    typed = frame_from_records(cr.sample_customers(60))
    flat = typed.select(c for c, d in typed.schema.items() if not isinstance(d, pl.List))
    flat.write_csv(tmp_path / "customers.csv")
    text = pl.read_csv(tmp_path / "customers.csv")  # as a notebook reads it: dates as text
    dates = {c for c, d in flat.schema.items() if d == pl.Date()}
    assert dates and all(text.schema[c] == pl.String() for c in dates)
    spec = customer_spec()
    sources, _ = map_columns(text.schema, spec, warn=False)
    read = tables_module._read_exactly(text, {p: (s, spec.slots[p]) for p, s in sources.items()})
    assert dates <= set(read)
    assert_frame_equal(prepare(text, warn=False).valid, prepare(flat, warn=False).valid)
    engine = cr.Engine(load_entry_points=False).fit(cr.sample_customers(200), as_of=cr.SAMPLE_AS_OF)
    labels = list(engine.schemes)
    got = engine.classify_frame(text, as_of=cr.SAMPLE_AS_OF, backend="frame").select("id", *labels)
    want = engine.classify_frame(flat, as_of=cr.SAMPLE_AS_OF, backend="frame").select("id", *labels)
    assert_frame_equal(got, want)


@settings(max_examples=40, deadline=None)
@given(nested_text_date_rows(), st.booleans())
def test_text_item_fields_read_whole_give_what_judging_them_as_given_gives(
    rows: list[dict[str, object]], every_day_clean: bool
) -> None:
    """The nested lists' item fields polars reads on every item (``_items_read``)
    are read up front; the result is the one checking them as given gives."""
    if every_day_clean:  # so that some fields are read: keep only the items' valid dates
        rows = [
            {
                k: [{f: (v if not isinstance(v, str) or _valid_day(v) else None) for f, v in i.items()} for i in v]
                if isinstance(v, list)
                else v
                for k, v in row.items()
            }
            for row in rows
        ]
    table = pl.DataFrame(rows, schema=NESTED_SCHEMA)
    read = prepare(table, warn=False)
    with mock.patch.object(tables_module, "_items_read", lambda data, src, item: None):
        as_given = prepare(table, warn=False)
    assert_frame_equal(read.valid, as_given.valid)
    assert_frame_equal(read.rejected, as_given.rejected)


def _valid_day(text: str) -> bool:
    try:
        return dt.date.fromisoformat(text).isoformat() == text and text[:4] != "0000"
    except ValueError:
        return not text[:1].isdigit()  # (ids, kinds, reasons: other text)
