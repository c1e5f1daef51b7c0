"""Features on tables: the feature columns of a frame-backend run.

A feature with a polars implementation becomes one expression
(:meth:`FeatureUse.expr`). One without is computed by its Python
implementation per row from :class:`~customer_rules.model.features.Inputs`
built column-wise from only the columns it declares in ``reads``
(:func:`feature_inputs`), never from rebuilt records; a feature reading only
plain fields is computed once per distinct combination of their values.

This module imports polars at import time: import it lazily.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from customer_rules.errors import CustomerRulesError, EvaluationError
from customer_rules.lang.types import LIST
from customer_rules.model.bulk import collector_paused
from customer_rules.model.features import Feature, Inputs, UndeclaredRead
from customer_rules.model.tables import ROW, ModelSpec, customer_spec, dtype_of, nested_rows, python_values


@dataclass
class FeatureUse:
    """One feature column of a run: the feature and its constant arguments."""

    column: str
    feature: Feature
    args: tuple[Any, ...]

    def expr(self, as_of: dt.date) -> pl.Expr | None:
        """The feature's polars implementation (typed), or None when it has none."""
        if self.feature.polars is None:
            return None
        out = self.feature.polars(as_of, *self.args)
        if not isinstance(out, pl.Expr):
            raise TypeError(
                f"feature {self.feature.name!r}: its polars implementation returned {type(out).__name__},"
                " not a polars Expr"
            )
        return out.cast(dtype_of(self.feature.type)).alias(self.column)


class FeatureTable:
    """The feature columns one run needs, shared by all its schemes."""

    def __init__(self) -> None:
        self.uses: dict[str, FeatureUse] = {}

    def column(self, feat: Feature, args: tuple[Any, ...] = ()) -> str:
        key = feat.name if not args else f"{feat.name}({', '.join(repr(a) for a in args)})"
        col = f"__cr:f:{key}"
        if col not in self.uses:
            self.uses[col] = FeatureUse(col, feat, args)
        return col

    def python_uses(self) -> list[FeatureUse]:
        """The features of this run without a polars implementation."""
        return [u for u in self.uses.values() if u.feature.polars is None]

    def columns_read(self, spec: ModelSpec | None = None) -> set[str]:
        """The canonical columns the features without a polars implementation read."""
        spec = spec or customer_spec()
        out: set[str] = set()
        for use in self.python_uses():
            out.update(columns_read(use.feature, spec))
        return out


def record_paths(spec: ModelSpec | None = None) -> set[str]:
    """Every path a feature may declare in ``reads``: fields, record lists,
    the fields of their items and nested models."""
    spec = spec or customer_spec()
    out = {*spec.slots, *spec.children, *spec.prefixes}
    for path, child in spec.children.items():
        out.update(f"{path}.{name}" for name in child.slots)
    return out


def columns_read(feat: Feature, spec: ModelSpec | None = None) -> dict[str, frozenset[str] | None]:
    """The canonical columns a feature reads: column -> the item fields read
    of a record list (``None``: the whole column). Every column when the
    feature does not declare its reads."""
    spec = spec or customer_spec()
    if feat.reads is None:
        return dict.fromkeys([*spec.slots, *spec.children])
    unknown = feat.unknown_reads(record_paths(spec))
    if unknown:
        hints = difflib.get_close_matches(unknown[0], sorted(record_paths(spec)), n=1)
        hint = f" (did you mean {hints[0]!r}?)" if hints else ""
        raise EvaluationError(
            f"feature {feat.name!r} declares reads of unknown record path(s) {', '.join(map(repr, unknown))}{hint}"
        )
    out: dict[str, set[str] | None] = {}
    for path in feat.reads:
        if path in spec.slots or path in spec.children:
            out[path] = None
        elif path in spec.prefixes:
            out.update(dict.fromkeys(c for c in [*spec.slots, *spec.children] if c.startswith(path + ".")))
        else:
            child, _, name = path.rpartition(".")
            fields = out.setdefault(child, set())
            if fields is not None:
                fields.add(name)
    return {c: None if f is None else frozenset(f) for c, f in out.items()}


def feature_inputs(frame: pl.DataFrame, feat: Feature, spec: ModelSpec | None = None) -> list[Inputs]:
    """Per row of a canonical table, the :class:`Inputs` of one feature: its
    ``id`` and the paths the feature reads, from those columns alone (no
    record is built or validated: the table is already validated)."""
    spec = spec or customer_spec()
    columns: dict[str, list[Any]] = {"id": frame.get_column("id").to_list()}
    for col, fields in columns_read(feat, spec).items():
        read = None if fields is None else tuple(sorted(fields))
        columns[col] = python_values(frame.get_column(col), read, Inputs.shape)
    return nested_rows(columns, Inputs.shape)


