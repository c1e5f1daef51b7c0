"""The built-in ``lead_grade`` scheme (SCHEMES.md §8): A / B1 / B2 / B3 / C / D
sales-lead grades, their order, parameters and follow-up cadences."""

from __future__ import annotations

from typing import Any

import pytest
from scheme_support import assert_bilingual_strategies, decide

from customer_rules import Engine

SCHEME = "lead_grade"
LABELS = ("A", "B1", "B2", "B3", "C", "D")

KNOWN = {"needs_known": True, "contacts_known": True, "concerns_known": True}


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(load_entry_points=False)


CASES = [
    # D: no need
    pytest.param({"has_need": False}, "D", id="§8 D: no need, no chance"),
    pytest.param(
        {"has_need": False, "asks_details": 3, **KNOWN}, "D", id="§8 D: no need outranks everything else"
    ),
    # A: sincere buyer
    pytest.param({"asks_details": 3, **KNOWN}, "A", id="§8 A: asks details 3 (= a_min 3), all known"),
    pytest.param(
        {"asks_details": 2, **KNOWN, "has_need": True, "budget_status": "pending"},
        "B1",
        id="§8 A boundary: asks details 2 (< 3) is not an A",
    ),
    pytest.param(
        {"asks_details": 3, **KNOWN, "contacts_known": False},
        None,
        id="§8 A: contacts not known is not an A",
    ),
    pytest.param(
        {"asks_details": 3, **KNOWN, "concerns_known": None},
        None,
        id="§8 A: concerns unknown is not an A",
    ),
    pytest.param(
        {"urgency": 3, "asks_details": 3, "needs_known": False, "has_need": True, "budget_status": "none"},
        "B1",
        id="§8 A: urgency alone never makes an A",
    ),
    # B3: seasoned haggler
    pytest.param(
        {"haggling": 2, "knows_margins": True}, "B3", id="§8 B3: haggling 2 (= b3_min 2), knows margins"
    ),
    pytest.param({"haggling": 3, "knows_margins": True}, "B3", id="§8 B3: haggling 3 (> 2), knows margins"),
    pytest.param({"haggling": 1, "knows_margins": True}, None, id="§8 B3 boundary: haggling 1 (< 2)"),
    pytest.param(
        {"haggling": 3, "knows_margins": False}, None, id="§8 B3: haggles but does not know margins"
    ),
    # B2: strictly rational
    pytest.param(
        {"meticulous": 2, "decision_factors": 2}, "B2", id="§8 B2: meticulous 2 (= 2), many factors 2 (= 2)"
    ),
    pytest.param(
        {"meticulous": 3, "decision_factors": 3}, "B2", id="§8 B2: meticulous 3 (> 2), many factors 3"
    ),
    pytest.param(
        {"meticulous": 2, "raises_substitutes": True}, "B2", id="§8 B2: meticulous, raises substitutes late"
    ),
    pytest.param({"meticulous": 1, "decision_factors": 3}, None, id="§8 B2 boundary: meticulous 1 (< 2)"),
    pytest.param(
        {"meticulous": 3, "decision_factors": 1, "raises_substitutes": False},
        None,
        id="§8 B2 boundary: decision factors 1 (< 2), no substitutes",
    ),
    # C: browser
    pytest.param({"throwaway_contact": True}, "C", id="§8 C: asks from a throwaway account"),
    pytest.param({"fishing_for_quote": True}, "C", id="§8 C: fishing for quotes"),
    # B1: clear need, timing open
    pytest.param(
        {"has_need": True, "budget_status": "pending"}, "B1", id="§8 B1: clear need, budget pending"
    ),
    pytest.param({"has_need": True, "budget_status": "none"}, "B1", id="§8 B1: clear need, no budget yet"),
    pytest.param(
        {"has_need": True, "budget_status": "approved", "comparing_vendors": True},
        "B1",
        id="§8 B1: clear need, comparing vendors",
    ),
    pytest.param(
        {"has_need": True, "budget_status": "approved", "comparing_vendors": False},
        None,
        id="§8 B1: budget approved and not comparing is not B1",
    ),
    pytest.param({"budget_status": "pending"}, None, id="§8 B1: need not known to be clear"),
    # order between grades
    pytest.param(
        {"has_need": True, "budget_status": "pending", "fishing_for_quote": True},
        "C",
        id="§8 order: a browser is C even with a stated need",
    ),
    pytest.param(
        {"haggling": 3, "knows_margins": True, "meticulous": 3, "decision_factors": 3},
        "B3",
        id="§8 order: B3 before B2",
    ),
    pytest.param(
        {"asks_details": 3, **KNOWN, "haggling": 3, "knows_margins": True}, "A", id="§8 order: A before B3"
    ),
    pytest.param({}, None, id="§8 unclassified: no lead signals"),
]


