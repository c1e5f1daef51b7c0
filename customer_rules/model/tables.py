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

import datetime
import difflib
import math
import string
import types
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from operator import attrgetter, itemgetter
from typing import Annotated, Any, Union, get_args, get_origin

import annotated_types
import polars as pl
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError
from pydantic_core import PydanticUndefined

from customer_rules.errors import RecordError
from customer_rules.lang.types import BOOL, DATE, LIST, NUMBER, STRING, Type, _unwrap, scalar_type
from customer_rules.model.bulk import collector_paused
from customer_rules.model.records import INT64_MAX, INT64_MIN, Customer, NotBefore, UniqueItems

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
    """One scalar or list field of a record model, as a table column.

    ``adapter`` is the field's own pydantic validator (its annotation and
    constraints under the model's configuration): the judge of every value
    polars does not read itself. ``exact`` says polars mirrors all the
    field's constraints (``ge``/``le``/``min_length``/enums); otherwise
    every present value goes to ``adapter``.
    """

    path: str
    type: Type
    optional: bool  # None is allowed
    required: bool  # no default: a missing value is an error
    adapter: TypeAdapter[Any]
    default: Any = None  # the value of a null cell when None is not allowed
    min_length: int | None = None
    exact: bool = True
    finite: bool = False  # the model refuses NaN and infinities (allow_inf_nan=False)


@dataclass(frozen=True)
class ModelSpec:
    """The columns of one record model: slots, nested record lists and rules.

    ``rules`` are the declared cross-field rules (:class:`NotBefore`,
    :class:`UniqueItems`) with the dotted prefix of the sub-model that
    declares them; ``opaque`` names the (sub-)models with validators that
    are not declared rules, whose rows pydantic validates one by one.
    """

    model: type[BaseModel]
    slots: dict[str, Slot]
    children: dict[str, ModelSpec] = field(default_factory=dict)
    rules: list[tuple[str, NotBefore | UniqueItems]] = field(default_factory=list)
    opaque: list[str] = field(default_factory=list)

    @property
    def prefixes(self) -> frozenset[str]:
        """Dotted names of nested sub-models (``value``, ``deal`` ...)."""
        out: set[str] = set()
        for path in [*self.slots, *self.children]:
            parts = path.split(".")
            out.update(".".join(parts[:i]) for i in range(1, len(parts)))
        return frozenset(out)

    def is_opaque(self) -> bool:
        """Some validation here (or in a nested list) only pydantic can run."""
        return bool(self.opaque) or any(c.is_opaque() for c in self.children.values())


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


_MIRRORED = (annotated_types.Ge, annotated_types.Le, annotated_types.MinLen)
_LEAF_CONFIG = (
    "allow_inf_nan",
    "strict",
    "str_strip_whitespace",
    "str_to_lower",
    "str_to_upper",
    "str_min_length",
    "str_max_length",
    "coerce_numbers_to_str",
    "val_temporal_unit",
)


def _exact(metadata: Iterable[Any], config: Mapping[str, Any]) -> bool:
    """Polars mirrors every constraint here (else pydantic judges every value)."""
    if any(config.get(k) for k in _LEAF_CONFIG if k != "allow_inf_nan"):
        return False
    for m in metadata:
        items = getattr(m, "metadata", None)
        if items is None:
            items = [m]
        elif any(getattr(m, a, None) is not None for a in ("strict", "pattern", "max_length", "multiple_of")):
            return False
        if not all(isinstance(i, _MIRRORED) for i in items):
            return False
    return True


def _own_validators(model: type[BaseModel]) -> list[str]:
    """Validators of ``model`` other than the declared rules' runner."""
    decorators = model.__pydantic_decorators__
    names = [
        *decorators.field_validators,
        *decorators.validators,
        *decorators.root_validators,
        *(n for n in decorators.model_validators if n != "_check_rules"),
    ]
    return names


def _build_spec(model: type[BaseModel], prefix: str = "", into: ModelSpec | None = None) -> ModelSpec:
    spec = into or ModelSpec(model, {}, {})
    spec.rules.extend((prefix, r) for r in getattr(model, "rules", ()))
    if _own_validators(model):
        spec.opaque.append(prefix.rstrip(".") or model.__name__)
    config = {k: model.model_config.get(k) for k in _LEAF_CONFIG if k in model.model_config}
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
        annotation = Annotated[(finfo.annotation, *finfo.metadata)] if finfo.metadata else finfo.annotation
        spec.slots[path] = Slot(
            path=path,
            type=t,
            optional=_allows_none(finfo.annotation),
            required=finfo.is_required(),
            adapter=TypeAdapter(annotation, config=ConfigDict(**config)),  # type: ignore[typeddict-item]
            default=tuple(default) if isinstance(default, list | tuple) else default,
            min_length=_min_length(meta),
            exact=_exact(meta, config),
            finite=config.get("allow_inf_nan", True) is False,
        )
    return spec


@lru_cache(maxsize=64)
def customer_spec(model: type[BaseModel] = Customer) -> ModelSpec:
    """The columns of a record model (:class:`Customer`, or an engine's ``record_model``)."""
    return _build_spec(model)


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
# Coercion and validation, column-wise, derived from the pydantic model
# ---------------------------------------------------------------------------
#
# pydantic decides which values are valid: each slot carries the validator
# of its field (``Slot.adapter``). Polars computes the value itself only for
# inputs where it provably gives what pydantic gives — the canonical dtype,
# plain decimal digits, ``YYYY-MM-DD`` — and checks the constraints it can
# mirror exactly (``ge``/``le``/``min_length`` and enums, read from the
# same model). Every other present cell is handed to the slot's validator
# (once per distinct value), so per record and per table accept and reject
# the same rows, with pydantic's messages.

_FLOAT_TEXT = r"^-?[0-9]{1,18}(\.[0-9]{1,18})?$"
_INT_TEXT = r"^-?[0-9]{1,18}$"  # fits Int64
_DATE_TEXT = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_SMALL_INTS = (pl.Int8(), pl.Int16(), pl.Int32(), pl.Int64(), pl.UInt8(), pl.UInt16(), pl.UInt32())


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


