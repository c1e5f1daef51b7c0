"""A throwaway plugin that adds a record namespace and a scheme that reads it.

It is what a firm would write to keep its own data on the customer record:
an internal credit rating, a net promoter score and an industry, under the
namespace ``firm``; the scheme ``firm_priority`` reads them together with a
core field. Used by tests/test_record_fields.py and tests/test_row_validity.py.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict

import customer_rules as cr

Industry = Literal["retail", "hospital", "factory", "bank"]


class Firm(BaseModel):
    """The firm's own view of a customer."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    industry: Industry | None = cr.record_field("Industry of the customer.", en="industry", zh="行业")
    internal_rating: int | None = cr.record_field(
        "Credit rating given by our finance team (10 = best).",
        en="internal rating",
        zh="内部信用评级",
        unit="grade 1-10",
        ge=1,
        le=10,
    )
    nps: int | None = cr.record_field(
        "Net promoter score from the latest survey.", en="NPS", zh="净推荐值", unit="points", ge=-100, le=100
    )
    credit_line: float | None = cr.record_field(
        "Credit line granted by finance.", en="credit line", zh="授信额度", unit="CNY", ge=0
    )
    rated_at: dt.date | None = cr.record_field("Date of the latest rating.", en="rated on", zh="评级日期")
    tags: tuple[str, ...] = cr.record_field("Free tags.", en="tags", zh="标签", default=())


POLICY = {
    "id": "firm_priority",
    "version": "1",
    "hit": "first",
    "labels": [
        {"id": "watch", "zh": "关注", "en": "watch"},
        {"id": "grow", "zh": "发展", "en": "grow"},
        {"id": "keep", "zh": "维持", "en": "keep"},
    ],
    "rules": [
        {"id": "weak_credit", "when": "firm.internal_rating <= 3", "then": "watch"},
        {
            "id": "promoter",
            "when": 'firm.nps >= 50 and firm.industry in ["retail", "hospital"]',
            "then": "grow",
        },
        {"id": "big_line", "when": "firm.credit_line >= 100000 and value.revenue_12m > 0", "then": "grow"},
        {"id": "stale", "when": "firm.rated_at < 2026-01-01", "then": "watch"},
    ],
    "default": "keep",
}


@cr.hookimpl
def register_record_fields() -> dict[str, type[BaseModel]]:
    return {"firm": Firm}


@cr.hookimpl
def register_schemes() -> cr.Scheme:
    return cr.Scheme(cr.Policy.model_validate(POLICY), kind="tier")
