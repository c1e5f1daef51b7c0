"""Flat tables and the record model: column naming, column-wise validation,
and conversion between tables and :class:`Customer` records.

The *canonical* table the frame backend works on has one column per record
field, named by its dotted path (``value.revenue_12m``) and typed from the
record model: numbers ``Float64``, whole numbers ``Int64``, ``Boolean``,
``String`` (enums too), ``Date``, list fields as ``List`` columns, and the
nested record lists (``cases``, ``interactions``, ``compliance.deductions``)
as ``List(Struct)`` columns whose struct fields are named as in the record
model. A null cell means the field is absent; list columns are never null
(an absent list is empty).

This module imports polars at import time: import it lazily.
"""

from __future__ import annotations

import difflib
import types
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Union, get_args, get_origin

import annotated_types
import polars as pl
from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticUndefined

from customer_rules.errors import RecordError
from customer_rules.lang.types import BOOL, DATE, LIST, NUMBER, STRING, Type, _unwrap, scalar_type
from customer_rules.model.records import Customer

ROW = "__cr_row"
"""Name of the internal row-index column (position in the input table)."""

CHILD_KEY = "customer_id"
"""The column of a separate child table (cases, ...) naming its customer."""

Check = tuple[pl.Expr, pl.Expr]  # (bad: bool expr that is never null, message: string expr)


# ---------------------------------------------------------------------------
# The record model as column slots
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Slot:
    """One scalar or list field of a record model, as a table column."""

    path: str
    type: Type
    optional: bool  # None is allowed
    required: bool  # no default: a missing value is an error
    default: Any = None  # the value of a null cell when None is not allowed
    min_length: int | None = None


@dataclass(frozen=True)
class ModelSpec:
    """The columns of one record model: slots and nested record lists."""

    model: type[BaseModel]
    slots: dict[str, Slot]
    children: dict[str, ModelSpec] = field(default_factory=dict)

    @property
    def prefixes(self) -> frozenset[str]:
        """Dotted names of nested sub-models (``value``, ``deal`` ...)."""
        out: set[str] = set()
        for path in [*self.slots, *self.children]:
            parts = path.split(".")
            out.update(".".join(parts[:i]) for i in range(1, len(parts)))
        return frozenset(out)


def _allows_none(annotation: Any) -> bool:
    origin = get_origin(annotation)
    if origin is Union or origin is types.UnionType:
        return type(None) in get_args(annotation)
    return annotation is None or annotation is type(None)


def _min_length(metadata: Iterable[Any]) -> int | None:
    for m in metadata:
        for item in getattr(m, "metadata", [m]):
            if isinstance(item, annotated_types.MinLen):
                return int(item.min_length)
    return None


def _build_spec(model: type[BaseModel], prefix: str = "", into: ModelSpec | None = None) -> ModelSpec:
    spec = into or ModelSpec(model, {}, {})
    for name, finfo in model.model_fields.items():
        path = f"{prefix}{name}"
        bare, meta = _unwrap(finfo.annotation)
        meta = [*finfo.metadata, *meta]
        if isinstance(bare, type) and issubclass(bare, BaseModel):
            _build_spec(bare, path + ".", spec)
            continue
        default: Any = None
        if finfo.default is not PydanticUndefined:
            default = finfo.default
        elif finfo.default_factory is not None:
            default = finfo.default_factory()  # type: ignore[call-arg]
        origin = get_origin(bare)
        if origin in (tuple, list):
            args = [a for a in get_args(bare) if a is not Ellipsis]
            item_bare, _ = _unwrap(args[0]) if args else (Any, [])
            if isinstance(item_bare, type) and issubclass(item_bare, BaseModel):
                spec.children[path] = _build_spec(item_bare)
                continue
            item = scalar_type(args[0]) if args else None
            if item is None:
                continue
            t = Type(LIST, item=item)
        else:
            st = scalar_type(bare, meta)
            if st is None:
                continue
            t = st
        spec.slots[path] = Slot(
            path=path,
            type=t,
            optional=_allows_none(finfo.annotation),
            required=finfo.is_required(),
            default=tuple(default) if isinstance(default, list | tuple) else default,
            min_length=_min_length(meta),
        )
    return spec


@lru_cache(maxsize=1)
def customer_spec() -> ModelSpec:
    """The columns of a :class:`Customer` record."""
    return _build_spec(Customer)


def dtype_of(t: Type) -> pl.DataType:
    """The canonical polars dtype of an expression type."""
    if t.kind == NUMBER:
        return pl.Int64() if t.integer else pl.Float64()
    if t.kind == STRING:
        return pl.String()
    if t.kind == BOOL:
        return pl.Boolean()
    if t.kind == DATE:
        return pl.Date()
    if t.kind == LIST and t.item is not None:
        return pl.List(dtype_of(t.item))
    raise TypeError(f"no column type for {t}")


