"""The built-in ``retail_license_grade`` scheme (SCHEMES.md §6): compliance
classes, business stars among A-class retailers (fitted), suspension on an
open serious violation, and every deduction in the explanation."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import customer_rules as cr
from customer_rules.engine.plugins import DEFAULT_PLUGINS

SCHEME = "retail_license_grade"
PLUGIN = f"customer_rules.schemes.{SCHEME}"
AS_OF = dt.date(2026, 11, 22)
LABELS = ("A5", "A4", "A3", "A2", "A1", "A", "B", "C", "suspended")
OTHER_SCHEMES = tuple(p for p in DEFAULT_PLUGINS if p.startswith("customer_rules.schemes.") and p != PLUGIN)


def make_engine(**params: Any) -> cr.Engine:
    """An engine with only this scheme (the other built-in schemes blocked)."""
    return cr.Engine(
        load_entry_points=False, block=OTHER_SCHEMES, params={SCHEME: params} if params else None
    )


def retailer(
    rid: str, score: float | None, business: float | None = None, deductions: tuple[dict[str, Any], ...] = ()
) -> dict[str, Any]:
    compliance: dict[str, Any] = {"score": score, "business_score": business, "deductions": list(deductions)}
    return {"id": rid, "kind": "retailer", "compliance": compliance}


def a_class(business: list[float]) -> list[dict[str, Any]]:
    return [retailer(f"R{i:04d}", 95.0, b) for i, b in enumerate(business)]


def deduction(at: str, points: float, reason: str, **extra: Any) -> dict[str, Any]:
    return {"at": at, "points": points, "reason": reason, **extra}


def labels(engine: cr.Engine, customers: list[dict[str, Any]]) -> list[str | None]:
    return [engine.decide(SCHEME, c, as_of=AS_OF).label for c in customers]


def fitted_counts(customers: list[dict[str, Any]], **params: Any) -> Counter[str | None]:
    engine = make_engine(**params).fit(customers, as_of=AS_OF)
    return Counter(labels(engine, customers))


def fitted_engine(*extra: dict[str, Any], **params: Any) -> cr.Engine:
    """Fitted on 50 A-class retailers with business scores 1..50 (plus ``extra``)."""
    return make_engine(**params).fit([*a_class([float(b) for b in range(1, 51)]), *extra], as_of=AS_OF)


def test_registered_as_a_population_relative_tier() -> None:
    engine = make_engine()
    assert engine.schemes[SCHEME].kind == "tier"
    assert engine.schemes[SCHEME].labels == LABELS
    assert engine.population_schemes() == [SCHEME]
    assert {"serious_violation_open", "deduction_points_within", "deductions_summary"} <= set(engine.features)


@pytest.mark.parametrize(
    ("score", "label"),
    [
        (100.0, "A"),
        (90.0, "A"),
        (89.9, "B"),
        (75.0, "B"),
        (74.9, "C"),
        (0.0, "C"),
    ],
)
def test_compliance_classes_at_their_boundaries(score: float, label: str) -> None:
    engine = fitted_engine()
    # no business score: an A-class retailer without a star
    assert engine.decide(SCHEME, retailer("X", score), as_of=AS_OF).label == label


def test_compliance_thresholds_are_parameters() -> None:
    engine = fitted_engine(a_min=95, b_min=60)
    assert engine.decide(SCHEME, retailer("X", 94.0), as_of=AS_OF).label == "B"
    assert engine.decide(SCHEME, retailer("Y", 60.0), as_of=AS_OF).label == "B"
    assert engine.decide(SCHEME, retailer("Z", 59.0), as_of=AS_OF).label == "C"


def test_forty_stars_in_five_bands_of_eight() -> None:
    # 50 A-class retailers with distinct business scores: 8 per band, 10 without a star
    customers = a_class([float(b) for b in range(1, 51)])
    engine = make_engine().fit(customers, as_of=AS_OF)
    got = labels(engine, customers)
    assert Counter(got) == {"A5": 8, "A4": 8, "A3": 8, "A2": 8, "A1": 8, "A": 10}
    assert got[42:] == ["A5"] * 8  # the highest business scores
    assert got[:10] == ["A"] * 10


def test_only_a_class_retailers_compete_for_stars() -> None:
    # B/C retailers and suspended A-class ones with top business scores take no star slot
    serious = deduction("2026-10-01", 5, "sold contraband", serious=True)
    outsiders = [
        retailer("B1", 80.0, 1000.0),
        retailer("C1", 10.0, 1000.0),
        retailer("S1", 95.0, 1000.0, (serious,)),
    ]
    customers = a_class([float(b) for b in range(1, 51)])
    engine = make_engine().fit([*outsiders, *customers], as_of=AS_OF)
    assert labels(engine, outsiders) == ["B", "C", "suspended"]
    assert Counter(labels(engine, customers)) == {"A5": 8, "A4": 8, "A3": 8, "A2": 8, "A1": 8, "A": 10}


def test_ties_at_every_star_cut_off_go_to_the_higher_band() -> None:
    # 50 A-class retailers ranked 1..50 by business score, with ties at each cut-off:
    #   #8 = #9         -> A5 9       (cut-off #8)
    #   #16 = #17       -> A4 17 - 9 = 8 (cut-off #16)
    #   #24 = #25 = #26 -> A3 26 - 17 = 9 (cut-off #24)
    #   #32 = #33       -> A2 33 - 26 = 7 (cut-off #32)
    #   #40 = #41       -> A1 41 - 33 = 8 (cut-off #40)
    #   A: 50 - 41 = 9
    score = {r: 100.0 - r for r in range(1, 51)}
    for a, b in ((8, 9), (16, 17), (24, 25), (24, 26), (32, 33), (40, 41)):
        score[b] = score[a]
    counts = fitted_counts(a_class([score[r] for r in range(1, 51)]))
    assert counts == {"A5": 9, "A4": 8, "A3": 9, "A2": 7, "A1": 8, "A": 9}


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        # counts: bands are cumulative top 8 / 16 / 24 / 32 / 40 of the A-class retailers
        pytest.param(1, {"A5": 1}, id="1 retailer"),
        pytest.param(2, {"A5": 2}, id="2 retailers"),
        pytest.param(99, {"A5": 8, "A4": 8, "A3": 8, "A2": 8, "A1": 8, "A": 59}, id="99 retailers"),
        pytest.param(100, {"A5": 8, "A4": 8, "A3": 8, "A2": 8, "A1": 8, "A": 60}, id="100 retailers"),
        pytest.param(101, {"A5": 8, "A4": 8, "A3": 8, "A2": 8, "A1": 8, "A": 61}, id="101 retailers"),
    ],
)
def test_small_populations_by_count(n: int, expected: dict[str, int]) -> None:
    assert fitted_counts(a_class([float(b) for b in range(n)])) == expected


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        # percent: cumulative 2 / 4 / 6 / 8 / 10 % of the A-class retailers
        # n=1:   0.02→0 … 0.1→0: no stars
        pytest.param(1, {"A": 1}, id="1 retailer"),
        # n=2:   0.04→0 … 0.2→0
        pytest.param(2, {"A": 2}, id="2 retailers"),
        # n=25:  0.5→1, 1→1, 1.5→2, 2→2, 2.5→3: A5 1, A4 0, A3 1, A2 0, A1 1, A 22
        pytest.param(25, {"A5": 1, "A3": 1, "A1": 1, "A": 22}, id="25 retailers (half up)"),
        # n=99:  1.98→2, 3.96→4, 5.94→6, 7.92→8, 9.9→10: 2 each, A 89
        pytest.param(99, {"A5": 2, "A4": 2, "A3": 2, "A2": 2, "A1": 2, "A": 89}, id="99 retailers"),
        # n=100: 2, 4, 6, 8, 10: 2 each, A 90
        pytest.param(100, {"A5": 2, "A4": 2, "A3": 2, "A2": 2, "A1": 2, "A": 90}, id="100 retailers"),
        # n=101: 2.02→2, 4.04→4, 6.06→6, 8.08→8, 10.1→10: 2 each, A 91
        pytest.param(101, {"A5": 2, "A4": 2, "A3": 2, "A2": 2, "A1": 2, "A": 91}, id="101 retailers"),
    ],
)
def test_small_populations_by_percent(n: int, expected: dict[str, int]) -> None:
    assert fitted_counts(a_class([float(b) for b in range(n)]), by="percent") == expected


def test_star_count_parameters_change_the_starred_set() -> None:
    # N = 10 in bands of 2
    params = {"star5_top": 2, "star4_top": 4, "star3_top": 6, "star2_top": 8, "star1_top": 10}
    counts = fitted_counts(a_class([float(b) for b in range(50)]), **params)
    assert counts == {"A5": 2, "A4": 2, "A3": 2, "A2": 2, "A1": 2, "A": 40}


@pytest.mark.parametrize(
    "params",
    [
        {"a_min": 70, "b_min": 80},
        {"star5_top": 20, "star4_top": 16},
        {"star1_top_pct": 1},
        {"by": "stars"},
        {"period_days": 0},
        {"star_band_size": 8},
    ],
)
def test_bad_parameters_are_policy_errors(params: dict[str, Any]) -> None:
    with pytest.raises(cr.PolicyError):
        make_engine(**params)


def test_a_class_without_business_score_is_plain_a_and_says_why() -> None:
    decision = fitted_engine().decide(SCHEME, retailer("X", 92.0), as_of=AS_OF)
    assert decision.label == "A"
    assert decision.missing == ("compliance.business_score",)


@pytest.mark.parametrize(
    ("serious", "label"),
    [
        pytest.param({"serious": True}, "suspended", id="open serious violation"),
        pytest.param({"serious": True, "resolved_at": "2026-11-30"}, "suspended", id="resolved after as_of"),
        pytest.param({"serious": True, "resolved_at": "2026-11-01"}, "A", id="enforcement concluded"),
        pytest.param({"serious": False}, "A", id="not serious"),
    ],
)
def test_serious_violation_suspends_until_enforcement_concludes(serious: dict[str, Any], label: str) -> None:
    record = retailer("X", 95.0, None, (deduction("2026-10-01", 5, "sold contraband", **serious),))
    assert fitted_engine().decide(SCHEME, record, as_of=AS_OF).label == label


def test_a_violation_after_as_of_is_not_known_yet() -> None:
    record = retailer("X", 95.0, None, (deduction("2026-12-01", 5, "sold contraband", serious=True),))
    assert fitted_engine().decide(SCHEME, record, as_of=AS_OF).label == "A"


def test_suspension_wins_over_every_compliance_class() -> None:
    serious = (deduction("2025-01-10", 30, "counterfeit stock", serious=True),)
    engine = fitted_engine()
    for score in (95.0, 80.0, 20.0, None):
        decision = engine.decide(SCHEME, retailer("X", score, None, serious), as_of=AS_OF)
        assert decision.label == "suspended"
        assert "supply_stopped" in decision.flags


def test_explanation_lists_every_deduction_with_date_and_reason() -> None:
    record = retailer(
        "X",
        82.0,
        70.0,
        (
            deduction("2026-03-02", 8, "open serious case", serious=True, resolved_at="2026-05-01"),
            deduction("2026-09-10", 5, "sold to minors"),
            deduction("2026-10-21", 2.5, "display not to standard"),
            deduction("2026-11-20", 3, "price tags missing"),
        ),
    )
    decision = fitted_engine().decide(SCHEME, record, as_of=AS_OF)
    assert decision.label == "B"
    text = decision.explain(detail="full")
    assert (
        "deductions: 2026-09-10 −5 sold to minors; 2026-10-21 −2.5 display not to standard;"
        " 2026-11-20 −3 price tags missing"
    ) in text
    # older than the period and concluded: not part of this period's grade
    assert "open serious case" not in text
    assert "deductions_recorded" in decision.flags
    assert decision.scores == {"deducted_points": 10.5}
    zh = decision.explain(lang="zh", detail="full")
    assert "扣分记录：2026年9月10日扣 5 分：sold to minors；2026年10月21日扣 2.5 分：display not to standard" in zh
    assert decision.details() == {
        "deductions": "2026-09-10 −5 sold to minors; 2026-10-21 −2.5 display not to standard;"
        " 2026-11-20 −3 price tags missing"
    }


def test_an_open_serious_violation_is_listed_whatever_its_age() -> None:
    record = retailer(
        "X",
        60.0,
        None,
        (
            deduction("2025-06-01", 40, "selling smuggled cigarettes", serious=True),
            deduction("2026-11-01", 2, "late report"),
        ),
    )
    decision = fitted_engine().decide(SCHEME, record, as_of=AS_OF)
    assert decision.label == "suspended"
    assert decision.details()["deductions"] == (
        "2025-06-01 −40 selling smuggled cigarettes [serious, open]; 2026-11-01 −2 late report"
    )


def test_no_deductions_shows_a_dash() -> None:
    decision = fitted_engine().decide(SCHEME, retailer("X", 100.0, 3.0), as_of=AS_OF)
    assert "deductions: —" in decision.explain(detail="full")
    assert "deductions_recorded" not in decision.flags


def test_missing_compliance_score_is_unclassified_and_listed() -> None:
    decision = fitted_engine().decide(SCHEME, retailer("X", None, 50.0), as_of=AS_OF)
    assert decision.label is None
    assert "compliance.score" in decision.missing
    assert "compliance.score" in decision.explain(detail="full")


def test_other_kinds_of_customer_are_not_graded() -> None:
    engine = fitted_engine()
    for kind in ("company", "terminal", "person"):
        decision = engine.decide(SCHEME, {"id": "X", "kind": kind}, as_of=AS_OF)
        assert decision.label is None and decision.missing == ()
    # a record without a kind is graded on its compliance data
    assert engine.decide(SCHEME, {"id": "Y", "compliance": {"score": 80}}, as_of=AS_OF).label == "B"


def test_fit_needs_as_of_when_deductions_matter() -> None:
    record = retailer("X", 95.0, 10.0, (deduction("2026-10-01", 5, "contraband", serious=True),))
    with pytest.raises(ValueError, match="as_of"):
        make_engine().fit([record])


def test_features_window_and_points() -> None:
    engine = make_engine()
    feats = engine.features
    record = cr.Customer.model_validate(
        retailer(
            "X",
            80.0,
            None,
            (
                deduction("2026-08-22", 4, "a"),
                deduction("2026-08-23", 3, "b"),
                deduction("2026-11-22", 1, "c"),
            ),
        )
    )
    # the window is (as_of - days, as_of]; as_of - 92 days = 2026-08-22 (not in it)
    assert feats["deduction_points_within"].func(record, AS_OF, 93) == 8.0
    assert feats["deduction_points_within"].func(record, AS_OF, 92) == 4.0
    assert feats["deduction_points_within"].func(record, AS_OF, 91) == 1.0
    assert feats["deductions_summary"].func(record, AS_OF, 1) == "2026-11-22 −1 c"
    assert feats["serious_violation_open"].func(record, AS_OF) is False


def test_asking_before_fit_raises_and_classify_skips() -> None:
    engine = make_engine()
    with pytest.raises(cr.NotFittedError):
        engine.decide(SCHEME, retailer("X", 95.0, 1.0), as_of=AS_OF)
    profile = engine.classify(retailer("X", 95.0, 1.0), as_of=AS_OF)
    assert SCHEME in profile.skipped


def test_save_and_load_fitted_gives_the_same_labels(tmp_path: Path) -> None:
    customers = [retailer(f"R{i}", float(60 + i % 41), float((i * 37) % 100)) for i in range(200)]
    engine = make_engine().fit(customers, as_of=AS_OF)
    path = tmp_path / "grades.json"
    engine.save_fitted(path)
    fresh = make_engine().load_fitted(path)
    assert labels(fresh, customers) == labels(engine, customers)
    assert fresh.fitted_[SCHEME]["as_of"] == AS_OF.isoformat()


def test_every_label_has_a_bilingual_strategy() -> None:
    scheme = make_engine().schemes[SCHEME]
    assert set(scheme.strategies) == set(LABELS)
    for label, strategy in scheme.strategies.items():
        for text in strategy.texts():
            assert text.en and text.zh, (label, text)
    priority = [scheme.strategies[label].extra["supply_priority"] for label in LABELS]
    assert priority[:-1] == sorted(priority[:-1])  # A5 first … C last
    assert scheme.strategies["suspended"].extra["supply_priority"] == 0
    assert "enforcement" in scheme.strategies["suspended"].summary.en
    for label in LABELS:
        texts = " ".join(t.en for t in scheme.strategies[label].texts())
        assert "deduction" in texts, label


def test_sample_retailers_get_forty_stars() -> None:
    customers = cr.sample_customers(300)
    engine = make_engine().fit(customers, as_of=cr.SAMPLE_AS_OF)
    counts = Counter(engine.decide(SCHEME, c, as_of=cr.SAMPLE_AS_OF).label for c in customers)
    stars = sum(counts[f"A{n}"] for n in range(1, 6))
    assert stars >= 40
    assert counts["suspended"] >= 1


# -- reconciling the score with the deductions (issue 15) ------------------------------------


def _deduction(points: float, serious: bool = False) -> dict[str, Any]:
    resolved = {"resolved_at": "2026-10-30"} if serious else {}
    return deduction("2026-10-20", points, "违规销售", serious=serious, **resolved)


def test_a_plain_b_or_c_retailer_needs_no_fit() -> None:
    engine = cr.Engine(load_entry_points=False)  # nothing fitted
    for score, label in ((80.0, "B"), (60.0, "C")):
        d = engine.decide(
            SCHEME, {"id": "R", "kind": "retailer", "compliance": {"score": score}}, as_of=AS_OF
        )
        assert d.label == label


def test_score_absent_is_100_minus_the_deductions() -> None:
    engine = cr.Engine(load_entry_points=False)
    record = {"id": "R", "kind": "retailer", "compliance": {"deductions": [_deduction(15.0)]}}
    d = engine.decide(SCHEME, record, as_of=AS_OF)
    assert d.label == "B"  # 100 - 15 = 85
    assert "score_inconsistent" not in d.flags


def test_recorded_score_inconsistent_with_deductions_is_flagged() -> None:
    engine = fitted_engine()
    record = retailer("X", 96.0, 50.0)
    record["compliance"]["deductions"] = [_deduction(40.0, serious=True)]
    d = engine.decide(SCHEME, record, as_of=AS_OF)
    assert "score_inconsistent" in d.flags  # 96 recorded, 100 - 40 = 60 expected
    assert "核对" in d.explain(lang="zh") or "score_inconsistent" in d.explain(lang="zh")
    consistent = retailer("Y", 60.0, 50.0)
    consistent["compliance"]["deductions"] = [_deduction(40.0, serious=True)]
    assert "score_inconsistent" not in engine.decide(SCHEME, consistent, as_of=AS_OF).flags
    lenient = cr.Engine(load_entry_points=False, params={SCHEME: {"score_tolerance": 40}})
    b_range = {"score": 80.0, "deductions": [_deduction(40.0, serious=True)]}  # 20 points off 100 - 40
    lenient_d = lenient.decide(SCHEME, {"id": "Z", "kind": "retailer", "compliance": b_range}, as_of=AS_OF)
    assert lenient_d.label == "B" and "score_inconsistent" not in lenient_d.flags
    strict_d = cr.Engine(load_entry_points=False).decide(
        SCHEME, {"id": "Z", "kind": "retailer", "compliance": b_range}, as_of=AS_OF
    )
    assert "score_inconsistent" in strict_d.flags
