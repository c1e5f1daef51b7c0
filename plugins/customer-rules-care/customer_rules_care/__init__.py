"""Hospital care levels (分级护理) as a customer_rules plugin.

Installed, this module is found through the ``customer_rules`` entry-point
group under the name ``care_level``; ``Engine()`` then has a ``care_level``
scheme. It implements five hooks:

- ``register_record_fields``: the record namespace ``care`` (:class:`Care`:
  the patient's condition, ward and admission date), so a patient record
  reads ``{"id": ..., "care": {"condition": "serious"}}``;
- ``register_features``: ``patient_age``, from the core ``birthday`` (with its
  polars implementation beside the Python one);
- ``register_schemes``: the ``care_level`` scheme read from the
  ``care_level/`` folder (policy, strategies, colour markers);
- ``choose_strategy``: the scheme's strategy with the colour marker of the
  convention the engine is set to (parameter ``colour_convention``), and
  ``strategy_schemes``: it answers for ``care_level`` only.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from customer_rules import (
    Customer,
    Feature,
    Scheme,
    Strategy,
    feature,
    hookimpl,
    load_scheme,
    record_field,
)

if TYPE_CHECKING:
    import polars as pl

__all__ = [
    "CONDITIONS",
    "NAMESPACE",
    "SCHEME_ID",
    "Care",
    "CareParams",
    "choose_strategy",
    "marker_conventions",
    "patient_age",
    "register_features",
    "register_record_fields",
    "register_schemes",
    "strategy_schemes",
    "with_marker",
]

__version__ = "0.1.0"

SCHEME_ID = "care_level"
FOLDER = Path(__file__).parent / "care_level"

#: The record namespace of the patient fields: ``{"care": {"condition": ...}}``.
NAMESPACE = "care"

Condition = Literal["critical", "major_surgery", "serious", "recovering", "frail", "self_care"]

#: The conditions a doctor's assessment can record, most severe first.
CONDITIONS: tuple[str, ...] = Condition.__args__  # type: ignore[attr-defined]


class Care(BaseModel):
    """What the ward knows about an in-patient (the record namespace ``care``)."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    condition: Condition | None = record_field(
        "The patient's condition as assessed by the doctor; missing for anyone who is not a patient.",
        en="condition",
        zh="病情",
        values={
            "critical": ("critical", "危重"),
            "major_surgery": ("after major surgery", "大手术后"),
            "serious": ("serious", "病情较重"),
            "recovering": ("recovering", "恢复期"),
            "frail": ("frail", "体弱"),
            "self_care": ("able to care for themselves", "生活能自理"),
        },
    )
    constant_watch: bool | None = record_field(
        "Whether the doctor judges that the condition may turn at any moment and needs a dedicated nurse "
        "day and night; special care needs it (critical patients do not all need special care).",
        en="needs constant watch",
        zh="需专人昼夜守护",
    )
    ward: str | None = record_field("The ward the patient lies in.", en="ward", zh="病区")
    admitted_at: dt.date | None = record_field("Date of admission.", en="admitted on", zh="入院日期")


@cache
def marker_conventions() -> dict[str, dict[str, Any]]:
    """The colour-marker conventions of ``markers.yaml``: name → {en, zh, colours}."""
    data = yaml.safe_load((FOLDER / "markers.yaml").read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError("markers.yaml must map convention names to {en, zh, colours}")
    return data


class CareParams(BaseModel):
    """The scheme's parameters (override with ``Engine(params={"care_level": {...}})``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    elderly_age: int = Field(80, ge=0, le=150, description="age from which a self-caring patient is level 2")
    colour_convention: str = Field("bedside_card", description="a convention of markers.yaml")

    @field_validator("colour_convention")
    @classmethod
    def _known(cls, value: str) -> str:
        known = marker_conventions()
        if value not in known:
            raise ValueError(f"unknown colour convention {value!r}; use one of {', '.join(known)}")
        return value


# -- features ------------------------------------------------------------------


def _patient_age_polars(as_of: dt.date) -> pl.Expr:
    """patient_age over a whole table (a polars expression on the birthday column)."""
    import polars as pl

    born = pl.col("birthday")
    month, day = born.dt.month(), born.dt.day()
    before_birthday = (month > as_of.month) | ((month == as_of.month) & (day > as_of.day))
    age = pl.lit(as_of.year) - born.dt.year().cast(pl.Int64()) - before_birthday.cast(pl.Int64())
    return pl.when(born <= as_of).then(age)


@feature(
    type="integer",
    unit="years",
    en="Age",
    zh="年龄",
    reads=("birthday",),
    polars=_patient_age_polars,
    description="The patient's age in whole years at as_of, from the birthday; missing without one.",
)
def patient_age(customer: Customer, as_of: dt.date) -> int | None:
    born = customer.birthday
    if born is None or born > as_of:
        return None
    return as_of.year - born.year - ((as_of.month, as_of.day) < (born.month, born.day))


# -- strategies ----------------------------------------------------------------


def with_marker(strategy: Strategy, label: str, convention: str) -> Strategy:
    """``strategy`` with the colour marker of ``label`` under ``convention`` in ``extra``."""
    colours = marker_conventions()[convention]["colours"]
    extra = {**strategy.extra, "colour": str(colours[label]), "colour_convention": convention}
    return strategy.model_copy(update={"extra": extra})


# -- hooks ---------------------------------------------------------------------


@hookimpl
def register_record_fields() -> dict[str, type[BaseModel]]:
    return {NAMESPACE: Care}


@hookimpl
def register_features() -> list[Feature]:
    return [patient_age]


@hookimpl
def register_schemes() -> Scheme:
    scheme = load_scheme(FOLDER, kind="tier", params_model=CareParams)
    default = CareParams().colour_convention
    strategies = {label: with_marker(s, label, default) for label, s in scheme.strategies.items()}
    return Scheme(
        scheme.policy,
        strategies=strategies,
        kind=scheme.kind,
        params_model=scheme.params_model,
        description=scheme.description,
    )


@hookimpl
def strategy_schemes() -> list[str]:
    """``choose_strategy`` answers for ``care_level`` only: the other schemes'
    strategies are their labels' (the policy lab keeps tables column-wise)."""
    return [SCHEME_ID]


@hookimpl
def choose_strategy(decision: Any, scheme: Scheme, engine: Any) -> Strategy | None:
    """The care strategy with the marker of the engine's colour convention."""
    if scheme.id != SCHEME_ID or decision.label is None:
        return None
    strategy = scheme.strategies.get(decision.label)
    if strategy is None:
        return None
    convention = str(engine.params(SCHEME_ID)["colour_convention"])
    if strategy.extra.get("colour_convention") == convention:
        return strategy
    return with_marker(strategy, decision.label, convention)