def judge(adapter: TypeAdapter[Any], dtype: pl.DataType) -> Callable[[pl.Series], pl.Series]:
    """A polars batch function: each present value through the field's pydantic
    validator; a struct of the validated value (``v``) and the first error
    (``e``, ``": message"`` or ``".<item>: message"``, to follow the path).

    Each value is judged on its own, so :func:`coerce` declares the UDF
    elementwise: inside ``list.eval`` (the items of nested lists) polars
    then calls it once on every list's items together. Not declared so,
    polars called it once per list, ~0.3 ms each: text dates in the items
    of a nested list made ``prepare`` of 2,000 customers take ~22 s."""

    def check(raw: Any) -> tuple[Any, str | None]:
        try:
            v = adapter.validate_python(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = ".".join(str(p) for p in first["loc"])
            return None, f".{loc}: {first['msg']}" if loc else f": {first['msg']}"
        return (list(v) if isinstance(v, tuple) else v), None

    def run(series: pl.Series) -> pl.Series:
        n = series.len()
        present = series.drop_nulls()
        if present.len() == 0:  # the common case: polars read every cell itself
            return pl.DataFrame(schema={"v": dtype, "e": pl.String()}).clear(n).to_struct(series.name)
        try:  # each distinct value once
            keys = present.unique(maintain_order=True)
        except pl.exceptions.PolarsError:
            keys = present
        judged = [check(k) for k in keys.to_list()]
        table = pl.DataFrame(
            [
                keys.alias("k"),
                pl.Series("v", [v for v, _ in judged], dtype=dtype),
                pl.Series("e", [e for _, e in judged], dtype=pl.String()),
            ]
        )
        joined = series.alias("k").to_frame().join(table, on="k", how="left", nulls_equal=False, maintain_order="left")
        unmatched = joined.select(
            (pl.col("k").is_not_null() & pl.col("v").is_null() & pl.col("e").is_null()).arg_true()
        ).to_series()
        if unmatched.len():  # keys a join cannot match (NaN, nested values): one by one
            raws = series.to_list()
            values = joined.get_column("v").to_list()
            errors = joined.get_column("e").to_list()
            for i in unmatched.to_list():
                values[i], errors[i] = check(raws[i])
            return pl.DataFrame(
                [pl.Series("v", values, dtype=dtype), pl.Series("e", errors, dtype=pl.String())]
            ).to_struct(series.name)
        return joined.select("v", "e").to_struct(series.name)

    return run


@dataclass(frozen=True)
class Coerced:
    """A column read for a slot: its canonical value and its checks.

    Each check is ``(bad, message)``: ``bad`` is true (never null) on an
    invalid row; ``message`` a string or a string expression.
    """

    value: pl.Expr
    checks: list[tuple[pl.Expr, str | pl.Expr]]
    screens: list[pl.Expr] = field(default_factory=list)
    """One per check: a Boolean aggregate over the whole column, false
    (or null) only when the check is false on every row (see :func:`prepare`)."""


def _fast(raw: pl.Expr, src: pl.DataType, t: Type) -> tuple[pl.Expr, pl.Expr] | None:
    """``(ok, value)``: where polars gives exactly pydantic's value, and that value.

    ``None`` when polars reads no value of this dtype for this type.
    """
    yes = pl.lit(True)
    if t.kind == NUMBER:
        target = pl.Int64() if t.integer else pl.Float64()
        if src in _SMALL_INTS:
            return yes, raw.cast(target)
        if src.is_float():
            if not t.integer:
                return raw.is_finite(), raw.cast(pl.Float64())
            whole = raw.is_finite() & (raw == raw.floor()) & (raw.abs() < 2.0**62)
            return whole, pl.when(whole).then(raw).cast(pl.Int64(), strict=False)
        if isinstance(src, pl.String):
            text = raw.str.contains(_INT_TEXT if t.integer else _FLOAT_TEXT)
            return text, pl.when(text).then(raw).cast(target, strict=False)
        return None
    if t.kind == BOOL:
        return (yes, raw) if isinstance(src, pl.Boolean) else None
    if t.kind == STRING:
        if isinstance(src, pl.String):
            return yes, raw
        if isinstance(src, pl.Categorical | pl.Enum):
            return yes, raw.cast(pl.String())
        return None
    if t.kind == DATE:
        if isinstance(src, pl.Date):
            return yes, raw
        if isinstance(src, pl.Datetime):  # pydantic takes a zero-time datetime's own date
            midnight = raw.dt.time() == pl.time(0)
            return midnight, raw.dt.date()
        if isinstance(src, pl.String):
            day = pl.when(raw.str.contains(_DATE_TEXT)).then(raw.str.to_date("%Y-%m-%d", strict=False))
            ok = day.is_not_null() & (day.dt.year() >= 1)
            return ok, day
        return None
    return None


def _constraints(
    value: pl.Expr, t: Type, min_length: int | None, finite_of: pl.Expr | None = None
) -> list[tuple[pl.Expr, str, pl.Expr]]:
    """The model's constraints polars checks itself (bounds, enums, length):
    ``(bad, message, screen)`` each (``screen`` as in :class:`Coerced`).

    ``finite_of``: the float column ``value`` is, NaN and infinities made
    null. The bound screens then compare that column itself, finite values
    only, instead of aggregating the masked copy ``value`` (the same answer,
    without materialising the copy: about half the screens' time at 1M rows).
    """
    checks: list[tuple[pl.Expr, str, pl.Expr]] = []

    def bound(x: float) -> pl.Expr:
        whole = t.integer and float(x).is_integer()
        return pl.lit(int(x), dtype=pl.Int64()) if whole else pl.lit(float(x), dtype=pl.Float64())

    if t.kind == NUMBER:
        # an Int64 column cannot pass the 64-bit bounds every whole number has
        if t.ge is not None and not (t.integer and t.ge <= INT64_MIN):
            low = bound(t.ge)
            # polars orders NaN above every number: ``NaN < x`` is false, and min skips NaN
            screen = value.min() < low if finite_of is None else ((finite_of < low) & (finite_of > -math.inf)).any()
            checks.append(
                ((value < low).fill_null(False), f"Input should be greater than or equal to {_num(t.ge)}", screen)
            )
        if t.le is not None and not (t.integer and t.le >= INT64_MAX):
            high = bound(t.le)
            # ``NaN > x`` is true, and nan_max is NaN when a NaN is present
            top = value.max() if t.integer else value.nan_max()
            # (``NaN < inf`` is false: the finite values alone)
            screen = top > high if finite_of is None else ((finite_of > high) & (finite_of < math.inf)).any()
            checks.append(
                ((value > high).fill_null(False), f"Input should be less than or equal to {_num(t.le)}", screen)
            )
    if t.kind == STRING and t.enum:
        bad = (~_one_of(value, t.enum)).fill_null(False)
        checks.append((bad, enum_message(t.enum), bad.any()))
    if min_length:
        s = "" if min_length == 1 else "s"
        size = value.str.len_bytes() if min_length == 1 else value.str.len_chars()  # 0 bytes = 0 chars
        checks.append(
            (
                (size < min_length).fill_null(False),
                f"String should have at least {min_length} character{s}",
                size.min() < min_length,
            )
        )
    return checks


def coerce(raw: pl.Expr, src: pl.DataType, slot: Slot) -> Coerced:
    """The canonical value of ``raw`` (of dtype ``src``) for ``slot``, and its checks.

    Invalid values come out as null.
    """
    t = slot.type
    target = dtype_of(t)
    if isinstance(src, pl.Null):
        return Coerced(pl.lit(None, dtype=target), [])
    present = raw.is_not_null()
    if t.kind == LIST:
        assert t.item is not None
        inner = src.inner if isinstance(src, pl.List | pl.Array) else None
        if slot.exact and inner is not None and _fast(pl.element(), _dtype(inner), t.item) is not None:
            lst = raw.cast(pl.List(inner)) if isinstance(src, pl.Array) else raw
            e = pl.element()
            item = Slot(path=slot.path, type=t.item, optional=False, required=True, adapter=slot.adapter)
            got = coerce(e, _dtype(inner), item)
            # the screens read every list's items at once: the item checks
            # over the flattened items (null lists and empty lists add none)
            items = _explode(lst)
            flat = coerce(items, _dtype(inner), item)
            checks: list[tuple[pl.Expr, str | pl.Expr]] = [
                (lst.list.eval(e.is_null()).list.any().fill_null(False), _null_message(t.item))
            ]
            screens = [items.null_count() > 0]
            for (bad, msg), screen in zip(got.checks, flat.screens, strict=True):
                if isinstance(msg, pl.Expr):  # a list item pydantic refused: ask for the whole list
                    break
                checks.append((lst.list.eval(bad).list.any().fill_null(False), msg))
                screens.append(screen)
            else:
                return Coerced(lst.list.eval(got.value).cast(target), checks, screens)
        judged = raw.map_batches(
            judge(slot.adapter, target), return_dtype=_JUDGED(target), is_elementwise=True
        )
        refused = judged.struct.field("e").is_not_null()
        return Coerced(judged.struct.field("v"), [(refused, judged.struct.field("e"))], [refused.any()])
    fast = _fast(raw, src, t) if slot.exact else None
    checks = []
    screens = []
    finite_of: pl.Expr | None = None
    if fast is not None and t.kind == NUMBER and not t.integer and src.is_float() and slot.finite:
        finite_of = raw
        # the model refuses NaN and infinities (allow_inf_nan=False): mirrored, no judge needed
        finite = raw.is_finite()
        fast = (pl.lit(True), pl.when(finite).then(raw))
        checks.append(((~finite).fill_null(False), "Input should be a finite number"))
        # NaN or an infinity present: one pass (nan_max and nan_min, two
        # aggregates, took twice as long: 11 columns of 1M rows, 24 -> 13 ms)
        screens.append(~raw.is_finite().all())
    if fast is None:
        ok: pl.Expr = pl.lit(False)
        value: pl.Expr = pl.lit(None, dtype=target)
    else:
        ok, value = fast
        value = value.cast(target)
    if not (fast is not None and ok.meta.eq(pl.lit(True))):
        rest = present & ~ok.fill_null(False)
        judged = pl.when(rest).then(raw).map_batches(
            judge(slot.adapter, target), return_dtype=_JUDGED(target), is_elementwise=True
        )
        error = judged.struct.field("e")
        value = pl.when(rest).then(judged.struct.field("v")).otherwise(value)
        checks.append((error.is_not_null(), error))
        screens.append(error.is_not_null().any())
    for bad, msg, screen in _constraints(value, t, slot.min_length, finite_of) if slot.exact else []:
        checks.append((bad, msg))
        screens.append(screen)
    return Coerced(value, checks, screens)


def _read_exactly(data: pl.DataFrame, fields: Mapping[str, tuple[Source, Slot]]) -> dict[str, pl.Series]:
    """The values of ``data``'s fields (key → where the field is, and its
    slot) that are of another type than the field's (text dates, as
    ``pl.read_csv`` and JSON give them; whole floats for an integer,
    midnight datetimes, ...) and that polars reads exactly (:func:`_fast`)
    on every row, read: columns of the field's type, null where the input
    is, by key. A field with any value polars does not read is left out
    (its rows are judged as given, by pydantic's path).

    A field read here is then checked as if given typed, at the cost of a
    typed column. Checked as given, every check also ran pydantic's path for
    the rows polars might not read, and the screens read the text again: a
    table from ``pl.read_csv`` (15 text date columns, 100,000 rows) took 2.3x
    the time of the same table typed."""
    candidates: list[tuple[str, pl.Expr, pl.Expr]] = []
    for key, (src, slot) in fields.items():
        target = dtype_of(slot.type)
        if not slot.exact or src.dtype == target or isinstance(src.dtype, pl.Null):
            continue
        fast = _fast(src.expr, src.dtype, slot.type)
        if fast is None or fast[0].meta.eq(pl.lit(True)):
            continue
        ok, value = fast
        # read where given, to a value (a huge integer as text reads null)
        read = src.expr.is_null() | (ok.fill_null(False) & value.is_not_null())
        candidates.append((key, read, value.cast(target)))
    if not candidates:
        return {}
    # values and verdicts in one pass (a verdict as an aggregate took 3x as long),
    # over one chunk: polars pays a cost per chunk and expression (a table from
    # pl.read_ndjson, 100,000 rows in 384 chunks: 85 ms as it was, ~20 ms copied)
    roots = list(dict.fromkeys(r for _, _, v in candidates for r in v.meta.root_names()))
    given = pl.DataFrame([data.get_column(r) for r in roots])  # (an eager select of 384 chunks: 29 ms)
    out = (
        (given.rechunk() if max(given.n_chunks("all")) > 1 else given)
        .lazy()
        .select(
            *[v.alias(f"v{i}") for i, (_, _, v) in enumerate(candidates)],
            *[r.alias(f"r{i}") for i, (_, r, _) in enumerate(candidates)],
        )
        .collect(engine=collect_engine(data.height))
    )
    return {
        key: out.get_column(f"v{i}")
        for i, (key, _, _) in enumerate(candidates)
        if out.get_column(f"r{i}").all()
    }


def _typed_as_read(
    data: pl.DataFrame, spec: ModelSpec, *, warn: bool
) -> tuple[pl.DataFrame, dict[str, Source], list[str]]:
    """``data`` as :func:`prepare` checks it, with its sources and
    pass-through columns (:func:`map_columns`; ``warn`` there).

    * A struct column named after a sub-model (``deal``, as JSON gives it)
      becomes its fields' columns (``deal.first_contact_at``...; no copy).
      Read inside the struct, each check paid polars' cost per chunk on
      every field: 100,000 customers from ``pl.read_ndjson`` (384 chunks)
      took 333 ms to check without their nested lists, 51 ms rechunked.
    * A column polars reads exactly on every row (:func:`_read_exactly`:
      text dates, whole floats for an integer...) is replaced by its value.
    """
    sources, passthrough = map_columns(data.schema, spec, warn=warn)
    structs = sorted({s.column for s in sources.values() if not s.expr.meta.eq(pl.col(s.column))})
    schema = data.schema
    fields = [f"{c}.{f.name}" for c in structs for f in getattr(schema[c], "fields", ())]
    if fields and len(set(fields)) == len(fields) and not set(fields) & set(schema):
        data = data.unnest(structs, separator=".")
        sources, passthrough = map_columns(data.schema, spec, warn=False)
    own = {p: (s, spec.slots[p]) for p, s in sources.items() if p in spec.slots and s.expr.meta.eq(pl.col(s.column))}
    read = _read_exactly(data, own)
    lists = {
        s.column: column
        for p, s in sources.items()
        if p in spec.children and (column := _items_read(data, s, spec.children[p])) is not None
    }
    if read or lists:
        data = data.with_columns(*(v.alias(sources[p].column) for p, v in read.items()), **lists)
        sources, passthrough = map_columns(data.schema, spec, warn=False)
    return data, sources, passthrough


def _items_read(data: pl.DataFrame, src: Source, item: ModelSpec) -> pl.Series | None:
    """The list-of-struct column ``src`` (a nested record list, as JSON gives
    it) with the item fields polars reads exactly on every item read (text
    dates...), as :func:`_read_exactly` does for a table's own columns; None
    when it reads none. Checked where they are, the items' text dates cost
    about 8x their typed checks (interactions of 100,000 sample customers)."""
    dtype = src.dtype
    if not (isinstance(dtype, pl.List) and isinstance(dtype.inner, pl.Struct)) or not src.expr.meta.eq(
        pl.col(src.column)
    ):
        return None
    candidates: dict[str, tuple[pl.DataType, Slot]] = {}
    for f in dtype.inner.fields:
        field_slot = item.slots.get(f.name)
        if field_slot is None or not field_slot.exact or field_slot.type.kind == LIST:
            continue
        given = _dtype(f.dtype)
        if given == dtype_of(field_slot.type) or isinstance(given, pl.Null):
            continue
        if _fast(pl.element(), given, field_slot.type) is None:
            continue
        candidates[f.name] = (given, field_slot)
    if not candidates:
        return None
    column = pl.DataFrame([data.get_column(src.column)]).rechunk()  # one chunk: see _read_exactly
    # which fields polars reads on every item: over the items laid flat (about
    # 3x faster than item by item inside the lists)
    flat = column.select(src.expr.explode(keep_nulls=False).struct.unnest())
    verdicts = _read_exactly(flat, {n: (Source(pl.col(n), t, n), slot) for n, (t, slot) in candidates.items()})
    if not verdicts:
        return None
    # the lists rebuilt with those fields read (the flat values cannot be put
    # back into the lists without a group-by: polars reads them again in place)
    read = []
    for name in verdicts:
        given, field_slot = candidates[name]
        fast = _fast(pl.element().struct.field(name), given, field_slot.type)
        assert fast is not None
        read.append(fast[1].cast(dtype_of(field_slot.type)).alias(name))
    return column.select(src.expr.list.eval(pl.element().struct.with_fields(read))).to_series()


def _JUDGED(target: pl.DataType) -> pl.DataType:
    return pl.Struct({"v": target, "e": pl.String()})


def _rule_checks(spec: ModelSpec, col: Callable[[str], pl.Expr], where: pl.Expr) -> list[Check]:
    """The model's declared cross-field rules (:class:`NotBefore`), column-wise.

    ``where`` names the item (``cases.0``) or is empty for the record; the
    message is pydantic's for the same rule (``<loc>: Value error, ...``).
    """
    out: list[Check] = []
    for prefix, rule in spec.rules:
        if not isinstance(rule, NotBefore):
            continue
        a, b = col(prefix + rule.earlier), col(prefix + rule.later)
        bad = (b < a).fill_null(False)

        def field_value(name: str, a: pl.Expr = a, b: pl.Expr = b, prefix: str = prefix) -> pl.Expr:
            chosen = a if name == "earlier" else b if name == "later" else col(prefix + name)
            return chosen.cast(pl.String())

        loc = prefix.rstrip(".")
        message = rule_message(rule.message, field_value)
        head = (
            pl.when(where == "")
            .then(pl.lit(loc or "(record)"))
            .otherwise(pl.format("{}." + loc, where) if loc else where)
        )
        bad_msg = pl.format("{}: Value error, {}", head, message)
        out.append((bad, bad_msg))
    return out


def rule_message(template: str, value: Callable[[str], pl.Expr]) -> pl.Expr:
    """A declared rule's message template as a polars string expression."""
    text = ""
    parts: list[pl.Expr] = []
    for literal, name, _, conv in string.Formatter().parse(template):
        text += literal.replace("{", "{{").replace("}", "}}")
        if name is None:
            continue
        text += "{}"
        v = value(name)
        parts.append(pl.format("'{}'", v) if conv == "r" else v)
    return pl.format(text, *parts) if parts else pl.lit(text.replace("{{", "{").replace("}}", "}"))


def _unique_items(spec: ModelSpec, path: str) -> list[tuple[str, UniqueItems]]:
    """The declared :class:`UniqueItems` rules over the nested list ``path``,
    with where pydantic reports them (``(record)`` or the sub-model)."""
    return [
        (prefix.rstrip(".") or "(record)", r)
        for prefix, r in spec.rules
        if isinstance(r, UniqueItems) and prefix + r.items == path
    ]


#: below this many rows a table is evaluated by polars' in-memory engine: its
#: per-query cost is lower than the streaming engine's (about 15 ms less for
#: every built-in scheme's plan), and the intermediate columns it holds at
#: once are small; larger tables stream, in bounded memory
IN_MEMORY_ROWS = 50_000


#: from this many rows on, :func:`prepare` screens every check with an
#: aggregate over its column before it builds a bad-row mask (see there)
SCREEN_ROWS = IN_MEMORY_ROWS


def collect_engine(rows: int) -> Any:
    """The polars engine that evaluates a query over a table of ``rows`` rows."""
    return "in-memory" if rows < IN_MEMORY_ROWS else "auto"


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
) -> tuple[dict[str, pl.Expr], list[Check], list[pl.Expr]]:
    """Canonical values, checks and the checks' screens (one each, see
    :class:`Coerced`) for every slot of ``spec`` present in ``sources``."""
    values: dict[str, pl.Expr] = {}
    checks: list[Check] = []
    screens: list[pl.Expr] = []
    for path, slot in spec.slots.items():
        src = sources.get(path)
        if src is None:
            if slot.required:
                checks.append((pl.lit(True), pl.format("{}: Field required", where(path))))
                screens.append(pl.lit(True))
            elif slot.default is not None and not isinstance(slot.default, tuple):
                values[path] = pl.lit(slot.default, dtype=dtype_of(slot.type))
            continue
        got = coerce(src.expr, src.dtype, slot)
        value = got.value
        if slot.required:
            checks.append((src.expr.is_null(), pl.format("{}: Field required", where(path))))
            screens.append(src.expr.null_count() > 0)
        else:
            value = _fill_default(value, slot)
        for bad, msg in got.checks:
            if isinstance(msg, pl.Expr):  # pydantic's own message, with its item position
                checks.append((bad, pl.format("{}{}", where(path), msg)))
            else:
                checks.append((bad, pl.format("{}: " + msg.replace("{", "{{").replace("}", "}}"), where(path))))
        screens += got.screens
        values[path] = value
    return values, checks, screens


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
    """The canonical ``List(Struct)`` column of a nested list given as a list
    column (built once per item spec and column)."""
    key = (id(spec), str(src.expr), src.dtype)
    hit = _LIST_VALUES.get(key)
    if hit is None or hit[0] is not spec:
        if len(_LIST_VALUES) >= 64:
            _LIST_VALUES.pop(next(iter(_LIST_VALUES)))
        hit = _LIST_VALUES[key] = (spec, _build_list_value(src, spec))
    return hit[1]


