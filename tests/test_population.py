"""Population-relative conditions: fit, cut-offs, ties, save and load."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import customer_rules as cr

pytestmark = pytest.mark.usefixtures("frame_backend")  # the frame backend, also on small tables

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


# -- bottom: the group from the low end ---------------------------------------------------

RECENT = """
id: recency
name: {en: recency group, zh: 最近购买分组}
names:
  recent_pct: {en: recent share, zh: 近期客户比例, unit: percent}
  quiet_pct: {en: quiet share, zh: 沉寂客户比例, unit: percent}
labels:
  - {id: recent, zh: 近期客户, en: Recent}
  - {id: quiet, zh: 沉寂客户, en: Quiet}
  - {id: lapsed, zh: 流失客户, en: Lapsed}
params: {recent_pct: 20, quiet_pct: 60}
rules:
  - {id: recent, when: "bottom_pct(days_since_purchase, params.recent_pct)", then: recent}
  - {id: quiet, when: "bottom_pct(days_since_purchase, params.quiet_pct)", then: quiet}
default: lapsed
"""


def buyers(days: list[int | None]) -> list[dict[str, object]]:
    """Customers whose last purchase was ``days`` before AS_OF (``None``: never)."""
    return [
        {"id": f"B{i}", "value": {"last_purchase_at": None if d is None else AS_OF - dt.timedelta(days=d)}}
        for i, d in enumerate(days)
    ]


@pytest.mark.parametrize("backend", ["python", "frame"])
def test_bottom_pct_holds_the_lowest_values_ties_included(backend: str) -> None:
    # ten known values, sorted: 1 3 3 10 10 30 40 60 60 200; one customer never bought
    people = buyers([30, 3, 200, 10, 1, 60, 3, None, 10, 40, 60])
    engine = cr.Engine([cr.load_policy(RECENT, format="yaml")], load_entry_points=False, backend=backend)
    engine.fit(people, as_of=AS_OF)
    cuts = engine.fitted_["recency"]["cuts"]
    # 20% of 10 = 2: the 2nd lowest is 3, so both customers with 3 days are in (three in all)
    assert cuts["bottom_pct(days_since_purchase, params.recent_pct)"]["cutoff"] == 3
    # 60% of 10 = 6: the 6th lowest is 30
    assert cuts["bottom_pct(days_since_purchase, params.quiet_pct)"]["cutoff"] == 30
    got = [engine.decide("recency", c, as_of=AS_OF).label for c in people]
    # the customer who never bought is in no group (missing is never in one): the default
    assert got == ["quiet", "recent", "lapsed", "quiet", "recent", "lapsed", "recent", "lapsed", "quiet", "lapsed", "lapsed"]
    assert engine.decide("recency", people[7], as_of=AS_OF).missing == ("days_since_purchase",)
    out = engine.classify_frame(cr.frame_from_records([cr.Customer.model_validate(c) for c in people]), as_of=AS_OF)
    assert out["recency"].to_list() == got


def test_bottom_and_top_are_mirror_images() -> None:
    """bottom(m, n) picks exactly the records top(-m, n) picks, on any population."""
    text = """