def child_dtype(spec: ModelSpec) -> pl.DataType:
    """The canonical ``List(Struct)`` dtype of a nested record list."""
    return pl.List(pl.Struct({name: dtype_of(s.type) for name, s in spec.slots.items()}))


def canonical_schema(spec: ModelSpec | None = None) -> dict[str, pl.DataType]:
    """Every canonical column of a customer table with its dtype."""
    spec = spec or customer_spec()
    out = {path: dtype_of(s.type) for path, s in spec.slots.items()}
    out.update({path: child_dtype(c) for path, c in spec.children.items()})
    return out


def empty_value(path: str, spec: ModelSpec | None = None) -> pl.Expr:
    """A typed all-absent column for a canonical path (empty lists for lists)."""
    spec = spec or customer_spec()
    if path in spec.children:
        return pl.lit([], dtype=child_dtype(spec.children[path]))
    t = spec.slots[path].type
    if t.kind == LIST:
        return pl.lit([], dtype=dtype_of(t))
    return pl.lit(None, dtype=dtype_of(t))


# ---------------------------------------------------------------------------
# Column naming
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """Where a canonical path is read from in the input table."""

    expr: pl.Expr
    dtype: pl.DataType
    column: str  # the input column it comes from


def _dtype(dtype: Any) -> pl.DataType:
    """A dtype instance (polars sometimes gives the class for parameterless types)."""
    out: pl.DataType = dtype if isinstance(dtype, pl.DataType) else dtype()
    return out


def canonical_name(column: str) -> str:
    """``value__revenue_12m`` → ``value.revenue_12m`` (dotted names pass)."""
    return column.replace("__", ".")


def map_columns(
    schema: Mapping[str, pl.DataType], spec: ModelSpec, *, warn: bool = True
) -> tuple[dict[str, Source], list[str]]:
    """Match input columns to canonical paths.

    Returns the sources by canonical path and the pass-through columns.
    Struct columns named after a sub-model (``value``) are read field by
    field. Two input columns for one path are an error.
    """
    sources: dict[str, Source] = {}
    passthrough: list[str] = []
    prefixes = spec.prefixes
    known = [*spec.slots, *spec.children]

    def add(path: str, src: Source) -> None:
        if path in sources:
            raise ValueError(
                f"columns {sources[path].column!r} and {src.column!r} both give {path!r}; keep one"
            )
        sources[path] = src

    def visit(path: str, expr: pl.Expr, dtype: pl.DataType, column: str) -> bool:
        if path in spec.slots or path in spec.children:
            add(path, Source(expr, dtype, column))
            return True
        if path in prefixes and isinstance(dtype, pl.Struct):
            for f in dtype.fields:
                visit(f"{path}.{f.name}", expr.struct.field(f.name), _dtype(f.dtype), column)
            return True
        return False

    unknown: list[str] = []
    for column, dtype in schema.items():
        path = column if column in spec.slots or column in spec.children else canonical_name(column)
        if not visit(path, pl.col(column), dtype, column):
            passthrough.append(column)
            if path.split(".")[0] in prefixes:
                unknown.append(column)
    if warn and unknown:
        parts = []
        for column in unknown:
            close = difflib.get_close_matches(canonical_name(column), known, n=1, cutoff=0.75)
            parts.append(f"{column!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        warnings.warn(
            "not record fields, passed through unchanged: " + ", ".join(parts),
            UserWarning,
            stacklevel=4,
        )
    return sources, passthrough


# ---------------------------------------------------------------------------
# Coercion and validation, column-wise
# ---------------------------------------------------------------------------

_TRUE = ["1", "on", "t", "true", "y", "yes"]
_FALSE = ["0", "off", "f", "false", "n", "no"]


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(x)


def enum_message(values: Sequence[str]) -> str:
    quoted = [repr(v) for v in values]
    body = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
    return f"Input should be {body}"


def _one_of(value: pl.Expr, allowed: Sequence[str]) -> pl.Expr:
    """``value.is_in(allowed)``; a few equalities are faster for short lists."""
    if len(allowed) <= 8:
        return pl.any_horizontal([value == v for v in allowed])
    return value.is_in(list(allowed))


def _null_message(t: Type) -> str:
    if t.kind == STRING and t.enum:
        return enum_message(t.enum)
    return {
        NUMBER: "Input should be a valid integer" if t.integer else "Input should be a valid number",
        STRING: "Input should be a valid string",
        BOOL: "Input should be a valid boolean",
        DATE: "Input should be a valid date",
    }.get(t.kind, "Input should not be missing")


