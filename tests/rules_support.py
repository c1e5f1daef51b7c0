"""Helpers for the condition-language and policy tests: tiny policies built
as data, and engines holding only them (the built-in schemes are blocked so
that each engine is cheap to build)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

import customer_rules as cr
from customer_rules.engine.plugins import DEFAULT_PLUGINS

AS_OF = dt.date(2026, 11, 22)

#: The built-in scheme plugins: not needed by tests of the language itself.
NO_SCHEMES = tuple(p for p in DEFAULT_PLUGINS if p.startswith("customer_rules.schemes."))

YES_NO = (
    {"id": "yes", "zh": "是", "en": "Yes"},
    {"id": "no", "zh": "否", "en": "No"},
)


def policy(
    rules: Iterable[Mapping[str, Any]] = (),
    *,
    pid: str = "t",
    labels: Iterable[Mapping[str, Any]] = YES_NO,
    **extra: Any,
) -> cr.Policy:
    """A policy from plain data (``extra`` holds hit, default, params, derive ...)."""
    data: dict[str, Any] = {
        "id": pid,
        "labels": [dict(lab) for lab in labels],
        "rules": [dict(r) for r in rules],
        **extra,
    }
    return cr.Policy.model_validate(data)


def engine(*policies: cr.Policy, **kwargs: Any) -> cr.Engine:
    """An engine with only the given policies (and the built-in features)."""
    return cr.Engine(policies, load_entry_points=False, block=NO_SCHEMES, **kwargs)


def record(**fields: Any) -> dict[str, Any]:
    """A customer record as a dict, with an id."""
    return {"id": "c1", **fields}


def value(expr: str, rec: Mapping[str, Any] | None = None, **policy_kw: Any) -> Any:
    """The value of ``expr`` for ``rec``: True/False/None for conditions, else any value.

    The expression is a derived value of a policy with no rules, so the
    decision's evidence holds exactly what it evaluated to.
    """
    derive = {**policy_kw.pop("derive", {}), "result": expr}
    p = policy(derive=derive, **policy_kw)
    d = engine(p).decide("t", dict(rec) if rec is not None else record(), as_of=AS_OF)
    return d.evidence["result"]


def matches(when: str, rec: Mapping[str, Any] | None = None, **policy_kw: Any) -> bool:
    """Whether a rule with condition ``when`` decides ``rec``."""
    p = policy([{"id": "r", "when": when, "then": "yes"}], **policy_kw)
    d = engine(p).decide("t", dict(rec) if rec is not None else record(), as_of=AS_OF)
    return d.label == "yes"
