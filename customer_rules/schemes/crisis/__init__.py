"""Built-in plugin: the ``crisis`` scheme (overlays F sensitive customer and
G crisis event, reported independently of the satisfaction grade).

The rules, parameters and labels are in ``policy.yaml`` next to this file,
the strategies in ``strategies.yaml``. This module registers them and the
one case feature only this scheme reads; the other case features are
general built-ins (``active_cases``, ``cases_<fact>``, ``max_case_damage``).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

from customer_rules.plugin import Customer, Feature, Scheme, feature, hookimpl, load_scheme

if TYPE_CHECKING:
    import polars as pl


def _refused_repair_visits_polars(as_of: dt.date, days: int) -> pl.Expr:
    """Polars implementation of refused_repair_visits (see docs/frames.md)."""
    import polars as pl

    try:
        start = as_of - dt.timedelta(days=max(days, 0))
    except OverflowError:
        start = dt.date.min
    case, visit = pl.element(), pl.element()
    visits = case.struct.field("repair_visits").list.agg(((visit > start) & (visit <= as_of)).sum())
    refused = (case.struct.field("customer_accepts_repairs") == False) & (  # noqa: E712 - null is not false
        case.struct.field("opened_at") <= as_of
    )
    return pl.col("cases").list.agg(pl.when(refused).then(visits).max()).fill_null(0)


@feature(
    type="integer",
    unit="count",
    en="Repair visits on a refused case",
    zh="拒绝再修案件的维修次数",
    description=(
        "Most repair visits, in the given number of days up to and including as_of, on "
        "one case whose customer refuses further repairs (customer_accepts_repairs false); "
        "0 when there is none."
    ),
    args=(("days", "integer"),),
    reads=("cases.opened_at", "cases.repair_visits", "cases.customer_accepts_repairs"),
    polars=_refused_repair_visits_polars,
)
def refused_repair_visits(c: Customer, as_of: dt.date, days: int) -> int:
    try:
        start = as_of - dt.timedelta(days=max(days, 0))
    except OverflowError:  # a window reaching past the calendar
        start = dt.date.min
    counts = [
        sum(1 for v in k.repair_visits if start < v <= as_of)
        for k in c.cases
        if k.customer_accepts_repairs is False and k.opened_at <= as_of
    ]
    return max(counts, default=0)


FEATURES: list[Feature] = [refused_repair_visits]


@hookimpl
def register_features() -> list[Feature]:
    return FEATURES


@hookimpl
def register_schemes() -> Scheme:
    return load_scheme(Path(__file__).parent, kind="crisis")
