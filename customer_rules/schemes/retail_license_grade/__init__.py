"""Built-in plugin: the ``retail_license_grade`` scheme (零售户分类：守法 + 经营星级).

Compliance class A / B / C from the inspectors' score, business stars for
the best compliance-A retailers (population-relative: fitted), and
``suspended`` while a serious violation is open. The rules, parameters and
labels are in ``policy.yaml`` next to this file, the strategies in
``strategies.yaml``. This module registers them, with a parameter model,
and the features only this scheme needs: whether a serious violation is
open, the points deducted in a period and the list of deductions that the
explanation shows to the retailer.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from customer_rules.plugin import Customer, Deduction, Feature, Scheme, feature, hookimpl, load_scheme

if TYPE_CHECKING:
    import polars as pl

_STARS = (5, 4, 3, 2, 1)


class RetailLicenseGradeParams(BaseModel):
    """Parameters of ``retail_license_grade``.

    Stars: the five cumulative cut-offs (5★ = the top ``star5_top``, 4★ the
    rest of the top ``star4_top``, …, 1★ the rest of the top ``star1_top``)
    among compliance-A retailers ranked by business score; with ``by =
    "percent"`` the ``*_top_pct`` percentages of the A-class retailers.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    a_min: float = Field(90, ge=0, le=100, description="compliance score for class A")
    b_min: float = Field(75, ge=0, le=100, description="compliance score for class B (below: C)")
    by: Literal["count", "percent"] = Field("count", description="stars by counts or by percentages")
    star5_top: int = Field(8, ge=0)
    star4_top: int = Field(16, ge=0)
    star3_top: int = Field(24, ge=0)
    star2_top: int = Field(32, ge=0)
    star1_top: int = Field(40, ge=0, description="how many A-class retailers get a star (by=count)")
    star5_top_pct: float = Field(2, ge=0, le=100)
    star4_top_pct: float = Field(4, ge=0, le=100)
    star3_top_pct: float = Field(6, ge=0, le=100)
    star2_top_pct: float = Field(8, ge=0, le=100)
    star1_top_pct: float = Field(10, ge=0, le=100, description="share of A-class retailers with a star")
    period_days: int = Field(92, ge=1, description="assessment period: deductions of the last this-many days")
    score_tolerance: float = Field(
        0,
        ge=0,
        description="points a recorded compliance score may differ from 100 - the period's deductions "
        "before the flag score_inconsistent is raised",
    )

    @model_validator(mode="after")
    def _ordered(self) -> RetailLicenseGradeParams:
        if self.b_min > self.a_min:
            raise ValueError(f"b_min ({self.b_min}) is above a_min ({self.a_min})")
        for suffix in ("_top", "_top_pct"):
            cuts = [getattr(self, f"star{s}{suffix}") for s in _STARS]
            if cuts != sorted(cuts):
                names = " <= ".join(f"star{s}{suffix}" for s in _STARS)
                raise ValueError(f"the star cut-offs are cumulative from the top: need {names}, got {cuts}")
        return self


# -- features --------------------------------------------------------------


def _open(d: Deduction, as_of: dt.date) -> bool:
    """A serious violation recorded by as_of whose enforcement has not concluded."""
    return d.serious and d.at <= as_of and (d.resolved_at is None or d.resolved_at > as_of)


def _in_period(d: Deduction, as_of: dt.date, days: int) -> bool:
    try:
        start = as_of - dt.timedelta(days=days)
    except OverflowError:  # a period reaching past the calendar: everything up to as_of
        start = dt.date.min
    return start < d.at <= as_of


def _points(x: float) -> str:
    """Points as shown: rounded to hundredths (half to even), without trailing zeros."""
    cents = round(x * 100)
    whole, frac = divmod(cents, 100)
    return str(whole) if frac == 0 else f"{whole}." + f"{frac:02d}".rstrip("0")


# The polars implementations (expressions over a whole table, see
# docs/frames.md) work per deduction inside ``pl.col("compliance.deductions")``;
# each one is declared with its feature below.


def _period_start(as_of: dt.date, days: int) -> dt.date:
    try:
        return as_of - dt.timedelta(days=days)
    except OverflowError:
        return dt.date.min


def _deduction(name: str) -> pl.Expr:
    import polars as pl

    return pl.element().struct.field(name)


def _open_polars(as_of: dt.date) -> pl.Expr:
    resolved = _deduction("resolved_at")
    return _deduction("serious") & (_deduction("at") <= as_of) & (resolved.is_null() | (resolved > as_of))


def _in_period_polars(as_of: dt.date, days: int) -> pl.Expr:
    at = _deduction("at")
    return (at > _period_start(as_of, days)) & (at <= as_of)


def _serious_violation_open_polars(as_of: dt.date) -> pl.Expr:
    import polars as pl

    return pl.col("compliance.deductions").list.agg(_open_polars(as_of).any())


