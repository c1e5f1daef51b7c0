"""Built-in plugin: the ``value_pyramid`` scheme (customer pyramid, 客户金字塔).

Population-relative: the customers are ranked by a value measure (profit by
default; revenue where profit is unknown, unless ``fallback`` is ``none``) and split into VIP / major / ordinary / small by cumulative shares
from the top. The rules, parameters and labels are in ``policy.yaml`` next
to this file, the strategies in ``strategies.yaml``; this module registers
them with a parameter model that checks the measure name and the order of
the shares.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from customer_rules.plugin import Scheme, hookimpl, load_scheme


class ValuePyramidParams(BaseModel):
    """Parameters of ``value_pyramid`` (shares are cumulative, from the top)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    measure: Literal["profit", "revenue", "lifetime_value", "revenue_total"] = Field(
        "profit",
        description="value measure: profit (value.profit_12m), revenue (value.revenue_12m),"
        " lifetime_value (value.lifetime_value) or revenue_total (value.revenue_total, revenue since the"
        " first purchase)",
    )
    fallback: Literal["revenue", "none"] = Field(
        "revenue",
        description="measure profit only: a customer whose profit is unknown is ranked by value.revenue_12m"
        " among themselves (rules *_by_revenue, flag ranked_by_revenue), or with none left unclassified",
    )
    vip_top_pct: float = Field(1, ge=0, le=100, description="VIP: the top this-many percent")
    major_top_pct: float = Field(5, ge=0, le=100, description="VIP + major: the top this-many percent")
    ordinary_top_pct: float = Field(
        20, ge=0, le=100, description="VIP + major + ordinary: the top this-many percent"
    )

    @model_validator(mode="after")
    def _cumulative(self) -> ValuePyramidParams:
        if not self.vip_top_pct <= self.major_top_pct <= self.ordinary_top_pct:
            raise ValueError(
                "the shares are cumulative from the top: need vip_top_pct <= major_top_pct <= ordinary_top_pct,"
                f" got {self.vip_top_pct}, {self.major_top_pct}, {self.ordinary_top_pct}"
            )
        return self


@hookimpl
def register_schemes() -> Scheme:
    return load_scheme(Path(__file__).parent, kind="tier", params_model=ValuePyramidParams)