def python_features(
    frame: pl.DataFrame, uses: Sequence[FeatureUse], as_of: dt.date, spec: ModelSpec | None = None
) -> tuple[pl.DataFrame, list[dict[str, Any]]]:
    """Feature columns computed by the Python implementations, per row, from
    :func:`feature_inputs`. The rows where one raised a
    :class:`~customer_rules.CustomerRulesError` are left out and returned as
    rejected-row entries (``row``, ``id``, ``reason``, ...), as the python
    backend rejects them. ``spec`` is the engine's record spec (plugin namespaces)."""
    with collector_paused():  # the many small tuples made per row are acyclic
        return _python_features(frame, uses, as_of, spec or customer_spec())


def _python_features(
    frame: pl.DataFrame, uses: Sequence[FeatureUse], as_of: dt.date, spec: ModelSpec
) -> tuple[pl.DataFrame, list[dict[str, Any]]]:
    failed: dict[int, CustomerRulesError] = {}
    columns = []
    for use in uses:
        values = _distinct_values(frame, use, as_of, spec)
        if values is None:  # every row in turn
            values = _values(use, feature_inputs(frame, use.feature, spec), as_of, failed)
        columns.append(values.alias(use.column))
    frame = frame.with_columns(columns)
    if not failed:
        return frame, []
    rows = frame.get_column(ROW).to_list()
    ids = frame.get_column("id").to_list()
    rejected: list[dict[str, Any]] = []
    for i, exc in sorted(failed.items()):
        entry: dict[str, Any] = {"row": rows[i], "id": ids[i], "reason": str(exc), "details": []}
        if isinstance(exc, EvaluationError):
            entry.update(scheme=exc.scheme, rules=list(exc.rules), message=str(exc).rsplit(": ", 1)[-1])
        rejected.append(entry)
    bad = pl.Series(ROW, [rows[i] for i in failed], dtype=frame.schema[ROW])
    return frame.filter(~pl.col(ROW).is_in(bad.implode())), rejected


def _values(
    use: FeatureUse, inputs: Sequence[Inputs], as_of: dt.date, failed: dict[int, CustomerRulesError] | None
) -> pl.Series:
    """The Python implementation over ``inputs``. A row that raises a
    :class:`CustomerRulesError` is noted in ``failed`` (its value null), or,
    without ``failed``, the error propagates."""
    feat, args = use.feature, use.args
    try:
        try:  # a plugin's failure or wrong type: a PluginError for that row
            values = feat.compute_all(inputs, as_of, *args)
        except CustomerRulesError:  # again, row by row, to reject the rows that raise
            if failed is None:
                raise
            values = []
            for i, one in enumerate(inputs):
                try:
                    values.append(feat.compute(one, as_of, *args))
                except CustomerRulesError as exc:
                    failed.setdefault(i, exc)
                    values.append(None)
    except UndeclaredRead as exc:
        declared = ", ".join(feat.reads or ())
        raise EvaluationError(
            f"feature {feat.name!r} read {exc.attribute!r}, which is not among the paths it"
            f" declares in reads ({declared}): add it there"
        ) from None
    return pl.Series(values, dtype=dtype_of(feat.type))


def _distinct_values(
    frame: pl.DataFrame, use: FeatureUse, as_of: dt.date, spec: ModelSpec
) -> pl.Series | None:
    """A feature that reads only scalar fields, computed once per distinct
    combination of their values when those repeat (at most half as many as
    rows); None when that does not apply or a combination raises (then every
    row is computed in turn, so that each error names its own row)."""
    read = columns_read(use.feature, spec)
    if not read or use.feature.reads is None:
        return None
    if any(c not in spec.slots or spec.slots[c].type.kind == LIST for c in read):
        return None
    cols = list(read)
    groups = (
        frame.select(cols).with_row_index("__cr:i").group_by(cols, maintain_order=True).agg(pl.col("__cr:i"))
    )
    if groups.height > frame.height // 2:
        return None
    firsts = groups.get_column("__cr:i").list.first()
    try:
        distinct = frame.select(list(dict.fromkeys(["id", *cols]))).select(pl.all().gather(firsts))
        values = _values(use, feature_inputs(distinct, use.feature, spec), as_of, None)
    except CustomerRulesError:
        return None
    spread = pl.DataFrame({"i": groups.get_column("__cr:i"), "v": values}).explode("i").sort("i")
    return spread.get_column("v")
