"""Calendar facts about a record as of a date, shared by features and the agenda."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from customer_rules.model.records import Customer


def last_contact_date(c: Customer, as_of: dt.date) -> dt.date | None:
    """Most recent contact on or before as_of: interactions and the deal record."""
    dates = [i.at for i in c.interactions if i.at <= as_of]
    if c.deal.last_contact_at is not None and c.deal.last_contact_at <= as_of:
        dates.append(c.deal.last_contact_at)
    return max(dates) if dates else None


def next_anniversary(month: int, day: int, as_of: dt.date) -> dt.date:
    """The next date (on or after as_of) with this month and day; 29 February
    falls on 28 February in common years."""
    for year in (as_of.year, as_of.year + 1):
        try:
            nxt = dt.date(year, month, day)
        except ValueError:
            nxt = dt.date(year, 2, 28)
        if nxt >= as_of:
            return nxt
    raise AssertionError("unreachable: one of the two years is always ahead")  # pragma: no cover
