"""Features: named, typed values derived from a record as of a date.

A feature is a plain function ``(customer, as_of, *args) -> value`` with a
declared type. Rules read it by name (``open_cases``) or, when it takes
arguments, by calling it with constants (``repair_visits_within(30d)``).
Plugins contribute features through the ``register_features`` hook.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from customer_rules.errors import CustomerRulesError, PluginError
from customer_rules.lang.types import BOOL, DATE, NUMBER, STRING, T_BOOL, T_DATE, T_NUMBER, T_STRING, Type

#: The kinds a feature's value may have.
SCALAR_KINDS = (NUMBER, STRING, BOOL, DATE)

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
    ``plugin`` is the plugin that registered it (filled in by the engine).
    Backends call :meth:`compute`, never ``func`` directly.
    """

    name: str
    func: Callable[..., Any]
    type: Type
    description: str
    unit: str | None = None
    args: tuple[tuple[str, Type], ...] = ()
    frame: Callable[..., Any] | None = None
    plugin: str | None = None

    def compute(self, customer: Any, as_of: Any, *args: Any) -> Any:
        """``func``'s value for one record, checked: a plugin's feature that
        raises, or returns a value of another type than it declares, gives a
        :class:`~customer_rules.PluginError` naming the plugin, the feature
        and the customer (a batch then rejects that row only)."""
        try:
            value = self.func(customer, as_of, *args)
        except CustomerRulesError:
            raise
        except Exception as exc:
            raise PluginError(
                self.plugin or "<register_features hook>",
                f"feature {self.name!r} failed for customer {_id_of(customer)!r}: {type(exc).__name__}: {exc}",
            ) from exc
        if value is not None and _FAST_KIND.get(type(value)) != self.type.kind:
            why = value_problem(value, self.type)
            if why is not None:
                raise PluginError(
                    self.plugin or "<register_features hook>",
                    f"feature {self.name!r} for customer {_id_of(customer)!r} {why} (declared {self.type})",
                )
        return value

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


# values whose type alone shows they fit a feature of this kind (the hot path)
_FAST_KIND: dict[type, str] = {int: NUMBER, bool: BOOL, dt.date: DATE}


def _id_of(customer: Any) -> Any:
    return getattr(customer, "id", None)


def value_problem(value: Any, t: Type) -> str | None:
    """Why ``value`` is not a value of a feature of type ``t`` (``None`` always fits)."""
    if value is None:
        return None
    if t.kind == NUMBER:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"returned {value!r} ({type(value).__name__}), not a number"
        if isinstance(value, float) and not math.isfinite(value):
            return f"returned {value!r}; return None for an unknown value"
        if t.integer and not isinstance(value, int):
            return f"returned {value!r} ({type(value).__name__}), declared integer"
        return None
    if t.kind == STRING:
        if not isinstance(value, str):
            return f"returned {value!r} ({type(value).__name__}), not a string"
        if t.enum and value not in t.enum:
            return f"returned {value!r}, not one of {', '.join(t.enum)}"
        return None
    if t.kind == BOOL:
        return None if isinstance(value, bool) else f"returned {value!r} ({type(value).__name__}), not a bool"
    if t.kind == DATE:
        if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
            return f"returned {value!r} ({type(value).__name__}), not a date"
        return None
    return f"has type {t.kind!r}; features must be one of {', '.join(SCALAR_KINDS)}"
