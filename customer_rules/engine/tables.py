"""Classifying a table: the frame backend column-wise, or the record backend row by row.

:meth:`Engine.classify_frame <customer_rules.Engine.classify_frame>` runs
here. ``backend="frame"`` evaluates every scheme's polars plan over the
whole table; ``backend="python"`` validates the same table, turns each
valid row into a record and classifies it with the engine's record
backend (the reference semantics, with manual overrides applied). The
CLI's record-by-record mode is this same runner. This module imports
polars at import time: import it lazily.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

import polars as pl

from customer_rules.backends.frame import (
    ERROR_SCHEMA,
    reason_of,
    record_error_row,
    result_of,
    run_frame,
)
from customer_rules.errors import CustomerRulesError, EvaluationError, NotFittedError, RecordError
from customer_rules.model.frames import FrameResult, to_polars
from customer_rules.model.tables import (
    ROW,
    customer_spec,
    dtype_of,
    prepare,
    records_as_given,
    records_from_canonical,
)

if TYPE_CHECKING:
    from customer_rules.engine.engine import Engine
    from customer_rules.model.records import Customer

_STR_LIST = pl.List(pl.String())


@dataclass(frozen=True)
class Outputs:
    """The opt-in result columns of a table run (and the language of reasons)."""

    reasons: bool = False
    flags: bool = False
    labels: bool = False
    scores: bool = False
    lang: str = "en"


def wanted_schemes(engine: Engine, schemes: Iterable[str] | None) -> list[str]:
    """The schemes a table run classifies: those named (fitted), or every fitted one."""
    if schemes is not None:
        out = [engine.scheme(s).id for s in schemes]
        for sid in out:
            if not engine.is_fitted(sid):
                raise NotFittedError(
                    f"scheme {sid!r} compares customers with a population: call engine.fit(customers) first"
                )
        return out
    return [sid for sid in engine.schemes if engine.is_fitted(sid)]


#: below this many rows, ``backend="auto"`` decides an already canonical,
#: valid table row by row with the record backend (:func:`small_run`)
#: instead of planning the frame backend's queries: they cost ~30 ms (every
#: built-in scheme) whatever the height, the small path ~2 ms plus ~0.4 ms
#: per row, breaking even at ~75 rows (benchmarks/README.md, "classify_frame
#: on small tables")
SMALL_ROWS = 50


def classify_frame(
    engine: Engine,
    data: Any,
    *,
    as_of: dt.date,
    schemes: Iterable[str] | None = None,
    reasons: bool = False,
    flags: bool = False,
    labels: bool = False,
    scores: bool = False,
    tables: Mapping[str, Any] | None = None,
    backend: str = "auto",
    lang: str = "en",
) -> FrameResult:
    """Classify a table; the frame and the rejected rows, as the kind given.

    ``backend="auto"`` is the frame backend, but a table of fewer than
    :data:`SMALL_ROWS` rows goes through :func:`small_run` first, which
    gives the frame backend's result or None (then the frame backend runs).
    """
    if backend not in ("auto", "frame", "python"):
        raise ValueError(f"classify_frame runs the 'auto', 'frame' or 'python' backend, not {backend!r}")
    kind, source = to_polars(data)
    child_tables = {k: to_polars(v, k)[1] for k, v in (tables or {}).items() if v is not None}
    wanted = wanted_schemes(engine, schemes)
    out = Outputs(reasons, flags, labels, scores, lang)
    if backend == "auto" and source.height < SMALL_ROWS and not child_tables:
        small = small_run(engine, source, as_of, wanted, out)
        if small is not None:
            return result_of(data, kind, source, *small)
    if backend == "python":
        result, rejected = run_rows(engine, source, child_tables, as_of, wanted, out)
    else:
        if engine.has_overrides:
            warnings.warn(
                "adjust_decision hooks (manual overrides) are not applied by the frame backend;"
                " use classify_frame(..., backend='python') to apply them",
                UserWarning,
                stacklevel=4,
            )
        plan = engine.table_plan(wanted, as_of, **asdict(out))
        result, rejected = run_frame(plan, source, child_tables, as_of)
    return result_of(data, kind, source, result, rejected)


def small_run(
    engine: Engine,
    source: pl.DataFrame,
    as_of: dt.date,
    wanted: Sequence[str],
    out: Outputs,
) -> tuple[pl.DataFrame, pl.DataFrame] | None:
    """A small table decided row by row with the record backend, as
    :func:`run_rows` does, but without :func:`prepare`'s query: the frame
    backend's result exactly, or None where that is not sure and the caller
    runs the frame backend.

    None unless the table's columns are canonical and every row valid
    (:func:`records_as_given`: a field the table lacks is null), the
    engine's record backend is the python one (``durable`` is not taken),
    no plugin adjusts decisions (manual overrides: the frame backend does
    not apply them) or observes profiles (the frame backend does not call
    them), every feature the run reads has a frame implementation (the
    frame backend warns about the others), and every row is decided (a
    rejected row's entry is the frame backend's own).
    Nor with ``scores``: a score computed in Python can differ from polars'
    in the last digits (the differential tests compare them with a tolerance).
    """
    if out.scores or engine.backend == "durable" or engine.has_overrides or engine.has_observers:
        return None
    if engine.table_plan(wanted, as_of, **asdict(out)).fallback:
        return None
    records = records_as_given(source, engine.record_model)
    if records is None:
        return None
    decided = decide_rows(
        engine,
        list(enumerate(records)),
        _row_dtype(),
        as_of,
        wanted,
        out,
        exact=True,
    )
    return None if decided is None else (decided[0], pl.DataFrame(schema=ERROR_SCHEMA))


@cache
def _row_dtype() -> pl.DataType:
    """The dtype of :func:`prepare`'s row index (``with_row_index``: polars' index type)."""
    return pl.DataFrame().with_row_index(ROW).schema[ROW]


def run_rows(
    engine: Engine,
    source: pl.DataFrame,
    tables: Mapping[str, pl.DataFrame],
    as_of: dt.date,
    wanted: Sequence[str],
    out: Outputs,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The same table through the record backend, record by record (reference, slow)."""
    prepared = prepare(source, tables, spec=customer_spec(engine.record_model))
    rows: list[tuple[int, Customer]] = []
    refused: list[dict[str, Any]] = []
    for row, rec in records_from_canonical(prepared.valid, engine.record_model):
        if isinstance(rec, RecordError):
            refused.append(record_error_row(row, rec))
        else:
            rows.append((row, rec))
    decided = decide_rows(
        engine,
        rows,
        prepared.valid.schema[ROW],
        as_of,
        wanted,
        out,
    )
    assert decided is not None  # (only exact=True gives None)
    result, rejected = decided
    bad = pl.DataFrame(refused + rejected, schema=ERROR_SCHEMA)  # result_of sorts by row
    return result, pl.concat([prepared.rejected, bad], how="diagonal_relaxed")


