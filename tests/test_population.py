"""Population-relative conditions: fit, cut-offs, ties, save and load."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import customer_rules as cr

AS_OF = dt.date(2026, 1, 1)

PYRAMID = """
id: pyr
labels:
  - {id: vip, zh: 贵宾, en: VIP}
  - {id: major, zh: 主要, en: Major}
  - {id: ordinary, zh: 普通, en: Ordinary}
  - {id: small, zh: 小, en: Small}
params: {vip_pct: 1, major_pct: 5, ordinary_pct: 20}
rules:
  - {id: vip, when: "top_pct(value.profit_12m, params.vip_pct)", then: vip}
  - {id: major, when: "top_pct(value.profit_12m, params.major_pct)", then: major}
  - {id: ordinary, when: "top_pct(value.profit_12m, params.ordinary_pct)", then: ordinary}
default: small
"""

TOP_WITHIN = """
id: stars
labels:
  - {id: star, zh: 星级, en: Starred}
  - {id: plain, zh: 无星, en: Plain}
rules:
  - {id: star, when: 'top_within(compliance.business_score, 2, kind == "retailer")', then: star}
default: plain
"""


def population(profits: list[float | None]) -> list[dict[str, object]]:
    return [{"id": f"C{i:04d}", "value": {"profit_12m": p}} for i, p in enumerate(profits)]


def labels(engine: cr.Engine, people: list[dict[str, object]]) -> list[str | None]:
    return [engine.decide("pyr", c, as_of=AS_OF).label for c in people]


@pytest.fixture
def engine() -> cr.Engine:
    return cr.Engine([cr.load_policy(PYRAMID, format="yaml")], load_entry_points=False)


def test_not_fitted_by_name_raises(engine: cr.Engine) -> None:
    with pytest.raises(cr.NotFittedError, match=r"engine\.fit"):
        engine.classify({"id": "A"}, as_of=AS_OF, schemes=["pyr"])


def test_not_fitted_is_skipped_and_said(engine: cr.Engine) -> None:
    profile = engine.classify({"id": "A"}, as_of=AS_OF)
    assert "pyr" not in profile
    assert "not fitted" in profile.skipped["pyr"]
    assert "skipped" in profile.explain(detail="full")


def test_hundred_distinct_values_split_1_4_15_80(engine: cr.Engine) -> None:
    people = population([float(i) for i in range(100)])
    assert engine.fit(people) is engine
    assert Counter(labels(engine, people)) == {"vip": 1, "major": 4, "ordinary": 15, "small": 80}


def test_ties_at_a_cut_off_are_all_in(engine: cr.Engine) -> None:
    # values 0..99 but the top three share the highest value: all three are VIP
    profits = [float(i) for i in range(97)] + [500.0, 500.0, 500.0]
    people = population(profits)
    engine.fit(people)
    got = labels(engine, people)
    assert [g for g, p in zip(got, profits, strict=True) if p == 500.0] == ["vip"] * 3


def test_missing_measure_never_counts(engine: cr.Engine) -> None:
    people = population([None] * 50 + [float(i) for i in range(100)])
    engine.fit(people)
    got = labels(engine, people)
    assert Counter(got[50:]) == {"vip": 1, "major": 4, "ordinary": 15, "small": 80}
    unknown = engine.decide("pyr", people[0], as_of=AS_OF)
    assert unknown.label == "small"
    assert "value.profit_12m" in unknown.missing


def test_input_order_does_not_matter(engine: cr.Engine) -> None:
    people = population([float(i % 37) for i in range(150)])
    engine.fit(people)
    first = dict(zip([c["id"] for c in people], labels(engine, people), strict=True))
    other = cr.Engine([cr.load_policy(PYRAMID, format="yaml")], load_entry_points=False)
    other.fit(list(reversed(people)))
    assert {c["id"]: other.decide("pyr", c, as_of=AS_OF).label for c in people} == first


def test_top_within_counts_only_the_group() -> None:
    e = cr.Engine([cr.load_policy(TOP_WITHIN, format="yaml")], load_entry_points=False)
    people = [
        {"id": "R1", "kind": "retailer", "compliance": {"business_score": 50}},
        {"id": "R2", "kind": "retailer", "compliance": {"business_score": 40}},
        {"id": "R3", "kind": "retailer", "compliance": {"business_score": 30}},
        {"id": "T1", "kind": "terminal", "compliance": {"business_score": 99}},
    ]
    e.fit(people)
    got = {c["id"]: e.decide("stars", c, as_of=AS_OF).label for c in people}
    assert got == {"R1": "star", "R2": "star", "R3": "plain", "T1": "plain"}


def test_explanation_shows_the_cut_off(engine: cr.Engine) -> None:
    people = population([float(i) for i in range(100)])
    engine.fit(people)
    d = engine.decide("pyr", people[90], as_of=AS_OF)
    assert d.label == "ordinary"
    text = d.explain(detail="full")
    assert "needs value.profit_12m >= 99, has 90" in text
    assert "cutoff(top_pct(value.profit_12m, params.ordinary_pct)) = 80" in text


def test_save_and_load(engine: cr.Engine, tmp_path: Path) -> None:
    people = population([float(i) for i in range(100)])
    engine.fit(people)
    path = tmp_path / "cuts.json"
    engine.save_fitted(path)
    assert json.loads(path.read_text())["pyr"]["population"] == 100
    fresh = cr.Engine([cr.load_policy(PYRAMID, format="yaml")], load_entry_points=False).load_fitted(path)
    assert labels(fresh, people) == labels(engine, people)
    # a newcomer is classified against last period's cut-offs
    assert fresh.decide("pyr", {"id": "new", "value": {"profit_12m": 1000}}, as_of=AS_OF).label == "vip"


def test_load_refuses_changed_params(engine: cr.Engine, tmp_path: Path) -> None:
    engine.fit(population([float(i) for i in range(10)]))
    path = tmp_path / "cuts.json"
    engine.save_fitted(path)
    changed = cr.Engine(
        [cr.load_policy(PYRAMID, format="yaml")], load_entry_points=False, params={"pyr": {"vip_pct": 2}}
    )
    with pytest.raises(cr.NotFittedError, match="refit"):
        changed.load_fitted(path)


def test_fitted_before_fit_raises(engine: cr.Engine) -> None:
    with pytest.raises(cr.NotFittedError):
        _ = engine.fitted_


def test_fit_reports_bad_rows(engine: cr.Engine) -> None:
    people = [*population([1.0, 2.0]), {"id": "bad", "value": {"profit_12m": "lots"}}]
    engine.fit(people)
    assert [r.record_id for r in engine.fit_rejected_] == ["bad"]
    assert engine.fitted_["pyr"]["population"] == 2


@pytest.mark.parametrize(
    "size",
    [
        "top(value.profit_12m, -1)",
        "top_pct(value.profit_12m, 101)",
        "top(value.profit_12m, value.orders_12m)",
        "top(top(value.profit_12m, 1), 2)",
    ],
)
def test_bad_sizes_are_policy_errors(size: str) -> None:
    text = PYRAMID.replace("top_pct(value.profit_12m, params.vip_pct)", size)
    with pytest.raises(cr.PolicyError):
        cr.load_policy(text, format="yaml")


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(-1000, 1000), min_size=1, max_size=300, unique=True))
def test_shares_follow_the_parameters(profits: list[int]) -> None:
    e = cr.Engine([cr.load_policy(PYRAMID, format="yaml")], load_entry_points=False)
    people = population([float(p) for p in profits])
    e.fit(people)
    counts = Counter(labels(e, people))
    n = len(profits)
    cumulative = 0
    for label, pct in (("vip", 1), ("major", 5), ("ordinary", 20)):
        cumulative += counts[label]
        assert abs(cumulative - pct / 100 * n) <= 0.5 + 1e-9
    # fitted-then-single equals the population it was fitted on, one by one
    assert sum(counts.values()) == n