def coerce(raw: pl.Expr, src: pl.DataType, t: Type) -> tuple[pl.Expr, list[tuple[pl.Expr, str]]]:
    """A value of canonical dtype from ``raw`` and the checks it must pass.

    Mirrors pydantic's lax mode for the kinds of the record model. Each
    check is ``(bad, message)`` with ``bad`` true (never null) for a row
    whose value is invalid; invalid values come out as null.
    """
    checks: list[tuple[pl.Expr, str]] = []
    present = raw.is_not_null()
    if t.kind == LIST:
        assert t.item is not None
        target = dtype_of(t)
        if isinstance(src, pl.List | pl.Array):
            inner = src.inner
            lst = raw.cast(pl.List(inner)) if isinstance(src, pl.Array) else raw
            assert inner is not None
            e = pl.element()
            item_value, item_checks = coerce(e, _dtype(inner), t.item)
            checks.append((lst.list.eval(e.is_null()).list.any().fill_null(False), _null_message(t.item)))
            for bad, msg in item_checks:
                checks.append((lst.list.eval(bad).list.any().fill_null(False), msg))
            value = lst.list.eval(item_value).cast(target)
        elif isinstance(src, pl.Null):
            value = pl.lit(None, dtype=target)
        else:
            checks.append((present, "Input should be a valid tuple"))
            value = pl.lit(None, dtype=target)
        return value, checks
    if t.kind == NUMBER:
        value, checks = _coerce_number(raw, src, t.integer)

        def bound(x: float) -> pl.Expr:
            whole = t.integer and float(x).is_integer()
            return pl.lit(int(x), dtype=pl.Int64()) if whole else pl.lit(float(x), dtype=pl.Float64())

        if t.ge is not None:
            checks.append(
                (
                    (value < bound(t.ge)).fill_null(False),
                    f"Input should be greater than or equal to {_num(t.ge)}",
                )
            )
        if t.le is not None:
            checks.append(
                (
                    (value > bound(t.le)).fill_null(False),
                    f"Input should be less than or equal to {_num(t.le)}",
                )
            )
        return value, checks
    if t.kind == BOOL:
        if isinstance(src, pl.Boolean):
            return raw, checks
        if src.is_numeric():
            value = pl.when(raw == 1).then(True).when(raw == 0).then(False).otherwise(None)
        elif isinstance(src, pl.String):
            low = raw.str.to_lowercase()
            value = pl.when(low.is_in(_TRUE)).then(True).when(low.is_in(_FALSE)).then(False).otherwise(None)
        elif isinstance(src, pl.Null):
            return pl.lit(None, dtype=pl.Boolean()), checks
        else:
            checks.append((present, "Input should be a valid boolean"))
            return pl.lit(None, dtype=pl.Boolean()), checks
        checks.append(
            (present & value.is_null(), "Input should be a valid boolean, unable to interpret input")
        )
        return value.cast(pl.Boolean()), checks
    if t.kind == STRING:
        if isinstance(src, pl.String):
            value = raw
        elif isinstance(src, pl.Categorical | pl.Enum | pl.Null):
            value = raw.cast(pl.String())
        else:
            checks.append((present, "Input should be a valid string"))
            return pl.lit(None, dtype=pl.String()), checks
        if t.enum:
            checks.append(((~_one_of(value, t.enum)).fill_null(False), enum_message(t.enum)))
        return value, checks
    if t.kind == DATE:
        if isinstance(src, pl.Date):
            return raw, checks
        if isinstance(src, pl.Datetime):
            checks.append(
                (
                    (raw.dt.time() != pl.time(0)).fill_null(False),
                    "Datetimes provided to dates should have zero time - e.g. be exact dates",
                )
            )
            return raw.dt.date(), checks
        if isinstance(src, pl.String):
            iso = raw.str.contains(r"^\d{4}-\d{2}-\d{2}$")  # what pydantic reads (not 1999-1-1)
            value = pl.when(iso).then(raw.str.to_date("%Y-%m-%d", strict=False))
            checks.append((present & value.is_null(), "Input should be a valid date"))
            return value, checks
        if isinstance(src, pl.Null):
            return pl.lit(None, dtype=pl.Date()), checks
        checks.append((present, "Input should be a valid date"))
        return pl.lit(None, dtype=pl.Date()), checks
    raise TypeError(f"cannot read a {t} from a table")


