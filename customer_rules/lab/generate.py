"""Customer records generated from the record schema, for searches and property checks.

Built on hypothesis (the ``lab`` extra): :func:`records` draws valid
:class:`Customer` records whose fields are the ones a policy reads, with
values taken from the field's type and bounds and, more often than chance
would, from the constants the policy compares them with (and their
neighbours), so boundaries are hit.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from customer_rules.lang.types import BOOL, DATE, LIST, NUMBER, RECORDS, STRING, FieldInfo, record_fields
from customer_rules.model.records import Case, Customer, Deduction, Grade, Interaction

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

EXTRA = "lab"

#: Fields features commonly read: generated whenever a policy reads a feature.
FEATURE_FIELDS = (
    "birthday",
    "deal.first_contact_at",
    "deal.last_contact_at",
    "cases",
    "interactions",
    "compliance.deductions",
)

_NESTED: dict[str, type[BaseModel]] = {
    "cases": Case,
    "interactions": Interaction,
    "compliance.deductions": Deduction,
    "grades": Grade,
}

# date pairs the record validators keep in order (earlier, later)
_ORDERED = (
    ("deal.first_contact_at", "deal.last_contact_at"),
    ("deal.trial_started_at", "deal.trial_ended_at"),
    ("deal.contract_sent_at", "deal.contract_returned_at"),
)


def need_hypothesis() -> Any:
    """Import hypothesis, or say which extra installs it."""
    try:
        import hypothesis
    except ImportError as exc:  # pragma: no cover - hypothesis is installed in the test env
        raise ImportError(
            f"this needs hypothesis: pip install 'customer-rules[{EXTRA}]' (or pip install hypothesis)"
        ) from exc
    return hypothesis


_FIELDS = record_fields(Customer)


def neighbours(info: FieldInfo, values: Iterable[Any]) -> list[Any]:
    """The hint values of a field plus their neighbours, within the field's bounds."""
    t = info.type
    out: list[Any] = []
    for v in values:
        if t.kind == NUMBER and isinstance(v, int | float) and not isinstance(v, bool):
            if not math.isfinite(v):
                continue
            step = 1 if t.integer or float(v).is_integer() else max(abs(v) * 0.01, 0.01)
            for x in (v, v - step, v + step):
                if t.integer:
                    x = round(x)
                if (t.ge is None or x >= t.ge) and (t.le is None or x <= t.le):
                    out.append(int(x) if t.integer else float(x))
        elif t.kind == DATE and isinstance(v, dt.date):
            for d in (-1, 0, 1):
                try:
                    out.append(v + dt.timedelta(days=d))
                except OverflowError:
                    continue
        elif t.kind in (STRING, BOOL) and isinstance(v, str | bool):
            out.append(v)
    return list(dict.fromkeys(out))


def _scalar(info: FieldInfo, hints: list[Any], as_of: dt.date, missing: bool = True) -> SearchStrategy[Any]:
    from hypothesis import strategies as st

    t = info.type
    base: SearchStrategy[Any]
    if t.kind == NUMBER:
        lo = t.ge if t.ge is not None else -1_000_000
        hi = t.le if t.le is not None else 10_000_000
        if t.integer:
            base = st.integers(math.ceil(lo), math.floor(hi))
        else:
            base = st.floats(lo, hi, allow_nan=False, allow_infinity=False)
    elif t.kind == DATE:
        # a few common dates make comparisons between date fields go both ways often
        common = [as_of - dt.timedelta(days=d) for d in (-30, 0, 1, 7, 30, 90, 365)]
        base = st.one_of(
            st.sampled_from(common), st.integers(-400, 1500).map(lambda d: as_of - dt.timedelta(days=d))
        )
    elif t.kind == STRING:
        if t.enum:
            base = st.sampled_from(t.enum)
        else:
            base = st.sampled_from([*(h for h in hints if isinstance(h, str)), "other"])
    elif t.kind == BOOL:
        base = st.booleans()
    else:  # pragma: no cover - scalar kinds only
        raise TypeError(t.kind)
    choices: list[SearchStrategy[Any]] = [st.none()] if missing else []
    if hints:
        choices.append(st.sampled_from(hints))
    choices.append(base)
    return st.one_of(*choices)


def _list(info: FieldInfo, hints: list[Any]) -> SearchStrategy[Any]:
    from hypothesis import strategies as st

    item = info.type.item
    pool: list[Any] = list(item.enum) if item is not None and item.enum else []
    pool.extend(h for h in hints if h not in pool)
    if not pool:
        pool = ["a", "b"]
    return st.lists(st.sampled_from(pool), unique=True, max_size=min(4, len(pool))).map(tuple)


