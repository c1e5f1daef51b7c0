"""The built-in ``value_pyramid`` scheme (SCHEMES.md §4): fitted shares,
ties, tiny populations, the measure parameter, save/load and strategies."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

import customer_rules as cr
from customer_rules.engine.plugins import DEFAULT_PLUGINS

pytestmark = pytest.mark.usefixtures("frame_backend")  # the frame backend, also on small tables

SCHEME = "value_pyramid"
PLUGIN = f"customer_rules.schemes.{SCHEME}"
AS_OF = dt.date(2026, 11, 22)
LABELS = ("vip", "major", "ordinary", "small")
OTHER_SCHEMES = tuple(p for p in DEFAULT_PLUGINS if p.startswith("customer_rules.schemes.") and p != PLUGIN)


def make_engine(**params: Any) -> cr.Engine:
    """An engine with only this scheme (the other built-in schemes blocked)."""
    return cr.Engine(
        load_entry_points=False, block=OTHER_SCHEMES, params={SCHEME: params} if params else None
    )


def people(values: Sequence[float | None], field: str = "profit_12m") -> list[dict[str, Any]]:
    return [{"id": f"C{i:04d}", "value": {field: v}} for i, v in enumerate(values)]


def labels(engine: cr.Engine, customers: list[dict[str, Any]]) -> list[str | None]:
    return [engine.decide(SCHEME, c, as_of=AS_OF).label for c in customers]


def fitted_counts(values: Sequence[float | None], **params: Any) -> Counter[str | None]:
    customers = people(values)
    engine = make_engine(**params).fit(customers, as_of=AS_OF)
    return Counter(labels(engine, customers))


def test_registered_as_a_population_relative_tier() -> None:
    engine = make_engine()
    scheme = engine.schemes[SCHEME]
    assert scheme.kind == "tier"
    assert scheme.labels == LABELS
    assert engine.population_schemes() == [SCHEME]
    assert PLUGIN in DEFAULT_PLUGINS


def test_hundred_distinct_values_split_exactly_1_4_15_80() -> None:
    assert fitted_counts([float(v) for v in range(100)]) == {
        "vip": 1,
        "major": 4,
        "ordinary": 15,
        "small": 80,
    }


def test_the_highest_values_get_the_highest_labels() -> None:
    customers = people([float(v) for v in range(100)])
    engine = make_engine().fit(customers, as_of=AS_OF)
    got = labels(engine, customers)
    assert got[99] == "vip"
    assert got[95:99] == ["major"] * 4
    assert got[80:95] == ["ordinary"] * 15
    assert set(got[:80]) == {"small"}


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        # group size = round-half-up(p% × n), cumulative from the top
        # n=1:   1%→0.01→0, 5%→0.05→0, 20%→0.2→0: nobody above small
        pytest.param(1, {"small": 1}, id="1 customer"),
        # n=2:   0.02→0, 0.1→0, 0.4→0
        pytest.param(2, {"small": 2}, id="2 customers"),
        # n=10:  0.1→0, 0.5→1 (half up), 2→2: major 1, ordinary 2-1=1, small 8
        pytest.param(10, {"major": 1, "ordinary": 1, "small": 8}, id="10 customers (half up)"),
        # n=50:  0.5→1, 2.5→3, 10→10: vip 1, major 2, ordinary 7, small 40
        pytest.param(50, {"vip": 1, "major": 2, "ordinary": 7, "small": 40}, id="50 customers"),
        # n=99:  0.99→1, 4.95→5, 19.8→20: 1 / 4 / 15 / 79
        pytest.param(99, {"vip": 1, "major": 4, "ordinary": 15, "small": 79}, id="99 customers"),
        # n=100: 1, 5, 20: 1 / 4 / 15 / 80
        pytest.param(100, {"vip": 1, "major": 4, "ordinary": 15, "small": 80}, id="100 customers"),
        # n=101: 1.01→1, 5.05→5, 20.2→20: 1 / 4 / 15 / 81
        pytest.param(101, {"vip": 1, "major": 4, "ordinary": 15, "small": 81}, id="101 customers"),
    ],
)
def test_small_populations_have_exact_counts(n: int, expected: dict[str, int]) -> None:
    assert fitted_counts([float(v) for v in range(n)]) == expected


def test_ties_at_every_cut_off_are_all_in_the_higher_group() -> None:
    # 100 customers, highest first:
    #   #1-#2 tied at 1000 (the VIP cut-off is #1: both are VIP)          -> vip 2
    #   #3 900, #4 800, #5-#6 tied at 700 (major cut-off is #5: #6 is in) -> major 6 - 2 = 4
    #   #7-#19 distinct 600..480, #20-#22 tied at 100 (ordinary cut-off
    #   is #20: #21 and #22 are in)                                        -> ordinary 22 - 6 = 16
    #   #23-#100: 78 distinct values 0..77                                 -> small 78
    values = [1000.0, 1000.0, 900.0, 800.0, 700.0, 700.0]
    values += [600.0 - 10 * i for i in range(13)]
    values += [100.0, 100.0, 100.0]
    values += [float(v) for v in range(78)]
    assert len(values) == 100
    assert fitted_counts(values) == {"vip": 2, "major": 4, "ordinary": 16, "small": 78}


def test_all_equal_values_share_one_label() -> None:
    # 100 equal values: the VIP group holds 1, and everyone ties with it
    assert fitted_counts([5.0] * 100) == {"vip": 100}
    # 30 equal values: the VIP group is empty (0.3 -> 0), the major group
    # holds 2 (1.5 -> 2, half up) and everyone ties with them
    assert fitted_counts([5.0] * 30) == {"major": 30}


def test_missing_measure_is_unclassified_named_and_not_counted() -> None:
    # without the revenue fallback, profit is the only measure there is
    customers = people([None] * 7 + [float(v) for v in range(100)])
    engine = make_engine(fallback="none").fit(customers, as_of=AS_OF)
    got = labels(engine, customers)
    assert Counter(got[7:]) == {"vip": 1, "major": 4, "ordinary": 15, "small": 80}
    decision = engine.decide(SCHEME, customers[0], as_of=AS_OF)
    assert decision.label is None
    assert decision.missing == ("value.profit_12m",)
    assert "value.profit_12m" in decision.explain(detail="full")


def test_with_the_fallback_a_customer_missing_profit_and_revenue_names_both() -> None:
    customers = people([None] * 7 + [float(v) for v in range(100)])
    engine = make_engine().fit(customers, as_of=AS_OF)
    assert Counter(labels(engine, customers)[7:]) == {"vip": 1, "major": 4, "ordinary": 15, "small": 80}
    decision = engine.decide(SCHEME, customers[0], as_of=AS_OF)
    assert decision.label is None
    # either one would rank the customer
    assert decision.missing == ("value.profit_12m", "value.revenue_12m")
    assert decision.flags == ()


def revenue_only(n: int) -> list[dict[str, Any]]:
    """Customers as an order log gives them: revenue known, profit unknown (no cost given)."""
    return [{"id": f"R{i:04d}", "value": {"revenue_12m": float(i)}} for i in range(n)]


def test_without_profit_the_pyramid_ranks_by_revenue_and_says_so() -> None:
    customers = revenue_only(100)
    engine = make_engine().fit(customers, as_of=AS_OF)
    got = labels(engine, customers)
    assert Counter(got) == {"vip": 1, "major": 4, "ordinary": 15, "small": 80}
    assert got[99] == "vip" and got[95:99] == ["major"] * 4 and set(got[:80]) == {"small"}
    decision = engine.decide(SCHEME, customers[99], as_of=AS_OF)
    assert decision.rule == "top_vip_by_revenue"
    assert decision.flags == ("ranked_by_revenue",)
    assert decision.evidence["profit_fallback"] is True
    assert decision.evidence["params.fallback"] == "revenue"
    assert decision.evidence["value.revenue_12m"] == 99.0
    assert decision.missing == ("value.profit_12m",)  # still unknown, and said so
    assert "by revenue" in decision.explain()
    assert [engine.decide(SCHEME, c, as_of=AS_OF).rule for c in customers[:2]] == ["rest_by_revenue"] * 2
    (flag,) = (f for f in engine.schemes[SCHEME].policy.flags if f.id == "ranked_by_revenue")
    assert flag.zh == "利润未知：改按近 12 个月营业收入排序"


def test_revenue_never_competes_with_profit() -> None:
    # profit known for the even customers (0..18), unknown for the odd ones,
    # whose revenue (1001..1019) is far above any profit: each group is split
    # on its own, 10 customers each: VIP 0.1 -> 0, major 0.5 -> 1, ordinary 2
    customers = [
        {
            "id": f"C{i:03d}",
            "value": {"revenue_12m": 1000.0 + i, "profit_12m": float(i) if i % 2 == 0 else None},
        }
        for i in range(20)
    ]
    engine = make_engine().fit(customers, as_of=AS_OF)
    decisions = [engine.decide(SCHEME, c, as_of=AS_OF) for c in customers]
    by_profit = [d.label for d in decisions[0::2]]
    by_revenue = [d.label for d in decisions[1::2]]
    assert by_profit == ["small"] * 8 + ["ordinary", "major"]
    assert by_revenue == ["small"] * 8 + ["ordinary", "major"]
    for i, d in enumerate(decisions):
        assert ("ranked_by_revenue" in d.flags) is (i % 2 == 1)
        assert d.rule is not None and d.rule.endswith("_by_revenue") is (i % 2 == 1)
        if i % 2 == 0:
            assert d.scores == {"customer_value": float(i)}
            assert "value.revenue_12m" not in d.evidence  # profit known: revenue is not read
    # the profit cut-offs are those of the profit-known customers alone
    alone = make_engine().fit(customers[0::2], as_of=AS_OF)

    def profit_cuts(e: cr.Engine) -> dict[str, Any]:
        return {k: v for k, v in e.fitted_[SCHEME]["cuts"].items() if k.startswith("top_pct(")}

    assert profit_cuts(engine) == profit_cuts(alone)
    assert labels(alone, customers[0::2]) == by_profit


def test_fallback_none_leaves_customers_without_profit_unclassified() -> None:
    customers = revenue_only(10)
    engine = make_engine(fallback="none").fit(customers, as_of=AS_OF)
    assert labels(engine, customers) == [None] * 10
    decision = engine.decide(SCHEME, customers[3], as_of=AS_OF)
    assert decision.missing == ("value.profit_12m",)
    assert decision.flags == ()


@pytest.mark.parametrize("measure", ["revenue", "lifetime_value", "revenue_total"])
def test_the_fallback_applies_to_profit_only(measure: str) -> None:
    customers = revenue_only(10)
    engine = make_engine(measure=measure).fit(customers, as_of=AS_OF)
    decision = engine.decide(SCHEME, customers[9], as_of=AS_OF)
    assert decision.flags == ()
    assert "value.profit_12m" not in decision.evidence
    assert (decision.label is None) is (measure != "revenue")
    assert decision.rule is None or not decision.rule.endswith("_by_revenue")


def test_the_frame_backend_ranks_and_flags_the_same() -> None:
    customers = [
        {"id": f"C{i:03d}", "value": {"revenue_12m": 10.0 * i, "profit_12m": float(i) if i % 3 else None}}
        for i in range(60)
    ] + [{"id": "nothing"}]
    records = make_engine().fit(customers, as_of=AS_OF)
    frame = cr.frame_from_records([cr.Customer.model_validate(c) for c in customers])
    table = make_engine().fit(frame, as_of=AS_OF)
    assert table.fitted_[SCHEME]["cuts"] == records.fitted_[SCHEME]["cuts"]
    out = table.classify_frame(frame, as_of=AS_OF, flags=True)
    assert out[SCHEME].to_list() == labels(records, customers)
    flagged = [("ranked_by_revenue" in records.decide(SCHEME, c, as_of=AS_OF).flags) for c in customers]
    assert ["ranked_by_revenue" in v for v in out[f"{SCHEME}__flags"].to_list()] == flagged
    assert sum(flagged) == 20  # every third customer has no profit


def test_negative_profit_is_ranked_and_flagged() -> None:
    customers = people([-500.0, *[float(v) for v in range(99)]])
    engine = make_engine().fit(customers, as_of=AS_OF)
    decision = engine.decide(SCHEME, customers[0], as_of=AS_OF)
    assert decision.label == "small"
    assert "loss_making" in decision.flags
    assert "loss_making" not in engine.decide(SCHEME, customers[50], as_of=AS_OF).flags


@pytest.mark.parametrize(
    ("measure", "field"),
    [
        ("profit", "profit_12m"),
        ("lifetime_value", "lifetime_value"),
        ("revenue", "revenue_12m"),
        ("revenue_total", "revenue_total"),
    ],
)
def test_the_measure_is_a_parameter(measure: str, field: str) -> None:
    # profit ranks customers one way, lifetime value the reverse, revenue by a third order
    customers: list[dict[str, Any]] = [
        {
            "id": f"C{i:03d}",
            "value": {
                "profit_12m": i,
                "lifetime_value": 100 - i,
                "revenue_12m": (i * 37) % 100,
                "revenue_total": (i * 53) % 100,
            },
        }
        for i in range(100)
    ]
    engine = make_engine(measure=measure).fit(customers, as_of=AS_OF)
    best = max(customers, key=lambda c: c["value"][field])
    decision = engine.decide(SCHEME, best, as_of=AS_OF)
    assert decision.label == "vip"
    assert decision.evidence["params.measure"] == measure
    # only the chosen field was read
    assert f"value.{field}" in decision.evidence
    assert {k for k in decision.evidence if k.startswith("value.")} == {f"value.{field}"}
    assert decision.scores == {"customer_value": best["value"][field]}


def test_lifetime_value_measure_reports_lifetime_value_missing() -> None:
    customers = [{"id": "A", "value": {"profit_12m": 1.0}}, {"id": "B", "value": {"lifetime_value": 2.0}}]
    engine = make_engine(measure="lifetime_value").fit(customers, as_of=AS_OF)
    decision = engine.decide(SCHEME, customers[0], as_of=AS_OF)
    assert decision.label is None
    assert decision.missing == ("value.lifetime_value",)


def test_share_parameters_override_the_defaults() -> None:
    # cumulative 10 / 30 / 60 on 100 distinct values: 10 / 20 / 30 / 40
    counts = fitted_counts(
        [float(v) for v in range(100)], vip_top_pct=10, major_top_pct=30, ordinary_top_pct=60
    )
    assert counts == {"vip": 10, "major": 20, "ordinary": 30, "small": 40}


def test_with_params_gives_a_refittable_engine() -> None:
    customers = people([float(v) for v in range(100)])
    engine = make_engine().fit(customers, as_of=AS_OF)
    wider = engine.with_params(SCHEME, vip_top_pct=3)
    with pytest.raises(cr.NotFittedError):
        wider.decide(SCHEME, customers[0], as_of=AS_OF)
    wider.fit(customers, as_of=AS_OF)
    assert Counter(labels(wider, customers))["vip"] == 3


@pytest.mark.parametrize(
    "params",
    [
        {"measure": "turnover"},
        {"fallback": "lifetime_value"},
        {"vip_top_pct": 10, "major_top_pct": 5},
        {"ordinary_top_pct": 120},
        {"vip_share": 1},
    ],
)
def test_bad_parameters_are_policy_errors(params: dict[str, Any]) -> None:
    with pytest.raises(cr.PolicyError):
        make_engine(**params)


def test_asking_before_fit_raises_not_fitted() -> None:
    engine = make_engine()
    with pytest.raises(cr.NotFittedError, match=r"engine\.fit"):
        engine.decide(SCHEME, people([1.0])[0], as_of=AS_OF)
    with pytest.raises(cr.NotFittedError):
        engine.classify(people([1.0])[0], as_of=AS_OF, schemes=[SCHEME])


def test_classify_without_schemes_skips_it_until_fitted() -> None:
    engine = make_engine()
    customer = people([1.0])[0]
    profile = engine.classify(customer, as_of=AS_OF)
    assert SCHEME not in profile
    assert "not fitted" in profile.skipped[SCHEME]
    engine.fit(people([float(v) for v in range(10)]), as_of=AS_OF)
    profile = engine.classify(customer, as_of=AS_OF)
    assert profile[SCHEME].label == "small"
    assert profile.skipped == {}


def test_save_and_load_fitted_gives_the_same_labels(tmp_path: Path) -> None:
    customers = people([float((v * 7919) % 1000) for v in range(250)])
    engine = make_engine().fit(customers, as_of=AS_OF)
    path = tmp_path / "cuts.json"
    engine.save_fitted(path)
    fresh = make_engine().load_fitted(path)
    assert labels(fresh, customers) == labels(engine, customers)
    also = make_engine().load_fitted(engine.fitted_)
    assert labels(also, customers) == labels(engine, customers)
    # cut-offs fitted on profit do not apply to a pyramid by revenue
    with pytest.raises(cr.NotFittedError, match="refit"):
        make_engine(measure="revenue").load_fitted(path)


def test_explanation_names_the_cut_off_it_missed() -> None:
    customers = people([float(v) for v in range(100)])
    engine = make_engine().fit(customers, as_of=AS_OF)
    text = engine.decide(SCHEME, customers[90], as_of=AS_OF).explain(detail="full")
    assert "ordinary" in text
    assert "for major (rule top_major): needs customer_value >= 95, has 90" in text
    zh = engine.decide(SCHEME, customers[90], as_of=AS_OF).explain(lang="zh", detail="full")
    assert "普通客户" in zh


def test_every_label_has_a_bilingual_strategy() -> None:
    scheme = make_engine().schemes[SCHEME]
    assert set(scheme.strategies) == set(LABELS)
    for label, strategy in scheme.strategies.items():
        for text in strategy.texts():
            assert text.en and text.zh, (label, text)
        assert strategy.actions, label
        assert strategy.cadence is not None, label
    # resources follow value: dedicated managers at the top, low-cost channels at the bottom
    assert scheme.strategies["vip"].extra["service_level"] == "dedicated"
    assert scheme.strategies["major"].extra["service_level"] == "dedicated"
    assert scheme.strategies["ordinary"].extra["service_level"] == "standard"
    assert scheme.strategies["small"].extra["service_level"] == "low_cost"
    assert "upgrade" in " ".join(a.en for a in scheme.strategies["ordinary"].actions)
    vip, small = scheme.strategies["vip"].cadence, scheme.strategies["small"].cadence
    assert vip is not None and small is not None and vip.max_days < small.min_days


def test_classified_decision_carries_its_strategy() -> None:
    customers = people([float(v) for v in range(100)])
    engine = make_engine().fit(customers, as_of=AS_OF)
    decision = engine.decide(SCHEME, customers[99], as_of=AS_OF)
    assert decision.strategy == engine.schemes[SCHEME].strategies["vip"]


def test_sample_customers_fit_and_classify() -> None:
    customers = cr.sample_customers(300)
    engine = make_engine().fit(customers, as_of=cr.SAMPLE_AS_OF)
    counts = Counter(labels(engine, [c.model_dump() for c in customers]))
    known = sum(v for k, v in counts.items() if k is not None)
    # round-half-up of 1 / 5 / 20 % of the customers with a known profit
    cum = [int(known * p / 100 + 0.5) for p in (1, 5, 20)]
    assert counts["vip"] >= cum[0]
    assert counts["vip"] + counts["major"] >= cum[1]
    assert counts["vip"] + counts["major"] + counts["ordinary"] >= cum[2]