def _coerce_number(
    raw: pl.Expr, src: pl.DataType, integer: bool
) -> tuple[pl.Expr, list[tuple[pl.Expr, str]]]:
    checks: list[tuple[pl.Expr, str]] = []
    present = raw.is_not_null()
    target = pl.Int64() if integer else pl.Float64()
    if isinstance(src, pl.Null):
        return pl.lit(None, dtype=target), checks
    if isinstance(src, pl.Boolean):
        return raw.cast(target), checks
    if isinstance(src, pl.String):
        text = raw.str.strip_chars()
        as_float = text.cast(pl.Float64(), strict=False)
        if integer:
            whole = as_float.is_finite() & (as_float == as_float.floor())
            value = pl.coalesce(
                text.cast(pl.Int64(), strict=False),
                pl.when(whole).then(as_float.cast(pl.Int64(), strict=False)),
            )
            msg = "Input should be a valid integer, unable to parse string as an integer"
            checks.append((present & value.is_null(), msg))
            return value, checks
        checks.append(
            (
                present & as_float.is_null(),
                "Input should be a valid number, unable to parse string as a number",
            )
        )
        checks.append(((~as_float.is_finite()).fill_null(False), "Input should be a finite number"))
        return pl.when(as_float.is_finite()).then(as_float), checks
    if not src.is_numeric():
        checks.append(
            (present, "Input should be a valid integer" if integer else "Input should be a valid number")
        )
        return pl.lit(None, dtype=target), checks
    if src.is_float():
        finite = raw.is_finite()
        checks.append(((~finite).fill_null(False), "Input should be a finite number"))
        if integer:
            frac = (finite & (raw != raw.floor())).fill_null(False)
            checks.append((frac, "Input should be a valid integer, got a number with a fractional part"))
            value = raw.cast(pl.Int64(), strict=False)
            checks.append(
                ((finite & ~frac).fill_null(False) & value.is_null(), "Input should be a valid integer")
            )
            return pl.when(finite & ~frac).then(value), checks
        return pl.when(finite).then(raw.cast(target)), checks
    value = raw.cast(target, strict=False)
    if src in (pl.UInt64(), pl.Int128(), pl.UInt128()) or isinstance(src, pl.Decimal):  # may not fit
        checks.append((present & value.is_null(), "Input should be a valid integer"))
    return value, checks


def _model_checks(model: type[BaseModel], col: Callable[[str], pl.Expr], where: pl.Expr) -> list[Check]:
    """Cross-field rules of the record model, column-wise.

    These mirror the ``model_validator`` methods in ``_records.py`` (the
    only validation pydantic cannot be asked about field by field); the
    frame tests check that both accept and reject the same rows.
    """
    from customer_rules.model.records import Case, Deal, Deduction

    def before(later: str, earlier: str, text: str) -> Check:
        a, b = col(earlier), col(later)
        bad = (b < a).fill_null(False)
        return bad, pl.format(text, where, b.cast(pl.String()), a.cast(pl.String()))

    out: list[Check] = []
    if model is Customer:
        for earlier, later in (
            ("first_contact_at", "last_contact_at"),
            ("trial_started_at", "trial_ended_at"),
            ("contract_sent_at", "contract_returned_at"),
        ):
            out.append(
                before(
                    f"deal.{later}",
                    f"deal.{earlier}",
                    f"{{}}deal: Value error, deal.{later} ({{}}) is before deal.{earlier} ({{}})",
                )
            )
    elif model is Case:
        a, b = col("opened_at"), col("closed_at")
        bad = (b < a).fill_null(False)
        msg = pl.format(
            "{}: Value error, case '{}': closed_at ({}) is before opened_at ({})",
            where,
            col("id"),
            b.cast(pl.String()),
            a.cast(pl.String()),
        )
        out.append((bad, msg))
    elif model is Deduction:
        out.append(before("resolved_at", "at", "{}: Value error, resolved_at ({}) is before at ({})"))
    elif model is not Deal:  # pragma: no cover - a new model validator must be mirrored here
        pass
    return out


@dataclass
class Prepared:
    """A validated canonical table and the rows rejected on the way."""

    valid: pl.DataFrame  # ROW + canonical columns, valid rows in input order
    rejected: pl.DataFrame  # row, id, reason, details (List[str])
    n_rows: int
    passthrough: list[str]


def _reason(id_expr: pl.Expr, details: pl.Expr) -> pl.Expr:
    who = (
        pl.when(id_expr.is_null())
        .then(pl.lit("customer (no id)"))
        .otherwise(pl.format("customer '{}'", id_expr))
    )
    return pl.format("{} (row {}): invalid record: {}", who, pl.col(ROW), details.list.join("; "))


