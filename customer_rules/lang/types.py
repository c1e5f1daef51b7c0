"""What an expression may read: the record fields, features, parameters and
derived values, each with a type. Built by walking the pydantic record model,
so the record model is the single source of field names, enums and bounds."""

from __future__ import annotations

import datetime as dt
import types
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import BaseModel

# The kinds of value an expression can have.
NUMBER = "number"
STRING = "string"
BOOL = "bool"
DATE = "date"
LIST = "list"
RECORDS = "records"  # a list of nested records (cases, interactions): only len() reads it
ANY = "any"


@dataclass(frozen=True)
class Type:
    """The type of a value in an expression.

    ``kind`` is one of number, string, bool, date, list, records. ``enum``
    lists the allowed strings of a string (or of a list's items), ``item`` is
    the item type of a list, ``ge``/``le`` are numeric bounds and ``integer``
    says the number is whole.
    """

    kind: str
    enum: tuple[str, ...] | None = None
    item: Type | None = None
    ge: float | None = None
    le: float | None = None
    integer: bool = False

    def __str__(self) -> str:
        if self.kind == LIST and self.item is not None:
            return f"list of {self.item}"
        if self.enum:
            return "one of " + ", ".join(repr(e) for e in self.enum)
        return self.kind


T_NUMBER = Type(NUMBER)
T_STRING = Type(STRING)
T_BOOL = Type(BOOL)
T_DATE = Type(DATE)
T_ANY = Type(ANY)


@dataclass(frozen=True)
class FieldInfo:
    """One readable record field: its dotted path, type and documentation.

    ``names`` holds its display names by language (``en``, ``zh``) and
    ``unit`` its unit, both from the field's JSON-schema extras (see
    :func:`customer_rules.model.records.record_field`).
    """

    path: str
    type: Type
    description: str = ""
    unit: str | None = None
    names: Mapping[str, str] = field(default_factory=dict, hash=False)
    #: display names of the values of an enum field: value -> {lang: name}
    values: Mapping[str, Mapping[str, str]] = field(default_factory=dict, hash=False)

    def name(self, lang: str = "en") -> str:
        """The display name in ``lang``, else the English one, else the path."""
        return self.names.get(lang) or self.names.get("en") or self.path

    def value_name(self, value: str, lang: str = "en") -> str:
        """What people call one value of an enum field in ``lang`` (else the value)."""
        names = self.values.get(value, {})
        return names.get(lang) or names.get("en") or value


def _unwrap(annotation: Any) -> tuple[Any, list[Any]]:
    """Strip Optional and Annotated; return the bare type and its metadata."""
    metadata: list[Any] = []
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            args = get_args(annotation)
            annotation = args[0]
            metadata.extend(args[1:])
            continue
        if origin is Union or origin is types.UnionType:
            members = [a for a in get_args(annotation) if a is not type(None)]
            if len(members) == 1:
                annotation = members[0]
                continue
        return annotation, metadata


def _bounds(metadata: list[Any]) -> tuple[float | None, float | None]:
    ge = le = None
    for m in metadata:
        for item in getattr(m, "metadata", [m]):
            if isinstance(item, annotated_types.Ge):
                ge = float(item.ge)  # type: ignore[arg-type]
            elif isinstance(item, annotated_types.Gt):
                ge = float(item.gt)  # type: ignore[arg-type]
            elif isinstance(item, annotated_types.Le):
                le = float(item.le)  # type: ignore[arg-type]
            elif isinstance(item, annotated_types.Lt):
                le = float(item.lt)  # type: ignore[arg-type]
    return ge, le


def scalar_type(annotation: Any, metadata: list[Any] | None = None) -> Type | None:
    """The expression type of a scalar Python annotation, or None if not scalar."""
    bare, meta = _unwrap(annotation)
    meta = [*(metadata or []), *meta]
    if bare is bool:
        return T_BOOL
    if bare is int or bare is float:
        ge, le = _bounds(meta)
        if bare is int:  # the 64-bit range every whole number has is storage, not a domain bound
            ge = None if ge is not None and ge <= -(2.0**63) else ge
            le = None if le is not None and le >= 2.0**63 - 1 else le
        return Type(NUMBER, ge=ge, le=le, integer=bare is int)
    if bare is str:
        return T_STRING
    if bare is dt.date:
        return T_DATE
    if get_origin(bare) is Literal:
        values = get_args(bare)
        if all(isinstance(v, str) for v in values):
            return Type(STRING, enum=tuple(values))
    return None


