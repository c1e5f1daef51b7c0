"""customer_rules.spark: fit and classify on a real local Spark session give what
engine.fit and classify_frame give on one machine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest
from scale_support import AS_OF, engine, expected, global_reasons, population, write_parts

pytest.importorskip("pyspark", reason="needs the spark extra: pip install -e \".[spark]\"")

from customer_rules import spark as crs


def test_spark_fit_and_classify_equal_one_machine(spark_session: Any, tmp_path: Path) -> None:
    frame = population()
    sdf = spark_session.read.parquet(str(write_parts(frame, tmp_path / "customers")))
    assert sdf.rdd.getNumPartitions() >= 2
    local = engine().fit(frame, as_of=AS_OF)
    distributed = crs.fit(engine(), sdf, as_of=AS_OF, chunk_rows=70)
    for sid in local.population_schemes():
        assert distributed.cuts(sid) == local.cuts(sid), sid
    assert distributed.fitted_["regional_top"]["population"] == local.fitted_["regional_top"]["population"]

    result = crs.classify(distributed, sdf, as_of=AS_OF, chunk_rows=70)
    labels, rejected = expected(local, frame)
    combined = pl.from_pandas(result.combined.select(*labels.columns, "__cr_id", "__cr_reason").toPandas())
    got = combined.filter(pl.col("__cr_reason").is_null()).select(labels.columns).sort("id")
    assert got.equals(labels)
    bad = combined.filter(pl.col("__cr_reason").is_not_null()).rename(
        {"__cr_id": "rid", "__cr_reason": "reason"}
    )
    assert bad.height == len(rejected) > 0
    assert (
        global_reasons([{"id": r["rid"], "reason": r["reason"]} for r in bad.iter_rows(named=True)], frame)
        == rejected
    )
    # the lazy frames split the same output
    assert set(result.rejected.columns) == {"partition", "row", "id", "reason"}
    assert "__cr_reason" not in result.frame.columns and "value.revenue_12m" in result.frame.columns


@pytest.mark.parametrize("slice_values", [crs.SLICE_VALUES, 7])
def test_spark_percentile_summary_is_found_on_the_cluster(
    spark_session: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, slice_values: int
) -> None:
    """With more known values than summary points, only the summary's values reach
    the driver, and the percentile cuts still equal engine.fit's (ranks, ties and
    missing values included) — also when each measure's values are cut into
    slices of a few values, so no task holds a whole measure."""
    from customer_rules.engine import fitting

    monkeypatch.setattr(fitting, "SUMMARY_POINTS", 40)
    monkeypatch.setattr(crs, "SUMMARY_POINTS", 40)
    monkeypatch.setattr(crs, "SLICE_VALUES", slice_values)
    frame = population()
    sdf = spark_session.read.parquet(str(write_parts(frame, tmp_path / "customers")))
    wanted = ["regional_top", "terminal_priority"]
    local = engine().fit(frame, as_of=AS_OF, schemes=wanted)
    distributed = crs.fit(engine(), sdf, as_of=AS_OF, schemes=wanted)
    summarised = [c for sid in wanted for c in local.cuts(sid).values() if c.function == "percentile"]
    assert summarised and all(c.values is not None and len(c.values) <= 41 < c.count for c in summarised)
    for sid in wanted:
        assert distributed.cuts(sid) == local.cuts(sid), sid
