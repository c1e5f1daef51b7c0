"""The built-in ``satisfaction`` scheme (SCHEMES.md §9): grades A–E from
surveys and complaint cases, worst grade wins, windows against as_of."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from scheme_support import assert_bilingual_strategies, days_ago, decide

from customer_rules import Engine

SCHEME = "satisfaction"


def ago(n: int) -> str:
    return days_ago(n).isoformat()


def case(**fields: Any) -> dict[str, Any]:
    """A complaint case opened 5 days before as_of (overridable)."""
    return {"id": fields.pop("id", "k1"), "opened_at": fields.pop("opened_at", ago(5)), **fields}


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(load_entry_points=False)


MET = {"expectations_met": True}

CASES = [
    # A
    pytest.param({"loyal_evidence": True}, [], "A", id="§9 A: loves the brand"),
    pytest.param({"exceeded_expectations": True}, [], "A", id="§9 A: exceeded expectations with an example"),
    pytest.param(
        {"loyal_evidence": True, **MET, "survey_score": 5}, [], "A", id="§9 A outranks B among positives"
    ),
    # B
    pytest.param(MET, [], "B", id="§9 B: expectations met"),
    pytest.param({"states_displeasure": False}, [], "B", id="§9 B: no reason for displeasure"),
    pytest.param({"survey_score": 4}, [], "B", id="§9 B: survey 4 (> survey_neutral_max 3)"),
    # C
    pytest.param({"details_neglected": True, **MET}, [], "C", id="§9 C: details neglected, flat service"),
    pytest.param({"survey_score": 3}, [], "C", id="§9 C: survey 3 (= survey_neutral_max 3)"),
    pytest.param({"details_neglected": True, "loyal_evidence": True}, [], "C", id="§9 worst wins: C over A"),
    # D
    pytest.param({"states_displeasure": True}, [], "D", id="§9 D: states a reason for displeasure"),
    pytest.param({"survey_score": 2}, [], "D", id="§9 D: survey 2 (= survey_dissatisfied_max 2)"),
    pytest.param(MET, [case(price_opaque=True)], "D", id="§9 D: prices not transparent"),
    pytest.param(
        MET,
        [case(quality_issue=True, severity="minor")],
        "D",
        id="§9 D: a minor quality complaint this month",
    ),
    pytest.param(MET, [case(parts_wait_days=4)], "D", id="§9 D: parts wait 4 days > 3"),
    pytest.param(MET, [case(parts_wait_days=3)], "B", id="§9 D boundary: parts wait 3 days (= 3) is not D"),
    pytest.param(
        MET,
        [case(repair_days=8, technician_skill_issue=True)],
        "D",
        id="§9 D: repair 8 days > 7 because of technician skill",
    ),
    pytest.param(
        MET,
        [case(repair_days=7, technician_skill_issue=True)],
        "B",
        id="§9 D boundary: repair 7 days (= 7) is not D",
    ),
    pytest.param(
        MET,
        [case(repair_days=12, technician_skill_issue=False)],
        "B",
        id="§9 D: a long repair not caused by technician skill is not D",
    ),
    pytest.param({"states_displeasure": True, "loyal_evidence": True}, [], "D", id="§9 worst wins: D over A"),
    # E
    pytest.param(
        MET,
        [case(hostile_tone=True, calmed=False, media_threat=True)],
        "E",
        id="§9 E: hostile, not calmed, threatens media exposure",
    ),
    pytest.param(
        MET,
        [case(hostile_tone=True, calmed=True, media_threat=True)],
        "B",
        id="§9 E: hostile but calmed is not E",
    ),
    pytest.param(
        MET,
        [case(hostile_tone=True, calmed=False, media_threat=False)],
        "B",
        id="§9 E: hostile without an exposure threat is not E",
    ),
    pytest.param(MET, [case(severity="major", quality_issue=True)], "E", id="§9 E: major quality problem"),
    pytest.param(MET, [case(severity="key_part")], "E", id="§9 E: key-part quality problem"),
    pytest.param(
        MET,
        [case(quality_issue=True, repair_visits=[ago(20), ago(3)])],
        "E",
        id="§9 E: 2 repair visits (= repeat_visits 2) in 30 days",
    ),
    pytest.param(
        MET,
        [case(quality_issue=True, repair_visits=[ago(3), ago(2), ago(1)])],
        "E",
        id="§9 E: 3 repair visits (> 2) in 30 days",
    ),
    pytest.param(
        {"states_displeasure": True},
        [case(quality_issue=True, repair_visits=[ago(3)])],
        "D",
        id="§9 E boundary: 1 repair visit (< 2) in 30 days",
    ),
    pytest.param(
        {"states_displeasure": True},
        [case(opened_at=ago(40), quality_issue=True, solution_offered=True, repair_visits=[ago(30), ago(3)])],
        "D",
        id="§9 E boundary: a visit 30 days ago is outside the 30-day window",
    ),
    pytest.param(
        {"states_displeasure": True},
        [case(opened_at=ago(40), quality_issue=True, solution_offered=True, repair_visits=[ago(29), ago(3)])],
        "E",
        id="§9 E boundary: a visit 29 days ago is inside the 30-day window",
    ),
    pytest.param(
        MET,
        [case(opened_at=ago(21), solution_offered=False)],
        "E",
        id="§9 E: unresolved 21 days (> 20) without a solution",
    ),
    pytest.param(
        MET,
        [case(opened_at=ago(20), solution_offered=False)],
        "B",
        id="§9 E boundary: unresolved 20 days (= 20) is not E",
    ),
    pytest.param(
        MET,
        [case(opened_at=ago(21), solution_offered=True)],
        "B",
        id="§9 E: open 21 days but a solution is offered",
    ),
    pytest.param(
        MET,
        [case(opened_at=ago(60), closed_at=ago(31), solution_offered=False)],
        "B",
        id="§9 E: a closed case is not unresolved",
    ),
    pytest.param(
        {"loyal_evidence": True, "states_displeasure": True},
        [case(severity="key_part")],
        "E",
        id="§9 worst wins: E over D over A",
    ),
    # active cases: open at as_of or closed within case_window_days
    pytest.param(
        MET,
        [case(opened_at=ago(40), closed_at=ago(29), parts_wait_days=9)],
        "D",
        id="§9 window: a case closed 29 days ago still counts",
    ),
    pytest.param(
        MET,
        [case(opened_at=ago(40), closed_at=ago(30), parts_wait_days=9)],
        "B",
        id="§9 window: a case closed 30 days ago (= case_window_days) no longer counts",
    ),
    # nothing known
    pytest.param({}, [], None, id="§9 unclassified: no survey, call or case evidence"),
]


@pytest.mark.parametrize(("satisfaction", "cases", "label"), CASES)
def test_label(
    engine: Engine, satisfaction: dict[str, Any], cases: list[dict[str, Any]], label: str | None
) -> None:
    assert decide(engine, SCHEME, satisfaction=satisfaction, cases=cases).label == label


def test_repair_visits_on_several_quality_cases_add_up(engine: Engine) -> None:
    cases = [
        case(id="k1", quality_issue=True, repair_visits=[ago(10)]),
        case(id="k2", quality_issue=True, repair_visits=[ago(4)]),
    ]
    assert decide(engine, SCHEME, satisfaction=MET, cases=cases).rule == "repeated_repairs"


def test_visits_for_non_quality_cases_do_not_count(engine: Engine) -> None:
    cases = [case(quality_issue=False, repair_visits=[ago(10), ago(4)])]
    assert decide(engine, SCHEME, satisfaction=MET, cases=cases).label == "B"


def test_windows_are_computed_against_as_of(engine: Engine) -> None:
    record: dict[str, Any] = {
        "satisfaction": MET,
        "cases": [{"id": "k1", "opened_at": "2026-11-01", "solution_offered": False}],
    }
    grades = {
        dt.date(2026, 10, 31): "B",  # the case is not opened yet
        dt.date(2026, 11, 21): "B",  # open 20 days
        dt.date(2026, 11, 22): "E",  # open 21 days > 20
    }
    for as_of, grade in grades.items():
        assert decide(engine, SCHEME, as_of=as_of, **record).label == grade, as_of
    closed: dict[str, Any] = {
        "satisfaction": MET,
        "cases": [{"id": "k1", "opened_at": "2026-10-20", "closed_at": "2026-11-01", "parts_wait_days": 6}],
    }
    assert decide(engine, SCHEME, as_of=dt.date(2026, 11, 22), **closed).label == "D"
    assert decide(engine, SCHEME, as_of=dt.date(2026, 12, 15), **closed).label == "B"


def test_parameter_override_changes_outcome(engine: Engine) -> None:
    rec: dict[str, Any] = {"satisfaction": MET, "cases": [case(parts_wait_days=4)]}
    assert decide(engine, SCHEME, **rec).label == "D"
    patient = Engine(load_entry_points=False, params={SCHEME: {"parts_wait_days": 5}})
    assert decide(patient, SCHEME, **rec).label == "B"
    closed: dict[str, Any] = {
        "satisfaction": MET,
        "cases": [case(opened_at=ago(50), closed_at=ago(40), parts_wait_days=9)],
    }
    assert decide(engine, SCHEME, **closed).label == "B"
    assert decide(engine.with_params(SCHEME, case_window_days=60), SCHEME, **closed).label == "D"


def test_parameter_shows_in_explanation(engine: Engine) -> None:
    d = decide(engine, SCHEME, satisfaction=MET, cases=[case(parts_wait_days=4)])
    assert d.rule == "parts_wait"
    text = d.explain(detail="full")
    assert "params.parts_wait_days = 3" in text
    assert "max_parts_wait_days(params.case_window_days) = 4" in text
    assert "params.case_window_days = 30" in text
    assert "参数“可接受的配件等待天数” = 3 天" in d.explain(lang="zh", detail="full")


def test_every_criterion_that_holds_is_recorded(engine: Engine) -> None:
    d = decide(
        engine,
        SCHEME,
        satisfaction={"states_displeasure": True, "loyal_evidence": True},
        cases=[case(severity="key_part", quality_issue=True, parts_wait_days=8)],
    )
    assert d.label == "E"
    assert {"states_displeasure", "parts_wait", "loyal", "quality_complaint"} <= set(d.also_matched) | {
        d.rule
    }


def test_satisfaction_ignores_identity_leads_and_value(engine: Engine) -> None:
    rec: dict[str, Any] = {"satisfaction": {"survey_score": 3}, "cases": [case(parts_wait_days=2)]}
    plain = decide(engine, SCHEME, **rec)
    busy = decide(
        engine,
        SCHEME,
        **rec,
        identity=["journalist", "lawyer"],
        lead={"has_need": False},
        value={"bad_debt": True},
    )
    assert (plain.label, plain.rule) == (busy.label, busy.rule) == ("C", "neutral_survey")


def test_scheme_is_crisis_kind_worst_first(engine: Engine) -> None:
    s = engine.schemes[SCHEME]
    assert s.kind == "crisis"
    assert s.policy.hit == "priority"
    assert s.labels == ("E", "D", "C", "A", "B")
    assert s.policy.label("E").zh == "非常不满意"


def test_every_label_has_a_bilingual_strategy(engine: Engine) -> None:
    assert_bilingual_strategies(engine, SCHEME)
    strategies = engine.schemes[SCHEME].strategies
    assert strategies["E"].escalation > strategies["D"].escalation > strategies["B"].escalation


@pytest.mark.parametrize("closed", [None, "2026-11-12"])
def test_minor_quality_case_complained_once_is_D(closed: str | None) -> None:
    """Seed 004 4.3: a general (minor) quality problem complained about once in the
    past month makes the customer dissatisfied, even without quality_issue set."""
    engine = Engine(load_entry_points=False)
    case: dict[str, object] = {"id": "k1", "opened_at": "2026-11-10", "severity": "minor"}
    if closed:
        case["closed_at"] = closed
    d = engine.decide("satisfaction", {"id": "x", "cases": [case]}, as_of=dt.date(2026, 11, 22))
    assert (d.label, d.rule) == ("D", "quality_complaint")
    if closed:  # two months after closing, the complaint has left the window
        later = engine.decide("satisfaction", {"id": "x", "cases": [case]}, as_of=dt.date(2027, 1, 30))
        assert later.label is None
