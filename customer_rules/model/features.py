"""Features: named, typed values derived from a record as of a date.

A feature is a plain function ``(customer, as_of, *args) -> value`` with a
declared type. Rules read it by name (``open_cases``) or, when it takes
arguments, by calling it with constants (``repair_visits_within(30d)``).
Plugins contribute features through the ``register_features`` hook.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from customer_rules.lang.types import T_BOOL, T_DATE, T_NUMBER, T_STRING, Type

_TYPES = {
    "number": T_NUMBER,
    "integer": Type("number", integer=True),
    "string": T_STRING,
    "bool": T_BOOL,
    "date": T_DATE,
}


def _type_from(kind: str, enum: tuple[str, ...] | None = None) -> Type:
    if enum:
        return Type("string", enum=tuple(enum))
    try:
        return _TYPES[kind]
    except KeyError:
        raise ValueError(f"unknown feature type {kind!r}; use one of {', '.join(_TYPES)}") from None


@dataclass(frozen=True)
class Feature:
    """A derived value rules can read.

    ``func(customer, as_of, *args)`` computes it for one record (``None`` =
    unknown). ``frame(as_of, *args)``, when given, returns a polars
    expression computing the same value column-wise (see the frame backend).
    """

    name: str
    func: Callable[..., Any]
    type: Type
    description: str
    unit: str | None = None
    args: tuple[tuple[str, Type], ...] = ()
    frame: Callable[..., Any] | None = None

    @property
    def signature(self) -> str:
        if not self.args:
            return self.name
        args = ", ".join(f"{n}: {'integer' if t.integer else t.kind}" for n, t in self.args)
        return f"{self.name}({args})"


def feature(
    *,
    type: str = "number",
    description: str,
    unit: str | None = None,
    args: tuple[tuple[str, str], ...] = (),
    enum: tuple[str, ...] | None = None,
    name: str | None = None,
    frame: Callable[..., Any] | None = None,
) -> Callable[[Callable[..., Any]], Feature]:
    """Decorate ``func(customer, as_of, *args)`` to make it a :class:`Feature`.

    ``type`` is one of ``number``, ``integer``, ``string``, ``bool``,
    ``date``; ``args`` names and types the constant arguments a rule passes.
    ``frame(as_of, *args)`` returns a polars expression computing the same
    value over a whole table (columns named by record path, nested lists as
    list-of-struct columns; see ``docs/frames.md``). Without it the frame
    backend computes the feature row by row (slow).
    """

    def wrap(func: Callable[..., Any]) -> Feature:
        return Feature(
            name=name or func.__name__,
            func=func,
            type=_type_from(type, enum),
            description=description,
            unit=unit,
            args=tuple((n, _type_from(k)) for n, k in args),
            frame=frame,
        )

    return wrap
