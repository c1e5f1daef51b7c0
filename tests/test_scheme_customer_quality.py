"""The built-in ``customer_quality`` scheme (SCHEMES.md §3): good / average /
poor, big-customer risk flags and the fit check against the firm's capacity."""

from __future__ import annotations

from typing import Any

import pytest
from scheme_support import assert_bilingual_strategies, decide

from customer_rules import Engine

SCHEME = "customer_quality"

#: A customer meeting all nine good criteria and none of the poor ones.
GOOD: dict[str, Any] = {
    "revenue_12m": 200_000.0,
    "buying_desire": 3,  # strong buyer (with revenue >= 100000)
    "price_sensitivity": 0,  # price insensitive
    "overdue_days": 0,  # pays on time
    "credit_rating": 3,  # good credit
    "service_cost_12m": 10_000.0,  # cost-to-serve 0.05
    "loyalty": 3,  # loyal
    "business_risk": 0,  # low business risk
    "prospects": 3,  # good prospects
    "constructive_requests": True,  # pushes us to improve
    "share_of_wallet": 0.5,
    "bad_debt": False,
    "litigation": False,
    "demands_outside_strengths": False,
}

#: Turns three good criteria off: 6 of 9 remain.
MINUS_THREE = {"price_sensitivity": 3, "loyalty": 0, "constructive_requests": False}


def value(**changes: Any) -> dict[str, Any]:
    return {**GOOD, **changes}


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(load_entry_points=False)


CASES = [
    # good: most of the nine criteria
    pytest.param(value(), "good", 9, id="§3 good: all nine good criteria"),
    pytest.param(value(**MINUS_THREE), "good", 6, id="§3 good: 6 of 9 criteria (= good_min_criteria 6)"),
    pytest.param(
        value(**MINUS_THREE, business_risk=3), "average", 5, id="§3 average: 5 of 9 criteria (< good_min 6)"
    ),
    pytest.param(
        value(revenue_12m=30_000.0, service_cost_12m=1_500.0),
        "good",
        8,
        id="§3 good: a small customer (revenue 30000 < min volume) can still be good",
    ),
    pytest.param(
        value(price_sensitivity=1, business_risk=1),
        "good",
        9,
        id="§3 good: low level 1 (= low_level 1) counts as low",
    ),
    pytest.param(
        value(**MINUS_THREE, business_risk=2),
        "average",
        5,
        id="§3 boundary: business risk 2 (> low_level 1) is not low",
    ),
    pytest.param(
        value(**MINUS_THREE, service_cost_12m=20_000.0),
        "good",
        6,
        id="§3 boundary: cost-to-serve 0.1 (= max 0.1) is low",
    ),
    pytest.param(
        value(**MINUS_THREE, service_cost_12m=20_200.0),
        "average",
        5,
        id="§3 boundary: cost-to-serve 0.101 (> max 0.1) is not low",
    ),
    pytest.param(
        value(**MINUS_THREE, prospects=1, growth_rate=0.1),
        "good",
        6,
        id="§3 prospects: growth 0.1 (= min 0.1)",
    ),
    pytest.param(
        value(**MINUS_THREE, prospects=1, growth_rate=0.09),
        "average",
        5,
        id="§3 prospects: growth 0.09 (< min 0.1)",
    ),
    # poor: any poor criterion, even for an otherwise good customer
    pytest.param(
        value(service_cost_12m=60_000.0, share_of_wallet=0.2),
        "poor",
        8,
        id="§3 poor: cost-to-serve 0.3 (= 0.3) on a small share 0.2 (= 0.2)",
    ),
    pytest.param(
        value(service_cost_12m=59_800.0, share_of_wallet=0.2),
        "good",
        8,
        id="§3 poor boundary: cost-to-serve 0.299 (< 0.3)",
    ),
    pytest.param(
        value(service_cost_12m=60_000.0, share_of_wallet=0.21),
        "good",
        8,
        id="§3 poor boundary: share of wallet 0.21 (> 0.2) is not a small share",
    ),
    pytest.param(value(bad_debt=True), "poor", 9, id="§3 poor: bad debt"),
    pytest.param(value(litigation=True), "poor", 9, id="§3 poor: litigation"),
    pytest.param(value(overdue_days=90), "poor", 8, id="§3 poor: overdue 90 days (= long_overdue_days 90)"),
    pytest.param(value(overdue_days=91), "poor", 8, id="§3 poor: overdue 91 days (> 90)"),
    pytest.param(value(overdue_days=89), "good", 8, id="§3 poor boundary: overdue 89 days (< 90)"),
    pytest.param(
        value(demands_outside_strengths=True), "poor", 9, id="§3 poor: asks us to work outside our strengths"
    ),
    # not enough known
    pytest.param(
        {"loyalty": 3, "credit_rating": 3},
        None,
        2,
        id="§3 unclassified: 2 criteria known (< min_known_criteria 3)",
    ),
    pytest.param(
        {"loyalty": 3, "credit_rating": 3, "prospects": 3},
        "average",
        3,
        id="§3 average: 3 criteria known (= min_known_criteria 3), none poor",
    ),
]


