"""Tests of the clv plugin: the fit recovers known BG/NBD and Gamma-Gamma
parameters of a simulated population, the predictions agree with
pymc-marketing's, the fitted model is saved and loaded with the engine's
cut-offs, and policies rank and flag customers by its features."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import math
import sys
from pathlib import Path
from typing import Any

import pytest

if importlib.util.find_spec("pymc_marketing") is None:
    pytest.skip(
        "the clv plugin needs pymc-marketing: pip install 'customer-rules[clv]' "
        "(or pip install -e plugins/customer-rules-clv)",
        allow_module_level=True,
    )

import numpy as np
import polars as pl

import customer_rules as cr

customer_rules_clv = pytest.importorskip(
    "customer_rules_clv", reason="the clv plugin is not installed: pip install -e plugins/customer-rules-clv"
)
from customer_rules_clv import formulas  # noqa: E402

AS_OF = dt.date(2026, 11, 22)
#: The population's true parameters (BG/NBD time in days; order values in CNY).
TRUE_BGNBD = {"r": 0.9, "alpha": 25.0, "a": 0.8, "b": 2.6}
TRUE_GAMMA_GAMMA = {"p": 6.0, "q": 4.0, "v": 15.0}
CUSTOMERS = 1500


def simulate(n: int, seed: int = 7) -> pl.DataFrame:
    """A customer table drawn from the BG/NBD and Gamma-Gamma models.

    Each customer: a purchase rate ~ Gamma(r, rate alpha), a drop-out
    probability ~ Beta(a, b) tried after each purchase, a first purchase
    between 60 and 720 days before AS_OF; order values ~ Gamma(p, rate nu)
    with nu ~ Gamma(q, rate v). Purchase times are cut to whole days, as a
    record keeps dates.
    """
    rng = np.random.default_rng(seed)
    g = TRUE_BGNBD
    rate = rng.gamma(g["r"], 1 / g["alpha"], n)
    dropout = rng.beta(g["a"], g["b"], n)
    age = rng.integers(60, 721, n)
    nu = rng.gamma(TRUE_GAMMA_GAMMA["q"], 1 / TRUE_GAMMA_GAMMA["v"], n)
    rows: dict[str, list[Any]] = {k: [] for k in ("id", FIRST, LAST, ORDERS, REVENUE)}
    for i in range(n):
        t, last, repeats = 0.0, 0.0, 0
        while True:
            t += rng.exponential(1 / rate[i])
            if t > age[i]:
                break
            repeats, last = repeats + 1, t
            if rng.random() < dropout[i]:
                break
        first = AS_OF - dt.timedelta(days=int(age[i]))
        values = rng.gamma(TRUE_GAMMA_GAMMA["p"], 1 / nu[i], repeats + 1)
        rows["id"].append(f"c{i}")
        rows[FIRST].append(first)
        rows[LAST].append(first + dt.timedelta(days=int(last)))
        rows[ORDERS].append(repeats + 1)
        rows[REVENUE].append(round(float(values.sum()), 2))
    return pl.DataFrame(rows)


FIRST, LAST, ORDERS, REVENUE = customer_rules_clv.FIRST, customer_rules_clv.LAST, customer_rules_clv.ORDERS, customer_rules_clv.REVENUE

PYRAMID = cr.Policy.model_validate(
    {
        "id": "clv_pyramid",
        "hit": "first",
        "labels": [
            {"id": "vip", "en": "VIP", "zh": "VIP客户"},
            {"id": "major", "en": "major", "zh": "主要客户"},
            {"id": "small", "en": "small", "zh": "小客户"},
        ],
        "derive": {"model": "clv_model"},
        "details": {"model": {"en": "model, fitted as of", "zh": "模型及拟合日期"}},
        "rules": [
            {"id": "top", "when": "top_pct(predicted_clv, 5)", "then": "vip"},
            {"id": "next", "when": "top_pct(predicted_clv, 20)", "then": "major"},
            {"id": "rest", "when": "predicted_clv is not missing", "then": "small"},
        ],
        "flags": [
            {
                "id": "at_risk",
                "when": "clv_probability_alive < 0.3 and predicted_clv_high > 50",
                "en": "probably lapsed",
                "zh": "可能已流失",
            }
        ],
    }
)


def new_engine() -> cr.Engine:
    return cr.Engine([PYRAMID], plugins=[customer_rules_clv], load_entry_points=False)


@pytest.fixture(scope="module")
def population() -> pl.DataFrame:
    return simulate(CUSTOMERS)


@pytest.fixture(scope="module")
def fitted(population: pl.DataFrame) -> cr.Engine:
    return new_engine().fit(population, as_of=AS_OF)


def params_of(engine: cr.Engine) -> dict[str, Any]:
    return engine.fitted_["_models"]["clv"]["params"]  # type: ignore[no-any-return]


def test_the_fit_recovers_the_simulated_parameters(fitted: cr.Engine) -> None:
    params = params_of(fitted)
    assert params["method"] == "map"
    assert params["customers"] == CUSTOMERS
    for part, truth, cov in (
        ("bgnbd", TRUE_BGNBD, params["bgnbd_log_cov"]),
        ("gamma_gamma", TRUE_GAMMA_GAMMA, params["gamma_gamma_log_cov"]),
    ):
        errors = np.sqrt(np.diag(cov))
        for (name, true), se in zip(truth.items(), errors, strict=True):
            estimate = params[part][name]
            # within 3 standard errors (Laplace, on the log scale), and within 30%
            assert abs(math.log(estimate / true)) < 3 * se, (part, name, estimate, true, se)
            assert abs(estimate / true - 1) < 0.3, (part, name, estimate, true)


def test_the_formulas_agree_with_pymc_marketing(fitted: cr.Engine, population: pl.DataFrame) -> None:
    import arviz as az
    import pandas as pd
    from pymc_marketing import clv

    params = params_of(fitted)
    summary = customer_rules_clv.summarise(population, AS_OF).head(40)
    data = pd.DataFrame(
        {
            "customer_id": range(summary.height),
            "frequency": summary["x"].to_numpy(),
            "recency": summary["t_x"].to_numpy(),
            "T": summary["T"].to_numpy(),
            "monetary_value": summary["m"].to_numpy(),
        }
    )

    def with_params(model: Any, values: dict[str, float]) -> Any:
        model.build_model(data)
        model.idata = az.from_dict(posterior={k: np.array([[v]]) for k, v in values.items()})
        return model

    bg = with_params(clv.BetaGeoModel(), params["bgnbd"])
    gg = with_params(clv.GammaGammaModel(), params["gamma_gamma"])
    model = fitted.models["clv"]
    x, t_x, age, m = (data[c].to_numpy() for c in ("frequency", "recency", "T", "monetary_value"))
    ours = model.predict(x, t_x, age, m, days=90)
    np.testing.assert_allclose(ours["purchases"], bg.expected_purchases(data, future_t=90).values.reshape(-1), rtol=1e-9)
    np.testing.assert_allclose(ours["alive"], bg.expected_probability_alive(data).values.reshape(-1), rtol=1e-9)
    # m is the mean of all x + 1 orders: the Gamma-Gamma model averages x + 1
    orders = data.assign(frequency=x + 1)
    spend = gg.expected_customer_spend(orders).values.reshape(-1)
    np.testing.assert_allclose(formulas.expected_spend(*params["gamma_gamma"].values(), x + 1, m), spend, rtol=1e-9)
    with_spend = data.assign(future_spend=spend)
    for rate in (0.0, 0.01):
        theirs = clv.customer_lifetime_value(bg, with_spend, future_t=12, discount_rate=rate, time_unit="D")
        mine = formulas.lifetime_value(
            tuple(params["bgnbd"].values()),
            tuple(params["gamma_gamma"].values()),
            x,
            t_x,
            age,
            m,
            months=12,
            discount_rate=rate,
        )
        np.testing.assert_allclose(mine, theirs.values.reshape(-1), rtol=1e-9)
        if rate == 0:  # the plugin's default settings: 12 months, no discounting
            np.testing.assert_allclose(ours["clv"], mine, rtol=1e-9)


def test_features_in_a_policy_rank_flag_and_name_the_model(fitted: cr.Engine, population: pl.DataFrame) -> None:
    table = fitted.classify_frame(population, as_of=AS_OF, schemes=["clv_pyramid"])
    labels = table.get_column("clv_pyramid").to_list()
    counts = {label: labels.count(label) for label in set(labels)}
    assert counts["vip"] == pytest.approx(0.05 * CUSTOMERS, abs=3)
    assert counts["vip"] + counts["major"] == pytest.approx(0.20 * CUSTOMERS, abs=3)
    records = population.head(60).to_dicts()
    nested = [
        {"id": r["id"], "value": {k.split(".", 1)[1]: v for k, v in r.items() if k.startswith("value.")}}
        for r in records
    ]
    for record, label in zip(nested, labels, strict=False):
        decision = fitted.decide("clv_pyramid", record, as_of=AS_OF)
        assert decision.label == label  # one record and the table agree
        clv = decision.evidence["predicted_clv"]
        assert clv is not None and clv >= 0
        text = decision.explain(lang="en")
        assert "BG/NBD + Gamma-Gamma (MAP) 2026-11-22" in text
        assert "模型及拟合日期" in decision.explain(lang="zh")
    at_risk = [
        r
        for r in nested
        if "at_risk" in fitted.decide("clv_pyramid", r, as_of=AS_OF).flags
    ]
    assert at_risk, "some simulated customers have lapsed"
    for r in at_risk:
        d = fitted.decide("clv_pyramid", r, as_of=AS_OF)
        assert d.evidence["clv_probability_alive"] < 0.3


def test_python_and_polars_features_agree(fitted: cr.Engine, population: pl.DataFrame) -> None:
    sample = population.head(80)
    customers = [
        cr.Customer.model_validate({"id": r["id"], "value": {k.split(".", 1)[1]: v for k, v in r.items() if k != "id"}})
        for r in sample.to_dicts()
    ]
    feats = fitted.features
    for name, args in (
        ("clv_probability_alive", ()),
        ("clv_expected_purchases", (90,)),
        ("predicted_clv", ()),
        ("predicted_clv_low", ()),
        ("predicted_clv_high", ()),
        ("clv_model", ()),
    ):
        feat = feats[name]
        assert feat.polars is not None
        column = sample.select(feat.polars(AS_OF, *args).alias("f")).get_column("f").to_list()
        one_by_one = [feat.compute(c, AS_OF, *args) for c in customers]
        if name == "clv_model":
            assert set(column) == set(one_by_one) == {"BG/NBD + Gamma-Gamma (MAP) 2026-11-22"}
            continue
        np.testing.assert_allclose(np.array(column, dtype=float), np.array(one_by_one, dtype=float), rtol=1e-12)
    past = feats["clv_expected_purchases"]
    assert past.polars is not None
    assert sample.select(past.polars(AS_OF, -1).alias("f")).get_column("f").null_count() == sample.height
    assert {past.compute(c, AS_OF, -1) for c in customers} == {None}
    low, mid, high = (
        np.array([feats[n].compute(c, AS_OF) for c in customers], dtype=float)
        for n in ("predicted_clv_low", "predicted_clv", "predicted_clv_high")
    )
    assert np.all(low <= high)
    assert np.mean((low <= mid) & (mid <= high)) > 0.9


def test_missing_or_inconsistent_history_gives_missing_features(fitted: cr.Engine) -> None:
    alive = fitted.features["clv_probability_alive"]
    clv = fitted.features["predicted_clv"]
    one = {"first_purchase_at": dt.date(2026, 1, 5), "last_purchase_at": dt.date(2026, 1, 5), "orders_total": 1}
    single = cr.Customer.model_validate({"id": "s", "value": one})
    assert alive.compute(single, AS_OF) == 1.0  # no repeat order: not yet seen to drop out
    assert clv.compute(single, AS_OF) is None  # no revenue: no value
    for value in (
        {},
        {**one, "orders_total": None},
        {**one, "last_purchase_at": dt.date(2026, 12, 1)},  # after as_of
        {**one, "first_purchase_at": dt.date(2026, 2, 1)},  # last before first
    ):
        record = cr.Customer.model_validate({"id": "x", "value": value})
        assert alive.compute(record, AS_OF) is None
    decision = fitted.decide("clv_pyramid", {"id": "new"}, as_of=AS_OF)
    assert decision.label is None
    assert "value.orders_total" in decision.missing or "predicted_clv" in decision.missing


def test_save_and_load_round_trip(fitted: cr.Engine, population: pl.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "fitted.json"
    fitted.save_fitted(path)
    saved = json.loads(path.read_text(encoding="utf-8"))
    entry = saved["_models"]["clv"]
    assert entry["as_of"] == "2026-11-22"
    assert entry["population"] == CUSTOMERS
    assert set(entry["params"]["bgnbd"]) == {"r", "alpha", "a", "b"}
    assert len(json.dumps(entry)) < 2000  # a fixed-size parameter set, not a trace
    fresh = new_engine().load_fitted(path)
    assert fresh.fitted_ == fitted.fitted_
    sample = population.head(200)
    before = fitted.classify_frame(sample, as_of=AS_OF, schemes=["clv_pyramid"])
    after = fresh.classify_frame(sample, as_of=AS_OF, schemes=["clv_pyramid"])
    assert before.get_column("clv_pyramid").to_list() == after.get_column("clv_pyramid").to_list()
    record = cr.Customer.model_validate(
        {"id": "c", "value": {k.split(".", 1)[1]: v for k, v in sample.row(0, named=True).items() if k != "id"}}
    )
    for name in ("predicted_clv", "predicted_clv_low", "predicted_clv_high", "clv_probability_alive"):
        assert fresh.features[name].compute(record, AS_OF) == fitted.features[name].compute(record, AS_OF)

    broken = json.loads(json.dumps(saved))
    broken["_models"]["clv"]["params"]["bgnbd"]["alpha"] = -1.0
    with pytest.raises(cr.NotFittedError) as info:
        new_engine().load_fitted(broken)
    assert info.value.key == "_models.clv.params"  # type: ignore[attr-defined]
    assert "alpha" in str(info.value)


def test_before_a_fit_the_features_say_so() -> None:
    engine = new_engine()
    record = {"id": "c", "value": {"first_purchase_at": "2026-01-01", "last_purchase_at": "2026-03-01", "orders_total": 3}}
    customer = engine.record_model.model_validate(record)
    for name in customer_rules_clv.FEATURES:
        args = (90,) if name == "clv_expected_purchases" else ()
        with pytest.raises(cr.NotFittedError, match="CLV model is not fitted"):
            engine.features[name].compute(customer, AS_OF, *args)
        feat = engine.features[name]
        assert feat.polars is not None
        with pytest.raises(cr.NotFittedError, match="CLV model is not fitted"):
            feat.polars(AS_OF, *args)
    with pytest.raises(cr.PluginError, match="needs at least 20 customers"):
        engine.fit([record], as_of=AS_OF)


def test_without_pymc_marketing_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pymc_marketing", None)
    with pytest.raises(ImportError, match=r"customer-rules\[clv\]"):
        customer_rules_clv.fit_params(pl.DataFrame({"x": [1.0], "t_x": [1.0], "T": [2.0], "m": [1.0]}), customer_rules_clv.CLVSettings())
