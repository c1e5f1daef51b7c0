"""The code every partition of a Spark or Dask run executes, on a worker.

A partition is cut into chunks of at most ``chunk_rows`` rows (the memory
bound of a run: one chunk's input, its validated copy and the plan's
columns are in memory at a time). Each chunk goes through the engine's own
table path — :meth:`Engine.classify_frame_with_rejects
<customer_rules.Engine.classify_frame_with_rejects>` to classify,
:func:`customer_rules.engine.fitting.stage_measures` to fit — so a
distributed run decides exactly as ``classify_frame`` does on one machine.

The output of a classify chunk is *combined*: every input row, as given,
plus the result columns (null on a rejected row) and four marker columns —
the partition, the row's position in it, and for a rejected row the id and
the reason. The drivers split it into the labelled frame and the rejected
rows. The engine travels to workers pickled (``Engine.__reduce__``: its
recipe and fitted cut-offs) and is rebuilt once per worker process
(:func:`engine_from`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import polars as pl
import pyarrow as pa

from customer_rules.engine import fitting
from customer_rules.lang.compile import key_of
from customer_rules.lang.population import Cut, fit_order
from customer_rules.model.tables import customer_spec

if TYPE_CHECKING:
    from customer_rules.engine.engine import Engine

#: Rows classified (or measured) at once on a worker, by default.
CHUNK_ROWS = 200_000

PARTITION = "__cr_partition"
ROW = "__cr_row"
REJECTED_ID = "__cr_id"
REASON = "__cr_reason"
#: the marker columns of a combined output, and their names in the rejected-rows frame
MARKERS = {PARTITION: "partition", ROW: "row", REJECTED_ID: "id", REASON: "reason"}
MARKER_TYPES = {PARTITION: pa.int32(), ROW: pa.int64(), REJECTED_ID: pa.string(), REASON: pa.string()}

_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def engine_from(payload: bytes) -> Engine:
    """The engine a pickled payload holds, rebuilt once per process (keyed by its digest)."""
    import pickle

    digest = hashlib.sha256(payload).hexdigest()
    with _lock:
        engine = _engines.get(digest)
        if engine is None:
            if len(_engines) >= 4:  # a long-lived worker serving many jobs
                _engines.clear()
            engine = _engines[digest] = pickle.loads(payload)
    return engine


def engine_payload(engine: Engine) -> bytes:
    """The engine pickled for the workers (plugins that are not modules by cloudpickle
    where it is installed, so a plugin class defined in a notebook travels too)."""
    try:
        import cloudpickle
    except ImportError:  # pragma: no cover - both engines ship it
        import pickle

        return pickle.dumps(engine)
    out: bytes = cloudpickle.dumps(engine)
    return out


@dataclass(frozen=True)
class ClassifyJob:
    """What a classify run asks of every chunk."""

    as_of: dt.date
    schemes: tuple[str, ...] | None = None
    options: Mapping[str, Any] = field(default_factory=dict)  # reasons, flags, labels, scores, lang


def chunks(batches: Iterable[pa.RecordBatch], chunk_rows: int = CHUNK_ROWS) -> Iterator[pa.Table]:
    """Arrow batches regrouped into tables of at most ``chunk_rows`` rows (none when empty)."""
    pending: list[pa.RecordBatch] = []
    size = 0
    for batch in batches:
        start = 0
        while start < batch.num_rows:
            piece = batch.slice(start, chunk_rows - size)
            pending.append(piece)
            size += piece.num_rows
            start += piece.num_rows
            if size >= chunk_rows:
                yield pa.Table.from_batches(pending)
                pending, size = [], 0
    if size:
        yield pa.Table.from_batches(pending)


def _plain(t: pa.DataType) -> pa.DataType:
    """An Arrow type without dictionaries or large offsets (what Spark and pandas expect)."""
    if pa.types.is_dictionary(t):
        return _plain(t.value_type)
    if pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return pa.string()
    if pa.types.is_large_list(t) or pa.types.is_list_view(t):
        return pa.list_(_plain(t.value_type))
    if pa.types.is_list(t):
        return pa.list_(_plain(t.value_type))
    if pa.types.is_struct(t):
        return pa.struct([pa.field(f.name, _plain(f.type)) for f in t])
    return t


def _added(engine: Engine, job: ClassifyJob, inputs: Sequence[str], out: Sequence[str]) -> list[str]:
    """The columns a ``classify_frame`` result added: those not in the input, and
    the input columns it replaced (named ``<scheme>`` or ``<scheme>__...``)."""
    from customer_rules.engine.tables import wanted_schemes

    run = wanted_schemes(engine, job.schemes)
    mine = {c for c in out if any(c == sid or c.startswith(f"{sid}__") for sid in run)}
    given = set(inputs)
    return [c for c in out if c not in given or c in mine]


def run_chunk(engine: Engine, table: pa.Table, job: ClassifyJob) -> tuple[pa.Table, pa.Table]:
    """The engine's table path over one chunk: the result columns of every row
    (null on a rejected row; labels as strings) and the rejected rows (row, id, reason)."""
    frame = pl.from_arrow(table, rechunk=True)
    assert isinstance(frame, pl.DataFrame)
    result = engine.classify_frame_with_rejects(frame, as_of=job.as_of, schemes=job.schemes, **job.options)
    added = _added(engine, job, frame.columns, result.frame.columns)
    rejected: pl.DataFrame = result.rejected
    results = result.frame.select(
        pl.col(c).cast(pl.String())
        if isinstance(result.frame.schema[c], pl.Enum | pl.Categorical)
        else pl.col(c)
        for c in added
    )
    if rejected.height:  # rejected rows get nulls, so every input row has its result row
        every = pl.int_range(frame.height, dtype=pl.Int64(), eager=True).alias("__at")
        kept = every.filter(~every.is_in(rejected.get_column("row").implode()))
        results = (
            every.to_frame()
            .join(results.with_columns(kept), on="__at", how="left", maintain_order="left")
            .drop("__at")
        )
    out = results.to_arrow()
    plain = pa.schema([pa.field(f.name, _plain(f.type)) for f in out.schema])
    return out.cast(plain), rejected.to_arrow()


def result_schema(engine: Engine, input_schema: pa.Schema, job: ClassifyJob) -> pa.Schema:
    """The result columns a classify run adds, as declared to the cluster: found by
    running the engine's table path on an empty chunk of the input's schema."""
    results, _ = run_chunk(engine, input_schema.empty_table(), job)
    return results.schema


def combined_schema(input_schema: pa.Schema, results: pa.Schema) -> pa.Schema:
    """A combined chunk: the input columns (less those the results replace), the results, the markers."""
    kept = [f for f in input_schema if f.name not in results.names]
    return pa.schema([*kept, *results, *(pa.field(n, t) for n, t in MARKER_TYPES.items())])


def classify_chunk(
    engine: Engine, table: pa.Table, job: ClassifyJob, schema: pa.Schema, partition: int, offset: int
) -> pa.Table:
    """One chunk classified, combined (see the module docstring); ``offset`` is the
    chunk's first row in its partition, ``schema`` the :func:`combined_schema`."""
    results, rejected = run_chunk(engine, table, job)
    n = table.num_rows
    reason: list[str | None] = [None] * n
    ids: list[str | None] = [None] * n
    for row, rid, why in zip(
        rejected.column("row").to_pylist(),
        rejected.column("id").to_pylist(),
        rejected.column("reason").to_pylist(),
        strict=True,
    ):
        # the reason names the row by its place in the partition, not in the chunk
        reason[row], ids[row] = (
            why.replace(f"(row {row})", f"(partition {partition}, row {offset + row})", 1),
            rid,
        )
    columns: list[pa.Array | pa.ChunkedArray] = []
    for f in schema:
        if f.name in results.column_names:
            columns.append(results.column(f.name).cast(f.type))
        elif f.name == PARTITION:
            columns.append(pa.array([partition] * n, pa.int32()))
        elif f.name == ROW:
            columns.append(pa.array(range(offset, offset + n), pa.int64()))
        elif f.name == REJECTED_ID:
            columns.append(pa.array(ids, pa.string()))
        elif f.name == REASON:
            columns.append(pa.array(reason, pa.string()))
        else:  # an input column as given (a type the declaration could not know stays as it is)
            given = table.column(f.name)
            columns.append(given if pa.types.is_null(f.type) else given.cast(f.type))
    return pa.Table.from_arrays(columns, names=schema.names)