def _walk(model: type[BaseModel], prefix: str, skipped: list[tuple[str, str]] | None = None) -> Iterator[FieldInfo]:
    for name, finfo in model.model_fields.items():
        path = f"{prefix}{name}"
        bare, meta = _unwrap(finfo.annotation)
        meta = [*finfo.metadata, *meta]
        extra = finfo.json_schema_extra if isinstance(finfo.json_schema_extra, dict) else {}
        unit = extra.get("unit")
        raw_names = extra.get("names")
        names = (
            {str(k): str(v) for k, v in raw_names.items() if isinstance(v, str)}
            if isinstance(raw_names, dict)
            else {}
        )
        raw_values = extra.get("values")
        values = (
            {str(v): {str(k): str(t) for k, t in n.items()} for v, n in raw_values.items() if isinstance(n, dict)}
            if isinstance(raw_values, dict)
            else {}
        )
        doc = (finfo.description or "", str(unit) if unit else None, names, values)
        if isinstance(bare, type) and issubclass(bare, BaseModel):
            yield from _walk(bare, path + ".", skipped)
            continue
        origin = get_origin(bare)
        if origin in (tuple, list, frozenset, set):
            args = [a for a in get_args(bare) if a is not Ellipsis]
            item = args[0] if args else Any
            item_bare, _ = _unwrap(item)
            if isinstance(item_bare, type) and issubclass(item_bare, BaseModel):
                yield FieldInfo(path, Type(RECORDS), *doc)
                if skipped is not None:  # the items' fields must be readable too
                    list(_walk(item_bare, path + ".", skipped))
            else:
                it = scalar_type(item)
                if it is not None:
                    yield FieldInfo(path, Type(LIST, item=it), *doc)
                elif skipped is not None:
                    skipped.append((path, f"a list of {item!r} cannot be read by rules"))
            continue
        st = scalar_type(bare, meta)
        if st is not None:
            yield FieldInfo(path, st, *doc)
        elif skipped is not None:
            skipped.append(
                (path, f"type {finfo.annotation!r} cannot be read by rules (use int, float, bool, str,"
                 " date, a Literal of strings, a tuple of those, or a nested model)")
            )


def record_fields(model: type[BaseModel]) -> dict[str, FieldInfo]:
    """Every readable field of a record model, by dotted path."""
    return {f.path: f for f in _walk(model, "")}


def unsupported_fields(model: type[BaseModel]) -> list[tuple[str, str]]:
    """The fields of a record model rules cannot read: (dotted path, why)."""
    skipped: list[tuple[str, str]] = []
    for _ in _walk(model, "", skipped):
        pass
    return skipped


@dataclass
class Namespace:
    """The names one policy's expressions may use, with their types."""

    fields: Mapping[str, FieldInfo]
    features: Mapping[str, Any] = field(default_factory=dict)  # name -> Feature
    params: Mapping[str, Type] = field(default_factory=dict)
    derived: dict[str, Type] = field(default_factory=dict)

    def all_names(self) -> list[str]:
        return [
            *self.fields,
            *self.features,
            *(f"params.{p}" for p in self.params),
            *self.derived,
        ]


def type_of_value(value: Any) -> Type:
    """The expression type of a plain Python constant (used for parameters)."""
    if isinstance(value, bool):
        return T_BOOL
    if isinstance(value, int | float):
        return Type(NUMBER, integer=isinstance(value, int))
    if isinstance(value, str):
        return T_STRING
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return T_DATE
    raise TypeError(f"unsupported parameter value {value!r} ({type(value).__name__})")


__all__ = [
    "ANY",
    "BOOL",
    "DATE",
    "LIST",
    "NUMBER",
    "RECORDS",
    "STRING",
    "FieldInfo",
    "Namespace",
    "Type",
    "record_fields",
    "scalar_type",
    "type_of_value",
    "unsupported_fields",
]