id: ends
labels: [{id: low, zh: 低, en: low}, {id: rest, zh: 其余, en: rest}]
rules: [{id: low, when: "WHEN", then: low}]
default: rest
"""
    profits = [5.0, -2.0, 5.0, 0.0, 7.5, None, -2.0, 3.0, 11.0, 0.0, 2.0, -9.0]
    people = population(profits)
    for size in ("2", "3", "50", "0"):
        fn = "bottom_pct" if size == "50" else "bottom"
        low = cr.Engine([cr.load_policy(text.replace("WHEN", f"{fn}(value.profit_12m, {size})"), format="yaml")], load_entry_points=False)
        mirror = cr.Engine(
            [cr.load_policy(text.replace("WHEN", f"{fn.replace('bottom', 'top')}(-value.profit_12m, {size})"), format="yaml")],
            load_entry_points=False,
        )
        low.fit(people, as_of=AS_OF)
        mirror.fit(people, as_of=AS_OF)
        a = [low.decide("ends", c, as_of=AS_OF).label for c in people]
        b = [mirror.decide("ends", c, as_of=AS_OF).label for c in people]
        assert a == b, size


def test_bottom_explains_days_as_days_with_the_threshold_to_reach() -> None:
    from test_explanation import chinese_problems

    people = buyers([30, 3, 200, 10, 1, 60, 3, 10, 40, 60])
    engine = cr.Engine([cr.load_policy(RECENT, format="yaml")], load_entry_points=False).fit(people, as_of=AS_OF)
    lapsed = engine.decide("recency", people[2], as_of=AS_OF)  # 200 days
    assert lapsed.label == "lapsed"
    zh, en = lapsed.explain(lang="zh"), lapsed.explain(lang="en")
    # hand-computed: the quiet group's cut-off is the 6th lowest of ten (30 days), the
    # recent group's the 2nd lowest (3 days, tied); 200 days is 170 and 197 days too many
    assert "要改变结果：距上次购买天数 200 天，沉寂客户要求不超过 30 天，需减少 170 天。" in zh
    assert "要改变结果：距上次购买天数 200 天，近期客户要求不超过 3 天，需减少 197 天。" in zh
    assert "Days since last purchase 200 days: Quiet needs at most 30 days, 170 days too high." in en
    assert not re.search(r"-\d", zh + en)  # no negated days anywhere
    assert chinese_problems(zh) == []
    full = lapsed.explain(lang="zh", detail="full")
    assert "距上次购买天数最低 60% 的门槛 = 30 天" in full
    assert "距上次购买天数位列最低 60% = 否" in full
    assert "距上次购买天数 = 200 天" in full
    assert chinese_problems(full) == []
    full_en = lapsed.explain(detail="full")
    assert "cutoff(bottom_pct(days_since_purchase, params.quiet_pct)) = 30" in full_en  # for auditors
    assert "needs days_since_purchase <= 30, has 200" in full_en
    recent = engine.decide("recency", people[4], as_of=AS_OF)  # 1 day
    assert recent.label == "recent"
    assert "依据：距上次购买天数 1 天，距上次购买天数最低 20% 的门槛 3 天" in recent.explain(lang="zh")
    assert (
        "Based on: Days since last purchase 1 day; threshold of the lowest 20% by Days since last purchase 3 days"
        in recent.explain(lang="en")
    )
    assert chinese_problems(recent.explain(lang="zh", detail="full")) == []


def test_hysteresis_moves_a_bottom_cut_off_against_the_change() -> None:
    from customer_rules.lang.population import Cut
    from customer_rules.lang.stability import shifted_cuts

    cuts = {"a": Cut("bottom_pct", 30.0, 2, 10), "b": Cut("top_pct", 30.0, 2, 10)}
    tightened = shifted_cuts(cuts, 0.1)
    relaxed = shifted_cuts(cuts, -0.1)
    assert tightened is not None and relaxed is not None
    # harder to stay in a bottom group: fewer days allowed; easier: more
    assert tightened["a"].cutoff == pytest.approx(27.0) and relaxed["a"].cutoff == pytest.approx(33.0)
    assert tightened["b"].cutoff == pytest.approx(33.0) and relaxed["b"].cutoff == pytest.approx(27.0)


def test_a_bottom_cut_survives_save_and_load(tmp_path: Path) -> None:
    people = buyers([30, 3, 200, 10, 1])
    engine = cr.Engine([cr.load_policy(RECENT, format="yaml")], load_entry_points=False).fit(people, as_of=AS_OF)
    path = tmp_path / "recency.json"
    engine.save_fitted(path)
    fresh = cr.Engine([cr.load_policy(RECENT, format="yaml")], load_entry_points=False).load_fitted(path)
    assert fresh.fitted_ == engine.fitted_
    assert [fresh.decide("recency", c, as_of=AS_OF).label for c in people] == [
        engine.decide("recency", c, as_of=AS_OF).label for c in people
    ]