@pytest.mark.parametrize(("val", "label", "score"), CASES)
def test_label(engine: Engine, val: dict[str, Any], label: str | None, score: int) -> None:
    d = decide(engine, SCHEME, value=val)
    assert d.label == label
    assert d.scores is not None and d.scores["good_criteria"] == score


@pytest.mark.parametrize(
    "record",
    [
        pytest.param(
            {"value": {"revenue_12m": 80_000_000.0}, "is_large_account": True},
            id="§3 size alone: huge revenue",
        ),
        pytest.param(
            {
                "value": {"revenue_12m": 80_000_000.0, "buying_desire": 3, "lifetime_value": 9e8},
                "is_large_account": True,
            },
            id="§3 size alone: huge revenue and lifetime value, strong desire",
        ),
        pytest.param(
            {
                "value": value(
                    **MINUS_THREE, business_risk=3, revenue_12m=50_000_000.0, service_cost_12m=500_000.0
                )
            },
            id="§3 size alone: a big account with 5 of 9 criteria",
        ),
    ],
)
def test_size_alone_never_makes_good(engine: Engine, record: dict[str, Any]) -> None:
    assert decide(engine, SCHEME, **record).label != "good"


def test_missing_is_not_counted_as_met(engine: Engine) -> None:
    d = decide(engine, SCHEME, value={k: v for k, v in GOOD.items() if k not in ("loyalty", "prospects")})
    assert d.scores is not None
    assert (d.scores["good_criteria"], d.scores["known_criteria"]) == (7, 7)
    assert d.label == "good"


LARGE = {"revenue_12m": 6_000_000.0}


@pytest.mark.parametrize(
    ("record", "flag", "raised"),
    [
        pytest.param(
            {"is_large_account": True, "value": {"credit_terms_days": 90}},
            "financial_risk",
            True,
            id="§3 financial risk: credit terms 90 days (= 90) on a large account",
        ),
        pytest.param(
            {"is_large_account": True, "value": {"credit_terms_days": 89}},
            "financial_risk",
            False,
            id="§3 financial risk boundary: credit terms 89 days (< 90)",
        ),
        pytest.param(
            {"value": {"revenue_12m": 5_000_000.0, "receivables": 1_250_000.0}},
            "financial_risk",
            True,
            id="§3 financial risk: revenue 5M (= large_account_revenue), receivables 25% (= 0.25)",
        ),
        pytest.param(
            {"value": {"revenue_12m": 5_000_000.0, "receivables": 1_200_000.0}},
            "financial_risk",
            False,
            id="§3 financial risk boundary: receivables 24% (< 0.25)",
        ),
        pytest.param(
            {"is_large_account": False, "value": {"revenue_12m": 4_999_999.0, "credit_terms_days": 180}},
            "financial_risk",
            False,
            id="§3 big-customer flags: not a large account (revenue < 5M)",
        ),
        pytest.param(
            {"value": {**LARGE, "discount_demands": 3}},
            "profit_risk",
            True,
            id="§3 profit risk: discount demands 3 (= risk_signal_level 3)",
        ),
        pytest.param(
            {"value": {**LARGE, "discount_demands": 2}},
            "profit_risk",
            False,
            id="§3 profit risk boundary: discount demands 2 (< 3)",
        ),
        pytest.param(
            {"value": {**LARGE, "disrupts_market": True}},
            "management_risk",
            True,
            id="§3 management risk: disrupts market order",
        ),
        pytest.param(
            {"value": {**LARGE, "competitor_courting": 3}},
            "churn_risk",
            True,
            id="§3 churn risk: courted by competitors 3 (= 3)",
        ),
        pytest.param(
            {"value": {**LARGE, "competitor_courting": 2, "switching_cost": 1, "could_integrate": False}},
            "churn_risk",
            False,
            id="§3 churn risk boundary: courting 2 (< 3), switching cost 1 (> 0)",
        ),
        pytest.param(
            {"value": {**LARGE, "switching_cost": 0}},
            "churn_risk",
            True,
            id="§3 churn risk: switching cost 0 (= low_switching_cost_level 0)",
        ),
        pytest.param(
            {"value": {**LARGE, "could_integrate": True}},
            "churn_risk",
            True,
            id="§3 churn risk: could integrate vertically",
        ),
        pytest.param(
            {"value": {"revenue_12m": 20_000_000.0, "growth_rate": 0.0}},
            "beyond_capacity",
            False,
            id="§3 fit: demand 20M (= firm_capacity_revenue 20M) fits",
        ),
        pytest.param(
            {"value": {"revenue_12m": 20_000_001.0}},
            "beyond_capacity",
            True,
            id="§3 fit: demand just above 20M is beyond capacity",
        ),
        pytest.param(
            {"value": {"revenue_12m": 10_000_000.0, "growth_rate": 1.0}},
            "beyond_capacity",
            False,
            id="§3 fit: 10M growing 100% = 20M (= capacity) fits",
        ),
        pytest.param(
            {"value": {"revenue_12m": 10_000_000.0, "growth_rate": 1.1}},
            "beyond_capacity",
            True,
            id="§3 fit: 10M growing 110% = 21M exceeds capacity",
        ),
        pytest.param(
            {"value": {"revenue_12m": 19_000_000.0, "growth_rate": -0.5}},
            "beyond_capacity",
            False,
            id="§3 fit: shrinking demand is not projected below revenue",
        ),
    ],
)
def test_flags(engine: Engine, record: dict[str, Any], flag: str, raised: bool) -> None:
    assert (flag in decide(engine, SCHEME, **record).flags) is raised