def _validate_slots(
    spec: ModelSpec, sources: Mapping[str, Source], where: Callable[[str], pl.Expr]
) -> tuple[dict[str, pl.Expr], list[Check]]:
    """Canonical values and checks for every slot of ``spec`` present in ``sources``."""
    values: dict[str, pl.Expr] = {}
    checks: list[Check] = []
    for path, slot in spec.slots.items():
        src = sources.get(path)
        if src is None:
            if slot.required:
                checks.append((pl.lit(True), pl.format("{}: Field required", where(path))))
            elif slot.default is not None and not isinstance(slot.default, tuple):
                values[path] = pl.lit(slot.default, dtype=dtype_of(slot.type))
            continue
        value, cks = coerce(src.expr, src.dtype, slot.type)
        if slot.required:
            checks.append((src.expr.is_null(), pl.format("{}: Field required", where(path))))
        else:
            value = _fill_default(value, slot)
        if slot.min_length:
            s = "" if slot.min_length == 1 else "s"
            size = (
                value.str.len_bytes() if slot.min_length == 1 else value.str.len_chars()
            )  # 0 bytes = 0 chars
            cks.append(
                (
                    (size < slot.min_length).fill_null(False),
                    f"String should have at least {slot.min_length} character{s}",
                )
            )
        for bad, msg in cks:
            checks.append((bad, pl.format("{}: " + msg.replace("{", "{{").replace("}", "}}"), where(path))))
        values[path] = value
    return values, checks


def _fill_default(value: pl.Expr, slot: Slot) -> pl.Expr:
    """``value`` with null cells set to the slot's default, where None is not allowed."""
    if slot.optional or slot.default is None:
        return value
    default = list(slot.default) if isinstance(slot.default, tuple) else slot.default
    return value.fill_null(pl.lit(default, dtype=dtype_of(slot.type)))


def _explode(lists: pl.Expr) -> pl.Expr:
    return lists.list.explode(keep_nulls=False, empty_as_null=False)


def _any(checks: Sequence[Check]) -> pl.Expr:
    if not checks:
        return pl.lit(False)
    return pl.any_horizontal([b for b, _ in checks])


def _details(checks: Sequence[Check], extra: pl.Expr | None = None) -> pl.Expr:
    parts: list[pl.Expr] = [pl.when(b).then(m) for b, m in checks]
    if extra is not None:
        parts.append(extra)
    if not parts:
        return pl.lit([], dtype=pl.List(pl.String()))
    return pl.concat_list(parts).list.drop_nulls()


def _bad_rows(frame: pl.LazyFrame, checks: Sequence[Check]) -> pl.LazyFrame:
    """ROW and the messages of the rows failing any check.

    The checks are computed as columns first and the messages built from
    those (a window expression re-evaluated after the filter made polars
    2.1 panic).
    """
    if not checks:
        return frame.select(ROW, pl.lit([], dtype=pl.List(pl.String())).alias("details")).clear()
    names = [f"__check{i}" for i in range(len(checks))]
    flagged = frame.with_columns([b.alias(n) for (b, _), n in zip(checks, names, strict=True)])
    failed = flagged.filter(pl.any_horizontal([pl.col(n) for n in names]))
    messages = [(pl.col(n), m) for (_, m), n in zip(checks, names, strict=True)]
    return failed.select(ROW, _details(messages).alias("details"))


def _list_value(src: Source, spec: ModelSpec) -> pl.Expr:
    """The canonical ``List(Struct)`` column of a nested list given as a list column."""
    target = child_dtype(spec)
    if src.dtype == target and all(s.optional or s.default is None for s in spec.slots.values()):
        return src.expr.fill_null(pl.lit([], dtype=target))  # already canonical
    inner = src.dtype.inner if isinstance(src.dtype, pl.List) else None
    present = {f.name: _dtype(f.dtype) for f in inner.fields} if isinstance(inner, pl.Struct) else {}
    fields = []
    for name, slot in spec.slots.items():
        dtype = dtype_of(slot.type)
        if name in present:
            value, _ = coerce(pl.element().struct.field(name), present[name], slot.type)
        else:
            value = pl.lit(None, dtype=dtype)
        fields.append(_fill_default(value.cast(dtype), slot).alias(name))
    return src.expr.list.eval(pl.struct(fields)).cast(target).fill_null(pl.lit([], dtype=target))


