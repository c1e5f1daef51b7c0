"""Which rows are valid is derived from the pydantic record model, so a record
(``classify``), a table (``classify_frame``) and a file (the command line)
accept and reject exactly the same rows.

The rules that follow from the model, case by case:

* a whole number beyond 64 bits is refused everywhere (every ``int`` field is
  bounded within 64 bits: a table holds it as ``Int64``);
* what pydantic's lax mode reads, every path reads: ``"1_000"`` is 1000, an
  integer date is a Unix time that must fall on midnight UTC, a timestamp
  with an offset (``+08:00``) is a date when its time is midnight there;
* text is judged as text: a CSV cell is the string a JSON record would have.
"""

from __future__ import annotations

import datetime as dt
import string
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import record_namespace_plugin as firm_plugin
from hypothesis import given, settings
from hypothesis import strategies as st

import customer_rules as cr
from customer_rules.cli import main as cli
from customer_rules.model.tables import prepare

pytestmark = pytest.mark.usefixtures("frame_backend")  # the frame backend, also on small tables

AS_OF = dt.date(2026, 11, 22)
SCHEME = "bird_style"
ENGINE = cr.Engine(load_entry_points=False)


def _nest(path: str, value: Any) -> dict[str, Any]:
    head, _, rest = path.partition(".")
    return {head: _nest(rest, value) if rest else value}


def per_record(engine: cr.Engine, path: str, values: list[Any]) -> list[bool]:
    rows = [{"id": f"c{i}", **_nest(path, v)} for i, v in enumerate(values)]
    batch = engine.classify_many(rows, as_of=AS_OF, schemes=[SCHEME] if SCHEME in engine.schemes else None)
    rejected = {r.row for r in batch.rejected}
    return [i not in rejected for i in range(len(values))]


def per_table(engine: cr.Engine, path: str, column: pl.Series) -> list[bool]:
    table = pl.DataFrame({"id": [f"c{i}" for i in range(column.len())]}).with_columns(column.alias(path))
    wanted = [SCHEME] if SCHEME in engine.schemes else None
    result = engine.classify_frame_with_rejects(table, as_of=AS_OF, schemes=wanted)
    rejected = set(result.rejected["row"].to_list())
    return [i not in rejected for i in range(column.len())]


def per_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: cr.Engine, path: str, cells: list[str]) -> list[bool]:
    monkeypatch.setattr(cli, "build_engine", lambda policies=(): engine)
    source = tmp_path / "in.csv"
    lines = ["id," + path] + [f"c{i},{_csv(c)}" for i, c in enumerate(cells)]
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    bad = tmp_path / "bad.csv"
    args = ["classify", str(source), "--as-of", AS_OF.isoformat(), "--rejected", str(bad)]
    if SCHEME in engine.schemes:
        args += ["--schemes", SCHEME]
    assert cli.main(args) == 0
    rejected = set(pl.read_csv(bad, schema_overrides={"id": pl.String()})["id"].to_list()) if bad.exists() else set()
    return [f"c{i}" not in rejected for i in range(len(cells))]


def _csv(cell: str) -> str:
    return '"' + cell.replace('"', '""') + '"' if any(ch in cell for ch in ',"\n') else cell


# (field, value as a record / typed column has it, expected: valid?)
CASES: list[tuple[str, Any, bool]] = [
    ("deal.first_contact_at", 1_700_000_000, False),  # an int date: a Unix time, not midnight
    ("deal.first_contact_at", 1_728_000_000, True),  # an int date at midnight UTC: 2024-10-04
    ("deal.first_contact_at", "2026-01-01T00:00:00+08:00", True),  # midnight where it was taken
    ("deal.first_contact_at", "2026-01-01T08:00:00+08:00", False),
    ("deal.first_contact_at", "2026-02-30", False),
    ("deal.first_contact_at", "２０２６-01-01", False),  # digits are ASCII
    ("value.orders_12m", "1_000", True),
    ("value.revenue_12m", "1_000", True),
    ("value.orders_12m", 10**30, False),  # beyond 64 bits
    ("value.orders_12m", str(10**30), False),
    ("value.revenue_12m", 10**30, True),  # a float field holds it
    ("value.revenue_12m", str(10**30), True),
    ("value.orders_12m", "3.0", True),
    ("value.orders_12m", "3.5", False),
    ("value.orders_12m", "1e3", False),
    ("value.revenue_12m", "1e3", True),
    ("value.revenue_12m", " 12 ", True),
    ("value.revenue_12m", "１２", False),
    ("value.revenue_12m", "nan", False),
    ("value.revenue_12m", "-inf", False),
    ("value.revenue_12m", "-1", False),
    ("value.bad_debt", "yes", True),
    ("value.bad_debt", "2", False),
    ("kind", "Person", False),
    ("behaviour.speech_pace", "fast", True),
]


