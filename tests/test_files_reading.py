"""Reading JSON Lines (and CSV list cells) for the command line, column by
column (issue 14: 100,000 JSON Lines customers took 52.8 s and 5 GB).

The column-wise reading is held equal to the cell-by-cell one it replaced,
which stays in ``io/files.py`` for the cells it cannot take at once: the same
record table, the same rejected rows with the same reasons. The input frame
kept for the output types every column over all its values.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from customer_rules.io.files import (
    BadRow,
    _Disagree,
    _kinds,
    _record_columns,
    _text,
    _texts_at_once,
    _typed_column,
    _typed_frame,
    read_table,
)

KINDS = _kinds()

# -- cells as JSON gives them: plain values, odd ones, and a few that cannot be read --------------

_FLOATS = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([1e-05, 2.5e-07, 1e16, -0.0, 0.1])
_PLAIN = st.one_of(
    st.none(),
    st.text(max_size=4),
    st.sampled_from(["2026-01-02", "true", "12", "中文", ""]),
    st.integers(-(2**70), 2**70),
    st.booleans(),
    _FLOATS,
)
_ODD = st.one_of(st.dictionaries(st.sampled_from(["a", "b"]), st.integers(), max_size=2), st.lists(st.integers(), max_size=2))


def _column(values: st.SearchStrategy[Any]) -> st.SearchStrategy[list[Any]]:
    """A column of one kind of value, sometimes with a stray one of another."""
    return st.lists(values, min_size=1, max_size=12) | st.lists(st.one_of(values, _PLAIN, _ODD), min_size=1, max_size=12)


_SCALARS = _column(st.one_of(st.integers(-5, 5), st.sampled_from(["a", "b"]), st.booleans(), _FLOATS))
_LISTS = _column(
    st.one_of(
        st.lists(st.sampled_from(["media", "lawyer", "中文"]), max_size=3),
        st.lists(st.integers(0, 3), max_size=2),
        st.lists(st.one_of(st.none(), st.text(max_size=2)), max_size=2),
        st.sampled_from(["media;lawyer", '["a", "b"]', "[oops", ""]),
        st.none(),
    )
)
_CASE = st.fixed_dictionaries(
    {"id": st.sampled_from(["k1", "k2"])},
    optional={
        "opened_at": st.none() | st.sampled_from(["2026-01-01", "soon"]),
        "damage_amount": st.integers(0, 9) | st.floats(0, 10) | st.sampled_from(["12.5"]),
        "repair_visits": st.lists(st.sampled_from(["2026-01-02", "x"]), max_size=2) | st.sampled_from(["a;b"]),
        "legal_threat": st.booleans() | st.none(),
        "not_a_field": st.just(1),
        "severity": st.sampled_from(["low", "high"]) | st.dictionaries(st.just("x"), st.just(1), max_size=1),
    },
)
_CASES = _column(
    st.one_of(
        st.lists(_CASE, max_size=3),
        st.lists(_CASE, max_size=2).map(json.dumps),
        st.sampled_from(["", "  ", "[oops", '{"id": "k1"}', "[1]"]),
        st.lists(st.just(5), max_size=1),
        st.none(),
    )
)


def _read_both(cells: dict[str, list[Any]]) -> tuple[pl.DataFrame, list[BadRow], pl.DataFrame, list[BadRow]]:
    n = len(next(iter(cells.values())))
    positions = list(range(10, 10 + n))
    ids = [f"C{i}" for i in range(n)]
    lines = {p: p + 2 for p in positions}
    bad_fast: list[BadRow] = []
    bad_slow: list[BadRow] = []
    fast = _record_columns(cells, positions, ids, bad_fast, lines, KINDS)
    slow = _record_columns(cells, positions, ids, bad_slow, lines, KINDS, at_once=False)
    return fast, bad_fast, slow, bad_slow


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_reading_columns_at_once_gives_what_reading_cell_by_cell_gives(data: st.DataObject) -> None:
    """Same record table (values and types), same rejected rows and reasons."""
    n = data.draw(st.integers(1, 8))
    cells = {
        "value.revenue_12m": data.draw(_SCALARS.map(lambda c: (c * n)[:n])),
        "id": [f"C{i}" for i in range(n)],
        "identity": data.draw(_LISTS.map(lambda c: (c * n)[:n])),
        "cases": data.draw(_CASES.map(lambda c: (c * n)[:n])),
    }
    fast, bad_fast, slow, bad_slow = _read_both(cells)
    assert fast.schema == slow.schema
    assert fast.equals(slow)
    assert bad_fast == bad_slow


@given(st.lists(st.one_of(st.none(), _FLOATS), max_size=20))
def test_fractions_as_text_at_once_are_the_text_python_writes(values: list[float | None]) -> None:
    column = _texts_at_once("x", values)
    assert column is not None
    assert column.to_list() == [_text(v, "x") for v in values]


def test_a_bad_cell_rejects_its_row_with_the_first_reason_and_keeps_the_rest() -> None:
    cells = {
        "id": ["C0", "C1", "C2"],
        "name": ["a", {"x": 1}, "c"],
        "identity": [["media"], ["lawyer"], [None]],
        "cases": [[{"id": "k1"}], [{"id": "k2", "oops": 1}], []],
    }
    fast, bad, _, _ = _read_both(cells)
    assert fast.get_column("id").to_list() == ["C0"]
    assert [(b.row, b.line, b.id) for b in bad] == [(11, 13, "C1"), (12, 14, "C2")]
    assert bad[0].reason == "customer 'C1' (row 11): cannot read the row: name: expected a single value, got dict"
    assert bad[1].reason.endswith("identity.0: Input should not be missing")


# -- the input frame kept for the output ----------------------------------------------------------

_ITEM_VALUE = st.one_of(st.none(), st.integers(-3, 3), st.text(max_size=3), st.booleans(), st.floats(0, 1))


@st.composite
def _uniform_objects(draw: st.DrawFn) -> list[Any]:
    """Objects with the same keys, in the same order, each key of one type."""
    keys = draw(st.lists(st.sampled_from(["at", "kind", "points", "tags"]), min_size=1, max_size=4, unique=True))
    kinds = {k: draw(st.sampled_from(["int", "text", "bool", "tags"])) for k in keys}
    value = {
        "int": st.none() | st.integers(-3, 3),
        "text": st.none() | st.text(max_size=3),
        "bool": st.none() | st.booleans(),
        "tags": st.lists(st.text(max_size=2), max_size=2),
    }
    item = st.fixed_dictionaries({k: value[kinds[k]] for k in keys})
    return draw(st.lists(st.none() | st.lists(item, max_size=3), max_size=8) | st.lists(st.none() | item, max_size=8))


@settings(max_examples=150, deadline=None)
@given(_uniform_objects())
def test_objects_are_typed_without_losing_a_value(values: list[Any]) -> None:
    """Every value comes back; where polars types the same values faithfully
    itself, the type is the one polars gives (it reads only the first values:
    a field null there loses its later values)."""
    faithful: pl.Series | None
    try:
        faithful = pl.Series("c", values, strict=True)
    except (TypeError, ValueError, OverflowError, pl.exceptions.PolarsError):
        faithful = None
    if faithful is not None and faithful.to_list() != values:
        faithful = None
    try:
        column = _typed_column("c", values)
    except _Disagree:
        assert faithful is None
        return
    assert column.to_list() == values
    if faithful is not None:
        assert column.dtype == faithful.dtype


def test_a_key_that_first_appears_late_is_kept() -> None:
    """Polars types structs from the first values only: ``resolved_at`` on the
    150th row was dropped from the output before."""
    values = [[{"at": "2026-01-01", "points": 2.0}] for _ in range(150)]
    values.append([{"at": "2026-01-01", "points": 2.0, "resolved_at": "2026-02-01"}])
    column = _typed_column("compliance.deductions", values)
    assert column[-1].to_list() == [{"at": "2026-01-01", "points": 2.0, "resolved_at": "2026-02-01"}]
    assert column[0].to_list() == [{"at": "2026-01-01", "points": 2.0, "resolved_at": None}]


def test_values_of_several_types_are_kept_as_json_text() -> None:
    frame = _typed_frame({"n": [1, "two", None], "tags": [["a"], [1.5, "b"], None], "ok": [1, 2, None]}, [0, 1, 2])
    assert frame.get_column("n").to_list() == ["1", "two", None]
    assert frame.get_column("tags").to_list() == ['["a"]', '[1.5, "b"]', None]
    assert frame.get_column("ok").dtype == pl.Int64()


def test_a_jsonl_file_with_a_late_key_keeps_it_in_the_output_and_its_objects(tmp_path: Path) -> None:
    from customer_rules.cli.main import main

    rows: list[dict[str, Any]] = [
        {"id": f"C{i}", "compliance": {"deductions": [{"at": "2026-01-01", "points": 2.0, "reason": "late"}]}}
        for i in range(150)
    ]
    late = {"at": "2026-01-01", "points": 1.0, "reason": "late", "resolved_at": "2026-02-01"}
    rows.append({"id": "C150", "compliance": {"deductions": [late]}})
    rows.append({"id": "C151", "note": float("nan"), "big": 2**70})
    source = tmp_path / "crm.jsonl"
    source.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    table = read_table(source)
    assert table.texts is not None and json.loads(table.texts[151])["big"] == 2**70
    for out in ("out.parquet", "out.jsonl"):
        args = ["classify", str(source), "--as-of", "2026-11-22", "--schemes", "lead_grade", "--out", str(tmp_path / out)]
        assert main(args) == 0
    parquet = pl.read_parquet(tmp_path / "out.parquet")
    assert parquet.get_column("compliance.deductions")[150].to_list()[0]["resolved_at"] == "2026-02-01"
    lines = (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()
    last = json.loads(lines[-1].replace("NaN", "null"))
    assert last["big"] == 2**70 and "lead_grade" in last
    assert math.isnan(json.loads(lines[-1])["note"])


# -- CSV: rows read by the csv module, made columns at the end ----------------------------------

_CELL = st.text(alphabet=st.sampled_from(["a", "中", ",", '"', "\n", " ", "1"]), max_size=4)


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.tuples(_CELL, _CELL), max_size=8), ragged=st.sets(st.integers(0, 8), max_size=2))
def test_csv_cells_come_back_as_written_and_a_row_of_the_wrong_width_is_reported(
    rows: list[tuple[str, str]], ragged: set[int], tmp_path_factory: pytest.TempPathFactory
) -> None:
    import csv

    path = tmp_path_factory.mktemp("csv") / "c.csv"
    written: list[tuple[str, str]] = []
    refused: list[str] = []
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["id", "name"])
        for i, (rid, name) in enumerate(rows):
            if i in ragged:
                out.writerow([f"R{i}", name, "extra"])
                refused.append(f"R{i}")
            elif rid.strip() or name.strip():  # a line of blanks is skipped as blank
                out.writerow([rid, name])
                written.append((rid, name))
    table = read_table(path)
    assert table.data.select("id", "name").rows() == [(r or None, n or None) for r, n in written]
    assert [b.id for b in table.bad] == refused
    lines = path.read_text(encoding="utf-8").splitlines()
    for b in table.bad:
        assert b.line is not None and lines[b.line - 1].startswith(b.id)