def _child_frame(
    path: str,
    spec: ModelSpec,
    base: pl.DataFrame,
    list_source: Source | None,
    table: pl.DataFrame | None,
    ids: pl.DataFrame,
) -> tuple[pl.DataFrame | None, pl.DataFrame]:
    """Validate one nested record list.

    Returns the canonical items of a separate table (ROW, then the item
    fields, in item order; None for a list column, which stays in place)
    and the bad parent rows (ROW, details: list of messages).
    """
    if list_source is not None and table is not None:
        raise ValueError(f"{path!r} is given twice: as a column and as a separate table")
    if list_source is not None:
        src = list_source
        if not isinstance(src.dtype, pl.List):
            bad = base.filter(src.expr.is_not_null()).select(
                ROW, details=pl.concat_list(pl.lit(f"{path}: Input should be a valid tuple"))
            )
            return None, bad
        inner = src.dtype.inner
        fields = inner.fields if isinstance(inner, pl.Struct) else []

        def from_item(item: pl.Expr) -> dict[str, Source]:
            return {
                f.name: Source(item.struct.field(f.name), _dtype(f.dtype), f.name)
                for f in fields
                if f.name in spec.slots
            }

        # which parents have a bad item, without exploding the (mostly valid) lists
        e = pl.element()
        e_values, e_checks = _validate_slots(spec, from_item(e), lambda name: pl.lit(name))
        e_checks.insert(0, (e.is_null(), pl.lit("")))
        e_cross = _model_checks(spec.model, lambda n: e_values.get(n, pl.lit(None)), pl.lit(""))
        has_bad = src.expr.list.eval(_any(e_checks + e_cross)).list.any().fill_null(False)
        if path == "cases" and "id" in e_values:
            case_ids = src.expr.list.eval(e_values["id"])
            has_bad = has_bad | (case_ids.list.n_unique() < case_ids.list.len()).fill_null(False)
        items = (
            base.lazy()
            .filter(has_bad)
            .select(
                ROW,
                src.expr.alias("__item"),
                pl.int_ranges(0, src.expr.list.len(), dtype=pl.Int64()).alias("__idx"),
            )
            .filter(pl.col("__item").list.len() > 0)
            .explode(["__item", "__idx"])
            .collect()
        )
        child_sources = from_item(pl.col("__item"))
        null_item = pl.col("__item").is_null()
    else:
        assert table is not None
        if CHILD_KEY not in table.columns:
            raise ValueError(f"the {path} table needs a {CHILD_KEY!r} column naming the customer")
        keyed = table.with_columns(pl.col(CHILD_KEY).cast(pl.String()).alias("__key"))
        items = keyed.join(ids, left_on="__key", right_on="__id", how="inner", maintain_order="left")
        items = items.with_columns(pl.int_range(pl.len(), dtype=pl.Int64()).over(ROW).alias("__idx"))
        child_sources, _ = map_columns(
            {c: d for c, d in table.schema.items() if c != CHILD_KEY}, spec, warn=False
        )
        null_item = pl.lit(False)
    idx = pl.col("__idx")

    def where(name: str) -> pl.Expr:
        return pl.format(f"{path}.{{}}.{name}", idx)

    values, checks = _validate_slots(spec, child_sources, where)
    checks.insert(
        0,
        (null_item, pl.format(f"{path}.{{}}: Input should be a valid dictionary", idx)),
    )
    canon = items.lazy().select(ROW, idx, **values)

    def value(name: str) -> pl.Expr:
        return pl.col(name) if name in values else pl.lit(None)

    cross = _model_checks(spec.model, value, pl.format(f"{path}.{{}}", idx))
    extra: list[Check] = []
    if path == "cases" and "id" in values:
        dup = pl.col("id").is_duplicated().over(ROW).fill_null(False)
        extra.append((dup, pl.format("(record): Value error, duplicate case id '{}'", pl.col("id"))))
    raw_bad = _bad_rows(items.lazy(), checks)
    canon_bad = _bad_rows(canon, cross + extra)
    bad_plan = (
        pl.concat([raw_bad, canon_bad])
        .group_by(ROW, maintain_order=True)
        .agg(_explode(pl.col("details")).unique(maintain_order=True))
    )
    # polars 2.1's streaming engine can panic on these string expressions: in memory
    if list_source is not None:
        return None, bad_plan.collect(engine="in-memory")
    canon_df, bad_df = pl.collect_all([canon, bad_plan], engine="in-memory")
    return canon_df, bad_df


