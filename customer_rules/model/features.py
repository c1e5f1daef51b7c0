"""Features: named, typed values derived from a record as of a date.

A feature is declared once, with :func:`feature`: its name, type, display
names (``en``/``zh``) and unit, the record paths it ``reads``, its Python
implementation ``func(customer, as_of, *args) -> value`` and, optionally,
its polars implementation ``polars(as_of, *args) -> pl.Expr`` computing the
same value over a whole table. Rules read it by name (``open_cases``) or,
when it takes arguments, by calling it with constants
(``repair_visits_within(30d)``). Plugins contribute features through the
``register_features`` hook.

The Python implementation receives a :class:`~customer_rules.Customer` when
one record is decided. On a table, a feature without a polars
implementation receives :class:`Inputs` instead: a light object holding
only the paths the feature ``reads`` (plus ``id``, for messages), built
straight from those columns. It must therefore read nothing else, and its
value must depend on nothing else (unless ``id`` is declared in ``reads``):
a feature reading only plain fields is computed once per distinct
combination of their values. The conformance kit
(:mod:`customer_rules.testing`) checks all that, and that both
implementations agree.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import namedtuple
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from itertools import repeat
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


class UndeclaredRead(AttributeError):
    """A feature's Python implementation read a path its ``reads`` do not declare."""

    def __init__(self, name: str) -> None:
        self.attribute = name
        super().__init__(f"{name!r} was not read from the table: declare it in the feature's reads")


class Inputs(tuple[Any, ...]):
    """The part of a record a feature reads, as attributes (``c.deal.last_contact_at``).

    Built by the frame backend from only the columns a feature declares in
    ``reads``, without building or validating a whole record: nested models
    are ``Inputs`` too, record lists (``cases``) tuples of ``Inputs``, list
    fields tuples. Reading anything else raises :class:`UndeclaredRead`.
    One subclass per set of names (:meth:`shape`) holds the values as a
    tuple, so that making one per row is cheap.
    """

    __slots__ = ()
    _fields: tuple[str, ...] = ()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise UndeclaredRead(name)

    def __repr__(self) -> str:
        return "Inputs(" + ", ".join(f"{n}={v!r}" for n, v in zip(self._fields, self, strict=True)) + ")"

    @staticmethod
    @cache
    def shape(names: tuple[str, ...]) -> type[Inputs]:
        """The subclass whose instances are ``names`` in this order: ``shape(names)(values)``."""
        attrs: dict[str, Any] = {"__slots__": (), "_fields": names}
        # a named tuple's field getters (written in C: reading one costs less
        # than a property calling an itemgetter), taken by position, so that
        # any name works
        getters = namedtuple("_Getters", [f"f{i}" for i in range(len(names))])  # type: ignore[misc]
        for i, n in enumerate(names):
            attrs[n] = getters.__dict__[f"f{i}"]
        return type("Inputs", (Inputs,), attrs)

    @classmethod
    def of(cls, **values: Any) -> Inputs:
        """An ``Inputs`` with these names and values."""
        return Inputs.shape(tuple(values))(values.values())