def decide_rows(
    engine: Engine,
    records: Sequence[tuple[int, Customer]],
    row_dtype: pl.DataType,
    as_of: dt.date,
    wanted: Sequence[str],
    out: Outputs,
    *,
    exact: bool = False,
) -> tuple[pl.DataFrame, list[dict[str, Any]]] | None:
    """``(row, record)`` pairs decided with the record backend: the result
    columns of the frame backend (``ROW`` of ``row_dtype``, then per scheme
    the label, rule and the options' columns) and the rejected entries of
    the records it could not decide.

    ``exact``: None as soon as a row could come out otherwise than from
    the frame backend: a record it cannot decide (the frame backend's
    rejected entry is its own)."""
    rows: list[int] = []
    dtypes: dict[str, pl.DataType] = {}
    for sid in wanted:
        checked = engine.checked(sid)
        dtypes[sid] = pl.Enum(list(checked.policy.label_ids))
        dtypes[f"{sid}__rule"] = pl.Enum([r.id for r in checked.rules])
        if out.reasons:
            dtypes[f"{sid}__reason"] = pl.String()
        if out.flags:
            dtypes[f"{sid}__flags"] = _STR_LIST
        if out.labels:
            dtypes[f"{sid}__labels"] = _STR_LIST
        if out.scores:
            for name in checked.policy.scores:
                dtypes[f"{sid}__score__{name}"] = dtype_of(checked.namespace.derived[name])
    cols: dict[str, list[Any]] = {c: [] for c in dtypes}
    rejected: list[dict[str, Any]] = []
    for row, rec in records:
        try:
            profile = engine.classify(rec, as_of=as_of, schemes=wanted)
        except CustomerRulesError as exc:
            if exact:
                return None
            entry = {"row": row, "id": rec.id, "reason": str(exc), "details": []}
            if isinstance(exc, EvaluationError):
                entry.update(scheme=exc.scheme, rules=list(exc.rules), message=str(exc).rsplit(": ", 1)[-1])
            rejected.append(entry)
            continue
        rows.append(row)
        for sid in wanted:
            d = profile[sid]
            cols.setdefault(sid, []).append(d.label)
            cols.setdefault(f"{sid}__rule", []).append(d.rule)
            if out.reasons:
                cols.setdefault(f"{sid}__reason", []).append(reason_of(d, out.lang))
            if out.flags:
                cols.setdefault(f"{sid}__flags", []).append(list(d.flags))
            if out.labels:
                cols.setdefault(f"{sid}__labels", []).append(list(d.labels))
            if out.scores:
                for k, v in (d.scores or {}).items():
                    cols.setdefault(f"{sid}__score__{k}", []).append(v)
    result = pl.DataFrame(
        [pl.Series(ROW, rows, dtype=row_dtype)]
        + [pl.Series(c, values, dtype=dtypes[c]) for c, values in cols.items()]
    )
    return result, rejected
