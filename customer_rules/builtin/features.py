"""Built-in plugin: general features derived from a record as of a date.

Each feature is declared once: its Python implementation (decorated) with
its polars implementation defined just above it — a polars expression
computing the same value for a whole table (see docs/frames.md). Nested
lists are list-of-struct columns (``cases``, ``interactions``); polars is
imported inside them so that importing this plugin does not import polars.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING

from customer_rules.plugin import (
    Customer,
    Feature,
    active_case_list,
    active_mask,
    count_cases,
    feature,
    hookimpl,
    last_contact_date,
    next_anniversary,
    open_mask,
)

if TYPE_CHECKING:
    import polars as pl

# -- contact and birthday ----------------------------------------------------------

_CONTACT_READS = ("interactions.at", "deal.last_contact_at")
_CASE_DATES = ("cases.opened_at", "cases.closed_at")


def _last_contact_polars(as_of: dt.date) -> pl.Expr:
    import polars as pl

    at = pl.element().struct.field("at")
    logged = pl.col("interactions").list.agg(at.filter(at <= as_of).max())
    deal = pl.col("deal.last_contact_at")
    return pl.max_horizontal(logged, pl.when(deal <= as_of).then(deal))


@feature(
    type="date",
    en="Last contact",
    zh="最近联系日期",
    description="Most recent contact on or before as_of (interactions or deal record).",
    reads=_CONTACT_READS,
    polars=_last_contact_polars,
)
def last_contact(c: Customer, as_of: dt.date) -> dt.date | None:
    return last_contact_date(c, as_of)


def _days_since_contact_polars(as_of: dt.date) -> pl.Expr:
    import polars as pl

    return (pl.lit(as_of) - _last_contact_polars(as_of)).dt.total_days()


@feature(
    type="integer",
    unit="days",
    en="Days since last contact",
    zh="距上次联系天数",
    description="Days from the most recent contact to as_of; missing if never contacted.",
    reads=_CONTACT_READS,
    polars=_days_since_contact_polars,
)
def days_since_contact(c: Customer, as_of: dt.date) -> int | None:
    last = last_contact_date(c, as_of)
    return None if last is None else (as_of - last).days


# -- purchase history --------------------------------------------------------------


def _days_since(at: dt.date | None, as_of: dt.date) -> int | None:
    """Whole days from ``at`` to ``as_of``; missing when unknown or after as_of
    (unlike the language's ``days_since``, a date still to come is no history)."""
    return None if at is None or at > as_of else (as_of - at).days


def _days_since_polars(column: str) -> Callable[[dt.date], pl.Expr]:
    """The same as :func:`_days_since` for a whole date column."""
    def build(as_of: dt.date) -> pl.Expr:
        import polars as pl

        at = pl.col(column)
        return pl.when(at <= as_of).then((pl.lit(as_of) - at).dt.total_days())

    return build


@feature(
    type="integer",
    unit="days",
    en="Days since last purchase",
    zh="距上次购买天数",
    description="Days from the most recent purchase to as_of (recency); missing if none on or before as_of.",
    reads=("value.last_purchase_at",),
    polars=_days_since_polars("value.last_purchase_at"),
)
def days_since_purchase(c: Customer, as_of: dt.date) -> int | None:
    return _days_since(c.value.last_purchase_at, as_of)


@feature(
    type="integer",
    unit="days",
    en="Customer tenure",
    zh="客户时长",
    description="Days from the first purchase to as_of; missing if none on or before as_of.",
    reads=("value.first_purchase_at",),
    polars=_days_since_polars("value.first_purchase_at"),
)
def tenure_days(c: Customer, as_of: dt.date) -> int | None:
    return _days_since(c.value.first_purchase_at, as_of)


def _open_cases_polars(as_of: dt.date) -> pl.Expr:
    return count_cases(open_mask(as_of))


@feature(
    type="integer",
    unit="count",
    en="Open cases",
    zh="未结案件数",
    description="Service cases open at as_of.",
    reads=_CASE_DATES,
    polars=_open_cases_polars,
)
def open_cases(c: Customer, as_of: dt.date) -> int:
    return sum(1 for k in c.cases if k.opened_at <= as_of and (k.closed_at is None or k.closed_at > as_of))


def _repair_visits_within_polars(as_of: dt.date, days: int) -> pl.Expr:
    import polars as pl

    try:
        start = as_of - dt.timedelta(days=days)
    except OverflowError:
        start = dt.date.min if days > 0 else dt.date.max
    visits = pl.element().struct.field("repair_visits").list.explode(keep_nulls=False, empty_as_null=False)
    return pl.col("cases").list.agg(((visits > start) & (visits <= as_of)).sum())


@feature(
    type="integer",
    unit="count",
    en="Repair visits",
    zh="维修上门次数",
    description="Repair visits (over all cases) in the given number of days up to and including as_of.",
    args=(("days", "integer"),),
    reads=("cases.repair_visits",),
    polars=_repair_visits_within_polars,
)
def repair_visits_within(c: Customer, as_of: dt.date, days: int) -> int:
    try:
        start = as_of - dt.timedelta(days=days)
    except OverflowError:  # a window reaching past the calendar: every visit up to as_of
        start = dt.date.min if days > 0 else dt.date.max
    return sum(1 for k in c.cases for v in k.repair_visits if start < v <= as_of)


def _days_unresolved_polars(as_of: dt.date) -> pl.Expr:
    import polars as pl

    age = (pl.lit(as_of) - pl.element().struct.field("opened_at")).dt.total_days()
    return pl.col("cases").list.agg(pl.when(open_mask(as_of)).then(age).max()).fill_null(0)


@feature(
    type="integer",
    unit="days",
    en="Days unresolved",
    zh="未解决天数",
    description="Longest time any case open at as_of has been unresolved; 0 when none is open.",
    reads=_CASE_DATES,
    polars=_days_unresolved_polars,
)
def days_unresolved(c: Customer, as_of: dt.date) -> int:
    ages = [
        (as_of - k.opened_at).days
        for k in c.cases
        if k.opened_at <= as_of and (k.closed_at is None or k.closed_at > as_of)
    ]
    return max(ages, default=0)


def _days_to_birthday_polars(as_of: dt.date) -> pl.Expr:
    import polars as pl

    born = pl.col("birthday")
    month, day = born.dt.month(), born.dt.day()

    def anniversary(year: int) -> pl.Expr:
        if calendar.isleap(year):
            return pl.date(year, month, day)
        return pl.date(year, month, pl.when((month == 2) & (day == 29)).then(28).otherwise(day))

    this_year = anniversary(as_of.year)
    nxt = pl.when(this_year >= as_of).then(this_year).otherwise(anniversary(as_of.year + 1))
    return (nxt - pl.lit(as_of)).dt.total_days()


@feature(
    type="integer",
    unit="days",
    en="Days to birthday",
    zh="距生日天数",
    description="Days until the customer's next birthday (0 on the day); missing without a birthday.",
    reads=("birthday",),
    polars=_days_to_birthday_polars,
)
def days_to_birthday(c: Customer, as_of: dt.date) -> int | None:
    if c.birthday is None:
        return None
    return (next_anniversary(c.birthday.month, c.birthday.day, as_of) - as_of).days


# -- complaint cases -------------------------------------------------------
# Complaint schemes (satisfaction, crisis) look at the *active* cases at
# as_of: opened on or before as_of and still open then, or closed less than
# ``days`` days before it. A settled complaint so stops counting once the
# window has passed, and the same record read at another as_of can differ.



_WINDOW = (("days", "integer"),)
_ACTIVE = "active cases (open at as_of, or closed less than `days` days before it)"


#: What :func:`active_case_list` reads; features built on it add the case fields they look at.
ACTIVE_READS = _CASE_DATES


def _active_cases_polars(as_of: dt.date, days: int) -> pl.Expr:
    return count_cases(active_mask(as_of, days))


@feature(
    type="integer",
    unit="count",
    en="Active cases",
    zh="有效投诉案件数",
    description=f"Number of {_ACTIVE}.",
    args=_WINDOW,
    reads=ACTIVE_READS,
    polars=_active_cases_polars,
)
def active_cases(c: Customer, as_of: dt.date, days: int) -> int:
    return len(active_case_list(c, as_of, days))


def _max_active(name: str, zero: float) -> Callable[[dt.date, int], pl.Expr]:
    """Polars: the largest ``name`` on the active cases (``zero`` when there is none)."""

    def largest(as_of: dt.date, days: int) -> pl.Expr:
        import polars as pl

        value = pl.element().struct.field(name)
        return pl.col("cases").list.agg(pl.when(active_mask(as_of, days)).then(value).max()).fill_null(zero)

    return largest


@feature(
    type="number",
    unit="CNY",
    en="Largest damage on active cases",
    zh="有效案件最大损失金额",
    description=f"Largest damage amount recorded on the {_ACTIVE}; 0 when none is recorded.",
    args=_WINDOW,
    reads=(*ACTIVE_READS, "cases.damage_amount"),
    polars=_max_active("damage_amount", 0.0),
)
def max_case_damage(c: Customer, as_of: dt.date, days: int) -> float:
    amounts = [k.damage_amount for k in active_case_list(c, as_of, days) if k.damage_amount is not None]
    return max(amounts, default=0.0)


@feature(
    type="integer",
    unit="days",
    en="Longest parts wait on active cases",
    zh="有效案件最长配件等待天数",
    description=f"Longest wait for spare parts recorded on the {_ACTIVE}; 0 when none is recorded.",
    args=_WINDOW,
    reads=(*ACTIVE_READS, "cases.parts_wait_days"),
    polars=_max_active("parts_wait_days", 0),
)
def max_parts_wait_days(c: Customer, as_of: dt.date, days: int) -> int:
    waits = [k.parts_wait_days for k in active_case_list(c, as_of, days) if k.parts_wait_days is not None]
    return max(waits, default=0)


#: Yes/no facts of a case (with a Chinese name); each gets a feature
#: ``cases_<name>(days)`` counting the active cases where it is recorded as true.
CASE_FACT_NAMES: dict[str, str] = {
    "quality_issue": "质量问题",
    "repeat_complaint": "重复投诉",
    "safety_related": "涉及安全",
    "injury": "人身伤害",
    "property_loss": "财产损失",
    "batch_issue": "批量问题",
    "price_opaque": "价格不透明",
    "technician_skill_issue": "技师技能问题",
    "hostile_tone": "态度敌对",
    "media_threat": "扬言曝光",
    "legal_threat": "扬言起诉",
    "extreme_behaviour_risk": "极端行为风险",
    "exposed": "已曝光",
    "media_involved": "媒体介入",
    "lawyer_involved": "律师介入",
    "police_involved": "警方介入",
    "regulator_involved": "监管部门介入",
    "consumer_association_involved": "消协介入",
    "government_involved": "政府介入",
}
CASE_FACTS: tuple[str, ...] = tuple(CASE_FACT_NAMES)


def _case_fact_feature(fact: str) -> Feature:
    def count_polars(as_of: dt.date, days: int) -> pl.Expr:
        import polars as pl

        true = pl.element().struct.field(fact).fill_null(False)
        return count_cases(active_mask(as_of, days) & true)

    described = fact.replace("_", " ")

    @feature(
        type="integer",
        unit="count",
        en=f"Active cases: {described}",
        zh=f"有效案件数（{CASE_FACT_NAMES[fact]}）",
        description=f"Number of {_ACTIVE} with `{fact}` ({described}) recorded as true.",
        args=_WINDOW,
        name=f"cases_{fact}",
        reads=(*ACTIVE_READS, f"cases.{fact}"),
        polars=count_polars,
    )
    def count(c: Customer, as_of: dt.date, days: int) -> int:
        # a plain loop: a stream's case decision calls some fifteen of these
        # on a list of one or two cases, where sum() over a generator costs twice as much
        n = 0
        for k in active_case_list(c, as_of, days):
            if getattr(k, fact) is True:
                n += 1
        return n

    return count


CASE_FEATURES: list[Feature] = [
    active_cases,
    max_case_damage,
    max_parts_wait_days,
    *(_case_fact_feature(f) for f in CASE_FACTS),
]


FEATURES: list[Feature] = [
    last_contact,
    days_since_contact,
    days_since_purchase,
    tenure_days,
    open_cases,
    repair_visits_within,
    days_unresolved,
    days_to_birthday,
    *CASE_FEATURES,
]


@hookimpl
def register_features() -> list[Feature]:
    return FEATURES