@dataclass(frozen=True)
class Feature:
    """A derived value rules can read, declared once (see :func:`feature`).

    ``func(customer, as_of, *args)`` is the Python implementation (``None``
    = unknown); ``polars(as_of, *args)``, when given, returns a polars
    expression computing the same value column-wise. ``reads`` lists the
    record paths both read (``None``: not declared, the whole record).
    ``en``/``zh`` are display names, ``unit`` the unit of the value;
    ``show(value, lang)``, when given, words a text value for people in
    ``lang`` (``en``/``zh``) — explanations use it instead of the raw text.
    ``plugin`` is the plugin that registered it (filled in by the engine).
    Backends call :meth:`compute`, never ``func`` directly.
    """

    name: str
    func: Callable[..., Any]
    type: Type
    description: str
    unit: str | None = None
    args: tuple[tuple[str, Type], ...] = ()
    polars: Callable[..., Any] | None = None
    reads: tuple[str, ...] | None = None
    en: str | None = None
    zh: str | None = None
    plugin: str | None = None
    show: Callable[[Any, str], str] | None = None

    @property
    def frame(self) -> Callable[..., Any] | None:
        """The polars implementation (its older name)."""
        return self.polars

    def compute(self, customer: Any, as_of: Any, *args: Any) -> Any:
        """``func``'s value for one record, checked: a plugin's feature that
        raises, or returns a value of another type than it declares, gives a
        :class:`~customer_rules.PluginError` naming the plugin, the feature
        and the customer (a batch then rejects that row only)."""
        try:
            value = self.func(customer, as_of, *args)
        except (CustomerRulesError, UndeclaredRead):
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

    def compute_all(self, customers: Sequence[Any], as_of: Any, *args: Any) -> list[Any]:
        """:meth:`compute` for each of ``customers``, in order, checked once
        for all: the same values, and the error :meth:`compute` raises for
        the first customer that fails. ``func`` runs in one loop; the values
        are checked by type (each distinct text or float once); only when
        something fails does every customer go through :meth:`compute` again."""
        func = self.func
        try:
            values = list(map(func, customers, repeat(as_of), *(repeat(a) for a in args)))
        except Exception:  # the failing customer's error, as compute words it
            return [self.compute(one, as_of, *args) for one in customers]
        # (a StopIteration raised by func ends map early: fewer values)
        if len(values) != len(customers) or not self._all_fit(values):
            return [self.compute(one, as_of, *args) for one in customers]
        return values

    def _all_fit(self, values: list[Any]) -> bool:
        """Whether every one of ``values`` is a value of this feature's type."""
        kind = self.type.kind
        for t in set(map(type, values)):
            if t is _NONE or _FAST_KIND.get(t) == kind:
                continue
            same = [v for v in values if type(v) is t]
            if t in _HASHED:  # equal values of these types fit alike: check each once
                same = list(dict.fromkeys(same))
            if any(value_problem(v, self.type) is not None for v in same):
                return False
        return True

    @property
    def signature(self) -> str:
        if not self.args:
            return self.name
        args = ", ".join(f"{n}: {'integer' if t.integer else t.kind}" for n, t in self.args)
        return f"{self.name}({args})"

    def display_name(self, lang: str = "en") -> str:
        """The feature's name for people, in ``lang`` (``en`` or ``zh``)."""
        if lang == "zh" and self.zh:
            return self.zh
        return self.en or self.name.replace("_", " ").strip()

    def unknown_reads(self, known: Iterable[str]) -> list[str]:
        """The declared ``reads`` that are not record paths among ``known``
        (field paths, record lists and their item fields, nested models)."""
        if self.reads is None:
            return []
        known = set(known)
        return [p for p in self.reads if p not in known]


def feature(
    *,
    type: str = "number",
    description: str,
    unit: str | None = None,
    args: tuple[tuple[str, str], ...] = (),
    enum: tuple[str, ...] | None = None,
    name: str | None = None,
    reads: Iterable[str] | None = None,
    en: str | None = None,
    zh: str | None = None,
    polars: Callable[..., Any] | None = None,
    frame: Callable[..., Any] | None = None,
    show: Callable[[Any, str], str] | None = None,
) -> Callable[[Callable[..., Any]], Feature]:
    """Declare a feature: decorate its Python implementation
    ``func(customer, as_of, *args)`` to make it a :class:`Feature`.

    ``type`` is one of ``number``, ``integer``, ``string``, ``bool``,
    ``date`` (``enum`` makes it a string with these values); ``args`` names
    and types the constant arguments a rule passes. ``en`` and ``zh`` are
    display names, ``unit`` the unit of the value. ``show(value, lang)``
    words a text value for people in ``lang`` (explanations use it).

    ``reads`` lists the record paths the feature reads: fields
    (``birthday``, ``deal.last_contact_at``), record lists and their item
    fields (``cases``, ``cases.opened_at``) or nested models (``deal``).

    ``polars(as_of, *args)`` returns a polars expression computing the same
    value over a whole table (columns named by record path, record lists as
    list-of-struct columns; see ``docs/frames.md``); ``frame`` is its older
    name. Without one the frame backend calls ``func`` per row with
    :class:`Inputs` built from only the columns in ``reads``.
    """
    if polars is not None and frame is not None and polars is not frame:
        raise ValueError("give the polars implementation once: polars= (frame= is its older name)")
    if isinstance(reads, str):
        raise TypeError("reads must be a sequence of record paths, not one string")
    impl = polars if polars is not None else frame
    declared = None if reads is None else tuple(dict.fromkeys(reads))

    def wrap(func: Callable[..., Any]) -> Feature:
        return Feature(
            name=name or func.__name__,
            func=func,
            type=_type_from(type, enum),
            description=description,
            unit=unit,
            args=tuple((n, _type_from(k)) for n, k in args),
            polars=impl,
            reads=declared,
            en=en,
            zh=zh,
            show=show,
        )

    return wrap


# values whose type alone shows they fit a feature of this kind (the hot path)
_FAST_KIND: dict[type, str] = {int: NUMBER, bool: BOOL, dt.date: DATE}
_NONE = type(None)
# types whose equal values are alike for value_problem (checked once per distinct value)
_HASHED = frozenset({str, float})


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
