"""Built-in plugin: the ``rfm`` scheme (recency, frequency, monetary value).

Population-relative: each customer gets a 1-5 score for recency
(``days_since_purchase``, fewer days is better), frequency
(``value.orders_12m``) and monetary value (``value.revenue_12m``), fitted as
quintiles of the population, and is placed in one of the customary RFM
segments by the grid of rules in ``policy.yaml``; the strategies are in
``strategies.yaml``. This module registers them with a parameter model that
checks the score shares.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from customer_rules.plugin import Scheme, hookimpl, load_scheme


class RfmParams(BaseModel):
    """Parameters of ``rfm``: the cumulative shares (percent, from the best) behind the scores."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    score_5_top_pct: float = Field(20, ge=0, le=100, description="score 5: the best this-many percent")
    score_4_top_pct: float = Field(
        40, ge=0, le=100, description="score 4 or better: the best this-many percent"
    )
    score_3_top_pct: float = Field(
        60, ge=0, le=100, description="score 3 or better: the best this-many percent"
    )
    score_2_top_pct: float = Field(
        80, ge=0, le=100, description="score 2 or better: the best this-many percent"
    )

    @model_validator(mode="after")
    def _cumulative(self) -> RfmParams:
        shares = (self.score_5_top_pct, self.score_4_top_pct, self.score_3_top_pct, self.score_2_top_pct)
        if list(shares) != sorted(shares):
            raise ValueError(
                "the shares are cumulative from the best: need score_5_top_pct <= score_4_top_pct"
                f" <= score_3_top_pct <= score_2_top_pct, got {', '.join(f'{s:g}' for s in shares)}"
            )
        return self


@hookimpl
def register_schemes() -> Scheme:
    return load_scheme(Path(__file__).parent, kind="tier", params_model=RfmParams)