def classify_batches(
    engine: Engine,
    batches: Iterable[pa.RecordBatch],
    job: ClassifyJob,
    schema: pa.Schema,
    partition: int,
    chunk_rows: int = CHUNK_ROWS,
) -> Iterator[pa.RecordBatch]:
    """A partition's Arrow batches classified chunk by chunk, as combined batches."""
    offset = 0
    for table in chunks(batches, chunk_rows):
        out = classify_chunk(engine, table, job, schema, partition, offset)
        offset += table.num_rows
        yield from out.to_batches()


# ---------------------------------------------------------------------------
# fitting: the measures of a stage, per chunk
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MeasureJob:
    """One scheme's fitting stage: its calls' measures are computed with the earlier
    stages' cut-offs ``cuts``; column ``<prefix><i>`` holds call ``i``'s measure."""

    scheme: str
    stage: int
    cuts: Mapping[str, Cut]
    prefix: str


def stages(engine: Engine, scheme: str) -> list[list[Any]]:
    """A scheme's population calls in the stages they are fitted in."""
    checked = engine.checked(scheme)
    return fit_order(checked.population, checked.derived)


def measure_columns(engine: Engine, jobs: Sequence[MeasureJob]) -> list[tuple[str, str, Any]]:
    """``(column, scheme, call)`` for every measure the jobs compute, in order."""
    out = []
    for job in jobs:
        for i, call in enumerate(stages(engine, job.scheme)[job.stage]):
            out.append((f"{job.prefix}{i}", job.scheme, call))
    return out


def measure_chunk(
    engine: Engine, table: pa.Table, jobs: Sequence[MeasureJob], as_of: dt.date
) -> pl.DataFrame:
    """The measures of one chunk's valid rows (as ``Engine.fit`` validates them):
    one Float64 column per call, null where the row does not count for it."""
    spec = customer_spec(engine.record_model)
    frame, _ = fitting.table_population(pl.from_arrow(table, rechunk=True), None, spec)
    parts: list[pl.DataFrame] = []
    for job in jobs:
        checked = engine.checked(job.scheme)
        stage = fit_order(checked.population, checked.derived)[job.stage]
        out = fitting.stage_measures(checked, job.scheme, frame, as_of, stage, job.cuts, spec)
        parts.append(out.rename({f"m{i}": f"{job.prefix}{i}" for i in range(len(stage))}))
    if not parts:
        return pl.DataFrame(height=frame.height)
    return pl.concat(parts, how="horizontal")


def cut_keys(engine: Engine, scheme: str, stage: int) -> list[str]:
    """The keys of a stage's cuts (what ``Engine.cuts`` maps)."""
    return [key_of(c) for c in stages(engine, scheme)[stage]]