@pytest.mark.parametrize(("path", "value", "valid"), CASES, ids=[f"{p}={v!r}" for p, v, _ in CASES])
def test_a_record_a_table_and_a_file_accept_the_same_rows(
    path: str, value: Any, valid: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    typed = pl.Series(path, [value], dtype=pl.Int128() if isinstance(value, int) and abs(value) >= 2**63 else None)
    assert per_record(ENGINE, path, [value]) == [valid]
    assert per_table(ENGINE, path, typed) == [valid]
    # the same value as text: a JSON record with a string, a String column, a CSV cell
    text = str(value)
    as_text = per_record(ENGINE, path, [text])
    assert per_table(ENGINE, path, pl.Series(path, [text], dtype=pl.String())) == as_text
    assert per_file(tmp_path, monkeypatch, ENGINE, path, [text]) == as_text


def test_a_rejected_row_has_pydantic_s_reason_on_every_path() -> None:
    record = {"id": "x", "value": {"orders_12m": "1e3"}}
    with pytest.raises(cr.RecordError) as info:
        ENGINE.classify(record, as_of=AS_OF)
    table = pl.DataFrame({"id": ["x"], "value.orders_12m": ["1e3"]})
    reason = ENGINE.classify_frame_with_rejects(table, as_of=AS_OF, schemes=[SCHEME]).rejected["reason"][0]
    assert reason.endswith(f"value.orders_12m: {info.value.errors[0][1]}")


# -- generated rows ------------------------------------------------------------------------

_DIGITS = st.text(alphabet=string.digits, min_size=1, max_size=22)
_TEXT = st.one_of(
    _DIGITS,
    _DIGITS.map(lambda s: "-" + s),
    st.builds(lambda a, b: f"{a}.{b}", _DIGITS, _DIGITS),
    st.builds(lambda a, b: f"{a}e{b}", _DIGITS, st.integers(-400, 400)),
    st.builds(lambda a: f" {a} ", _DIGITS),
    st.builds(lambda a: a[:1] + "_" + a[1:], _DIGITS),
    st.dates(dt.date(1, 1, 1), dt.date(9999, 12, 31)).map(dt.date.isoformat),
    st.datetimes(timezones=st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=8))])).map(dt.datetime.isoformat),
    st.sampled_from(["", "nan", "inf", "true", "yes", "no", "0", "1", "2", "0x10", "+5", ".5", "1.", "٣", "１"]),
    st.text(max_size=6),
)
_FIELDS = ["value.revenue_12m", "value.orders_12m", "value.credit_rating", "deal.first_contact_at",
           "value.bad_debt", "kind", "compliance.score", "satisfaction.survey_score"]


@settings(max_examples=60, deadline=None)
@given(path=st.sampled_from(_FIELDS), cells=st.lists(_TEXT, min_size=1, max_size=8))
def test_generated_text_cells_are_judged_alike(path: str, cells: list[str]) -> None:
    cells = [c for c in cells if c != "" and "\x00" not in c]
    if not cells:
        return
    assert per_table(ENGINE, path, pl.Series(path, cells, dtype=pl.String())) == per_record(ENGINE, path, cells)


_NUMBERS = st.one_of(
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
)


@settings(max_examples=60, deadline=None)
@given(path=st.sampled_from([*_FIELDS[:3], "compliance.score", "satisfaction.survey_score", "value.bad_debt"]),
       data=st.data())
def test_generated_typed_columns_are_judged_alike(path: str, data: st.DataObject) -> None:
    kind = data.draw(st.sampled_from(["int", "float", "bool", "date"]))
    if kind == "int":
        values: list[Any] = data.draw(st.lists(st.integers(-(2**63), 2**63 - 1), min_size=1, max_size=6))
        column = pl.Series(path, values, dtype=pl.Int64())
    elif kind == "float":
        values = data.draw(st.lists(st.floats(), min_size=1, max_size=6))
        column = pl.Series(path, values, dtype=pl.Float64())
    elif kind == "bool":
        values = data.draw(st.lists(st.booleans(), min_size=1, max_size=6))
        column = pl.Series(path, values, dtype=pl.Boolean())
    else:
        values = data.draw(st.lists(st.datetimes(dt.datetime(1900, 1, 1), dt.datetime(2100, 1, 1)), min_size=1, max_size=6))
        column = pl.Series(path, values, dtype=pl.Datetime("us"))
    assert per_table(ENGINE, path, column) == per_record(ENGINE, path, column.to_list())


FIRM = cr.Engine(plugins=[firm_plugin], load_entry_points=False)


@settings(max_examples=30, deadline=None)
@given(path=st.sampled_from(["firm.nps", "firm.credit_line", "firm.rated_at", "firm.industry"]),
       cells=st.lists(_TEXT, min_size=1, max_size=6))
def test_plugin_namespace_fields_are_judged_alike(path: str, cells: list[str]) -> None:
    cells = [c for c in cells if c != "" and "\x00" not in c]
    if not cells:
        return
    assert per_table(FIRM, path, pl.Series(path, cells, dtype=pl.String())) == per_record(FIRM, path, cells)


def test_every_whole_number_of_the_core_record_is_bounded_within_64_bits() -> None:
    from customer_rules.model.records import unbounded_whole_numbers

    assert unbounded_whole_numbers(cr.Customer) == []
    assert unbounded_whole_numbers(firm_plugin.Firm) == []


def test_the_declared_cross_field_rules_are_checked_column_wise() -> None:
    table = pl.DataFrame({"id": ["a", "b"], "deal.first_contact_at": ["2026-02-02", "2026-01-01"],
                          "deal.last_contact_at": ["2026-01-01", "2026-02-02"]})
    prepared = prepare(table, warn=False)
    assert prepared.rejected["row"].to_list() == [0]
    assert prepared.rejected["details"][0].to_list() == [
        "deal: Value error, deal.last_contact_at (2026-01-01) is before deal.first_contact_at (2026-02-02)"
    ]
