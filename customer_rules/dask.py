"""Classify and fit on Dask: the engine's compiled polars plan on every partition.

    from customer_rules import dask as crd

    crd.fit(engine, ddf, as_of=day)                   # cut-offs from the whole population
    labelled, rejected = crd.classify(engine, ddf, as_of=day)

The same design as :mod:`customer_rules.spark`: ``classify`` runs
:meth:`Engine.classify_frame_with_rejects
<customer_rules.Engine.classify_frame_with_rejects>` on each partition
(``map_partitions`` with the output ``meta`` declared), chunk by chunk;
``fit`` computes the measures per partition with the engine's fitting code
and the cut-offs with Dask's aggregations (exact; see
:mod:`customer_rules.scale.cuts`). Works with the default scheduler and
with a ``distributed`` cluster (the engine is one task in the graph, sent
to each worker once; plugin modules must be installed on the workers).

Needs the ``dask`` extra: ``pip install 'customer-rules[dask]'``.
See ``docs/how-to/scale-out.md``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NamedTuple

from customer_rules.errors import BackendUnavailable

try:
    import dask
    import dask.dataframe as dd
    import pandas as pd
    import pyarrow as pa
except ImportError as exc:  # pragma: no cover - the test env has the extra
    raise BackendUnavailable(
        f"customer_rules.dask needs Dask, pandas and pyarrow: pip install 'customer-rules[dask]' ({exc})"
    ) from exc

from customer_rules.engine.engine import normalise_as_of
from customer_rules.engine.tables import wanted_schemes
from customer_rules.scale import partition as part
from customer_rules.scale.cuts import fit_engine

if TYPE_CHECKING:
    from customer_rules.engine.engine import Engine

__all__ = ["Classified", "classify", "fit"]

#: how far (share of the values) Dask's approximate quantiles are assumed to miss;
#: a bracket that misses is widened, so this only trades collected values for rounds
RANK_ERROR = 0.005


class Classified(NamedTuple):
    """The labelled rows and the rejected rows (``partition``, ``row`` — the
    position in its partition — ``id``, ``reason``), both lazy and from one
    classification (computing both together, ``dask.compute(frame, rejected)``,
    runs it once)."""

    frame: dd.DataFrame
    rejected: dd.DataFrame
    combined: dd.DataFrame


def _numpy_backed(ddf: dd.DataFrame) -> None:
    """Warn when columns are numpy-backed objects: pandas has already turned their
    nested lists into Python objects (and nullable integers into floats), so every
    partition rebuilds them value by value — many times slower than Arrow types."""
    import warnings

    objects = [str(c) for c, t in ddf._meta.dtypes.items() if pd.api.types.is_object_dtype(t)]
    if objects:
        shown = ", ".join(objects[:5]) + (f" and {len(objects) - 5} more" if len(objects) > 5 else "")
        warnings.warn(
            f"numpy object columns ({shown}) are validated value by value on every partition: read the"
            " data with Arrow types, e.g. dd.read_parquet(path, dtype_backend='pyarrow')",
            UserWarning,
            stacklevel=3,
        )


def _arrow(frame: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(frame, preserve_index=False)


def _pandas(table: pa.Table) -> pd.DataFrame:
    return table.to_pandas(types_mapper=pd.ArrowDtype)


def _classify_partition(
    frame: pd.DataFrame,
    engine: Engine,
    job: part.ClassifyJob,
    schema: pa.Schema,
    chunk_rows: int,
    partition_info: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    number = int(partition_info["number"]) if partition_info else 0
    table = _arrow(frame)
    batches = list(part.classify_batches(engine, table.to_batches(), job, schema, number, chunk_rows))
    result = _pandas(pa.Table.from_batches(batches) if batches else schema.empty_table())
    result.index = frame.index
    return result


def classify(
    engine: Engine,
    ddf: dd.DataFrame,
    *,
    as_of: Any,
    schemes: Iterable[str] | None = None,
    reasons: bool = False,
    flags: bool = False,
    labels: bool = False,
    scores: bool = False,
    lang: str = "en",
    chunk_rows: int = part.CHUNK_ROWS,
) -> Classified:
    """Classify a Dask DataFrame (columns named as for ``classify_frame``) under
    every fitted scheme or those named. Returns :class:`Classified`
    ``(frame, rejected, combined)``, lazy. Every column comes back with an
    Arrow-backed pandas dtype."""
    job = part.ClassifyJob(
        normalise_as_of(as_of),
        None if schemes is None else tuple(wanted_schemes(engine, schemes)),
        {"reasons": reasons, "flags": flags, "labels": labels, "scores": scores, "lang": lang},
    )
    _numpy_backed(ddf)
    input_arrow = _arrow(ddf._meta)
    results = part.result_schema(engine, input_arrow.schema, job)
    schema = part.combined_schema(input_arrow.schema, results)
    meta = _pandas(schema.empty_table())
    shipped = dask.delayed(engine, pure=True, traverse=False)
    combined = ddf.map_partitions(
        _classify_partition, shipped, job, schema, chunk_rows, meta=meta, enforce_metadata=False
    )
    markers = list(part.MARKERS)
    frame = combined[combined[part.REASON].isna()].drop(columns=markers)
    rejected = combined[~combined[part.REASON].isna()][markers].rename(columns=part.MARKERS)
    return Classified(frame, rejected, combined)


def _measure_partition(
    frame: pd.DataFrame,
    engine: Engine,
    jobs: Sequence[part.MeasureJob],
    columns: Sequence[str],
    day: Any,
    chunk_rows: int,
) -> pd.DataFrame:
    """A partition's measures: per call a float column (NaN where unknown) and a
    ``<column>?`` flag telling a known NaN measure from a row that does not count."""
    import polars as pl

    parts = [
        part.measure_chunk(engine, t, jobs, day) for t in part.chunks(_arrow(frame).to_batches(), chunk_rows)
    ]
    measures = pl.concat(parts) if parts else pl.DataFrame(schema={c: pl.Float64() for c in columns})
    flagged = measures.select(*columns, *(pl.col(c).is_not_null().alias(f"{c}?") for c in columns))
    return flagged.to_pandas()


class _DaskMeasures:
    """:class:`customer_rules.scale.cuts.Measures` over a persisted Dask DataFrame
    of Arrow-backed float columns (null = the row does not count; NaN is a value)."""

    def __init__(self, ddf: dd.DataFrame) -> None:
        self.ddf = ddf
        self.rows = 0

    def _known(self, c: str) -> dd.Series:
        return self.ddf[c][self.ddf[f"{c}?"]]  # the rows that count (NaN measures included)

    def counts(self, columns: Sequence[str]) -> dict[str, tuple[int, int]]:
        todo = []
        for c in columns:
            known = self._known(c)
            todo += [known.count(), known.isna().sum()]
        *found, rows = dask.compute(*todo, self.ddf.shape[0])
        self.rows = int(rows)
        # count() skips NaN: add the NaN back to the known values
        return {
            c: (int(found[2 * i]) + int(found[2 * i + 1]), int(found[2 * i + 1]))
            for i, c in enumerate(columns)
        }

    def quantiles(self, wanted: Mapping[str, Sequence[float]]) -> dict[str, list[float]]:
        names = list(wanted)
        found = dask.compute(*(self._known(c).dropna().quantile(list(wanted[c])) for c in names))
        return {c: [float(v) for v in q] for c, q in zip(names, found, strict=True)}

    def window(
        self, wanted: Mapping[str, tuple[float, float]]
    ) -> dict[str, tuple[int, list[tuple[float, int]]]]:
        names = list(wanted)
        todo = []
        for c in names:
            lo, hi = wanted[c]
            s = self._known(c).dropna()
            todo += [(s > hi).sum(), s[(s >= lo) & (s <= hi)].value_counts()]
        found = dask.compute(*todo)
        return {
            c: (int(found[2 * i]), [(float(v), int(n)) for v, n in found[2 * i + 1].items()])
            for i, c in enumerate(names)
        }

    def values(self, columns: Sequence[str]) -> dict[str, list[tuple[float, int]]]:
        found = dask.compute(*(self._known(c).dropna().value_counts() for c in columns))
        return {c: [(float(v), int(n)) for v, n in vc.items()] for c, vc in zip(columns, found, strict=True)}


def fit(
    engine: Engine,
    ddf: dd.DataFrame,
    *,
    as_of: Any,
    schemes: Iterable[str] | None = None,
    chunk_rows: int = part.CHUNK_ROWS,
) -> Engine:
    """Learn the cut-offs of the population-relative schemes from a Dask
    DataFrame — the same cut-offs ``engine.fit`` learns from the same rows —
    and give them to ``engine`` (returned)."""
    day = normalise_as_of(as_of)
    _numpy_backed(ddf)
    shipped = dask.delayed(engine, pure=True, traverse=False)

    @contextmanager
    def measurer(jobs: Sequence[part.MeasureJob], names: Sequence[str]) -> Iterator[_DaskMeasures]:
        meta = pd.DataFrame(
            {
                **{c: pd.Series(dtype="float64") for c in names},
                **{f"{c}?": pd.Series(dtype="bool") for c in names},
            }
        )
        measured = ddf.map_partitions(
            _measure_partition,
            shipped,
            list(jobs),
            list(names),
            day,
            chunk_rows,
            meta=meta,
            enforce_metadata=False,
        ).persist()
        yield _DaskMeasures(measured)

    return fit_engine(engine, measurer, as_of=day, schemes=schemes, rank_error=RANK_ERROR)
