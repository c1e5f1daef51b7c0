"""Population models (the ``register_models`` hook): fitted by ``Engine.fit``
before the cut-offs, saved and loaded with them, read by the plugin's features."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import customer_rules as cr
from customer_rules.plugin import Customer, Feature, PopulationModel, feature, hookimpl

AS_OF = dt.date(2026, 11, 22)


class MeanRevenue(PopulationModel):
    """The population's mean revenue; the feature is a customer's revenue over it."""

    name = "mean_revenue"

    def __init__(self) -> None:
        self.mean: float | None = None
        self.as_of: dt.date | None = None
        self.population: int | None = None
        self.fits = 0

    def fit(self, population: pl.DataFrame, as_of: dt.date | None) -> dict[str, Any]:
        self.fits += 1
        mean = population.get_column("value.revenue_12m").mean()
        if mean is None:
            raise ValueError("no customer has a revenue")
        return {"mean": float(mean)}  # type: ignore[arg-type]

    def check(self, params: Mapping[str, Any]) -> None:
        mean = params.get("mean")
        if not isinstance(mean, int | float) or isinstance(mean, bool) or mean <= 0:
            raise ValueError(f"'mean' must be a positive number, got {mean!r}")

    def use(self, params: Mapping[str, Any], *, as_of: dt.date | None, population: int | None) -> None:
        self.mean, self.as_of, self.population = float(params["mean"]), as_of, population


class RevenuePlugin:
    @hookimpl
    def register_models(self) -> PopulationModel:
        return MeanRevenue()

    @hookimpl
    def register_features(self, engine: cr.Engine) -> Feature:
        model = engine.models["mean_revenue"]
        assert isinstance(model, MeanRevenue)

        def polars_impl(as_of: dt.date) -> pl.Expr:
            if model.mean is None:
                raise cr.NotFittedError("fit the engine first")
            return pl.col("value.revenue_12m") / model.mean

        @feature(description="revenue over the population's mean", reads=("value.revenue_12m",), polars=polars_impl)
        def revenue_index(c: Customer, as_of: dt.date) -> float | None:
            if model.mean is None:
                raise cr.NotFittedError("fit the engine first")
            revenue = c.value.revenue_12m
            return None if revenue is None else revenue / model.mean

        return revenue_index


RANKED = cr.Policy.model_validate(
    {
        "id": "ranked",
        "hit": "first",
        "labels": [{"id": "top", "en": "top", "zh": "前列"}, {"id": "rest", "en": "rest", "zh": "其余"}],
        "rules": [
            {"id": "top", "when": "top_pct(revenue_index, 50)", "then": "top"},
            {"id": "rest", "when": "revenue_index is not missing", "then": "rest"},
        ],
    }
)

PEOPLE = [{"id": f"c{i}", "value": {"revenue_12m": float(r)}} for i, r in enumerate([100, 200, 300, 400])]


def engine() -> cr.Engine:
    return cr.Engine([RANKED], plugins=[RevenuePlugin()], load_entry_points=False)


def model_of(e: cr.Engine) -> MeanRevenue:
    model = e.models["mean_revenue"]
    assert isinstance(model, MeanRevenue)
    return model


@pytest.mark.parametrize("as_table", [False, True])
def test_fit_fits_the_model_before_the_cut_offs_that_rank_by_its_feature(as_table: bool) -> None:
    e = engine()
    population: Any = pl.DataFrame({"id": [p["id"] for p in PEOPLE], "value.revenue_12m": [100.0, 200, 300, 400]})
    e.fit(population if as_table else PEOPLE, as_of=AS_OF)
    model = model_of(e)
    assert (model.mean, model.as_of, model.population) == (250.0, AS_OF, 4)
    assert e.fitted_["_models"] == {"mean_revenue": {"as_of": "2026-11-22", "population": 4, "params": {"mean": 250.0}}}
    labels = [e.decide("ranked", p, as_of=AS_OF).label for p in PEOPLE]
    assert labels == ["rest", "rest", "top", "top"]
    decision = e.decide("ranked", PEOPLE[3], as_of=AS_OF)
    assert decision.evidence["revenue_index"] == pytest.approx(1.6)


def test_before_fit_the_feature_says_the_model_is_not_fitted() -> None:
    e = engine()
    with pytest.raises(ValueError, match="positive"):
        model_of(e).check({"mean": 0})
    with pytest.raises(cr.NotFittedError, match="fit the engine first"):
        e.features["revenue_index"].compute(cr.Customer(id="x"), AS_OF)


def test_save_and_load_round_trip_the_model_with_the_cut_offs(tmp_path: Path) -> None:
    fitted = engine().fit(PEOPLE, as_of=AS_OF)
    path = tmp_path / "fitted.json"
    fitted.save_fitted(path)
    saved = json.loads(path.read_text(encoding="utf-8"))
    assert saved["_models"]["mean_revenue"]["params"] == {"mean": 250.0}
    assert "params_hash" not in saved["_models"]
    fresh = engine().load_fitted(path)
    assert model_of(fresh).mean == 250.0
    assert model_of(fresh).as_of == AS_OF
    assert fresh.fitted_ == fitted.fitted_
    assert model_of(fresh).fits == 0
    assert [fresh.decide("ranked", p, as_of=AS_OF).label for p in PEOPLE] == ["rest", "rest", "top", "top"]


def test_a_bad_model_entry_loads_nothing_and_names_the_key(tmp_path: Path) -> None:
    data = engine().fit(PEOPLE, as_of=AS_OF).fitted_
    bad = json.loads(json.dumps(data))
    bad["_models"]["mean_revenue"]["params"]["mean"] = -1
    fresh = engine()
    with pytest.raises(cr.NotFittedError) as info:
        fresh.load_fitted(bad)
    assert info.value.key == "_models.mean_revenue.params"
    assert "positive" in str(info.value)
    assert model_of(fresh).mean is None
    assert fresh.cuts("ranked") is None  # the scheme's cut-offs were not loaded either
    unknown = json.loads(json.dumps(data))
    unknown["_models"]["churn"] = unknown["_models"].pop("mean_revenue")
    with pytest.raises(cr.NotFittedError, match="no model 'churn'"):
        fresh.load_fitted(unknown)
    extra = json.loads(json.dumps(data))
    extra["_models"]["mean_revenue"]["weights"] = [1]
    with pytest.raises(cr.NotFittedError) as info:
        fresh.load_fitted(extra)
    assert info.value.key == "_models.mean_revenue.weights"


def test_a_model_that_cannot_be_fitted_names_its_plugin() -> None:
    e = engine()
    with pytest.raises(cr.PluginError, match=r"mean_revenue.*no customer has a revenue"):
        e.fit([{"id": "a"}], as_of=AS_OF)


def test_model_names_are_identifiers_and_unique() -> None:
    class Twice:
        @hookimpl
        def register_models(self) -> list[PopulationModel]:
            return [MeanRevenue(), MeanRevenue()]

    with pytest.raises(cr.PluginError, match="already registered"):
        cr.Engine(plugins=[Twice()], load_entry_points=False)

    class Odd(MeanRevenue):
        name = "mean revenue"

    class Bad:
        @hookimpl
        def register_models(self) -> list[Any]:
            return [Odd(), "not a model"]

    with pytest.raises(cr.PluginError, match="identifier"):
        cr.Engine(plugins=[Bad()], load_entry_points=False)


def test_an_engine_without_models_saves_what_it_saved_before() -> None:
    e = cr.Engine(load_entry_points=False)
    assert dict(e.models) == {}
    e.fit(PEOPLE, as_of=AS_OF)
    assert "_models" not in e.fitted_


UNRANKED = cr.Policy.model_validate(
    {
        "id": "plain",
        "hit": "first",
        "labels": [{"id": "big", "en": "big", "zh": "大"}, {"id": "rest", "en": "rest", "zh": "其余"}],
        "rules": [
            {"id": "big", "when": "value.revenue_12m >= 300", "then": "big"},
            {"id": "rest", "when": "value.revenue_12m is not missing", "then": "rest"},
        ],
    }
)


def test_a_model_no_fitted_scheme_reads_is_not_fitted() -> None:
    # the plugin is installed, but no policy reads its feature: fitting a
    # population the model cannot use (no revenue at all) must not fail
    e = cr.Engine([UNRANKED], plugins=[RevenuePlugin()], load_entry_points=False)
    e.fit([{"id": "c1"}, {"id": "c2"}], as_of=AS_OF)
    assert model_of(e).fits == 0
    assert "_models" not in e.fitted_
    # a policy that reads it (even without ranking) gets the model fitted
    reader = cr.Policy.model_validate(
        {
            "id": "reader",
            "hit": "first",
            "labels": [{"id": "above", "en": "above", "zh": "高于均值"}],
            "rules": [{"id": "above", "when": "revenue_index > 1", "then": "above"}],
        }
    )
    e = cr.Engine([UNRANKED, reader], plugins=[RevenuePlugin()], load_entry_points=False)
    e.fit(PEOPLE, as_of=AS_OF, schemes=["plain"])
    assert model_of(e).fits == 0
    e.fit(PEOPLE, as_of=AS_OF)
    assert model_of(e).fits == 1
    assert e.decide("reader", PEOPLE[3], as_of=AS_OF).label == "above"