def _model(model: type[BaseModel], as_of: dt.date) -> SearchStrategy[dict[str, Any]]:
    """A dict for one nested record (a case, an interaction, a deduction...), sparsely filled."""
    from hypothesis import strategies as st

    fields = record_fields(model)
    required: dict[str, SearchStrategy[Any]] = {}
    optional: dict[str, SearchStrategy[Any]] = {}
    for name, finfo in model.model_fields.items():
        info = fields.get(name)
        if name == "id" or info is None:
            continue
        kind = info.type.kind
        if kind == LIST and info.type.item is not None and info.type.item.kind == DATE:
            optional[name] = st.lists(
                st.integers(0, 120).map(lambda d: as_of - dt.timedelta(days=d)), max_size=4
            ).map(lambda xs: tuple(sorted(xs)))
        elif kind in (NUMBER, DATE, STRING, BOOL):
            if finfo.is_required():
                if kind == DATE:  # the event's own date: recent
                    required[name] = st.integers(0, 200).map(lambda d: as_of - dt.timedelta(days=d))
                elif kind == STRING:
                    required[name] = st.just("x")
                else:
                    required[name] = _scalar(info, [], as_of, missing=False)
            else:
                optional[name] = _scalar(info, [], as_of, missing=False)
    return st.fixed_dictionaries(required, optional=optional).map(_repair_nested)


def _with_ids(items: list[dict[str, Any]]) -> tuple[dict[str, Any], ...]:
    """Give nested records (cases) the unique ids the record requires."""
    return tuple({**x, "id": f"n{i}"} for i, x in enumerate(items))


def _in_order(d: dict[str, Any], pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Move each ``later`` date up to its ``earlier`` one when it came first."""
    for earlier, later in pairs:
        a, b = d.get(earlier), d.get(later)
        if a is not None and b is not None and b < a:
            d[later] = a
    return d


def _repair_nested(d: dict[str, Any]) -> dict[str, Any]:
    return _in_order(d, (("opened_at", "closed_at"), ("at", "resolved_at")))


def _set(out: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    node = out
    for p in parts[:-1]:
        node = node.setdefault(p, {})
    node[parts[-1]] = value


def nest(flat: Mapping[str, Any], record_id: str = "generated") -> dict[str, Any]:
    """A record dict from ``{dotted path: value}`` (missing values left out)."""
    out: dict[str, Any] = {"id": record_id}
    for path, value in flat.items():
        if value is None:
            continue
        _set(out, path, value)
    return out


def _repair(flat: dict[str, Any]) -> dict[str, Any]:
    return _in_order(flat, _ORDERED)


def to_customer(data: Mapping[str, Any]) -> Customer | None:
    try:
        return Customer.model_validate(data)
    except ValidationError:
        return None


def records(
    paths: Iterable[str],
    hints: Mapping[str, Iterable[Any]],
    as_of: dt.date,
    *,
    nested: bool = False,
    missing: bool = True,
) -> SearchStrategy[dict[str, Any]]:
    """Valid record dicts with the fields in ``paths`` (and nested lists when ``nested``).

    ``hints`` maps field paths to values worth trying (the policy's
    constants); each is tried together with its neighbours. With
    ``missing=False`` every field in ``paths`` has a value.
    """
    need_hypothesis()
    from hypothesis import strategies as st

    wanted = list(dict.fromkeys(paths))
    paths_set = set(wanted)
    if nested:
        wanted.extend(p for p in FEATURE_FIELDS if p not in wanted)
    parts: dict[str, SearchStrategy[Any]] = {}
    for path in wanted:
        info = _FIELDS.get(path)
        if info is None:
            continue
        h = neighbours(info, hints.get(path, ()))
        kind = info.type.kind
        if kind == RECORDS:
            model = _NESTED.get(path)
            if model is None:
                continue
            items = st.lists(_model(model, as_of), max_size=3)
            parts[path] = items.map(_with_ids) if "id" in model.model_fields else items.map(tuple)
        elif kind == LIST:
            parts[path] = _list(info, [x for x in hints.get(path, ()) if isinstance(x, str)])
        else:
            parts[path] = _scalar(info, h, as_of, missing=missing or path not in paths_set)
    return (
        st.fixed_dictionaries(parts)
        .map(_repair)
        .map(lambda flat: nest(flat))
        .filter(lambda d: to_customer(d) is not None)
    )


def settings(max_examples: int, *, shrink: bool = True) -> Any:
    """Hypothesis settings for a bounded, reproducible, database-free search."""
    hypothesis = need_hypothesis()
    phases = [hypothesis.Phase.generate]
    if shrink:
        phases.append(hypothesis.Phase.shrink)
    return hypothesis.settings(
        max_examples=max_examples,
        database=None,
        deadline=None,
        derandomize=True,
        phases=phases,
        suppress_health_check=list(hypothesis.HealthCheck),
    )