_LIST_VALUES: dict[tuple[Any, ...], tuple[ModelSpec, pl.Expr]] = {}


def _build_list_value(src: Source, spec: ModelSpec) -> pl.Expr:
    target = child_dtype(spec)
    if src.dtype == target and all(s.optional or s.default is None for s in spec.slots.values()):
        return src.expr.fill_null(pl.lit([], dtype=target))  # already canonical
    inner = src.dtype.inner if isinstance(src.dtype, pl.List) else None
    present = {f.name: _dtype(f.dtype) for f in inner.fields} if isinstance(inner, pl.Struct) else {}
    fields = []
    for name, slot in spec.slots.items():
        dtype = dtype_of(slot.type)
        if name in present:
            value = coerce(pl.element().struct.field(name), present[name], slot).value
        else:
            value = pl.lit(None, dtype=dtype)
        fields.append(_fill_default(value.cast(dtype), slot).alias(name))
    return src.expr.list.eval(pl.struct(fields)).cast(target).fill_null(pl.lit([], dtype=target))


#: per nested list column (item spec, path, column expression and type, unique
#: rules): the expression telling which parents hold a bad item, built once
_ITEM_CHECKS: dict[tuple[Any, ...], tuple[ModelSpec, pl.Expr, int]] = {}


def _items_bad(path: str, spec: ModelSpec, src: Source, unique: Sequence[tuple[str, UniqueItems]]) -> pl.Expr:
    """Which parents of the nested list column ``src`` hold a bad item (a
    Boolean per row, never null), without exploding the (mostly valid)
    lists: built once per item spec, path, column and unique rules, and
    evaluated in the same pass as the table's canonical values (see :func:`prepare`)."""
    return _item_checks(path, spec, src, unique)[0]