@feature(
    type="bool",
    en="Serious violation open",
    zh="严重违规未结",
    description=(
        "A serious violation (deduction with serious = true) is recorded on or before as_of and its"
        " enforcement has not concluded (no resolved_at, or resolved after as_of)."
    ),
    reads=("compliance.deductions.serious", "compliance.deductions.at", "compliance.deductions.resolved_at"),
    polars=_serious_violation_open_polars,
)
def serious_violation_open(c: Customer, as_of: dt.date) -> bool:
    return any(_open(d, as_of) for d in c.compliance.deductions)


def _deduction_points_within_polars(as_of: dt.date, days: int) -> pl.Expr:
    import polars as pl

    points = _deduction("points")
    return pl.col("compliance.deductions").list.agg(
        pl.when(_in_period_polars(as_of, days)).then(points).sum()
    )


@feature(
    type="number",
    unit="points",
    en="Points deducted",
    zh="扣分",
    description="Compliance points deducted in the given number of days up to and including as_of.",
    args=(("days", "integer"),),
    reads=("compliance.deductions.at", "compliance.deductions.points"),
    polars=_deduction_points_within_polars,
)
def deduction_points_within(c: Customer, as_of: dt.date, days: int) -> float:
    return float(sum(d.points for d in c.compliance.deductions if _in_period(d, as_of, days)))


def _deductions_summary_polars(as_of: dt.date, days: int) -> pl.Expr:
    import polars as pl

    at, points, resolved = _deduction("at"), _deduction("points"), _deduction("resolved_at")
    serious = _deduction("serious")
    # as _points: rounded to hundredths (half to even, on the same float product), no trailing zeros
    cents = (points * 100).round(0).cast(pl.Int64())
    frac = (cents % 100).cast(pl.String()).str.zfill(2).str.strip_chars_end("0")
    shown_points = (
        pl.when(cents % 100 == 0)
        .then((cents // 100).cast(pl.String()))
        .otherwise(pl.format("{}.{}", (cents // 100).cast(pl.String()), frac))
    )
    suffix = (
        pl.when(serious & resolved.is_not_null() & (resolved <= as_of))
        .then(pl.format(" [serious, resolved {}]", resolved.cast(pl.String())))
        .when(serious)
        .then(pl.lit(" [serious, open]"))
        .otherwise(pl.lit(""))
    )
    text = pl.format("{} −{} {}{}", at.cast(pl.String()), shown_points, _deduction("reason"), suffix)
    shown = _in_period_polars(as_of, days) | _open_polars(as_of)
    ordered = text.filter(shown).sort_by(at.filter(shown), maintain_order=True)
    return pl.col("compliance.deductions").list.eval(ordered).list.join("; ")


def _show_deductions(text: str, lang: str) -> str:
    """The deductions summary for people: in Chinese, dates, points and the
    markers of serious violations in Chinese, items joined by ``；``."""
    if not text:
        return "无" if lang == "zh" else "none"
    if lang != "zh":
        return text

    def day(y: str, m: str, d: str) -> str:
        return f"{int(y)}年{int(m)}月{int(d)}日"

    text = re.sub(
        r" \[serious, resolved (\d{4})-(\d{2})-(\d{2})\]", lambda m: f"（严重违规，{day(*m.groups())}已处理完结）", text
    )
    text = text.replace(" [serious, open]", "（严重违规，尚未处理完结）")
    text = re.sub(
        r"(\d{4})-(\d{2})-(\d{2}) −(\d+(?:\.\d+)?) ", lambda m: f"{day(*m.groups()[:3])}扣 {m[4]} 分：", text
    )
    return text.replace("; ", "；")


@feature(
    type="string",
    en="Deductions",
    zh="扣分记录",
    show=_show_deductions,
    description=(
        "Every deduction recorded in the given number of days up to as_of, plus any older serious violation"
        " still open, oldest first: '2026-03-02 −5 selling to minors; …' (serious ones marked);"
        " empty when there is none."
    ),
    args=(("days", "integer"),),
    reads=("compliance.deductions",),
    polars=_deductions_summary_polars,
)
def deductions_summary(c: Customer, as_of: dt.date, days: int) -> str:
    shown = [d for d in c.compliance.deductions if _in_period(d, as_of, days) or _open(d, as_of)]
    parts = []
    for d in sorted(shown, key=lambda d: d.at):
        text = f"{d.at.isoformat()} −{_points(d.points)} {d.reason}"
        if d.serious:
            resolved = d.resolved_at is not None and d.resolved_at <= as_of
            text += f" [serious, resolved {d.resolved_at}]" if resolved else " [serious, open]"
        parts.append(text)
    return "; ".join(parts)


FEATURES: list[Feature] = [serious_violation_open, deduction_points_within, deductions_summary]


@hookimpl
def register_features() -> list[Feature]:
    return FEATURES


@hookimpl
def register_schemes() -> Scheme:
    return load_scheme(Path(__file__).parent, kind="tier", params_model=RetailLicenseGradeParams)
