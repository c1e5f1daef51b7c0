"""The built-in ``crisis`` scheme (SCHEMES.md §9 overlays): F sensitive
customer, G crisis event, ``none``; independent of the satisfaction grade."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from scheme_support import assert_bilingual_strategies, days_ago, decide

from customer_rules import Engine

SCHEME = "crisis"


def ago(n: int) -> str:
    return days_ago(n).isoformat()


def case(**fields: Any) -> dict[str, Any]:
    """A complaint case opened 5 days before as_of (overridable)."""
    return {"id": fields.pop("id", "k1"), "opened_at": fields.pop("opened_at", ago(5)), **fields}


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(load_entry_points=False)


PLAIN = [case()]

CASES = [
    pytest.param([], [], "none", set(), id="§9 none: no complaint"),
    pytest.param([], PLAIN, "none", set(), id="§9 none: an ordinary complaint"),
    # F: sensitive identity (while a case is active)
    pytest.param(["journalist"], PLAIN, "F", {"journalist"}, id="§9 F: journalist complains"),
    pytest.param(["media"], PLAIN, "F", {"journalist"}, id="§9 F: media complains"),
    pytest.param(["lawyer"], PLAIN, "F", {"lawyer"}, id="§9 F: lawyer complains"),
    pytest.param(["consumer_association"], PLAIN, "F", {"authority"}, id="§9 F: consumer association"),
    pytest.param(["regulator"], PLAIN, "F", {"authority"}, id="§9 F: quality supervision / market regulator"),
    pytest.param(["police"], PLAIN, "F", {"authority"}, id="§9 F: police"),
    pytest.param(["government"], PLAIN, "F", {"authority"}, id="§9 F: government office"),
    pytest.param(["celebrity"], PLAIN, "F", {"public_reach"}, id="§9 F: celebrity (word-of-mouth reach)"),
    pytest.param(["official"], PLAIN, "F", {"public_reach"}, id="§9 F: official"),
    pytest.param(["taxi_driver"], PLAIN, "F", {"public_reach"}, id="§9 F: taxi driver"),
    pytest.param(["fleet"], PLAIN, "none", set(), id="§9 F: a fleet customer without a batch problem"),
    pytest.param(["journalist"], [], "none", set(), id="§9 F: identity without an active case"),
    pytest.param(
        ["lawyer"],
        [case(opened_at=ago(50), closed_at=ago(30))],
        "none",
        set(),
        id="§9 F: identity with a case closed 30 days ago (= case_window_days)",
    ),
    pytest.param(
        ["lawyer"],
        [case(opened_at=ago(50), closed_at=ago(29))],
        "F",
        {"lawyer"},
        id="§9 F: identity with a case closed 29 days ago",
    ),
    # F: injury, property loss, batch problem
    pytest.param([], [case(injury=True)], "F", {"injury"}, id="§9 F: injury"),
    pytest.param([], [case(property_loss=True)], "F", {"property_loss"}, id="§9 F: major property loss"),
    pytest.param(["fleet"], [case(batch_issue=True)], "F", {"batch_problem"}, id="§9 F: fleet batch problem"),
    # G: crisis criteria
    pytest.param([], [case(safety_related=True)], "G", {"safety"}, id="§9 G: safety-related"),
    pytest.param(
        [],
        [case(damage_amount=50_000.0)],
        "G",
        {"large_damage"},
        id="§9 G: damage 50000 (= crisis_damage_amount)",
    ),
    pytest.param(
        [], [case(damage_amount=80_000.0)], "G", {"large_damage"}, id="§9 G: damage 80000 (> 50000)"
    ),
    pytest.param(
        [], [case(damage_amount=49_999.99)], "none", set(), id="§9 G boundary: damage 49999.99 (< 50000)"
    ),
    pytest.param(
        [],
        [case(opened_at=ago(70), customer_accepts_repairs=False, repair_visits=[ago(40), ago(20), ago(2)])],
        "G",
        {"repairs_refused"},
        id="§9 G: 3 repairs (= frequent_repairs_visits) in 60 days, customer refuses",
    ),
    pytest.param(
        [],
        [case(opened_at=ago(70), customer_accepts_repairs=False, repair_visits=[ago(20), ago(2)])],
        "none",
        set(),
        id="§9 G boundary: 2 repairs (< 3), customer refuses",
    ),
    pytest.param(
        [],
        [case(opened_at=ago(70), customer_accepts_repairs=False, repair_visits=[ago(60), ago(20), ago(2)])],
        "none",
        set(),
        id="§9 G boundary: a repair 60 days ago is outside the window",
    ),
    pytest.param(
        [],
        [case(opened_at=ago(70), customer_accepts_repairs=True, repair_visits=[ago(40), ago(20), ago(2)])],
        "none",
        set(),
        id="§9 G: frequent repairs the customer still accepts",
    ),
    pytest.param([], [case(media_involved=True)], "G", {"media_involved"}, id="§9 G: media involved"),
    pytest.param([], [case(lawyer_involved=True)], "G", {"lawyer_involved"}, id="§9 G: lawyer involved"),
    pytest.param([], [case(police_involved=True)], "G", {"police_involved"}, id="§9 G: police involved"),
    pytest.param(
        [],
        [case(consumer_association_involved=True)],
        "G",
        {"consumer_association_involved"},
        id="§9 G: consumer association involved",
    ),
    pytest.param(
        [], [case(government_involved=True)], "G", {"government_involved"}, id="§9 G: government involved"
    ),
    pytest.param(
        [], [case(regulator_involved=True)], "G", {"regulator_involved"}, id="§9 G: regulator involved"
    ),
    pytest.param([], [case(exposed=True)], "G", {"exposure_risk"}, id="§9 G: already exposed"),
    pytest.param([], [case(media_threat=True)], "G", {"exposure_risk"}, id="§9 G: exposure likely"),
    pytest.param([], [case(legal_threat=True)], "G", {"lawsuit_risk"}, id="§9 G: lawsuit likely"),
    pytest.param(
        [],
        [case(extreme_behaviour_risk=True)],
        "G",
        {"extreme_behaviour_risk"},
        id="§9 G: extreme behaviour likely",
    ),
    pytest.param(
        [],
        [case(opened_at=ago(60), closed_at=ago(30), safety_related=True)],
        "none",
        set(),
        id="§9 G window: a safety case closed 30 days ago no longer counts",
    ),
    # G outranks F, and every criterion is named
    pytest.param(
        ["journalist"],
        [case(safety_related=True)],
        "G",
        {"journalist", "safety"},
        id="§9 G outranks F: journalist with a safety case",
    ),
    pytest.param(
        ["lawyer"],
        [case(injury=True, legal_threat=True, lawyer_involved=True)],
        "G",
        {"lawyer", "injury", "lawsuit_risk", "lawyer_involved"},
        id="§9 G outranks F: several criteria",
    ),
]


@pytest.mark.parametrize(("identity", "cases", "label", "flags"), CASES)
def test_label_and_flags(
    engine: Engine, identity: list[str], cases: list[dict[str, Any]], label: str, flags: set[str]
) -> None:
    d = decide(engine, SCHEME, identity=identity, cases=cases)
    assert d.label == label
    assert set(d.flags) == flags


def test_identity_without_a_case_when_the_firm_wants_it(engine: Engine) -> None:
    assert decide(engine, SCHEME, identity=["journalist"]).label == "none"
    always = engine.with_params(SCHEME, identity_needs_active_case=False)
    d = decide(always, SCHEME, identity=["journalist"])
    assert (d.label, d.flags) == ("F", ("journalist",))
    assert "params.identity_needs_active_case = false" in d.explain(detail="full")


def test_parameter_override_changes_outcome(engine: Engine) -> None:
    cases = [case(damage_amount=30_000.0)]
    assert decide(engine, SCHEME, cases=cases).label == "none"
    strict = Engine(load_entry_points=False, params={SCHEME: {"crisis_damage_amount": 20_000}})
    assert decide(strict, SCHEME, cases=cases).label == "G"


def test_parameter_shows_in_explanation(engine: Engine) -> None:
    d = decide(engine, SCHEME, cases=[case(damage_amount=60_000.0)])
    assert d.rule == "large_damage"
    text = d.explain(detail="full")
    assert "params.crisis_damage_amount = 50000" in text
    assert "max_case_damage(params.case_window_days) = 60000" in text
    assert "损害金额大 = 是" in d.explain(lang="zh", detail="full")


def test_windows_are_computed_against_as_of(engine: Engine) -> None:
    record: dict[str, Any] = {
        "cases": [{"id": "k1", "opened_at": "2026-10-20", "closed_at": "2026-11-01", "safety_related": True}]
    }
    labels = {
        dt.date(2026, 10, 19): "none",  # not opened yet
        dt.date(2026, 11, 22): "G",  # closed 21 days ago
        dt.date(2026, 12, 15): "none",  # closed 44 days ago
    }
    for as_of, label in labels.items():
        assert decide(engine, SCHEME, as_of=as_of, **record).label == label, as_of


@pytest.mark.parametrize(
    ("satisfaction", "grade"),
    [
        pytest.param({"loyal_evidence": True}, "A", id="§9 overlay independent: A"),
        pytest.param({"expectations_met": True}, "B", id="§9 overlay independent: B"),
        pytest.param({"states_displeasure": True}, "D", id="§9 overlay independent: D"),
    ],
)
@pytest.mark.parametrize(
    ("cases", "overlay"),
    [
        pytest.param([case(safety_related=True)], "G", id="G"),
        pytest.param([case(injury=True)], "F", id="F"),
        pytest.param([case()], "none", id="none"),
    ],
)
def test_crisis_is_independent_of_satisfaction(
    engine: Engine, satisfaction: dict[str, Any], grade: str, cases: list[dict[str, Any]], overlay: str
) -> None:
    p = engine.classify(
        {"id": "c1", "satisfaction": satisfaction, "cases": cases},
        as_of=days_ago(0),
        schemes=["satisfaction", SCHEME],
    )
    assert (p["satisfaction"].label, p[SCHEME].label) == (grade, overlay)


def test_crisis_ignores_satisfaction_leads_and_value(engine: Engine) -> None:
    rec: dict[str, Any] = {"identity": ["lawyer"], "cases": [case(injury=True)]}
    plain = decide(engine, SCHEME, **rec)
    busy = decide(
        engine,
        SCHEME,
        **rec,
        satisfaction={"survey_score": 1, "states_displeasure": True},
        lead={"has_need": False},
        value={"revenue_12m": 1e9},
        deal={"lost_at": ago(3)},
    )
    assert (plain.label, plain.rule, plain.flags) == (busy.label, busy.rule, busy.flags)


def test_scheme_is_crisis_kind_g_first(engine: Engine) -> None:
    s = engine.schemes[SCHEME]
    assert s.kind == "crisis"
    assert s.policy.hit == "priority"
    assert s.labels == ("G", "F", "none")
    assert (s.policy.label("G").zh, s.policy.label("F").zh) == ("危机事件", "重大客户")


def test_every_label_has_a_bilingual_strategy(engine: Engine) -> None:
    assert_bilingual_strategies(engine, SCHEME)


def test_escalation_and_handling(engine: Engine) -> None:
    st = engine.schemes[SCHEME].strategies
    assert (st["G"].escalation, st["F"].escalation, st["none"].escalation) == (3, 2, 0)
    g = " ".join(a.en.lower() for a in st["G"].actions)
    for step in ("early warning", "task team", "handling plan", "negotiate", "public relations"):
        assert step in g, step
    for principle in ("goodwill", "not every demand", "lawful"):
        assert principle in g, principle
    f = " ".join(a.en.lower() for a in st["F"].actions)
    assert "time, place and people" in f
    assert "no definite answer" in f and "end the call politely" in f


def test_explanation_names_every_criterion(engine: Engine) -> None:
    d = decide(
        engine, SCHEME, identity=["journalist"], cases=[case(safety_related=True, police_involved=True)]
    )
    text = d.explain(detail="full")
    assert "flags: journalist, safety, police_involved" in text
    assert d.strategy is not None and d.strategy.escalation == 3


def test_phase_plans_exist_in_both_languages_with_latent_prevention() -> None:
    from customer_rules.schemes.crisis.statechart import PHASE_PLANS, PHASE_STEPS, phase_plan

    assert set(PHASE_STEPS) == {"latent", "outbreak", "aftermath", "recovery"}
    for phase, steps in PHASE_STEPS.items():
        zh = phase_plan(phase, "zh")
        assert len(zh) == len(PHASE_PLANS[phase]) == len(steps) > 0
        assert all(not any(c.isascii() and c.isalpha() for c in step) for step in zh), phase
    assert any("预防" in s or "征兆" in s for s in phase_plan("latent", "zh"))
    outbreak = phase_plan("outbreak")
    safety = next(i for i, s in enumerate(outbreak) if "recall" in s)
    exposure = next(i for i, s in enumerate(outbreak) if "exposure" in s)
    assert safety < exposure  # regulator duties and recall before avoiding exposure


def test_safety_case_puts_regulator_and_recall_before_no_exposure() -> None:
    import datetime as dt

    from customer_rules import Engine

    engine = Engine(load_entry_points=False)
    case = {"id": "k1", "opened_at": "2026-11-20", "safety_related": True}
    d = engine.decide("crisis", {"id": "x", "cases": [case]}, as_of=dt.date(2026, 11, 22))
    assert d.label == "G" and "safety" in d.flags
    strategy = d.strategy
    assert strategy is not None
    assert "recall" in strategy.summary.en and "召回" in strategy.summary.zh
    texts = [t.en for t in strategy.actions]
    recall = next(i for i, t in enumerate(texts) if "recall" in t)
    pr = next(i for i, t in enumerate(texts) if "public relations" in t and "exposure" in t)
    assert recall < pr
    zh = " ".join(t.zh for t in strategy.actions)
    assert "公众利益" in zh and "权威" in zh  # the public-interest and authority principles
    none = engine.schemes["crisis"].strategies["none"]
    assert any("潜伏期" in t.zh for t in none.actions)  # latent-phase prevention