def _item_checks(
    path: str, spec: ModelSpec, src: Source, unique: Sequence[tuple[str, UniqueItems]]
) -> tuple[pl.Expr, int]:
    """:func:`_items_bad`, and how many checks it runs over every item (each
    a pass polars makes over every chunk of the column)."""
    inner = src.dtype.inner if isinstance(src.dtype, pl.List) else None
    fields = inner.fields if isinstance(inner, pl.Struct) else []
    cache_key = (id(spec), path, str(src.expr), src.dtype, tuple(id(r) for _, r in unique))
    hit = _ITEM_CHECKS.get(cache_key)
    if hit is None or hit[0] is not spec:
        e = pl.element()
        e_values, e_checks, _ = _validate_slots(spec, _item_sources(spec, fields, e), lambda name: pl.lit(name))
        e_checks.insert(0, (e.is_null(), pl.lit("")))
        e_cross = _rule_checks(spec, lambda n: e_values.get(n, pl.lit(None)), pl.lit(""))
        has_bad = src.expr.list.eval(_any(e_checks + e_cross)).list.any().fill_null(False)
        passes = len(e_checks) + len(e_cross)
        for _, rule in unique:
            if rule.key in e_values:
                keys = src.expr.list.eval(e_values[rule.key])
                has_bad = has_bad | (keys.list.n_unique() < keys.list.len()).fill_null(False)
                passes += 1
        if len(_ITEM_CHECKS) >= 64:
            _ITEM_CHECKS.pop(next(iter(_ITEM_CHECKS)))
        hit = _ITEM_CHECKS[cache_key] = (spec, has_bad, passes)
    return hit[1], hit[2]


#: a nested list column in chunks is made contiguous for its item checks when
#: it holds fewer items than this per chunk and item check (see :func:`_contiguous_for_checks`)
ITEMS_PER_CHUNK_CHECK = 1000


def _contiguous_for_checks(base: pl.DataFrame, src: Source, passes: int) -> bool:
    """Whether the item checks of the nested list column ``src`` (``passes``
    of them) run faster over a contiguous copy of the column than over its chunks.

    Polars pays a fixed cost per chunk for every check over a list's items
    (about 17 µs here): the cases of a 1M-row table in 500 chunks of 2,000
    rows (tiled, or read from many row groups) cost about 170 ms of CPU to
    check as they are, 70 ms copied into one chunk first. Copying costs in
    proportion to the items (the 6.8M interactions of the same table: 80 ms
    as they are, 130 ms copied), so the copy is made only when the column
    holds fewer than ``ITEMS_PER_CHUNK_CHECK`` items per chunk and check.
    The checks give the same answer either way.
    """
    roots = src.expr.meta.root_names()
    chunks = max((base.get_column(r).n_chunks() for r in roots), default=1)
    if chunks <= 1:
        return False
    items = base.select(src.expr.list.len().sum()).item()
    return int(items or 0) < chunks * passes * ITEMS_PER_CHUNK_CHECK


def _item_sources(spec: ModelSpec, fields: Sequence[Any], item: pl.Expr) -> dict[str, Source]:
    """The item fields of a nested list (a struct ``item``) that the item spec knows."""
    return {
        f.name: Source(item.struct.field(f.name), _dtype(f.dtype), f.name) for f in fields if f.name in spec.slots
    }


def _child_frame(
    path: str,
    spec: ModelSpec,
    base: pl.DataFrame,
    src: Source,
    unique: Sequence[tuple[str, UniqueItems]] = (),
    has_bad: pl.Series | None = None,
) -> pl.DataFrame:
    """The parent rows holding a bad item of one nested record list column
    (ROW, details: list of messages). ``has_bad`` is :func:`_items_bad`
    evaluated over ``base`` (when not given, it is evaluated here)."""
    none = base.select(ROW, pl.lit([], dtype=pl.List(pl.String())).alias("details")).clear()
    if not isinstance(src.dtype, pl.List):
        return base.filter(src.expr.is_not_null()).select(
            ROW, details=pl.concat_list(pl.lit(f"{path}: Input should be a valid tuple"))
        )
    inner = src.dtype.inner
    fields = inner.fields if isinstance(inner, pl.Struct) else []
    if has_bad is None:
        has_bad = base.select(_items_bad(path, spec, src, unique)).to_series()
    if not has_bad.any():  # every item valid (the usual case): no messages to build
        return none
    items = (
        base.lazy()
        .filter(pl.lit(has_bad))
        .select(
            ROW,
            src.expr.alias("__item"),
            pl.int_ranges(0, src.expr.list.len(), dtype=pl.Int64()).alias("__idx"),
        )
        .filter(pl.col("__item").list.len() > 0)
        .explode(["__item", "__idx"])
        .collect()
        .rechunk()  # only the parents with a bad item; their messages need one chunk
    )
    if not items.height:
        return none
    child_sources = _item_sources(spec, fields, pl.col("__item"))
    idx = pl.col("__idx")

    def where(name: str) -> pl.Expr:
        return pl.format(f"{path}.{{}}.{name}", idx)

    values, checks, _ = _validate_slots(spec, child_sources, where)
    checks.insert(
        0,
        (pl.col("__item").is_null(), pl.format(f"{path}.{{}}: Input should be a valid dictionary", idx)),
    )
    canon = items.lazy().select(ROW, idx, **values)

    def value(name: str) -> pl.Expr:
        return pl.col(name) if name in values else pl.lit(None)

    cross = _rule_checks(spec, value, pl.format(f"{path}.{{}}", idx))
    extra: list[Check] = []
    for loc, rule in unique:
        if rule.key in values:
            dup = pl.col(rule.key).is_duplicated().over(ROW).fill_null(False)
            key = pl.col(rule.key).cast(pl.String())
            msg = rule_message(rule.message, lambda _name, key=key: key)  # type: ignore[misc]
            extra.append((dup, pl.format(f"{loc}: Value error, {{}}", msg)))
    raw_bad = _bad_rows(items.lazy(), checks)
    canon_bad = _bad_rows(canon, cross + extra)
    bad_plan = (
        pl.concat([raw_bad, canon_bad])
        .group_by(ROW, maintain_order=True)
        .agg(_explode(pl.col("details")).unique(maintain_order=True))
    )
    # polars 2.1's streaming engine can panic on these string expressions: in memory
    return bad_plan.collect(engine="in-memory")


def _attach_tables(
    base: pl.DataFrame,
    sources: dict[str, Source],
    tables: Mapping[str, pl.DataFrame | None],
    id_value: pl.Expr,
    spec: ModelSpec,
) -> pl.DataFrame:
    """``base`` with each separate nested table as a list column, and its
    source added to ``sources``: from there a separate table is validated
    and read exactly as the same items given as a list-of-struct column.

    A table's items go to the rows whose (canonical) ``id`` is their
    ``customer_id``, in the table's order; items of an id no row has are
    left out, and a row whose id occurs twice gets them twice. The items
    are the table's columns as given (named as :func:`map_columns` reads
    them), so their checks and messages are the list column's."""
    keys = base.lazy().select(id_value.alias("__id"))
    plans: dict[str, pl.LazyFrame] = {}
    for path, table in tables.items():
        if table is None:
            continue
        if path in sources:
            raise ValueError(f"{path!r} is given twice: as a column and as a separate table")
        if CHILD_KEY not in table.columns:
            raise ValueError(f"the {path} table needs a {CHILD_KEY!r} column naming the customer")
        item_sources, _ = map_columns(
            {c: d for c, d in table.schema.items() if c != CHILD_KEY}, spec.children[path], warn=False
        )
        fields = [src.expr.alias(name) for name, src in item_sources.items()]
        if not fields:  # no column the item model knows: each item leaves out every field
            fields = [pl.lit(None).alias("__cr:none")]
        plans[path] = (
            table.lazy()
            .select(pl.col(CHILD_KEY).cast(pl.String()).alias("__id"), pl.struct(fields).alias(path))
            .group_by("__id", maintain_order=True)
            .agg(pl.col(path))
        )
    # grouped first, then joined: one query doing both measured half again slower
    joins = [
        keys.join(grouped.lazy(), on="__id", how="left", maintain_order="left").select(
            pl.col(path).fill_null(pl.lit([], dtype=grouped.schema[path]))  # a row without items
        )
        for path, grouped in zip(plans, pl.collect_all(plans.values()), strict=True)
    ]
    columns = [frame.get_column(path) for path, frame in zip(plans, pl.collect_all(joins), strict=True)]
    for column in columns:
        sources[column.name] = Source(pl.col(column.name), column.dtype, column.name)
    return base.with_columns(columns)


#: top-level validation expressions by (record spec, input schema): a table of
#: 127 columns needs ~1,000 expressions, built once per schema, not per call
_TOP_LEVEL: dict[
    tuple[int, tuple[tuple[str, pl.DataType], ...]],
    tuple[ModelSpec, dict[str, pl.Expr], list[Check], list[pl.Expr], frozenset[str]],
] = {}


def _top_level_checks(
    spec: ModelSpec, schema: Mapping[str, pl.DataType], sources: Mapping[str, Source]
) -> tuple[dict[str, pl.Expr], list[Check], list[pl.Expr], frozenset[str]]:
    """The canonical values, checks and the checks' screens of a table's own
    columns, and the fields whose canonical value is their input unchanged
    (:func:`_as_given`: ~1,300 expression walks, ~10 ms per call on a
    127-column table). Made once per spec and input schema; the caller gets
    fresh copies of the containers."""
    key = (id(spec), tuple(schema.items()))
    hit = _TOP_LEVEL.get(key)
    if hit is None or hit[0] is not spec:
        values, checks, screens = _validate_slots(spec, sources, lambda p: pl.lit(p))
        cross = _rule_checks(spec, lambda p: values.get(p, pl.lit(None)), pl.lit(""))
        checks += cross
        screens += [bad.any() for bad, _ in cross]
        given = frozenset(p for p, e in values.items() if _as_given(p, e, sources.get(p), spec))
        if len(_TOP_LEVEL) >= 16:
            _TOP_LEVEL.pop(next(iter(_TOP_LEVEL)))
        hit = _TOP_LEVEL[key] = (spec, values, checks, screens, given)
    _, values, checks, screens, given = hit
    return dict(values), list(checks), list(screens), given