def prepare(
    data: pl.DataFrame,
    tables: Mapping[str, pl.DataFrame | None] | None = None,
    *,
    children: Iterable[str] | None = None,
    spec: ModelSpec | None = None,
    warn: bool = True,
) -> Prepared:
    """Validate a customer table column-wise.

    ``tables`` maps a nested list path (``cases``, ``interactions``,
    ``compliance.deductions``) to a separate table keyed by
    ``customer_id``. ``children`` limits which nested lists are assembled
    into the canonical table (all present ones when None); every given
    nested list is validated either way.
    """
    spec = spec or customer_spec()
    n = data.height
    # One chunk per column before anything else: polars 2.1 panics ("assertion
    # failed: i < self.len()") in pl.format/concat_str over a filtered frame
    # whose columns are chunked differently (a multi-chunk input column beside
    # the single-chunk row index), as the rejected-rows plan below builds.
    # Several row groups, pl.concat(rechunk=False) and Arrow batches give such
    # tables; rechunk() is a no-op on a table that is already contiguous.
    data = data.rechunk()
    base = data.with_row_index(ROW)
    sources, passthrough = map_columns(data.schema, spec, warn=warn)
    values, checks = _validate_slots(spec, sources, lambda p: pl.lit(p))
    checks += _model_checks(spec.model, lambda p: values.get(p, pl.lit(None)), pl.lit(""))
    id_value = values.get("id", pl.lit(None, dtype=pl.String()))
    raw_id = sources["id"].expr if "id" in sources else pl.lit(None, dtype=pl.String())
    tables = {k: None if v is None else v.rechunk() for k, v in (tables or {}).items()}
    for key in tables:
        if key not in spec.children:
            raise ValueError(f"unknown nested table {key!r}; use one of {', '.join(spec.children)}")

    ids = (  # to attach separate nested tables by customer id
        base.lazy().select(ROW, id_value.alias("__id")).filter(pl.col("__id").is_not_null()).collect()
        if tables
        else base.select(ROW, pl.lit(None, dtype=pl.String()).alias("__id")).clear()
    )
    chosen = None if children is None else set(children)
    wanted = [c for c in spec.children if chosen is None or c in chosen]
    child_items: dict[str, pl.DataFrame] = {}
    child_bad: list[pl.DataFrame] = []
    for path, cspec in spec.children.items():
        table = tables.get(path)
        src = sources.get(path)
        if table is None and src is None:
            continue
        items, bad_items = _child_frame(path, cspec, base, src, table, ids)
        if items is not None:
            child_items[path] = items
        elif src is not None and isinstance(src.dtype, pl.List) and path in wanted:
            values[path] = _list_value(src, cspec)
        if bad_items.height:
            child_bad.append(bad_items)

    # one pass for the bad-row mask; the messages only for the (few) bad rows
    bad = base.lazy().select(_any(checks).alias("__bad")).collect().to_series()
    stage = base.lazy()
    child_msgs: pl.Expr | None = None
    if child_bad:
        cb = (
            pl.concat(child_bad)
            .group_by(ROW, maintain_order=True)
            .agg(_explode(pl.col("details")).alias("__child"))
        )
        bad = bad | base.get_column(ROW).is_in(cb.get_column(ROW).implode())
        stage = stage.join(cb.lazy(), on=ROW, how="left", maintain_order="left")
        child_msgs = pl.col("__child").fill_null(pl.lit([], dtype=pl.List(pl.String())))
    details = _details(checks)
    if child_msgs is not None:
        details = pl.concat_list(details, child_msgs)
    valid = base.lazy().filter(~pl.lit(bad)).select(ROW, **values).collect()
    rejected_plan = stage.filter(pl.lit(bad)).select(
        pl.col(ROW).cast(pl.Int64()).alias("row"),
        raw_id.cast(pl.String(), strict=False).alias("id"),
        _reason(raw_id.cast(pl.String(), strict=False), details).alias("reason"),
        details.alias("details"),
    )
    if bad.any():
        # polars 2.1's streaming engine can panic on these string expressions: in memory
        rejected = rejected_plan.collect(engine="in-memory")
    else:
        rejected = pl.DataFrame(
            schema={
                "row": pl.Int64(),
                "id": pl.String(),
                "reason": pl.String(),
                "details": pl.List(pl.String()),
            }
        )

    for path in wanted:
        if path in values:  # a list column, already canonical
            continue
        cspec = spec.children[path]
        dtype = child_dtype(cspec)
        found = child_items.get(path)
        if found is None:
            valid = valid.with_columns(pl.lit([], dtype=dtype).alias(path))
            continue
        items = found
        absent = [
            _fill_default(pl.lit(None, dtype=dtype_of(s.type)), s).alias(name)
            for name, s in cspec.slots.items()
            if name not in items.columns
        ]
        grouped = (
            items.lazy()
            .with_columns(absent)
            .group_by(ROW, maintain_order=True)
            .agg(pl.struct([pl.col(name) for name in cspec.slots]).alias(path))
        )
        valid = (
            valid.lazy()
            .join(grouped, on=ROW, how="left", maintain_order="left")
            .with_columns(pl.col(path).fill_null(pl.lit([], dtype=dtype)).cast(dtype))
            .collect()
        )
    return Prepared(valid=valid, rejected=rejected, n_rows=n, passthrough=passthrough)


