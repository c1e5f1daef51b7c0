"""Tables stored in several chunks (issue 13, item 11).

``pl.read_parquet`` of a file with several row groups, ``pl.concat(...,
rechunk=False)`` and Arrow batches give columns in several chunks. With two
invalid rows in different chunks, polars 2.1 panicked ("assertion failed: i <
self.len()") inside the rejected-rows plan of the table validation; every way
a table enters the library must accept such tables and give the same result
as the contiguous table.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import customer_rules as cr
from customer_rules.cli.main import cli
from customer_rules.lab.sample import SAMPLE_AS_OF, sample_customers

pytestmark = pytest.mark.usefixtures("frame_backend")  # the frame backend, also on small tables

BAD_ROWS = (10, 300)


def _tables() -> tuple[pl.DataFrame, pl.DataFrame]:
    """The same 400 customers (rows 10 and 300 invalid) contiguous and in four chunks."""
    frame = cr.frame_from_records(sample_customers(400))
    revenue = frame.get_column("value.revenue_12m").to_list()
    for row in BAD_ROWS:
        revenue[row] = -1
    frame = frame.with_columns(
        pl.Series("value.revenue_12m", revenue, dtype=frame.schema["value.revenue_12m"])
    )
    chunked = pl.concat([frame.slice(i, 100) for i in range(0, 400, 100)], rechunk=False)
    assert max(chunked.n_chunks("all")) == 4
    return frame, chunked


def test_fit_accepts_a_multi_chunk_table() -> None:
    frame, chunked = _tables()
    one = cr.Engine(load_entry_points=False).fit(frame, as_of=SAMPLE_AS_OF)
    many = cr.Engine(load_entry_points=False).fit(chunked, as_of=SAMPLE_AS_OF)
    assert many.fitted_ == one.fitted_
    assert sorted(r.row for r in many.fit_rejected_) == list(BAD_ROWS)


def test_classify_frame_with_rejects_accepts_a_multi_chunk_table() -> None:
    frame, chunked = _tables()
    engine = cr.Engine(load_entry_points=False).fit(frame, as_of=SAMPLE_AS_OF)
    one = engine.classify_frame_with_rejects(frame, as_of=SAMPLE_AS_OF, reasons=True)
    many = engine.classify_frame_with_rejects(chunked, as_of=SAMPLE_AS_OF, reasons=True)
    assert many.rejected.get_column("row").to_list() == list(BAD_ROWS)
    assert many.rejected.equals(one.rejected)
    assert many.frame.equals(one.frame)
    assert many.frame.height + many.rejected.height == 400


@pytest.mark.parametrize("chunks", ["contiguous", "chunked"])
def test_the_streaming_and_in_memory_engines_give_the_same_run(
    chunks: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Small tables are collected by polars' in-memory engine, large ones by
    the streaming engine (``IN_MEMORY_ROWS``): both give the same frame and
    the same rejected rows, with bad rows in several chunks."""
    from customer_rules.model import tables

    frame, chunked = _tables()
    table = frame if chunks == "contiguous" else chunked
    engine = cr.Engine(load_entry_points=False).fit(frame, as_of=SAMPLE_AS_OF)
    assert tables.collect_engine(table.height) == "in-memory"
    small = engine.classify_frame_with_rejects(table, as_of=SAMPLE_AS_OF, reasons=True, labels=True)
    monkeypatch.setattr(tables, "IN_MEMORY_ROWS", 0)
    assert tables.collect_engine(table.height) != "in-memory"
    large = engine.classify_frame_with_rejects(table, as_of=SAMPLE_AS_OF, reasons=True, labels=True)
    assert large.rejected.get_column("row").to_list() == list(BAD_ROWS)
    assert large.rejected.equals(small.rejected)
    assert large.frame.equals(small.frame)


def test_classify_frame_accepts_a_multi_chunk_table() -> None:
    frame, chunked = _tables()
    engine = cr.Engine(load_entry_points=False).fit(frame, as_of=SAMPLE_AS_OF)
    with pytest.warns(cr.RejectedRowsWarning, match="2 of 400 rows rejected"):
        out = engine.classify_frame(chunked, as_of=SAMPLE_AS_OF)
    assert out.height == 398
    with pytest.warns(cr.RejectedRowsWarning):
        lazy = engine.classify_frame(chunked.lazy(), as_of=SAMPLE_AS_OF).collect()
    assert lazy.equals(out)


def test_nested_tables_in_several_chunks() -> None:
    customers = sample_customers(200)
    frame = cr.frame_from_records(customers).drop("cases")
    # two invalid cases (a bad severity) of customers far apart, one per chunk
    cases = pl.DataFrame(
        [
            {"customer_id": c.id, "id": f"K{i}", "opened_at": "2026-10-01", "severity": "bogus"}
            for i, c in enumerate(customers)
            if i in (5, 150)
        ]
    )
    chunked_cases = pl.concat([cases.slice(0, 1), cases.slice(1, 1)], rechunk=False)
    assert max(chunked_cases.n_chunks("all")) == 2
    engine = cr.Engine(load_entry_points=False).fit(frame, as_of=SAMPLE_AS_OF)
    one = engine.classify_frame_with_rejects(frame, as_of=SAMPLE_AS_OF, cases=cases)
    many = engine.classify_frame_with_rejects(frame, as_of=SAMPLE_AS_OF, cases=chunked_cases)
    assert many.rejected.equals(one.rejected)
    assert many.rejected.get_column("row").to_list() == [5, 150]
    assert many.frame.height + many.rejected.height == 200


def test_cli_reads_a_parquet_file_with_several_row_groups(tmp_path: Path) -> None:
    frame, _ = _tables()
    path = tmp_path / "customers.parquet"
    frame.write_parquet(path, row_group_size=100)
    assert pq.ParquetFile(path).num_row_groups == 4
    out = tmp_path / "labels.parquet"
    rejected = tmp_path / "rejected.csv"
    result = CliRunner().invoke(
        cli,
        [
            "classify",
            str(path),
            "--as-of",
            SAMPLE_AS_OF.isoformat(),
            "--out",
            str(out),
            "--rejected",
            str(rejected),
        ],
    )
    assert result.exit_code == 0, result.output
    assert pl.read_parquet(out).height == 398
    assert pl.read_csv(rejected).get_column("row").to_list() == list(BAD_ROWS)
