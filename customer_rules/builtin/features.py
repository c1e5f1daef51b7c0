"""Built-in plugin: general features derived from a record as of a date."""

from __future__ import annotations

import datetime as dt

from customer_rules._features import Feature, feature
from customer_rules._records import Customer
from customer_rules.hookspecs import hookimpl


def _last_contact(c: Customer, as_of: dt.date) -> dt.date | None:
    dates = [i.at for i in c.interactions if i.at <= as_of]
    if c.deal.last_contact_at is not None and c.deal.last_contact_at <= as_of:
        dates.append(c.deal.last_contact_at)
    return max(dates) if dates else None


@feature(type="date", description="Most recent contact on or before as_of (interactions or deal record).")
def last_contact(c: Customer, as_of: dt.date) -> dt.date | None:
    return _last_contact(c, as_of)


@feature(
    type="integer",
    unit="days",
    description="Days from the most recent contact to as_of; missing if never contacted.",
)
def days_since_contact(c: Customer, as_of: dt.date) -> int | None:
    last = _last_contact(c, as_of)
    return None if last is None else (as_of - last).days


@feature(type="integer", unit="count", description="Service cases open at as_of.")
def open_cases(c: Customer, as_of: dt.date) -> int:
    return sum(
        1 for k in c.cases if k.opened_at <= as_of and (k.closed_at is None or k.closed_at > as_of)
    )


@feature(
    type="integer",
    unit="count",
    description="Repair visits (over all cases) in the given number of days up to and including as_of.",
    args=(("days", "integer"),),
)
def repair_visits_within(c: Customer, as_of: dt.date, days: int) -> int:
    start = as_of - dt.timedelta(days=days)
    return sum(1 for k in c.cases for v in k.repair_visits if start < v <= as_of)


@feature(
    type="integer",
    unit="days",
    description="Longest time any case open at as_of has been unresolved; 0 when none is open.",
)
def days_unresolved(c: Customer, as_of: dt.date) -> int:
    ages = [
        (as_of - k.opened_at).days
        for k in c.cases
        if k.opened_at <= as_of and (k.closed_at is None or k.closed_at > as_of)
    ]
    return max(ages, default=0)


@feature(
    type="integer",
    unit="days",
    description="Days until the customer's next birthday (0 on the day); missing without a birthday.",
)
def days_to_birthday(c: Customer, as_of: dt.date) -> int | None:
    if c.birthday is None:
        return None
    b = c.birthday
    for year in (as_of.year, as_of.year + 1):
        try:
            nxt = b.replace(year=year)
        except ValueError:  # 29 February in a common year: celebrate on 28 February
            nxt = dt.date(year, 2, 28)
        if nxt >= as_of:
            return (nxt - as_of).days
    return None  # pragma: no cover - one of the two years is always ahead


FEATURES: list[Feature] = [
    last_contact,
    days_since_contact,
    open_cases,
    repair_visits_within,
    days_unresolved,
    days_to_birthday,
]


@hookimpl
def register_features() -> list[Feature]:
    return FEATURES