def _as_given(path: str, value: pl.Expr, src: Source | None, spec: ModelSpec) -> bool:
    """Whether the canonical ``value`` of the field ``path`` is its input
    unchanged (a column of the canonical type, cast to that type)."""
    if src is None or path not in spec.slots:
        return False
    target = dtype_of(spec.slots[path].type)
    if src.dtype != target:
        return False
    while True:  # casts to the type it has already
        inputs = value.meta.pop()
        if len(inputs) != 1 or not value.meta.eq(inputs[0].cast(target)):
            return value.meta.eq(src.expr)
        value = inputs[0]


def prepare(
    data: pl.DataFrame,
    tables: Mapping[str, pl.DataFrame | None] | None = None,
    *,
    children: Iterable[str] | None = None,
    columns: Iterable[str] | None = None,
    spec: ModelSpec | None = None,
    warn: bool = True,
) -> Prepared:
    """Validate a customer table column-wise.

    ``tables`` maps a nested list path (``cases``, ``interactions``,
    ``compliance.deductions``) to a separate table keyed by
    ``customer_id``. ``children`` limits which nested lists are assembled
    into the canonical table (all present ones when None); every given
    nested list is validated either way. ``columns`` likewise limits which
    of the table's own canonical columns the valid table holds (``id``
    always; all when None): every column is still validated, so the same
    rows are rejected, but a caller that reads a few columns does not pay
    for copying the rest. A model with validators of its own reads whole
    rows: it gets every column whatever ``columns`` says.
    """
    spec = spec or customer_spec()
    n = data.height
    # Polars 2.1 panics ("assertion failed: i < self.len()") in
    # pl.format/concat_str over a filtered frame whose columns are chunked
    # differently (a multi-chunk input column beside the single-chunk row
    # index). Several row groups, pl.concat(rechunk=False) and Arrow batches
    # give such tables. The messages are built only for the (few) rejected
    # rows, so those rows are made contiguous on their own below (and the
    # items of nested lists in _child_frame): the whole table is never
    # copied, which took as long as classifying it and doubled its memory.
    data, sources, passthrough = _typed_as_read(data, spec, warn=warn)
    base = data.with_row_index(ROW)
    values, checks, screens, given = _top_level_checks(spec, data.schema, sources)
    id_value = values.get("id", pl.lit(None, dtype=pl.String()))
    raw_id = sources["id"].expr if "id" in sources else pl.lit(None, dtype=pl.String())
    tables = dict(tables or {})
    for key in tables:
        if key not in spec.children:
            raise ValueError(f"unknown nested table {key!r}; use one of {', '.join(spec.children)}")

    if any(t is not None for t in tables.values()):
        base = _attach_tables(base, sources, tables, id_value, spec)
    chosen = None if children is None else set(children)
    wanted = [c for c in spec.children if chosen is None or c in chosen]
    # which parents hold a bad item of a nested list column (evaluated below
    # only when its screen says some item may be bad)
    item_info = {
        path: _item_checks(path, cspec, src, _unique_items(spec, path))
        for path, cspec in spec.children.items()
        if (src := sources.get(path)) is not None and isinstance(src.dtype, pl.List)
    }
    item_checks = {path: e for path, (e, _) in item_info.items()}
    for path in item_checks:  # a list column stays in place: its canonical value
        if path in wanted:
            values[path] = _list_value(sources[path], spec.children[path])
    # a list column in many small chunks: its items checked over a contiguous
    # copy of it, and its canonical value (when wanted) built from the same
    # copy (the cases of 1M tiled rows in 500 chunks: 76 ms of CPU in place,
    # 3 ms more than the checks alone over the copy)
    contiguous: dict[str, pl.LazyFrame] = {}
    valued_apart: set[str] = set()  # the list values built there
    for path, (e, passes) in item_info.items():
        if _contiguous_for_checks(base, sources[path], passes):
            out = [e.alias(f"__cr:items:{path}")]
            if path in values and path not in given:
                out.append(values[path].alias(path))
                valued_apart.add(path)
            roots = dict.fromkeys(r for x in out for r in x.meta.root_names())
            contiguous[path] = base.select(list(roots)).rechunk().lazy().select(out)
    if columns is not None and not spec.is_opaque():
        keep = {*columns, *wanted, "id"}  # every column is still checked below
        values = {k: v for k, v in values.items() if k in keep}
    # On a large table, two steps. First, in one pass, the canonical values,
    # which parents hold a bad item of a nested list column, and every
    # check's screen: an aggregate over the whole column (a minimum against
    # a lower bound, ...) that is false only when the check is false on every
    # row. Then the bad-row mask from the checks whose screen fired alone
    # (usually none: no mask is built at all). On a small table the mask of
    # every check is built in the first pass (one query costs less than two
    # there). The messages only for the (few) bad rows. A column already
    # canonical is taken as it is (shared with the input, not copied).
    # (only the table's own fields can be given as they are: a nested list's
    # value above is never its input unchanged)
    kept = {path: sources[path].expr for path in values if path in given}
    engine = collect_engine(n)
    screened = bool(screens) and n >= SCREEN_ROWS
    values_plan = base.lazy().select(
        ROW,  # the table's height, also when every other expression is a literal
        **{path: e for path, e in values.items() if path not in kept and path not in valued_apart},
        **({} if screened else {"__cr:bad": _any(checks)}),
        **{f"__cr:items:{p}": e for p, e in item_checks.items() if p not in contiguous},
    )
    if not screened:
        masks, *apart = pl.collect_all([values_plan, *contiguous.values()], engine=engine)
        bad = masks.get_column("__cr:bad")
    else:
        masks, fired, *apart = pl.collect_all(
            [values_plan, base.lazy().select(s.alias(f"__cr:s{i}") for i, s in enumerate(screens)), *contiguous.values()],
            engine=engine,
        )
        # a check whose screen did not fire is false on every row
        checks = [c for c, hit in zip(checks, fired.row(0), strict=True) if hit]
        if checks:  # ROW: the table's height, also when every check is a literal
            mask = base.lazy().select(ROW, _any(checks).alias("__cr:bad")).collect(engine=engine)
            bad = mask.get_column("__cr:bad")
        else:
            bad = pl.repeat(False, n, dtype=pl.Boolean(), eager=True)
    masks = masks.hstack(base.select(*[e.alias(path) for path, e in kept.items()]).get_columns())
    masks = masks.hstack([s for a in apart for s in a.get_columns()])
    child_bad: list[pl.DataFrame] = []
    for path, cspec in spec.children.items():
        src = sources.get(path)
        if src is None:
            continue
        has_bad = masks.get_column(f"__cr:items:{path}") if path in item_checks else None
        bad_items = _child_frame(path, cspec, base, src, _unique_items(spec, path), has_bad=has_bad)
        if bad_items.height:
            child_bad.append(bad_items)
    valid = pl.DataFrame([masks.get_column(c) for c in (ROW, *values)])  # no query: nothing rechunked
    del masks
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
    any_bad = bool(bad.any())
    if any_bad:
        valid = valid.filter(~bad)
        details = _details(checks)  # ~1,000 expressions: built only when a row is bad
        if child_msgs is not None:
            details = pl.concat_list(details, child_msgs)
        # the bad rows alone, contiguous (see above), then their messages; polars
        # 2.1's streaming engine can panic on these string expressions: in memory
        bad_rows = stage.filter(pl.lit(bad)).collect(engine="in-memory").rechunk()
        rejected = (
            bad_rows.lazy()
            .select(
                pl.col(ROW).cast(pl.Int64()).alias("row"),
                raw_id.cast(pl.String(), strict=False).alias("id"),
                _reason(raw_id.cast(pl.String(), strict=False), details).alias("reason"),
                details.alias("details"),
            )
            .collect(engine="in-memory")
        )
    else:
        rejected = pl.DataFrame(
            schema={
                "row": pl.Int64(),
                "id": pl.String(),
                "reason": pl.String(),
                "details": pl.List(pl.String()),
            }
        )

    absent = [c for c in wanted if c not in values]  # no column and no table: every list empty
    if absent:
        valid = valid.with_columns(pl.lit([], dtype=child_dtype(spec.children[c])).alias(c) for c in absent)
    if spec.is_opaque() and valid.height:
        valid, rejected = _validate_opaque(spec, valid, rejected)
    return Prepared(valid=valid, rejected=rejected, n_rows=n, passthrough=passthrough)