@pytest.mark.parametrize(("lead", "label"), CASES)
def test_label(engine: Engine, lead: dict[str, Any], label: str | None) -> None:
    assert decide(engine, SCHEME, lead=lead).label == label


def test_urgency_alone_is_flagged_and_never_a(engine: Engine) -> None:
    d = decide(engine, SCHEME, lead={"urgency": 3, "asks_details": 3, "needs_known": False})
    assert d.label != "A"
    assert "urgent_but_unqualified" in d.flags
    # once we know the lead, the same urgency is no longer a warning sign
    d = decide(engine, SCHEME, lead={"urgency": 3, "asks_details": 3, **KNOWN})
    assert d.label == "A"
    assert "urgent_but_unqualified" not in d.flags


def test_unclassified_lists_missing_signals(engine: Engine) -> None:
    d = decide(engine, SCHEME, lead={})
    assert d.label is None
    assert "lead.has_need" in d.missing


def test_parameter_override_changes_outcome(engine: Engine) -> None:
    lead = {"asks_details": 2, **KNOWN}
    assert decide(engine, SCHEME, lead=lead).label is None
    lowered = Engine(load_entry_points=False, params={SCHEME: {"a_min_asks_details": 2}})
    assert decide(lowered, SCHEME, lead=lead).label == "A"
    assert (
        engine.with_params(SCHEME, a_min_asks_details=2)
        .decide(SCHEME, {"id": "c1", "lead": lead}, as_of="2026-11-22")
        .label
        == "A"
    )


def test_parameter_shows_in_explanation(engine: Engine) -> None:
    d = decide(engine, SCHEME, lead={"asks_details": 3, **KNOWN})
    assert d.rule == "sincere_buyer"
    assert d.evidence["params.a_min_asks_details"] == 3
    assert "params.a_min_asks_details = 3" in d.explain(detail="full")
    assert "参数“A 类线索询问细节的程度” = 高（3）" in d.explain(lang="zh", detail="full")


def test_lead_grade_ignores_everything_but_the_lead(engine: Engine) -> None:
    lead = {"has_need": True, "budget_status": "pending"}
    plain = decide(engine, SCHEME, lead=lead)
    busy = decide(
        engine,
        SCHEME,
        lead=lead,
        value={"revenue_12m": 9_000_000.0, "bad_debt": True},
        is_large_account=True,
        identity=["journalist"],
        cases=[{"id": "k1", "opened_at": "2026-11-01", "safety_related": True}],
    )
    assert (plain.label, plain.rule) == (busy.label, busy.rule) == ("B1", "clear_need_timing_open")


def test_scheme_is_a_tier_with_these_labels(engine: Engine) -> None:
    s = engine.schemes[SCHEME]
    assert s.kind == "tier"
    assert s.labels == LABELS
    assert {s.policy.label(x).zh for x in LABELS} >= {"诚意客户", "死户"}


def test_every_label_has_a_bilingual_strategy(engine: Engine) -> None:
    assert_bilingual_strategies(engine, SCHEME)


def test_follow_up_cadences(engine: Engine) -> None:
    strategies = engine.schemes[SCHEME].strategies
    for label in LABELS:
        assert strategies[label].cadence is not None, label
    b1 = strategies["B1"].cadence
    assert b1 is not None and (b1.min_days, b1.max_days) == (3, 4)  # twice a week
    a = strategies["A"].cadence
    d = strategies["D"].cadence
    assert a is not None and d is not None and a.max_days < b1.min_days <= b1.max_days < d.min_days


def test_decision_carries_strategy(engine: Engine) -> None:
    d = decide(engine, SCHEME, lead={"has_need": True, "budget_status": "pending"})
    assert d.strategy is engine.schemes[SCHEME].strategies["B1"]
    assert "每" in d.explain(lang="zh", detail="full")