# ---------------------------------------------------------------------------
# Records <-> tables
# ---------------------------------------------------------------------------


def _flatten(data: Mapping[str, Any], spec: ModelSpec, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{prefix}{key}"
        if path in spec.children:
            out[path] = [
                {k: list(v) if isinstance(v, tuple) else v for k, v in item.items()} for item in value
            ]
        elif isinstance(value, dict):
            out.update(_flatten(value, spec, path + "."))
        else:
            out[path] = list(value) if isinstance(value, tuple) else value
    return out


def frame_from_records(records: Iterable[Customer | Mapping[str, Any]]) -> pl.DataFrame:
    """A canonical customer table from records (one row per record)."""
    spec = customer_spec()
    schema = canonical_schema(spec)
    columns: dict[str, list[Any]] = {name: [] for name in schema}
    for i, r in enumerate(records):
        rec = r if isinstance(r, Customer) else _validate(r, i)
        flat = _flatten(rec.model_dump(), spec)
        for name, col in columns.items():
            col.append(flat.get(name))
    return pl.DataFrame(columns, schema=schema)


def tables_from_records(
    records: Iterable[Customer | Mapping[str, Any]],
) -> dict[str, pl.DataFrame]:
    """A customer table plus one table per nested record list.

    Keys: ``customers`` (no nested list columns) and ``cases``,
    ``interactions``, ``deductions`` — each with a ``customer_id`` column
    first, then the item fields.
    """
    spec = customer_spec()
    frame = frame_from_records(records)
    out = {"customers": frame.drop(list(spec.children))}
    for path, cspec in spec.children.items():
        name = path.rsplit(".", 1)[-1]
        table = (
            frame.select(pl.col("id").alias(CHILD_KEY), pl.col(path))
            .filter(pl.col(path).list.len() > 0)
            .explode(path)
            .unnest(path)
        )
        if table.height == 0:
            table = pl.DataFrame(
                schema={CHILD_KEY: pl.String(), **{n: dtype_of(s.type) for n, s in cspec.slots.items()}}
            )
        out[name] = table
    return out


def _validate(data: Mapping[str, Any], row: int | None) -> Customer:
    try:
        return Customer.model_validate(data)
    except ValidationError as exc:
        rid = data.get("id")
        errors = [(".".join(str(p) for p in e["loc"]) or "(record)", e["msg"]) for e in exc.errors()]
        raise RecordError(None if rid is None else str(rid), errors, row=row) from None


def _nest(row: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path, value in row.items():
        if path == ROW:
            continue
        parts = path.split(".")
        node = out
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    return out


def records_from_canonical(valid: pl.DataFrame) -> list[tuple[int, Customer | RecordError]]:
    """Records from a validated canonical table: (row, record or error) pairs.

    A row the column-wise checks accepted but the record model does not is
    returned as its :class:`RecordError` (the frame checks are a mirror of
    the model's; this keeps them honest).
    """
    out: list[tuple[int, Customer | RecordError]] = []
    rows = valid.get_column(ROW).to_list() if ROW in valid.columns else list(range(valid.height))
    schema = canonical_schema()
    fields = valid.select([c for c in valid.columns if c in schema])
    for row, data in zip(rows, fields.iter_rows(named=True), strict=True):
        try:
            out.append((row, _validate(_nest(data), row)))
        except RecordError as exc:
            out.append((row, exc))
    return out


def split_details(details: Iterable[str]) -> list[tuple[str, str]]:
    """``["path: message", ...]`` as ``(path, message)`` pairs."""
    out: list[tuple[str, str]] = []
    for d in details:
        path, sep, msg = d.partition(": ")
        out.append((path, msg) if sep else ("(record)", d))
    return out


def records_from_frame(
    data: pl.DataFrame, tables: Mapping[str, pl.DataFrame | None] | None = None
) -> list[Customer]:
    """Records from a customer table (and separate nested tables)."""
    prepared = prepare(data, tables)
    if prepared.rejected.height:
        first = prepared.rejected.row(0, named=True)
        raise RecordError(first["id"], split_details(first["details"]), row=first["row"])
    out: list[Customer] = []
    for _, rec in records_from_canonical(prepared.valid):
        if isinstance(rec, RecordError):
            raise rec
        out.append(rec)
    return out
