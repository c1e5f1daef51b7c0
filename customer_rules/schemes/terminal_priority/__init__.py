"""Built-in plugin: the ``terminal_priority`` scheme (终端客户分类管理).

Population-relative: retail terminals are ranked by a weighted score of
turnover, consumer resources, economic strength and operating level and
split into key / secondary / regular / unranked by cumulative counts (or
percentages). The rules, parameters and labels are in ``policy.yaml`` next
to this file, the strategies in ``strategies.yaml``; this module registers
them with a parameter model that checks the choices and the order of the
cut-offs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from customer_rules.plugin import Scheme, hookimpl, load_scheme


class TerminalPriorityParams(BaseModel):
    """Parameters of ``terminal_priority`` (cut-offs are cumulative from the top)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    by: Literal["count", "percent"] = Field("count", description="rank by counts or by percentages")
    key_top: int = Field(20, ge=0, description="key: the top this-many terminals")
    secondary_top: int = Field(40, ge=0, description="key + secondary: the top this-many terminals")
    regular_top: int = Field(70, ge=0, description="key + secondary + regular: the top this-many terminals")
    key_top_pct: float = Field(10, ge=0, le=100, description="key: the top this-many percent (by=percent)")
    secondary_top_pct: float = Field(20, ge=0, le=100, description="key + secondary, percent")
    regular_top_pct: float = Field(35, ge=0, le=100, description="key + secondary + regular, percent")
    weight_turnover: float = Field(0.4, ge=0, description="weight of the turnover level (0-3)")
    weight_consumer_resources: float = Field(0.2, ge=0, description="weight of value.consumer_resources")
    weight_economic_strength: float = Field(0.2, ge=0, description="weight of value.economic_strength")
    weight_operating_level: float = Field(0.2, ge=0, description="weight of value.operating_level")
    on_site_turnover_percentile: float = Field(
        0.8,
        ge=0,
        le=1,
        description="a key terminal at or above this turnover percentile gets on-site sessions",
    )
    on_site_potential_level: int = Field(
        3,
        ge=0,
        le=3,
        description="a key terminal with consumer resources at this level gets on-site sessions",
    )

    gift_limit_yuan: float = Field(
        200,
        ge=0,
        description="the firm's gift policy: most a meal, gift or hospitality may be worth, CNY per person per occasion (0 = none)",
    )

    @model_validator(mode="after")
    def _cumulative(self) -> TerminalPriorityParams:
        if not self.key_top <= self.secondary_top <= self.regular_top:
            raise ValueError(
                "the counts are cumulative from the top: need key_top <= secondary_top <= regular_top,"
                f" got {self.key_top}, {self.secondary_top}, {self.regular_top}"
            )
        if not self.key_top_pct <= self.secondary_top_pct <= self.regular_top_pct:
            raise ValueError(
                "the percentages are cumulative from the top: need key_top_pct <= secondary_top_pct"
                f" <= regular_top_pct, got {self.key_top_pct}, {self.secondary_top_pct}, {self.regular_top_pct}"
            )
        return self


@hookimpl
def register_schemes() -> Scheme:
    return load_scheme(Path(__file__).parent, kind="tier", params_model=TerminalPriorityParams)
