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
from customer_rules.model.tables import ROW, customer_spec, dtype_of, prepare, records_from_canonical

if TYPE_CHECKING:
    from customer_rules.engine.engine import Engine

_STR_LIST = pl.List(pl.String())


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
    backend: str = "frame",
    lang: str = "en",
) -> FrameResult:
    """Classify a table; the frame and the rejected rows, as the kind given."""
    if backend not in ("frame", "python"):
        raise ValueError(f"classify_frame runs the 'frame' or the 'python' backend, not {backend!r}")
    kind, source = to_polars(data)
    child_tables = {k: to_polars(v, k)[1] for k, v in (tables or {}).items() if v is not None}
    wanted = wanted_schemes(engine, schemes)
    if backend == "python":
        result, rejected = run_rows(
            engine,
            source,
            child_tables,
            as_of,
            wanted,
            reasons=reasons,
            flags=flags,
            labels=labels,
            scores=scores,
            lang=lang,
        )
    else:
        if engine.has_overrides:
            warnings.warn(
                "adjust_decision hooks (manual overrides) are not applied by the frame backend;"
                " use classify_frame(..., backend='python') to apply them",
                UserWarning,
                stacklevel=4,
            )
        plan = engine.table_plan(
            wanted, as_of, reasons=reasons, flags=flags, labels=labels, scores=scores, lang=lang
        )
        result, rejected = run_frame(plan, source, child_tables, as_of)
    return result_of(data, kind, source, result, rejected)


def run_rows(
    engine: Engine,
    source: pl.DataFrame,
    tables: Mapping[str, pl.DataFrame],
    as_of: dt.date,
    wanted: Sequence[str],
    *,
    reasons: bool,
    flags: bool,
    labels: bool,
    scores: bool,
    lang: str,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The same table through the record backend, record by record (reference, slow)."""
    prepared = prepare(source, tables, spec=customer_spec(engine.record_model))
    rows: list[int] = []
    dtypes: dict[str, pl.DataType] = {}
    for sid in wanted:
        checked = engine.checked(sid)
        dtypes[sid] = pl.Enum(list(checked.policy.label_ids))
        dtypes[f"{sid}__rule"] = pl.Enum([r.id for r in checked.rules])
        if reasons:
            dtypes[f"{sid}__reason"] = pl.String()
        if flags:
            dtypes[f"{sid}__flags"] = _STR_LIST
        if labels:
            dtypes[f"{sid}__labels"] = _STR_LIST
        if scores:
            for name in checked.policy.scores:
                dtypes[f"{sid}__score__{name}"] = dtype_of(checked.namespace.derived[name])
    cols: dict[str, list[Any]] = {c: [] for c in dtypes}
    rejected: list[dict[str, Any]] = []
    for row, rec in records_from_canonical(prepared.valid, engine.record_model):
        if isinstance(rec, RecordError):
            rejected.append(record_error_row(row, rec))
            continue
        try:
            profile = engine.classify(rec, as_of=as_of, schemes=wanted)
        except CustomerRulesError as exc:
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
            if reasons:
                cols.setdefault(f"{sid}__reason", []).append(reason_of(d, lang))
            if flags:
                cols.setdefault(f"{sid}__flags", []).append(list(d.flags))
            if labels:
                cols.setdefault(f"{sid}__labels", []).append(list(d.labels))
            if scores:
                for k, v in (d.scores or {}).items():
                    cols.setdefault(f"{sid}__score__{k}", []).append(v)
    result = pl.DataFrame(
        [pl.Series(ROW, rows, dtype=prepared.valid.schema[ROW])]
        + [pl.Series(c, values, dtype=dtypes[c]) for c, values in cols.items()]
    )
    bad = pl.DataFrame(rejected, schema=ERROR_SCHEMA)
    return result, pl.concat([prepared.rejected, bad], how="diagonal_relaxed")