def test_risk_flags_are_raised_whatever_the_label(engine: Engine) -> None:
    risky = {
        "credit_terms_days": 120,
        "discount_demands": 3,
        "disrupts_market": True,
        "competitor_courting": 3,
    }
    good = decide(engine, SCHEME, is_large_account=True, value=value(**risky))
    poor = decide(engine, SCHEME, is_large_account=True, value=value(**risky, bad_debt=True))
    assert (good.label, poor.label) == ("good", "poor")
    for d in (good, poor):
        assert {"financial_risk", "profit_risk", "management_risk", "churn_risk"} <= set(d.flags)
    small = decide(engine, SCHEME, is_large_account=False, value=value(**risky))
    assert not {"financial_risk", "profit_risk", "management_risk", "churn_risk"} & set(small.flags)


def test_parameter_override_changes_outcome(engine: Engine) -> None:
    five = value(**MINUS_THREE, business_risk=3)
    assert decide(engine, SCHEME, value=five).label == "average"
    lenient = engine.with_params(SCHEME, good_min_criteria=5)
    assert decide(lenient, SCHEME, value=five).label == "good"
    big = {"revenue_12m": 30_000_000.0}
    assert "beyond_capacity" in decide(engine, SCHEME, value=big).flags
    larger_firm = Engine(load_entry_points=False, params={SCHEME: {"firm_capacity_revenue": 50_000_000}})
    assert "beyond_capacity" not in decide(larger_firm, SCHEME, value=big).flags


def test_parameter_shows_in_explanation(engine: Engine) -> None:
    d = decide(engine, SCHEME, value=value(overdue_days=120))
    assert d.rule == "long_overdue"
    assert "params.long_overdue_days = 90" in d.explain(detail="full")
    g = decide(engine, SCHEME, value=value())
    assert g.rule == "most_good_criteria"
    text = g.explain(detail="full")
    assert "params.good_min_criteria = 6" in text and "good_criteria = 9" in text


def test_quality_ignores_leads_deals_and_cases(engine: Engine) -> None:
    plain = decide(engine, SCHEME, value=value())
    busy = decide(
        engine,
        SCHEME,
        value=value(),
        lead={"has_need": False},
        deal={"lost_at": "2026-01-01"},
        cases=[{"id": "k1", "opened_at": "2026-11-01", "safety_related": True}],
    )
    assert (plain.label, plain.rule, plain.flags) == (busy.label, busy.rule, busy.flags)


def test_scheme_is_a_tier(engine: Engine) -> None:
    s = engine.schemes[SCHEME]
    assert s.kind == "tier"
    assert s.labels == ("good", "average", "poor")


def test_every_label_has_a_bilingual_strategy(engine: Engine) -> None:
    assert_bilingual_strategies(engine, SCHEME)


def test_profitability_is_a_good_criterion(engine: Engine) -> None:
    """Seed 001: a good customer 能够保证企业赢利 — profit counts, and a loss blocks good."""
    base = decide(engine, SCHEME, value=value(**MINUS_THREE, business_risk=3))  # 5 of the other 9
    assert base.label == "average"
    profitable = decide(engine, SCHEME, value=value(**MINUS_THREE, business_risk=3, profit_12m=20_000.0))
    assert profitable.label == "good"  # profit is the sixth criterion
    thin = Engine(load_entry_points=False, params={SCHEME: {"min_profit_margin": 0.2}})
    assert (
        decide(thin, SCHEME, value=value(**MINUS_THREE, business_risk=3, profit_12m=20_000.0)).label
        == "average"
    )
    losing = decide(engine, SCHEME, value=value(profit_12m=-5_000.0))  # the other nine all hold
    assert losing.label == "average"
    assert decide(engine, SCHEME, value=value(profit_12m=5_000.0)).label == "good"
