"""Cut-offs from measures a cluster aggregates: exactly what ``Engine.fit`` learns.

:func:`customer_rules.engine.fitting.learn` sorts a call's known measures
and reads the cut-off at a rank; with tens of millions of rows spread over
a cluster the drivers never hold them all. Instead, for each
``top``/``top_pct`` or ``bottom``/``bottom_pct`` call (``*_within`` ones
count only the rows in their group, by the measure column being null
elsewhere), a :class:`Measures`
backend answers a few aggregations and :func:`fit_cuts` finds the cut-off
value exactly:

1. **counts** — how many rows have a known measure (``count``), how many of
   those are NaN (NaN sorts above every number, as in polars);
2. **quantiles** — approximate values at ranks around the target (Spark's
   ``percentile_approx``, Dask's ``quantile``): a bracket ``[lo, hi]``;
3. **window** — exact: how many values lie above ``hi``, and the distinct
   values in ``[lo, hi]`` with their counts. The target rank falls inside,
   or the bracket is widened (finally to every value) and asked again.

Ties are counted, never broken: the cut-off is the value at the rank, as
on one machine. A bottom group's cut-off, the s-th lowest of n values, is
the (n - s + 1)-th highest, so both ends are found the same way.
``percentile`` collects the distinct values with their counts (Spark only
those the summary keeps, picked on the cluster) and summarises them exactly
as ``engine.fit`` does (:func:`~customer_rules.engine.fitting.percentile_cut`).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import polars as pl
import pyarrow as pa

from customer_rules.engine.fitting import percentile_cut
from customer_rules.lang.ast import Call
from customer_rules.lang.population import Cut, group_size, lowest_first
from customer_rules.scale import partition as part

if TYPE_CHECKING:
    from customer_rules.engine.engine import Engine

_INF = math.inf


class Measures(Protocol):
    """Aggregations over the distributed measure columns (null = the row does not count)."""

    #: the valid rows measured (the population the cut-offs are fitted on)
    rows: int

    def counts(self, columns: Sequence[str]) -> dict[str, tuple[int, int]]:
        """Per column: (known values, of which NaN)."""

    def quantiles(self, wanted: Mapping[str, Sequence[float]]) -> dict[str, list[float]]:
        """Per column: approximate values at the fractions (0-1) of its non-NaN values."""

    def window(
        self, wanted: Mapping[str, tuple[float, float]]
    ) -> dict[str, tuple[int, list[tuple[float, int]]]]:
        """Per column: how many non-NaN values are above ``hi``, and the distinct
        values in ``[lo, hi]`` with their counts (any order)."""

    def values(self, columns: Sequence[str]) -> dict[str, list[tuple[float, int]]]:
        """Per column: every distinct non-NaN value with its count (any order) — or,
        to keep what reaches the driver small, only the values ``percentile_cut``
        keeps (where the share at or below them, NaN counted, enters a new
        summary step) and the highest one, each counting the values since the
        previous one kept: the summary and its ranks come out the same."""


@dataclass(frozen=True)
class Target:
    """One call's cut to find: the ``k``-th highest non-NaN value among ``n``
    known ones, ``nan`` of them NaN (the group holds ``size``)."""

    column: str
    call: Call
    size: int
    n: int
    nan: int
    k: int


def rank_from_top(call: Call, size: int, n: int) -> int:
    """The 1-based rank, counted from the highest of the ``n`` known values
    (NaN the highest), of the cut-off of a group of ``size``."""
    s = min(size, n)
    return n - s + 1 if lowest_first(call.name) else s


def fit_cuts(
    measures: Measures,
    calls: Sequence[tuple[str, Call, Mapping[str, Any]]],
    *,
    rank_error: float,
) -> dict[str, Cut]:
    """The cut of every ``(column, call, params)`` from the distributed measures.

    ``rank_error`` bounds (as a share of the values) how far the backend's
    approximate quantiles may be from the true ranks; a bracket that misses
    is widened, so a wrong bound costs time, never exactness.
    """
    counts = measures.counts([c for c, _, _ in calls])
    cuts: dict[str, Cut] = {}
    pending: list[Target] = []
    ranked = [c for c, call, _ in calls if call.name == "percentile"]
    everything = measures.values(ranked) if ranked else {}
    for column, call, params in calls:
        n, nan = counts[column]
        if call.name == "percentile":
            pairs = [*everything.get(column, []), *([(math.nan, nan)] if nan else [])]
            frame = pl.DataFrame(pairs, schema={"v": pl.Float64(), "n": pl.Int64()}, orient="row")
            cuts[column] = percentile_cut(frame)  # the same summary as engine.fit
            continue
        size = group_size(call, n, params)
        if size <= 0 or not n:
            cuts[column] = Cut(call.name, None, size, n)
            continue
        rank = rank_from_top(call, size, n)
        if rank <= nan:  # NaN sorts above every number
            cuts[column] = Cut(call.name, math.nan, size, n)
        else:
            pending.append(Target(column, call, size, n, nan, rank - nan))
    widen = 1.0
    while pending:
        brackets = _brackets(measures, pending, rank_error * widen, final=widen > 64)
        found = measures.window(brackets)
        still: list[Target] = []
        for t in pending:
            above, inside = found[t.column]
            value = _pick(t.k, above, inside)
            if value is None:
                still.append(t)
            else:
                cuts[t.column] = Cut(t.call.name, value, t.size, t.n)
        pending = still
        widen *= 8
    return cuts


def _brackets(
    measures: Measures, targets: Sequence[Target], error: float, *, final: bool
) -> dict[str, tuple[float, float]]:
    """A value range per target that should hold its rank (every value when ``final``)."""
    if final:
        return {t.column: (-_INF, _INF) for t in targets}
    wanted: dict[str, list[float]] = {}
    for t in targets:
        m = t.n - t.nan
        margin = error * m + 2
        rank = m - t.k  # 0-based position from the bottom
        wanted[t.column] = [max(0.0, (rank - margin) / m), min(1.0, (rank + margin) / m)]
    qs = measures.quantiles(wanted)
    out = {}
    for t in targets:
        lo_q, hi_q = wanted[t.column]
        lo, hi = qs[t.column]
        out[t.column] = (-_INF if lo_q <= 0 else lo, _INF if hi_q >= 1 else hi)
    return out


def _pick(k: int, above: int, inside: Sequence[tuple[float, int]]) -> float | None:
    """The k-th highest value, given the count above the window and the window's
    value counts; ``None`` when the window does not hold that rank."""
    if above >= k:
        return None
    seen = above
    for value, count in sorted(inside, reverse=True):
        seen += count
        if seen >= k:
            return value
    return None


#: What a backend gives :func:`fit_engine` for one fitting round: given the
#: round's jobs and measure column names, a context holding the measured
#: population (released when the round is done).
Measurer = Callable[[Sequence["part.MeasureJob"], Sequence[str]], AbstractContextManager[Measures]]


def fit_engine(
    engine: Engine,
    measurer: Measurer,
    *,
    as_of: dt.date,
    schemes: Iterable[str] | None,
    rank_error: float,
) -> Engine:
    """Fit ``engine``'s population-relative schemes (``schemes``, or all) from
    measures a backend computes, round by round (a stage's measures read the
    cut-offs of the stages before it), and give it the cut-offs (returned).

    The loop every backend shares — Spark, Dask and :class:`FrameMeasures`
    on one machine; each supplies only ``measurer``."""
    wanted = [engine.scheme(s).id for s in schemes] if schemes is not None else engine.population_schemes()
    wanted = [sid for sid in wanted if engine.checked(sid).population_relative]
    plans = {sid: part.stages(engine, sid) for sid in wanted}
    cuts: dict[str, dict[str, Cut]] = {sid: {} for sid in wanted}
    population = 0
    for stage in range(max((len(p) for p in plans.values()), default=0)):
        jobs = [
            part.MeasureJob(sid, stage, dict(cuts[sid]), f"s{j}m")
            for j, sid in enumerate(wanted)
            if stage < len(plans[sid])
        ]
        columns = part.measure_columns(engine, jobs)
        with measurer(jobs, [c for c, _, _ in columns]) as measures:
            found = fit_cuts(
                measures,
                [(c, call, engine.checked(sid).params) for c, sid, call in columns],
                rank_error=rank_error,
            )
            population = measures.rows
        for job in jobs:
            for i, key in enumerate(part.cut_keys(engine, job.scheme, job.stage)):
                cuts[job.scheme][key] = found[f"{job.prefix}{i}"]
    for sid in wanted:
        engine.use_cuts(sid, cuts[sid], as_of=as_of.isoformat(), population=population)
    return engine


class FrameMeasures:
    """:class:`Measures` over one polars DataFrame of measure columns (null = the
    row does not count; NaN is a value), with exact quantiles: fitting on one
    machine from measures computed chunk by chunk (:func:`fit_batches`)."""

    def __init__(self, frame: pl.DataFrame) -> None:
        self.frame = frame
        self.rows = frame.height
        self._sorted: dict[str, pl.Series] = {}

    def _finite(self, c: str) -> pl.Series:
        """The column's known, non-NaN values in ascending order (sorted once)."""
        if c not in self._sorted:
            s = self.frame.get_column(c).drop_nulls()
            self._sorted[c] = s.filter(~s.is_nan()).sort()
        return self._sorted[c]

    def counts(self, columns: Sequence[str]) -> dict[str, tuple[int, int]]:
        out = {}
        for c in columns:
            s = self.frame.get_column(c).drop_nulls()
            out[c] = (s.len(), int(s.is_nan().sum()))
        return out

    def quantiles(self, wanted: Mapping[str, Sequence[float]]) -> dict[str, list[float]]:
        out = {}
        for c, qs in wanted.items():
            s = self._finite(c)
            last = s.len() - 1
            out[c] = [float(s[min(last, max(0, round(q * last)))]) if last >= 0 else 0.0 for q in qs]
        return out

    def window(
        self, wanted: Mapping[str, tuple[float, float]]
    ) -> dict[str, tuple[int, list[tuple[float, int]]]]:
        out = {}
        for c, (lo, hi) in wanted.items():
            s = self._finite(c)
            start = int(s.search_sorted(lo, side="left"))
            stop = int(s.search_sorted(hi, side="right"))
            inside = s.slice(start, stop - start).value_counts()
            out[c] = (s.len() - stop, [(float(v), int(n)) for v, n in inside.iter_rows()])
        return out

    def values(self, columns: Sequence[str]) -> dict[str, list[tuple[float, int]]]:
        return {
            c: [(float(v), int(n)) for v, n in self._finite(c).value_counts().iter_rows()] for c in columns
        }


def fit_batches(
    engine: Engine,
    batches: Callable[[], Iterable[pa.RecordBatch]],
    *,
    as_of: Any,
    schemes: Iterable[str] | None = None,
    chunk_rows: int = part.CHUNK_ROWS,
) -> Engine:
    """Fit ``engine`` on one machine from a population read chunk by chunk — a
    Parquet folder larger than memory: ``batches`` returns a fresh iterator of
    its Arrow batches (it is read once per fitting round). Only the measures
    (one float per row and population call) are held in memory, and the
    cut-offs are exactly those ``engine.fit`` learns from the same rows."""
    from customer_rules.engine.engine import normalise_as_of

    day = normalise_as_of(as_of)

    @contextmanager
    def measurer(jobs: Sequence[part.MeasureJob], names: Sequence[str]) -> Iterator[FrameMeasures]:
        parts = [part.measure_chunk(engine, t, jobs, day) for t in part.chunks(batches(), chunk_rows)]
        yield FrameMeasures(
            pl.concat(parts) if parts else pl.DataFrame(schema={c: pl.Float64() for c in names})
        )

    return fit_engine(engine, measurer, as_of=day, schemes=schemes, rank_error=1e-6)