def _validate_opaque(
    spec: ModelSpec, valid: pl.DataFrame, rejected: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Rows of a model with validators of its own (not declared rules): each
    valid row through the model itself, the ones it refuses moved to ``rejected``."""
    model: Any = spec.model
    bad = [(row, rec) for row, rec in records_from_canonical(valid, model) if isinstance(rec, RecordError)]
    if not bad:
        return valid, rejected
    more = pl.DataFrame(
        {
            "row": [row for row, _ in bad],
            "id": [err.record_id for _, err in bad],
            "reason": [str(err) for _, err in bad],
            "details": [[f"{p}: {m}" for p, m in err.errors] for _, err in bad],
        },
        schema=rejected.schema,
    )
    keep = pl.Series(ROW, [row for row, _ in bad], dtype=valid.schema[ROW])
    rejected = pl.concat([rejected, more]).sort("row")
    return valid.filter(~pl.col(ROW).is_in(keep.implode())), rejected


# ---------------------------------------------------------------------------
# Records <-> tables
# ---------------------------------------------------------------------------


def _flatten(data: Mapping[str, Any], spec: ModelSpec, prefix: str = "") -> dict[str, Any]:
    """A record as a (dumped) dict, flattened to its canonical columns."""
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


def _attribute(objects: Sequence[Any], path: str) -> list[Any]:
    """``path`` (dotted) of every object, column-wise (None where a sub-model
    on the way is None)."""
    try:
        return list(map(attrgetter(path), objects))
    except AttributeError:  # an optional sub-model left out on some record
        values = []
        for obj in objects:
            for part in path.split("."):
                obj = None if obj is None else getattr(obj, part)
            values.append(obj)
        return values


def ragged_column(name: str, flat: pl.Series, lists: Sequence[Any], dtype: pl.DataType) -> pl.Series:
    """A list column from the items of every list, concatenated (``flat``),
    and the lists themselves (for their lengths; None is an empty list)."""
    lengths = pl.Series("n", [0 if x is None else len(x) for x in lists], dtype=pl.Int64())
    owners = pl.DataFrame(lengths).select(
        pl.int_range(pl.len(), dtype=pl.Int64()).repeat_by(pl.col("n")).explode(keep_nulls=False).alias("i")
    )
    grouped = owners.with_columns(flat.alias(name)).group_by("i", maintain_order=True).agg(pl.col(name))
    every = pl.DataFrame({"i": pl.int_range(len(lists), dtype=pl.Int64(), eager=True)})
    column = every.join(grouped, on="i", how="left", maintain_order="left").get_column(name)
    return column.fill_null(pl.lit([], dtype=dtype)).cast(dtype)


_DATE = datetime.date
_EPOCH_ORDINAL = _DATE(1970, 1, 1).toordinal()
_DATE_TYPES = frozenset({_DATE, type(None)})


def _dates(name: str, values: Sequence[Any]) -> pl.Series | None:
    """A ``Date`` column of ``values`` when each is a plain :class:`datetime.date`
    or None (else None): built from their ordinals, about twice as fast as
    polars converting each date object itself; the same column."""
    if not set(map(type, values)) <= _DATE_TYPES:
        return None
    ordinals = [v and v.toordinal() for v in values]  # a date is never false
    return (pl.Series(name, ordinals, dtype=pl.Int32()) - _EPOCH_ORDINAL).cast(pl.Date())


def _group(objects: Sequence[Any], schema: Mapping[str, pl.DataType]) -> pl.DataFrame:
    """The scalar and list fields ``schema`` names of every object (a row of
    nulls for None), as typed columns: polars reads each object's
    ``__dict__`` itself, with no Python step per cell."""
    try:
        dicts = [_NO_FIELDS if obj is None else obj.__dict__ for obj in objects]
        return pl.from_dicts(dicts, schema=schema)
    except (AttributeError, pl.exceptions.PolarsError):  # not plain model instances: field by field
        return pl.DataFrame(
            [pl.Series(name, _attribute(objects, name), dtype=d) for name, d in schema.items()]
        )


_NO_FIELDS: Mapping[str, Any] = types.MappingProxyType({})


def _columns(objects: Sequence[Any], spec: ModelSpec) -> list[pl.Series]:
    """The canonical columns of ``spec`` read from records (or nested items)
    column-wise: one typed frame per (sub-)model, and a nested record list
    column built from its items concatenated, never one Series per cell."""
    schema = canonical_schema(spec)
    groups: dict[str, dict[str, pl.DataType]] = {}  # sub-model prefix -> its fields
    for path, dtype in schema.items():
        if not isinstance(dtype, pl.List):
            prefix, _, name = path.rpartition(".")
            groups.setdefault(prefix, {})[name] = dtype
    models: dict[str, Sequence[Any]] = {"": objects}

    def at(prefix: str) -> Sequence[Any]:  # the sub-models at ``prefix`` (None where absent)
        if prefix not in models:
            parent, _, name = prefix.rpartition(".")
            models[prefix] = [None if obj is None else getattr(obj, name) for obj in at(parent)]
        return models[prefix]

    columns: dict[str, pl.Series] = {}
    for prefix, fields in groups.items():
        frame = _group(at(prefix), fields)
        for name in fields:
            path = f"{prefix}.{name}" if prefix else name
            columns[path] = frame.get_column(name).alias(path)
    for path, dtype in schema.items():
        if not isinstance(dtype, pl.List):
            continue
        # a list column: its items concatenated, then cut back into lists
        prefix, _, name = path.rpartition(".")
        lists = [None if obj is None else getattr(obj, name) for obj in at(prefix)]
        items = [item for x in lists if x for item in x]
        child = spec.children.get(path)
        if child is not None:
            flat = pl.DataFrame(_columns(items, child), schema=canonical_schema(child)).to_struct(path)
        else:
            dates = _dates(path, items) if dtype.inner == pl.Date() else None
            flat = pl.Series(path, items, dtype=dtype.inner) if dates is None else dates
        columns[path] = ragged_column(path, flat, lists, dtype)
    return [columns[path] for path in schema]


# -- dicts, column-wise ---------------------------------------------------------------------
#
# Dicts are read into a table without validating each one into a record: the
# values of every field are gathered column-wise (one pass over the dicts
# per key; an ``itemgetter`` per dict and a transpose where keys are left
# out), each column is built by polars from the Python values exactly as
# given (plain dates from their ordinals), and :func:`prepare` — the table
# path's checks, derived from the same model — validates and converts them.
# Only inputs that such a table represents faithfully take this path; for
# anything else (``_Unsupported``) the dicts are validated one by one. What
# a table cannot tell apart (a key left out or given as None, a key the model
# does not know) is looked at here, in Python, before polars sees the values.


class _Unsupported(Exception):
    """The column-wise reading of dicts cannot show it gives the model's result."""


class _Absent:
    """A key left out of a dict, where leaving it out and giving None differ."""

    def __repr__(self) -> str:
        return "<absent>"


_ABSENT: Any = _Absent()
_SEQUENCES = frozenset({list, tuple})
_NONE_TYPE = type(None)


@dataclass(frozen=True)
class _DictNode:
    """One (sub-)model of a record model as the dict reader walks it.

    ``fields`` are ``(key, kind, what)``: kind ``slot`` (``what`` the
    :class:`Slot`), ``sub`` (a nested sub-model, ``what`` its node) or
    ``child`` (a nested record list, ``what`` its item node); ``absent`` is,
    per key, what a dict that leaves the key out reads as (None where that
    is what None means, else :data:`_ABSENT`).
    """

    prefix: str
    fields: tuple[tuple[str, str, Any], ...]
    absent: dict[str, Any]
    forbid: bool  # the model refuses keys it does not declare

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(k for k, _, _ in self.fields)


def _dict_node(model: type[BaseModel], spec: ModelSpec, prefix: str = "") -> _DictNode:
    """The reader of ``model``'s dicts, or :class:`_Unsupported` where a table
    cannot hold what the model would do (aliases, fields the table has no
    column for, optional or non-empty sub-model defaults)."""
    config = model.model_config
    if config.get("alias_generator") is not None or config.get("validate_by_alias") is False:
        raise _Unsupported(f"{model.__name__}: aliases")
    fields: list[tuple[str, str, Any]] = []
    absent: dict[str, Any] = {}
    for name, finfo in model.model_fields.items():
        path = prefix + name
        if finfo.alias is not None or finfo.validation_alias is not None:
            raise _Unsupported(f"{path}: an alias")
        if path in spec.slots:
            slot = spec.slots[path]
            fields.append((name, "slot", slot))
            absent[name] = _ABSENT if not (slot.optional or slot.required) else None
        elif path in spec.children:
            child = spec.children[path]
            fields.append((name, "child", _dict_node(child.model, child)))
            absent[name] = None if _allows_none(finfo.annotation) else _ABSENT
        else:
            bare = finfo.annotation
            if not (isinstance(bare, type) and issubclass(bare, BaseModel)) or finfo.is_required():
                raise _Unsupported(f"{path}: no column holds it")
            default = finfo.get_default(call_default_factory=True)
            if not (isinstance(default, bare) and default == bare()):
                raise _Unsupported(f"{path}: a default other than the empty {bare.__name__}")
            fields.append((name, "sub", _dict_node(bare, spec, path + ".")))
            absent[name] = _ABSENT
    return _DictNode(prefix, tuple(fields), absent, config.get("extra") == "forbid")


@lru_cache(maxsize=64)
def _dict_reader(model: type[BaseModel]) -> _DictNode | None:
    """The dict reader of a record model, or None when its dicts go through
    pydantic one by one (validators of its own, see ``ModelSpec.opaque``)."""
    spec = customer_spec(model)
    if spec.is_opaque():
        return None
    try:
        return _dict_node(model, spec)
    except _Unsupported:
        return None


def _faithful(dtype: pl.DataType, t: Type) -> bool:
    """Whether a column of ``dtype`` that polars built from Python values holds
    them as given, for a field of type ``t`` (so :func:`prepare` judges what
    pydantic would judge). An Int64 column may hold a bool as 1: the same
    value for a number or a boolean field, not for a date."""
    if isinstance(dtype, pl.Null | pl.String):
        return True
    if t.kind == NUMBER:
        return isinstance(dtype, pl.Int64 | pl.Float64)
    if t.kind == BOOL:
        return isinstance(dtype, pl.Boolean | pl.Int64)
    if t.kind == DATE:
        return isinstance(dtype, pl.Date) or dtype == pl.Datetime("us", None)
    if t.kind == LIST and t.item is not None:
        return isinstance(dtype, pl.List) and _faithful(_dtype(dtype.inner), t.item)
    return False


def _leaf(path: str, values: Sequence[Any], slot: Slot) -> pl.Series:
    """The column of one field as given (see :func:`_faithful`)."""
    t = slot.type
    if t.kind == LIST and t.item is not None:  # the items concatenated, then cut back into lists
        if not set(map(type, values)) <= {list, tuple, _NONE_TYPE}:
            raise _Unsupported(f"{path}: a list given as another kind of collection")
        item = Slot(path=path, type=t.item, optional=True, required=False, adapter=slot.adapter)
        flat = _leaf(path, [x for v in values if v for x in v], item)
        return ragged_column(path, flat, values, pl.List(flat.dtype))  # None: empty, as a record has it
    if t.kind == DATE:
        dates = _dates(path, values)
        if dates is not None:
            return dates
    try:
        column = pl.Series(path, values, strict=True)
    except (TypeError, ValueError, OverflowError, pl.exceptions.PolarsError) as exc:
        if not (t.kind == NUMBER and not t.integer):
            raise _Unsupported(f"{path}: values of several types") from exc
        try:  # whole numbers among fractional ones: a float field reads them as floats
            column = pl.Series(path, values, dtype=pl.Float64(), strict=True)
        except (TypeError, ValueError, OverflowError, pl.exceptions.PolarsError):
            raise _Unsupported(f"{path}: values of several types") from exc
    if not _faithful(column.dtype, t):
        raise _Unsupported(f"{path}: {column.dtype} values")
    return column


class _Owners:
    """The row of each item of a nested record list (its parent row), worked
    out on first use: only a bad item asks, so a clean input never builds it."""

    __slots__ = ("_lists", "_parent", "_rows")

    def __init__(self, lists: Sequence[Any], parent: _Owners | None) -> None:
        self._lists = lists
        self._parent = parent
        self._rows: list[int] | None = None

    def __getitem__(self, i: int) -> int:
        if self._rows is None:
            p = self._parent
            self._rows = [j if p is None else p[j] for j, x in enumerate(self._lists) if x for _ in x]
        return self._rows[i]


def _explicit_none(values: Sequence[Any], bad: set[int], rows: _Owners | None) -> Sequence[Any]:
    """``values`` with absent keys as None; rows that gave None where the model
    refuses it (but takes an absent key) added to ``bad``."""
    if None in values:
        bad.update(i if rows is None else rows[i] for i, v in enumerate(values) if v is None)
    if _ABSENT in values:
        return [None if v is _ABSENT else v for v in values]
    return values


def _read_dicts(
    node: _DictNode, dicts: Sequence[Any], bad: set[int], rows: _Owners | None = None
) -> dict[str, pl.Series]:
    """The columns of ``node`` (dotted path → values as given) from ``dicts``.

    ``dicts`` holds a dict per row, or :data:`_ABSENT` where the sub-model
    was left out. Rows the model certainly refuses (a key it does not know,
    None where it takes none) are added to ``bad`` (as ``rows[i]`` when
    given: items of a nested list report their parent row).
    """
    keys = node.keys
    n = len(keys)
    get = itemgetter(*keys) if n > 1 else (lambda d: (d[keys[0]],))
    columns: list[Sequence[Any]] | None = None
    if set(map(type, dicts)) == {dict} and set(map(len, dicts)) == {n}:
        try:  # every dict has exactly the model's keys (the usual case): read dict by dict, transposed
            # (key by key walks every dict once per key: 3-4x slower on dicts of their own, as JSON gives)
            columns = list(zip(*map(get, dicts), strict=True))
        except KeyError:
            columns = None
    if columns is None:
        defaults = node.absent
        every = tuple(defaults[k] for k in keys)
        tuples: list[tuple[Any, ...]] = []
        for i, d in enumerate(dicts):
            if d is _ABSENT:
                tuples.append(every)
                continue
            if type(d) is not dict:
                raise _Unsupported(f"{node.prefix or 'record'}: a {type(d).__name__}, not a dict")
            merged = {**defaults, **d}
            if len(merged) != n and node.forbid:
                bad.add(i if rows is None else rows[i])
            tuples.append(get(merged))
        columns = list(zip(*tuples, strict=True)) if tuples else [() for _ in keys]
    out: dict[str, pl.Series] = {}
    values: Sequence[Any]
    for (key, kind, what), values in zip(node.fields, columns, strict=True):
        path = node.prefix + key
        if kind == "slot":
            if node.absent[key] is _ABSENT:
                values = _explicit_none(values, bad, rows)
            out[path] = _leaf(path, values, what)
        elif kind == "sub":
            if None in values:  # None is not a sub-model (the row is bad); read as left out
                bad.update(i if rows is None else rows[i] for i, v in enumerate(values) if v is None)
                values = tuple(_ABSENT if v is None else v for v in values)
            out.update(_read_dicts(what, values, bad, rows))
        else:
            lists = _explicit_none(values, bad, rows) if node.absent[key] is _ABSENT else values
            column = _read_items(path, what, lists, bad, rows)
            if column is not None:
                out[path] = column
    return out


def _read_items(
    path: str, node: _DictNode, lists: Sequence[Any], bad: set[int], rows: _Owners | None
) -> pl.Series | None:
    """A nested record list as a ``List(Struct)`` column of the items as given
    (None when no row has an item: the table path gives every row an empty list)."""
    if not set(map(type, lists)) <= {list, tuple, _NONE_TYPE}:
        raise _Unsupported(f"{path}: a list given as another kind of collection")
    items = [item for x in lists if x for item in x]
    if not items:
        return None
    fields = _read_dicts(node, items, bad, _Owners(lists, rows))
    frame = pl.DataFrame(list(fields.values()))
    # the items' text dates read here, where they are a plain column, not
    # inside the list column prepare checks (100,000 customers as JSON gives
    # them: prepare 154 -> ~20 ms for their nested lists)
    slots = {node.prefix + key: what for key, kind, what in node.fields if kind == "slot"}
    schema = frame.schema
    read = _read_exactly(frame, {c: (Source(pl.col(c), schema[c], c), slots[c]) for c in schema if c in slots})
    frame = frame.with_columns(v.alias(c) for c, v in read.items())
    flat = frame.to_struct(path)
    return ragged_column(path, flat, lists, pl.List(flat.dtype))


def _frame_from_dicts(dicts: Sequence[dict[str, Any]], model: type[Customer]) -> pl.DataFrame | None:
    """The canonical table of ``dicts``, column-wise; the first invalid dict's
    :class:`RecordError` (pydantic's, as the model path raises it); or None
    where this path cannot show it gives the model's result."""
    node = _dict_reader(model)
    if node is None or not dicts:
        return None
    spec = customer_spec(model)
    bad: set[int] = set()
    try:
        with collector_paused():
            columns = _read_dicts(node, dicts, bad)
    except _Unsupported:
        return None
    prepared = prepare(pl.DataFrame(list(columns.values())), spec=spec, warn=False)
    if prepared.rejected.height:
        bad.add(int(prepared.rejected.get_column("row").min()))  # type: ignore[arg-type]
    if bad:
        first = min(bad)
        _validate(dicts[first], first, model)  # raises the model's own error
        return None  # the model takes it after all: one by one
    valid = prepared.valid
    schema = canonical_schema(spec)
    absent = [empty_value(p, spec).alias(p) for p in schema if p not in valid.columns]
    out = valid.with_columns(absent).select(list(schema))
    return out if out.schema == schema else None


def frame_from_records(
    records: Iterable[Customer | Mapping[str, Any]], model: type[Customer] = Customer
) -> pl.DataFrame:
    """A canonical table of record model ``model`` from records (one row per record).

    Dicts are read column-wise and validated by the table checks
    (:func:`prepare`); the first invalid one raises the :class:`RecordError`
    pydantic gives for it. Dicts this cannot read faithfully (a column of
    values of several types, a model with validators of its own, ...) and
    records are validated one by one, then read column-wise, one
    (sub-)model at a time (no ``model_dump`` per record). Both give the
    same table.
    """
    rows: list[Any] = records if isinstance(records, list) else list(records)
    if rows and all(type(r) is dict for r in rows):
        frame = _frame_from_dicts(rows, model)
        if frame is not None:
            return frame
    return _frame_one_by_one(rows, model)


def _frame_one_by_one(rows: Sequence[Customer | Mapping[str, Any]], model: type[Customer]) -> pl.DataFrame:
    """:func:`frame_from_records` validating each dict into a record first."""
    recs = [
        r if isinstance(r, model) else _validate(dict(r) if isinstance(r, Customer) else r, i, model)
        for i, r in enumerate(rows)
    ]
    return pl.DataFrame(_columns(recs, customer_spec(model)))


def tables_from_records(
    records: Iterable[Customer | Mapping[str, Any]], model: type[Customer] = Customer
) -> dict[str, pl.DataFrame]:
    """A customer table plus one table per nested record list.

    Keys: ``customers`` (no nested list columns) and ``cases``,
    ``interactions``, ``deductions`` — each with a ``customer_id`` column
    first, then the item fields.
    """
    spec = customer_spec(model)
    frame = frame_from_records(records, model)
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


def _validate(data: Mapping[str, Any], row: int | None, model: type[Customer] = Customer) -> Customer:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        rid = data.get("id")
        errors = [(".".join(str(p) for p in e["loc"]) or "(record)", e["msg"]) for e in exc.errors()]
        raise RecordError(None if rid is None else str(rid), errors, row=row) from None


def records_from_canonical(
    valid: pl.DataFrame, model: type[Customer] = Customer
) -> list[tuple[int, Customer | RecordError]]:
    """Records from a validated canonical table: (row, record or error) pairs.

    A row the column-wise checks accepted but the record model does not is
    returned as its :class:`RecordError` (only a model with validators of
    its own, beyond the declared rules, can do that; see ``ModelSpec.opaque``).
    The record dicts are built column-wise (:func:`_row_dicts`), a slice of
    rows at a time, so memory stays bounded on a large table.
    """
    out: list[tuple[int, Customer | RecordError]] = []
    rows = valid.get_column(ROW).to_list() if ROW in valid.columns else list(range(valid.height))
    schema = canonical_schema(customer_spec(model))
    fields = valid.select([c for c in valid.columns if c in schema])
    with collector_paused():
        for start in range(0, fields.height, _ROWS_AT_ONCE):
            part = fields.slice(start, _ROWS_AT_ONCE)
            for row, data in zip(rows[start : start + part.height], _row_dicts(part), strict=True):
                try:
                    out.append((row, _validate(data, row, model)))
                except RecordError as exc:
                    out.append((row, exc))
    return out


#: rows whose record dicts :func:`records_from_canonical` holds at once
_ROWS_AT_ONCE = 10_000


def _row_dicts(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """Each row of ``frame`` as the nested dict a record model reads
    (:func:`python_values` of each column, then :func:`nested_rows`)."""
    return nested_rows({c: python_values(frame.get_column(c), null_list=None) for c in frame.columns})


#: how the values of one (sub-)model become one Python object: ``shape(names)(values)``
#: (a dict here; ``Inputs.shape`` for features, see ``backends/table_features.py``)
Shape = Callable[[tuple[str, ...]], Callable[[tuple[Any, ...]], Any]]


def dict_shape(names: tuple[str, ...]) -> Callable[[tuple[Any, ...]], dict[str, Any]]:
    """The :data:`Shape` of plain dicts."""
    return lambda values: dict(zip(names, values, strict=True))


def nested_rows(columns: Mapping[str, Sequence[Any]], shape: Shape = dict_shape) -> list[Any]:
    """Rows of cells keyed by dotted path as nested objects, built column-wise:
    ``value.revenue_12m`` → ``{"value": {"revenue_12m": ...}}`` with the
    default ``shape``; the cells of one (sub-)model are zipped into its objects
    at once, the deepest first, with no Python step per cell. ``columns`` must
    not be empty (a row's length comes from its cells)."""
    tree: dict[str, Any] = {}
    for path, cells in columns.items():
        *groups, leaf = path.split(".")
        node = tree
        for g in groups:
            node = node.setdefault(g, {})
        node[leaf] = cells
    return _shaped(tree, shape)


def _shaped(tree: Mapping[str, Any], shape: Shape) -> list[Any]:
    make = shape(tuple(tree))
    columns = [_shaped(v, shape) if isinstance(v, dict) else v for v in tree.values()]
    return list(map(make, zip(*columns, strict=True)))


def python_values(
    series: pl.Series, fields: tuple[str, ...] | None = None, shape: Shape = dict_shape, null_list: Any = ()
) -> list[Any]:
    """A column as the Python values a record holds, converted column-wise:
    dates through one lookup of the distinct values when they repeat; lists
    as tuples (a null list is ``null_list``: empty, a record's default, or
    None as ``iter_rows`` gives it); structs, and the items of a list of
    structs, as ``shape(names)(values)`` of only ``fields`` when given (None
    for a null one). Polars' own ``to_list`` of struct cells costs several
    microseconds per item."""
    dtype = series.dtype
    if isinstance(dtype, pl.List):
        ends = series.list.len().fill_null(0).cum_sum()
        starts = ends.shift(1, fill_value=0).to_list()
        flat = series.explode(empty_as_null=False, keep_nulls=False)
        inner = tuple(python_values(flat, fields, shape, null_list))
        # (a slice of a tuple is a tuple: one made per row, not a list and then a tuple)
        lists = [inner[a:b] for a, b in zip(starts, ends.to_list(), strict=True)]
        if null_list == () or not series.null_count():
            return lists
        return [null_list if null else v for v, null in zip(lists, series.is_null().to_list(), strict=True)]
    if isinstance(dtype, pl.Struct):
        names = fields if fields is not None else tuple(f.name for f in dtype.fields)
        made = _shaped({n: python_values(series.struct.field(n), None, shape, null_list) for n in names}, shape)
        nulls = series.is_null().to_list() if series.null_count() else None
        return made if nulls is None else [None if z else m for m, z in zip(made, nulls, strict=True)]
    if dtype == pl.Date():
        distinct = series.unique()
        if len(distinct) * DISTINCT_DATES > len(series):  # mostly distinct: converted one by one
            return series.to_list()
        lookup = dict(zip(distinct.to_physical().to_list(), distinct.to_list(), strict=True))
        return [lookup[d] for d in series.to_physical().to_list()]
    return series.to_list()


#: a date column with at least this many rows per distinct date is converted
#: through one lookup of the distinct dates (polars makes each date object
#: anew: 100k rows of 100 dates 32 -> 14 ms, CPU); with fewer, converting
#: every value costs less (100k of 30k dates: 32 against 49 ms)
DISTINCT_DATES = 5


def _null_cells(spec: ModelSpec) -> tuple[dict[str, Any], frozenset[str]]:
    """What :func:`prepare` makes of a null cell of each slot of ``spec``:
    the slots whose null cell is taken as the default (``_fill_default``),
    with that default, and the slots where a null cell is no plain value
    (required, or neither None nor a default allowed). A null cell of any
    other slot stays None. Mirrors ``_validate_slots``' required check and
    :func:`_fill_default` (``tests/test_frame_small.py`` holds the results equal)."""
    filled: dict[str, Any] = {}
    unusual: set[str] = set()
    for path, slot in spec.slots.items():
        if slot.required or (not slot.optional and slot.default is None):
            unusual.add(path)
        elif not slot.optional:
            filled[path] = slot.default
    return filled, frozenset(unusual)


def _canonical_cells(values: dict[str, Any], filled: Mapping[str, Any], unusual: frozenset[str]) -> bool:
    """``values`` (one nested-list item) with its null cells as :func:`prepare`
    makes them, in place; False where a null cell is unusual."""
    for path, value in values.items():
        if value is None:
            if path in unusual:
                return False
            if path in filled:
                default = filled[path]
                values[path] = list(default) if isinstance(default, tuple) else default
    return True


def _row_reader(spec: ModelSpec) -> tuple[dict[str, pl.DataType], dict[str, Any], frozenset[str], dict[str, Any]]:
    """What :func:`records_as_given` reads a table of ``spec`` with: the
    canonical schema, the null cells of the table's own slots and of each
    nested list's items (:func:`_null_cells`). Made once per spec."""
    hit = _ROW_READERS.get(id(spec))
    if hit is None or hit[0] is not spec:
        filled, unusual = _null_cells(spec)
        items = {path: _null_cells(child) for path, child in spec.children.items()}
        if len(_ROW_READERS) >= 16:
            _ROW_READERS.pop(next(iter(_ROW_READERS)))
        hit = _ROW_READERS[id(spec)] = (spec, (canonical_schema(spec), filled, unusual, items))
    return hit[1]


_ROW_READERS: dict[int, tuple[ModelSpec, Any]] = {}

#: up to this many rows, :func:`records_from_frame` reads a canonical, valid
#: table with :func:`records_as_given` (polars' row conversion) instead of
#: :func:`prepare`'s query, which costs ~20 ms whatever the height: 1 row
#: 23 → 0.6 ms, 100 rows 32 → 9 ms; from ~300 rows on the two cost the same
AS_GIVEN_ROWS = 100


def records_as_given(data: pl.DataFrame, model: type[Customer] = Customer) -> list[Customer] | None:
    """The records of a small table that is already canonical and valid,
    read row by row through the record model, without the column-wise
    checks of :func:`prepare` (whose query costs ~14 ms whatever the
    height); None when that cannot be done exactly, and the caller runs
    :func:`prepare`.

    Taken only when ``data``'s columns are canonical columns
    (:func:`canonical_schema`) of the canonical dtype (what
    :func:`frame_from_records` gives, for this model or for the core
    :class:`Customer`, whose table lacks the columns of plugins'
    namespaces), the model has no validators of its own
    (``ModelSpec.is_opaque``), and every row is valid. Each null cell, and
    every cell of a column the table lacks, becomes what :func:`prepare`
    makes of it (None, or the field's default where None is not allowed); a
    null cell :func:`prepare` would refuse (a required field), a null
    nested list or item (a lacking nested list too), or any row pydantic
    refuses gives None. The records are then what
    :func:`records_from_canonical` builds from
    :func:`prepare`'s valid table: pydantic and the table checks accept the
    same rows (``tests/test_row_validity.py``, ``tests/test_frame_differential.py``),
    and a column of the canonical dtype is taken as it is
    (``tests/test_frame_small.py`` holds the results equal).
    """
    spec = customer_spec(model)
    if spec.is_opaque():
        return None
    schema, filled, unusual, items = _row_reader(spec)
    given = data.schema
    if any(schema.get(c) != t for c, t in given.items()):
        return None
    columns: dict[str, list[Any]] = {}
    # row by row, then transposed: for a few rows, polars' own conversion of
    # each row costs far less than converting each column (python_values runs
    # several queries per nested column: ~10 ms for 10 customers, against 0.4)
    cells = dict(zip(data.columns, zip(*data.rows(), strict=True) if data.height else [()] * data.width, strict=True))
    absent = (None,) * data.height  # a column the table lacks: null in every row, as prepare reads it
    for path in schema:
        values = list(cells.get(path, absent))
        if None in values:
            if path in unusual or path in items:  # a null the table checks refuse, a null nested list
                return None
            if path in filled:
                default = filled[path]
                values = [(list(default) if isinstance(default, tuple) else default) if v is None else v for v in values]
        columns[path] = values
    for path, (item_filled, item_unusual) in items.items():
        for lst in columns[path]:  # (never None: a null nested list returned above)
            for item in lst:
                if item is None or not _canonical_cells(item, item_filled, item_unusual):
                    return None
    out: list[Customer] = []
    for row, record in enumerate(nested_rows(columns)):
        try:
            out.append(_validate(record, row, model))
        except RecordError:
            return None
    return out


def split_details(details: Iterable[str]) -> list[tuple[str, str]]:
    """``["path: message", ...]`` as ``(path, message)`` pairs."""
    out: list[tuple[str, str]] = []
    for d in details:
        path, sep, msg = d.partition(": ")
        out.append((path, msg) if sep else ("(record)", d))
    return out


def records_from_frame(
    data: pl.DataFrame,
    tables: Mapping[str, pl.DataFrame | None] | None = None,
    model: type[Customer] = Customer,
) -> list[Customer]:
    """Records from a customer table (and separate nested tables)."""
    if not tables and isinstance(data, pl.DataFrame) and data.height <= AS_GIVEN_ROWS:
        records = records_as_given(data, model)  # the same records, without prepare's ~20 ms query
        if records is not None:
            return records
    prepared = prepare(data, tables, spec=customer_spec(model))
    if prepared.rejected.height:
        first = prepared.rejected.row(0, named=True)
        raise RecordError(first["id"], split_details(first["details"]), row=first["row"])
    out: list[Customer] = []
    for _, rec in records_from_canonical(prepared.valid, model):
        if isinstance(rec, RecordError):
            raise rec
        out.append(rec)
    return out
