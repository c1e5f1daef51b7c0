"""Classify and fit on Apache Spark: the engine's compiled polars plan on every partition.

    from customer_rules import spark

    spark.fit(engine, sdf, as_of=day)                 # cut-offs from the whole population
    labelled, rejected = spark.classify(engine, sdf, as_of=day)

``classify`` runs :meth:`Engine.classify_frame_with_rejects
<customer_rules.Engine.classify_frame_with_rejects>` on each partition
through Arrow (``mapInArrow``, with the output schema declared up front),
chunk by chunk (``chunk_rows`` rows at a time: the memory bound per task).
The engine travels to the executors pickled as its recipe and fitted
cut-offs, in a broadcast; plugins that are modules must be installed on
the executors. ``fit`` computes each scheme's population measures on the
partitions with the engine's fitting code, then the cut-offs with Spark's
own aggregations (exact, ties counted as on one machine; see
:mod:`customer_rules.scale.cuts`) and gives them to the engine, so every
partition of a later ``classify`` applies the same cut-offs.

Needs the ``spark`` extra: ``pip install 'customer-rules[spark]'``.
See ``docs/how-to/scale-out.md``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NamedTuple

from customer_rules.errors import BackendUnavailable

try:
    import pyarrow as pa
    from pyspark.sql import DataFrame
    from pyspark.sql import functions as F
    from pyspark.sql.pandas.types import from_arrow_schema, to_arrow_schema
except ImportError as exc:  # pragma: no cover - the test env has the extra
    raise BackendUnavailable(
        f"customer_rules.spark needs PySpark and pyarrow: pip install 'customer-rules[spark]' ({exc})"
    ) from exc

from customer_rules.engine.engine import normalise_as_of
from customer_rules.engine.tables import wanted_schemes
from customer_rules.lang.population import SUMMARY_POINTS
from customer_rules.scale import partition as part
from customer_rules.scale.cuts import fit_engine

if TYPE_CHECKING:
    from customer_rules.engine.engine import Engine

__all__ = ["Classified", "classify", "fit"]

#: percentile_approx's accuracy: its rank error is at most 1/accuracy of the values
ACCURACY = 10_000
#: distinct values of one measure per slice while finding a percentile summary:
#: the most a window task holds at once (see ``_SparkMeasures.values``)
SLICE_VALUES = 500_000


class Classified(NamedTuple):
    """The labelled rows (input columns plus the result columns) and the rejected
    rows (``partition``, ``row`` — the position in its partition — ``id``, ``reason``).
    Both come from one classification; ``persist()`` it (``combined``) before
    writing both, or the classification runs twice."""

    frame: DataFrame
    rejected: DataFrame
    combined: DataFrame


def _safe(sdf: DataFrame) -> tuple[DataFrame, dict[str, str]]:
    """The DataFrame with dotted column names spelt with ``__`` (which the engine reads
    the same way; PySpark's ``mapInArrow`` cannot resolve dotted names), and the map back."""
    names = {c: c.replace(".", "__") for c in sdf.columns}
    if all(a == b for a, b in names.items()):
        return sdf, {}
    return sdf.toDF(*names.values()), {b: a for a, b in names.items() if a != b}


def _broadcast(sdf: DataFrame, engine: Engine) -> Any:
    return sdf.sparkSession.sparkContext.broadcast(part.engine_payload(engine))


def classify(
    engine: Engine,
    sdf: DataFrame,
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
    """Classify a Spark DataFrame (columns named as for ``classify_frame``; nested
    lists as array-of-struct columns) under every fitted scheme or those named.

    Returns :class:`Classified` ``(frame, rejected, combined)``: lazy
    DataFrames, nothing runs until they are written or collected.
    """
    job = part.ClassifyJob(
        normalise_as_of(as_of),
        None if schemes is None else tuple(wanted_schemes(engine, schemes)),
        {"reasons": reasons, "flags": flags, "labels": labels, "scores": scores, "lang": lang},
    )
    sdf, renamed = _safe(sdf)
    input_arrow = to_arrow_schema(
        sdf.schema, timezone=sdf.sparkSession.conf.get("spark.sql.session.timeZone")
    )
    results = part.result_schema(engine, input_arrow, job)
    arrow_schema = part.combined_schema(input_arrow, results)
    out_schema = from_arrow_schema(arrow_schema)
    shipped = _broadcast(sdf, engine)
    size = chunk_rows

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from pyspark import TaskContext

        ctx = TaskContext.get()
        number = ctx.partitionId() if ctx is not None else 0
        local = part.engine_from(shipped.value)
        yield from part.classify_batches(local, batches, job, arrow_schema, number, size)

    combined = sdf.mapInArrow(run, out_schema)
    markers = list(part.MARKERS)
    frame = combined.where(F.col(part.REASON).isNull()).select(
        *(F.col(f"`{c}`").alias(renamed.get(c, c)) for c in combined.columns if c not in markers)
    )
    rejected = combined.where(F.col(part.REASON).isNotNull()).select(
        *(F.col(m).alias(name) for m, name in part.MARKERS.items())
    )
    return Classified(frame, rejected, combined)


class _SparkMeasures:
    """:class:`customer_rules.scale.cuts.Measures` over a persisted Spark DataFrame."""

    def __init__(self, sdf: DataFrame) -> None:
        self.sdf = sdf
        self.rows = 0

    def counts(self, columns: Sequence[str]) -> dict[str, tuple[int, int]]:
        if not columns:
            return {}
        aggs = []
        for c in columns:
            aggs += [F.count(F.col(f"`{c}`")), F.count(F.when(F.isnan(F.col(f"`{c}`")), 1))]
        row = self.sdf.agg(*aggs, F.count(F.lit(1))).collect()[0]
        self.rows = int(row[-1])  # the population: the valid rows (one job for both)
        return {c: (int(row[2 * i]), int(row[2 * i + 1])) for i, c in enumerate(columns)}

    def quantiles(self, wanted: Mapping[str, Sequence[float]]) -> dict[str, list[float]]:
        names = list(wanted)
        aggs = [
            F.percentile_approx(
                F.when(~F.isnan(F.col(f"`{c}`")), F.col(f"`{c}`")),
                F.array(*(F.lit(float(q)) for q in wanted[c])),
                ACCURACY,
            )
            for c in names
        ]
        row = self.sdf.agg(*aggs).collect()[0]
        return {c: [float(v) for v in row[i]] for i, c in enumerate(names)}

    def _pairs(self, columns: Sequence[str]) -> DataFrame:
        """One row per row and measure: ``(i, v)`` with ``i`` the column's position."""
        pairs = F.array(
            *(F.struct(F.lit(i).alias("i"), F.col(f"`{c}`").alias("v")) for i, c in enumerate(columns))
        )
        return self.sdf.select(F.explode(pairs).alias("p")).select("p.i", "p.v")

    def _long(self, columns: Sequence[str]) -> DataFrame:
        """One row per known, non-NaN measure: ``(i, v)`` with ``i`` the column's position."""
        return self._pairs(columns).where(F.col("v").isNotNull() & ~F.isnan(F.col("v")))

    def window(
        self, wanted: Mapping[str, tuple[float, float]]
    ) -> dict[str, tuple[int, list[tuple[float, int]]]]:
        names = list(wanted)
        lo: Any = F.lit(None)
        hi: Any = F.lit(None)
        for i, c in enumerate(names):
            lo = F.when(F.col("i") == i, F.lit(float(wanted[c][0]))).otherwise(lo)
            hi = F.when(F.col("i") == i, F.lit(float(wanted[c][1]))).otherwise(hi)
        rows = (
            self._long(names)
            .where(F.col("v") >= lo)
            .select("i", F.when(F.col("v") > hi, F.lit(None)).otherwise(F.col("v")).alias("v"))
            .groupBy("i", "v")
            .count()
            .collect()
        )
        out: dict[str, tuple[int, list[tuple[float, int]]]] = {c: (0, []) for c in names}
        for r in rows:
            c = names[r["i"]]
            above, inside = out[c]
            if r["v"] is None:
                out[c] = (above + int(r["count"]), inside)
            else:
                inside.append((float(r["v"]), int(r["count"])))
        return out

    def values(self, columns: Sequence[str]) -> dict[str, list[tuple[float, int]]]:
        """The summary's values only (see the protocol), found on the cluster: a
        measure with millions of distinct values never reaches the driver whole,
        and no task holds a whole measure either. Each measure's distinct values
        are cut into slices of about :data:`SLICE_VALUES` at approximate
        quantiles (equal values always share a slice); a value's rank is the
        count in the slices below it, from a small aggregate, plus the running
        count within its own slice, so a window holds one slice at a time."""
        from pyspark.sql import Window

        session = self.sdf.sparkSession
        counted = self._pairs(columns).where(F.col("v").isNotNull()).groupBy("i", "v").count().persist()
        try:
            stats = {
                int(r["i"]): r
                for r in counted.groupBy("i")
                .agg(
                    F.sum("count").alias("total"),
                    F.max(F.when(~F.isnan("v"), F.col("v"))).alias("top"),
                    F.count(F.lit(1)).alias("distinct"),
                )
                .collect()
            }
            slices = max([1] + [-(-int(r["distinct"]) // SLICE_VALUES) for r in stats.values()])
            cut: Any = F.lit(0)
            if slices > 1:
                quantiles = [j / slices for j in range(1, slices)]
                edges = {
                    int(r["i"]): sorted({float(e) for e in r["edges"] or []})
                    for r in counted.groupBy("i")
                    .agg(
                        F.percentile_approx(
                            F.when(~F.isnan("v"), F.col("v")),
                            F.array(*(F.lit(q) for q in quantiles)),
                            ACCURACY,
                        ).alias("edges")
                    )
                    .collect()
                }
                for i, bounds in edges.items():
                    # Spark orders NaN above every number, so NaN lands in the last slice
                    position = sum((F.col("v") > F.lit(e)).cast("int") for e in bounds)
                    cut = F.when(F.col("i") == i, position).otherwise(cut)
            sliced = counted.withColumn("s", cut)
            below: dict[int, int] = {}
            rows = []
            for r in sliced.groupBy("i", "s").agg(F.sum("count").alias("c")).orderBy("i", "s").collect():
                i = int(r["i"])
                rows.append((i, int(r["s"]), below.get(i, 0), int(stats[i]["total"])))
                below[i] = below.get(i, 0) + int(r["c"])
            offsets = session.createDataFrame(rows, "i int, s int, offset long, total long")
            order = Window.partitionBy("i", "s").orderBy("v")
            running = F.sum("count").over(order.rowsBetween(Window.unboundedPreceding, 0))
            ranked = (
                sliced.join(F.broadcast(offsets), ["i", "s"])
                .withColumn("rank", F.col("offset") + running)
                .withColumn("previous", F.coalesce(F.lag("rank", 1).over(order), F.col("offset")))
                .withColumn("step", F.expr(f"(rank * {SUMMARY_POINTS}) div total"))
                .withColumn(
                    "before",
                    F.when(F.col("previous") == 0, F.lit(-1)).otherwise(
                        F.expr(f"(previous * {SUMMARY_POINTS}) div total")
                    ),
                )
            )
            tops = {i: r["top"] for i, r in stats.items()}
            is_top: Any = F.lit(False)
            for i, top in tops.items():
                if top is not None:
                    is_top = F.when(F.col("i") == i, F.col("v") == F.lit(float(top))).otherwise(is_top)
            kept = (
                ranked.where(((F.col("step") != F.col("before")) | is_top) & ~F.isnan("v"))
                .select("i", "v", "rank")
                .collect()
            )
        finally:
            counted.unpersist()
        out: dict[str, list[tuple[float, int]]] = {c: [] for c in columns}
        last: dict[int, int] = {}
        for r in sorted(kept, key=lambda r: (r["i"], r["v"])):
            i = int(r["i"])
            out[columns[i]].append((float(r["v"]), int(r["rank"]) - last.get(i, 0)))
            last[i] = int(r["rank"])
        return out


def _measurer(shipped: Any, jobs: list[part.MeasureJob], schema: pa.Schema, day: Any, chunk_rows: int) -> Any:
    """The ``mapInArrow`` function of one fitting round: each partition's measures."""

    def measure(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        local = part.engine_from(shipped.value)
        for table in part.chunks(batches, chunk_rows):
            out = part.measure_chunk(local, table, jobs, day).to_arrow()
            yield from out.cast(schema).to_batches()

    return measure


def fit(
    engine: Engine,
    sdf: DataFrame,
    *,
    as_of: Any,
    schemes: Iterable[str] | None = None,
    chunk_rows: int = part.CHUNK_ROWS,
) -> Engine:
    """Learn the cut-offs of the population-relative schemes from a Spark
    DataFrame — the same cut-offs ``engine.fit`` learns from the same rows —
    and give them to ``engine`` (returned). Rows that fail validation are
    left out, as ``engine.fit`` leaves them out."""
    from pyspark import StorageLevel

    day = normalise_as_of(as_of)
    sdf, _ = _safe(sdf)

    @contextmanager
    def measurer(jobs: Sequence[part.MeasureJob], names: Sequence[str]) -> Iterator[_SparkMeasures]:
        schema = pa.schema([pa.field(c, pa.float64()) for c in names])
        shipped = _broadcast(sdf, engine)
        measure = _measurer(shipped, list(jobs), schema, day, chunk_rows)
        measured = sdf.mapInArrow(measure, from_arrow_schema(schema)).persist(StorageLevel.MEMORY_AND_DISK)
        try:
            yield _SparkMeasures(measured)
        finally:
            measured.unpersist()
            shipped.unpersist()

    return fit_engine(engine, measurer, as_of=day, schemes=schemes, rank_error=1 / ACCURACY)
