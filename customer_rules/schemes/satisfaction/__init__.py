"""Built-in plugin: the ``satisfaction`` scheme (complaint grades A–E).

The rules, parameters and labels are in ``policy.yaml`` next to this file,
the strategies in ``strategies.yaml``. This module registers them and the
case features only this scheme reads; each one just measures the cases (as
of a date, over a window given by a policy parameter) — which grade a
measurement leads to is decided by the policy.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from customer_rules.plugin import (
    Case,
    Customer,
    Feature,
    Scheme,
    active_case_list,
    active_mask,
    count_cases,
    feature,
    hookimpl,
    load_scheme,
)

if TYPE_CHECKING:
    import polars as pl

_WINDOW = (("days", "integer"),)
_ACTIVE = "active cases (open at as_of, or closed less than `days` days before it)"


def _is_quality_case(k: Case) -> bool:
    return k.quality_issue is True or k.severity is not None


# The polars implementations (expressions over a whole table, see
# docs/frames.md) work per case inside ``pl.col("cases").list.agg``; each one
# is declared with its feature below.

_ACTIVE_READS = ("cases.opened_at", "cases.closed_at")


def _field(name: str) -> pl.Expr:
    import polars as pl

    return pl.element().struct.field(name)


def _count_active(which: Callable[[], pl.Expr]) -> Callable[[dt.date, int], pl.Expr]:
    """Polars: how many active cases ``which`` holds for."""

    def count(as_of: dt.date, days: int) -> pl.Expr:
        return count_cases(active_mask(as_of, days) & which().fill_null(False))

    return count


def _hostile_threatening() -> pl.Expr:
    return (
        (_field("hostile_tone") == True)  # noqa: E712 - null is not true
        & (_field("calmed") != True).fill_null(True)  # noqa: E712
        & (_field("media_threat") == True)  # noqa: E712
    )


def _serious_quality() -> pl.Expr:
    return _field("severity").is_in(["major", "key_part"])


@feature(
    en="Hostile, threatening cases",
    zh="态度敌对且扬言曝光的案件数",
    type="integer",
    unit="count",
    description=(
        f"Number of {_ACTIVE} where the customer's tone is hostile, was not calmed "
        "(calmed is not recorded as true) and they threaten media or online exposure."
    ),
    args=_WINDOW,
    reads=(*_ACTIVE_READS, "cases.hostile_tone", "cases.calmed", "cases.media_threat"),
    polars=_count_active(_hostile_threatening),
)
def cases_hostile_threatening(c: Customer, as_of: dt.date, days: int) -> int:
    return sum(
        1
        for k in active_case_list(c, as_of, days)
        if k.hostile_tone is True and k.calmed is not True and k.media_threat is True
    )


@feature(
    en="Serious quality cases",
    zh="严重质量问题案件数",
    type="integer",
    unit="count",
    description=f"Number of {_ACTIVE} about a major or key-part quality problem (severity major or key_part).",
    args=_WINDOW,
    reads=(*_ACTIVE_READS, "cases.severity"),
    polars=_count_active(_serious_quality),
)
def serious_quality_cases(c: Customer, as_of: dt.date, days: int) -> int:
    return sum(1 for k in active_case_list(c, as_of, days) if k.severity in ("major", "key_part"))


def _max_skill_repair_days_polars(as_of: dt.date, days: int) -> pl.Expr:
    import polars as pl

    skill = (_field("technician_skill_issue") == True).fill_null(False)  # noqa: E712
    take = active_mask(as_of, days) & skill
    return pl.col("cases").list.agg(pl.when(take).then(_field("repair_days")).max()).fill_null(0)


@feature(
    en="Longest repair caused by skill",
    zh="技能原因最长维修天数",
    type="integer",
    unit="days",
    description=(
        f"Longest repair time recorded on the {_ACTIVE} whose delay was caused by "
        "technician skill; 0 when there is none."
    ),
    args=_WINDOW,
    reads=(*_ACTIVE_READS, "cases.technician_skill_issue", "cases.repair_days"),
    polars=_max_skill_repair_days_polars,
)
def max_skill_repair_days(c: Customer, as_of: dt.date, days: int) -> int:
    times = [
        k.repair_days
        for k in active_case_list(c, as_of, days)
        if k.technician_skill_issue is True and k.repair_days is not None
    ]
    return max(times, default=0)


def _quality_repair_visits_within_polars(as_of: dt.date, days: int) -> pl.Expr:
    import polars as pl

    try:
        start = as_of - dt.timedelta(days=max(days, 0))
    except OverflowError:
        start = dt.date.min
    visit = pl.element()
    visits = _field("repair_visits").list.agg(((visit > start) & (visit <= as_of)).sum())
    quality = (_field("quality_issue") == True).fill_null(False) | _field("severity").is_not_null()  # noqa: E712
    return pl.col("cases").list.agg(pl.when(quality).then(visits).otherwise(0).sum())


@feature(
    en="Repair visits on quality cases",
    zh="质量问题维修次数",
    type="integer",
    unit="count",
    description=(
        "Repair visits in the given number of days up to and including as_of, on cases "
        "about product quality (quality_issue true, or a severity recorded)."
    ),
    args=_WINDOW,
    reads=("cases.quality_issue", "cases.severity", "cases.repair_visits"),
    polars=_quality_repair_visits_within_polars,
)
def quality_repair_visits_within(c: Customer, as_of: dt.date, days: int) -> int:
    try:
        start = as_of - dt.timedelta(days=max(days, 0))
    except OverflowError:  # a window reaching past the calendar
        start = dt.date.min
    return sum(1 for k in c.cases if _is_quality_case(k) for v in k.repair_visits if start < v <= as_of)


def _days_unresolved_without_solution_polars(as_of: dt.date) -> pl.Expr:
    import polars as pl

    age = (pl.lit(as_of) - _field("opened_at")).dt.total_days()
    take = active_mask(as_of, 0) & (_field("solution_offered") != True).fill_null(True)  # noqa: E712
    return pl.col("cases").list.agg(pl.when(take).then(age).max()).fill_null(0)


@feature(
    en="Days without a solution",
    zh="未给出解决方案天数",
    type="integer",
    unit="days",
    description=(
        "Longest time a case open at as_of has gone without a satisfactory solution "
        "(solution_offered not recorded as true); 0 when there is none."
    ),
    reads=(*_ACTIVE_READS, "cases.solution_offered"),
    polars=_days_unresolved_without_solution_polars,
)
def days_unresolved_without_solution(c: Customer, as_of: dt.date) -> int:
    ages = [
        (as_of - k.opened_at).days for k in active_case_list(c, as_of, 0) if k.solution_offered is not True
    ]
    return max(ages, default=0)


def _minor_quality() -> pl.Expr:
    return _field("severity") == "minor"


@feature(
    en="Minor quality cases",
    zh="一般性质量问题案件数",
    type="integer",
    unit="count",
    description=(
        f"Number of {_ACTIVE} about a minor quality problem (severity minor): one that does not "
        "stop the customer using the product."
    ),
    args=_WINDOW,
    reads=(*_ACTIVE_READS, "cases.severity"),
    polars=_count_active(_minor_quality),
)
def minor_quality_cases(c: Customer, as_of: dt.date, days: int) -> int:
    return sum(1 for k in active_case_list(c, as_of, days) if k.severity == "minor")


FEATURES: list[Feature] = [
    cases_hostile_threatening,
    serious_quality_cases,
    minor_quality_cases,
    max_skill_repair_days,
    quality_repair_visits_within,
    days_unresolved_without_solution,
]


@hookimpl
def register_features() -> list[Feature]:
    return FEATURES


@hookimpl
def register_schemes() -> Scheme:
    return load_scheme(Path(__file__).parent, kind="crisis")
