"""Tables in and out of the record model, and the result of a table run.

The functions here import polars only when called, so ``import
customer_rules`` stays free of it. See ``docs/frames.md``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from customer_rules.errors import CustomerRulesError
from customer_rules.model.records import Customer

if TYPE_CHECKING:
    import polars as pl


class RejectedRowsWarning(UserWarning):
    """``classify_frame`` left rows out of its result (invalid or undecidable)."""


@dataclass
class FrameResult:
    """The classified table and the rows rejected: rows in = both.

    ``frame`` and ``rejected`` are of the kind of table given (polars
    DataFrame or LazyFrame, or pandas DataFrame). ``rejected`` has the
    columns ``row`` (0-based position in the input), ``id`` (the customer
    id as given) and ``reason``. Unpacks as ``frame, rejected``.
    """

    frame: Any
    rejected: Any
    n_rows: int
    n_rejected: int = 0
    errors: list[CustomerRulesError] = field(default_factory=list)  # the first rejected row's error

    def __iter__(self) -> Iterator[Any]:
        yield self.frame
        yield self.rejected


def to_polars(data: Any, what: str = "data") -> tuple[str, pl.DataFrame]:
    """The kind of table given (polars, lazy, pandas) and it as a polars DataFrame."""
    import polars as pl

    if isinstance(data, pl.DataFrame):
        return "polars", data
    if isinstance(data, pl.LazyFrame):
        return "lazy", data.collect()
    if type(data).__module__.split(".")[0] == "pandas":
        try:
            return "pandas", pl.from_pandas(data)
        except ImportError as exc:
            raise ImportError(
                "reading or writing pandas tables needs pyarrow: pip install 'customer-rules[pandas]'"
            ) from exc
    raise TypeError(
        f"{what} must be a polars DataFrame or LazyFrame or a pandas DataFrame, got {type(data).__name__}"
    )


def from_polars(frame: pl.DataFrame, kind: str) -> Any:
    """A polars result as the kind of table the caller gave."""
    if kind == "lazy":
        return frame.lazy()
    if kind == "pandas":
        try:
            return frame.to_pandas()
        except ImportError as exc:
            raise ImportError(
                "writing pandas tables needs pandas and pyarrow: pip install 'customer-rules[pandas]'"
            ) from exc
    return frame


def nested_tables(tables: Mapping[str, Any] | None = None, **by_name: Any) -> dict[str, Any]:
    """Separate nested-list tables by record path (``deductions`` → ``compliance.deductions``)."""
    from customer_rules.model.tables import customer_spec

    paths = {p.rsplit(".", 1)[-1]: p for p in customer_spec().children}
    paths.update({p: p for p in customer_spec().children})
    out: dict[str, Any] = {}
    for name, table in [*(tables or {}).items(), *by_name.items()]:
        if table is None:
            continue
        if name not in paths:
            raise ValueError(f"unknown nested table {name!r}; use one of {', '.join(sorted(set(paths)))}")
        path = paths[name]
        if path in out:
            raise ValueError(f"nested table {path!r} given twice")
        out[path] = table
    return out


def frame_from_records(
    records: Iterable[Customer | Mapping[str, Any]],
    *,
    pandas: bool = False,
    model: type[Customer] = Customer,
) -> Any:
    """A flat customer table from records: one row per customer.

    Columns are named by dotted path (``value.revenue_12m``) and typed from
    the record model; ``identity`` and ``behaviour.type_history`` are list
    columns; ``cases``, ``interactions``, ``compliance.deductions`` and
    ``grades`` are list-of-struct columns. Dicts are validated first
    (:class:`RecordError` on the first invalid one). ``pandas=True`` returns
    a pandas DataFrame. :func:`records_from_frame` goes back. ``model`` is
    the record model, e.g. ``engine.record_model`` for an engine whose
    plugins add namespaces (their columns are ``<namespace>.<field>``).
    """
    from customer_rules.model.tables import frame_from_records as build

    frame = build(records, model)
    return from_polars(frame, "pandas") if pandas else frame


def tables_from_records(
    records: Iterable[Customer | Mapping[str, Any]],
    *,
    pandas: bool = False,
    model: type[Customer] = Customer,
) -> dict[str, Any]:
    """A customer table and one table per nested list, keyed by ``customer_id``.

    Keys: ``customers`` (no nested-list columns), ``cases``,
    ``interactions``, ``deductions``, ``grades``. Pass them back as
    ``engine.classify_frame(t["customers"], cases=t["cases"], ...)``.
    """
    from customer_rules.model.tables import tables_from_records as build

    tables = build(records, model)
    return {k: from_polars(v, "pandas") if pandas else v for k, v in tables.items()}


def records_from_frame(
    data: Any,
    *,
    cases: Any = None,
    interactions: Any = None,
    deductions: Any = None,
    grades: Any = None,
    tables: Mapping[str, Any] | None = None,
    model: type[Customer] = Customer,
) -> list[Customer]:
    """:class:`Customer` records from a flat table (and separate nested tables).

    The same column naming as ``Engine.classify_frame``; raises
    :class:`RecordError` naming the first invalid row. ``model`` is the
    record model (``engine.record_model`` to read plugin namespaces).
    """
    from customer_rules.model.tables import records_from_frame as build

    nested = nested_tables(
        tables, cases=cases, interactions=interactions, deductions=deductions, grades=grades
    )
    _, frame = to_polars(data)
    return build(frame, {k: to_polars(v, k)[1] for k, v in nested.items()}, model)
