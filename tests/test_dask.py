"""customer_rules.dask: fit and classify on Dask — the default scheduler and a
``distributed`` cluster — give what engine.fit and classify_frame give."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest
from scale_support import AS_OF, engine, expected, global_reasons, population, write_parts

pytest.importorskip("dask", reason="needs the dask extra: pip install -e \".[dask]\"")

import dask
import dask.dataframe as dd

from customer_rules import dask as crd


def _check(eng: Any, ddf: Any, frame: pl.DataFrame, local: Any, **compute: Any) -> None:
    result = crd.classify(eng, ddf, as_of=AS_OF, chunk_rows=70)
    labelled, rejected = dask.compute(result.frame, result.rejected, **compute)
    labels, want_rejected = expected(local, frame)
    got = pl.from_pandas(labelled[labels.columns]).select(
        pl.col(c).cast(pl.String()) if c != "id" else pl.col(c) for c in labels.columns
    )
    assert got.sort("id").equals(labels)
    assert len(rejected) == len(want_rejected) > 0
    assert global_reasons(rejected.to_dict("records"), frame) == want_rejected


def test_dask_default_scheduler(tmp_path: Path) -> None:
    """numpy-backed columns (the default read) give the same answers, with a warning
    that says how to keep the Arrow types."""
    frame = population()
    ddf = dd.read_parquet(str(write_parts(frame, tmp_path / "customers")))
    assert ddf.npartitions >= 2
    local = engine().fit(frame, as_of=AS_OF)
    with pytest.warns(UserWarning, match="dtype_backend='pyarrow'"):
        fitted = crd.fit(engine(), ddf, as_of=AS_OF, chunk_rows=70)
    for sid in local.population_schemes():
        assert fitted.cuts(sid) == local.cuts(sid), sid
    _check(fitted, ddf, frame, local)


def test_dask_distributed_cluster(dask_client: Any, tmp_path: Path) -> None:
    frame = population()
    ddf = dd.read_parquet(str(write_parts(frame, tmp_path / "customers")), dtype_backend="pyarrow")
    local = engine().fit(frame, as_of=AS_OF)
    with dask.config.set(scheduler=dask_client.get):
        fitted = crd.fit(engine(), ddf, as_of=AS_OF)
        for sid in local.population_schemes():
            assert fitted.cuts(sid) == local.cuts(sid), sid
        _check(fitted, ddf, frame, local)


def test_cli_classify_engine_dask(tmp_path: Path) -> None:
    """``customer-rules classify FOLDER --engine dask`` writes the labelled and the
    rejected rows as Parquet folders, with the labels classify_frame gives."""
    from click.testing import CliRunner

    import customer_rules as cr
    from customer_rules.cli.main import cli

    frame = population().head(90)
    folder = write_parts(frame, tmp_path / "in")
    out, rej = tmp_path / "labels", tmp_path / "rejected"
    args = ["classify", str(folder), "--as-of", AS_OF.isoformat(), "--engine", "dask"]
    result = CliRunner().invoke(cli, [*args, "--out", str(out), "--rejected", str(rej)])
    assert result.exit_code == 0, result.output
    labelled, rejected = pl.read_parquet(out), pl.read_parquet(rej)
    assert labelled.height + rejected.height == frame.height and rejected.height > 0
    local = cr.Engine()
    local.fit(frame, as_of=AS_OF)
    labels, _ = expected(local, frame)
    got = labelled.select(pl.col(c).cast(pl.String()) if c != "id" else pl.col(c) for c in labels.columns)
    assert got.sort("id").equals(labels)
    assert f"{labelled.height} of {frame.height} rows classified on dask" in result.output
