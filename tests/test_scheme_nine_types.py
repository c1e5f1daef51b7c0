"""The built-in ``nine_types`` scheme (SCHEMES.md §1): labels, thresholds,
composite, unclassified with reasons, parameters and strategies."""

from __future__ import annotations

from typing import Any

import pytest

from customer_rules import SAMPLE_AS_OF, Decision, Engine
from customer_rules.engine.plugins import DEFAULT_PLUGINS

SCHEME = "nine_types"
LABELS = (
    "rational",
    "task",
    "greedy",
    "owner",
    "credit_seeking",
    "stingy",
    "tricky",
    "relationship",
    "composite",
)
SIGNALS = {
    "rational": ("compares_on_merit", "principled", "unswayed_by_favours"),
    "task": ("delegated_task", "outside_own_duties", "good_enough_goal"),
    "greedy": ("asks_personal_benefit", "complex_position", "presses_price_hard"),
    "owner": ("price_first", "seeks_best_combination", "owner_mindset"),
    "credit_seeking": ("rising_career", "quality_first", "pays_out_of_pocket"),
    "stingy": ("squeezes_margin", "hides_facts", "sham_tenders"),
    "tricky": ("generous_opening", "leaves_paperwork_to_us", "false_urgency"),
    "relationship": ("prior_friendship", "expects_favours"),
}
ALL_SIGNALS = [s for group in SIGNALS.values() for s in group]


#: These tests pin the type signals, thresholds and composite logic one
#: signal at a time, so they run with ``min_signals: 1`` (no corroboration
#: needed); corroboration and leanings are tested with the defaults below.
ONE_SIGNAL = {SCHEME: {"min_signals": 1}}


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(load_entry_points=False, params=ONE_SIGNAL)


def decide(engine: Engine, behaviour: dict[str, Any]) -> Decision:
    record = {"id": "c1", "behaviour": behaviour}
    return engine.classify(record, as_of=SAMPLE_AS_OF, schemes=[SCHEME])[SCHEME]


def observed(**signals: Any) -> dict[str, Any]:
    """Every type signal observed at 0, then the given ones: nothing unknown."""
    return {**dict.fromkeys(ALL_SIGNALS, 0), "shifts_with_situation": 0, **signals}


CASES = [
    # one case per label
    pytest.param(
        observed(principled=3, compares_on_merit=2),
        "rational",
        id="§1 rational: principled, compares on merit",
    ),
    pytest.param(
        observed(delegated_task=3, outside_own_duties=2),
        "task",
        id="§1 task: delegated task outside own duties",
    ),
    pytest.param(
        observed(asks_personal_benefit=3, presses_price_hard=3),
        "greedy",
        id="§1 greedy: presses price, asks personal benefit",
    ),
    pytest.param(
        observed(price_first=3, seeks_best_combination=2),
        "owner",
        id="§1 owner: price first, best combination",
    ),
    pytest.param(
        observed(rising_career=3, quality_first=2),
        "credit_seeking",
        id="§1 credit_seeking: rising junior, quality first",
    ),
    pytest.param(
        observed(squeezes_margin=3, sham_tenders=2), "stingy", id="§1 stingy: squeezes margin, sham tenders"
    ),
    pytest.param(
        observed(generous_opening=3, false_urgency=3),
        "tricky",
        id="§1 tricky: generous opening, false urgency",
    ),
    pytest.param(observed(prior_friendship=3), "relationship", id="§1 relationship: friendship came first"),
    pytest.param(
        observed(principled=3, squeezes_margin=3),
        "composite",
        id="§1 composite: two types of comparable strength",
    ),
    pytest.param(
        observed(shifts_with_situation=3), "composite", id="§1 composite: changes type with the situation"
    ),
    pytest.param(
        {**observed(), "type_history": ["owner", "stingy"]},
        "composite",
        id="§1 composite: recorded type changed",
    ),
    pytest.param(
        {**observed(price_first=3), "type_history": ["stingy"]},
        "composite",
        id="§1 composite: type now differs from the recorded one",
    ),
    pytest.param(
        {**observed(price_first=3), "type_history": ["owner", "owner"]},
        "owner",
        id="§1 composite: same type recorded again is not a change",
    ),
    # an unobserved signal of a type is ignored, not counted against it
    pytest.param({"hides_facts": 2}, "stingy", id="§1 stingy: one observed signal is enough"),
    # params.signal_threshold = 2: just below / at / just above
    pytest.param(
        observed(asks_personal_benefit=1), None, id="§1 greedy: asks personal benefit below threshold"
    ),
    pytest.param(
        observed(asks_personal_benefit=2), "greedy", id="§1 greedy: asks personal benefit at threshold"
    ),
    pytest.param(
        observed(asks_personal_benefit=3), "greedy", id="§1 greedy: asks personal benefit above threshold"
    ),
    pytest.param(observed(principled=1), None, id="§1 rational: principled below threshold"),
    pytest.param(observed(principled=2), "rational", id="§1 rational: principled at threshold"),
    pytest.param(observed(principled=3), "rational", id="§1 rational: principled above threshold"),
    # params.composite_margin = 0: a gap above the margin is not comparable, at it is
    pytest.param(
        observed(principled=3, asks_personal_benefit=2),
        "rational",
        id="§1 composite: strength gap above composite_margin picks the stronger type",
    ),
    pytest.param(
        observed(principled=2, asks_personal_benefit=2),
        "composite",
        id="§1 composite: strength gap at composite_margin is comparable",
    ),
    pytest.param(
        observed(principled=3, asks_personal_benefit=1),
        "rational",
        id="§1 composite: second type below signal_threshold does not count",
    ),
    # params.shift_threshold = 2
    pytest.param(
        observed(principled=3, shifts_with_situation=1),
        "rational",
        id="§1 composite: shifts below shift_threshold",
    ),
    pytest.param(
        observed(principled=3, shifts_with_situation=2),
        "composite",
        id="§1 composite: shifts at shift_threshold",
    ),
    pytest.param(
        observed(principled=3, shifts_with_situation=3),
        "composite",
        id="§1 composite: shifts above shift_threshold",
    ),
    # params.history_min_distinct = 2
    pytest.param(
        {**observed(delegated_task=3), "type_history": ["task", "task"]},
        "task",
        id="§1 composite: history below history_min_distinct",
    ),
    pytest.param(
        {**observed(), "type_history": ["task", "greedy"]},
        "composite",
        id="§1 composite: history at history_min_distinct",
    ),
    pytest.param(
        {**observed(), "type_history": ["task", "greedy", "owner"]},
        "composite",
        id="§1 composite: history above history_min_distinct",
    ),
    # nothing recognised
    pytest.param(observed(), None, id="§1 unclassified: every signal observed as none"),
    pytest.param({}, None, id="§1 unclassified: no signals at all"),
]


@pytest.mark.parametrize(("behaviour", "label"), CASES)
def test_label(engine: Engine, behaviour: dict[str, Any], label: str | None) -> None:
    assert decide(engine, behaviour).label == label


def test_no_signals_is_unclassified_with_every_missing_signal_listed(engine: Engine) -> None:
    d = decide(engine, {})
    assert d.label is None
    assert d.rule is None
    expected = {f"behaviour.{s}" for s in [*ALL_SIGNALS, "shifts_with_situation"]}
    assert set(d.missing) == expected
    text = d.explain(detail="full")
    assert "unclassified" in text
    assert "behaviour.asks_personal_benefit" in text


def test_unobserved_types_are_unknown_not_false(engine: Engine) -> None:
    # greedy observed as none everywhere; the other types were never observed
    d = decide(engine, dict.fromkeys(SIGNALS["greedy"], 0))
    assert d.label is None
    missing = set(d.missing)
    assert not any(f"behaviour.{s}" in missing for s in SIGNALS["greedy"])
    assert {f"behaviour.{s}" for s in SIGNALS["rational"]} <= missing
    assert d.scores is not None
    assert d.scores["greedy_strength"] == 0
    assert d.scores["rational_strength"] is None


def test_scores_report_every_type_strength(engine: Engine) -> None:
    d = decide(engine, observed(principled=3, hides_facts=2))
    assert d.scores is not None
    assert set(d.scores) == {f"{t}_strength" for t in SIGNALS}
    assert d.scores["rational_strength"] == 3
    assert d.scores["stingy_strength"] == 2


def test_composite_lists_the_types_it_combines(engine: Engine) -> None:
    d = decide(engine, observed(principled=3, squeezes_margin=3))
    assert d.label == "composite"
    assert set(d.labels) == {"rational", "stingy"}


@pytest.mark.parametrize(
    ("params", "behaviour", "default_label", "changed_label"),
    [
        pytest.param(
            {"signal_threshold": 3}, observed(principled=2), "rational", None, id="§1 signal_threshold raised"
        ),
        pytest.param(
            {"signal_threshold": 1},
            observed(principled=1),
            None,
            "rational",
            id="§1 signal_threshold lowered",
        ),
        pytest.param(
            {"composite_margin": 1},
            observed(principled=3, asks_personal_benefit=2),
            "rational",
            "composite",
            id="§1 composite_margin widened",
        ),
        pytest.param(
            {"shift_threshold": 3},
            observed(principled=3, shifts_with_situation=2),
            "composite",
            "rational",
            id="§1 shift_threshold raised",
        ),
        pytest.param(
            {"history_min_distinct": 3},
            {**observed(), "type_history": ["task", "greedy"]},
            "composite",
            None,
            id="§1 history_min_distinct raised",
        ),
    ],
)
def test_parameter_override_changes_the_outcome(
    engine: Engine,
    params: dict[str, Any],
    behaviour: dict[str, Any],
    default_label: str | None,
    changed_label: str | None,
) -> None:
    assert decide(engine, behaviour).label == default_label
    changed = Engine(load_entry_points=False, params={SCHEME: {**ONE_SIGNAL[SCHEME], **params}})
    assert decide(changed, behaviour).label == changed_label
    assert decide(engine.with_params(SCHEME, **params), behaviour).label == changed_label


def test_deciding_parameter_is_in_the_explanation(engine: Engine) -> None:
    d = decide(engine, observed(asks_personal_benefit=2))
    assert d.label == "greedy"
    assert d.evidence["params.signal_threshold"] == 2
    assert "params.signal_threshold = 2" in d.explain(detail="full")
    assert "参数“识别类型的信号强度” = 中（2）" in d.explain(lang="zh", detail="full")


def test_greedy_carries_compliance_risk(engine: Engine) -> None:
    d = decide(engine, observed(asks_personal_benefit=3))
    assert d.label == "greedy"
    assert "compliance_risk" in d.flags
    assert "personal_benefit_asked" in d.flags
    assert engine.schemes[SCHEME].policy.label("greedy").flags == ("compliance_risk",)


def test_personal_benefit_request_is_flagged_even_when_composite(engine: Engine) -> None:
    d = decide(engine, observed(asks_personal_benefit=3, principled=3))
    assert d.label == "composite"
    assert "personal_benefit_asked" in d.flags


@pytest.mark.parametrize(
    ("behaviour", "flagged"),
    [
        pytest.param(
            {"rising_career": 3, "seniority": 2}, False, id="§1 credit_seeking: seniority below senior_level"
        ),
        pytest.param(
            {"rising_career": 3, "seniority": 3}, True, id="§1 credit_seeking: seniority at senior_level"
        ),
        pytest.param(
            {"delegated_task": 3, "is_owner": True}, True, id="§1 task: an owner reads as task-driven"
        ),
        pytest.param({"delegated_task": 3, "is_owner": False}, False, id="§1 task: not an owner"),
    ],
)
def test_role_mismatch_flag(engine: Engine, behaviour: dict[str, Any], flagged: bool) -> None:
    d = decide(engine, behaviour)
    assert d.label in ("credit_seeking", "task")
    assert ("role_mismatch" in d.flags) is flagged


BRIBERY = ("kickback", "bribe", "回扣", "贿赂", "好处费")
OVERCHARGING = ("overcharg", "mark-up", "markup", "宰", "加价")


def _texts(items: Any) -> list[str]:
    return [t for item in items for t in (item.en, item.zh or "")]


def test_greedy_strategy_never_recommends_kickbacks(engine: Engine) -> None:
    strategy = engine.schemes[SCHEME].strategies["greedy"]
    recommended = " ".join(_texts([strategy.summary, *strategy.actions])).lower()
    for word in BRIBERY:
        assert word not in recommended
    forbidden = " ".join(_texts(strategy.avoid)).lower()
    assert "kickback" in forbidden and "回扣" in forbidden
    assert "compliance_risk" in strategy.flags


def test_stingy_strategy_never_recommends_overcharging(engine: Engine) -> None:
    strategy = engine.schemes[SCHEME].strategies["stingy"]
    recommended = " ".join(_texts([strategy.summary, *strategy.actions])).lower()
    for word in OVERCHARGING:
        assert word not in recommended
    assert "overcharg" in " ".join(_texts(strategy.avoid)).lower()


@pytest.mark.parametrize("label", LABELS)
def test_every_label_has_a_bilingual_strategy(engine: Engine, label: str) -> None:
    scheme = engine.schemes[SCHEME]
    strategy = scheme.strategies[label]
    assert strategy.actions and strategy.avoid
    assert strategy.escalation == 0
    for text in strategy.texts():
        assert text.en.strip() and text.zh and text.zh.strip()
    lab = scheme.policy.label(label)
    assert lab.en and lab.zh


def test_decision_carries_the_strategy(engine: Engine) -> None:
    d = decide(engine, observed(generous_opening=3))
    assert d.label == "tricky"
    assert d.strategy is engine.schemes[SCHEME].strategies["tricky"]
    assert "策略" in d.explain(lang="zh", detail="full")


def test_scheme_registration() -> None:
    assert "customer_rules.schemes.nine_types" in DEFAULT_PLUGINS
    scheme = Engine(load_entry_points=False).schemes[SCHEME]
    assert scheme.kind == "type"
    assert scheme.labels == LABELS
    assert scheme.policy.hit == "collect" and scheme.policy.on_many == "composite"
    assert scheme.policy.default is None
    assert set(scheme.policy.params) == {
        "signal_threshold",
        "composite_margin",
        "shift_threshold",
        "history_min_distinct",
        "senior_level",
        "min_signals",
    }


# -- corroboration (issue 15): one signal is a leaning, not a type ------------------------


@pytest.fixture(scope="module")
def corroborating() -> Engine:
    return Engine(load_entry_points=False)  # the default: min_signals 2


def test_a_lone_signal_is_a_leaning_not_a_type(corroborating: Engine) -> None:
    d = decide(corroborating, observed(presses_price_hard=3))
    assert d.label is None
    assert "leans_greedy" in d.flags
    assert "compliance_risk" not in d.flags  # the greedy label's flag needs the type
    assert "仅有倾向" in d.explain(lang="zh") or "leans_greedy" in d.explain(lang="zh")


def test_two_signals_make_the_type(corroborating: Engine) -> None:
    d = decide(corroborating, observed(presses_price_hard=3, complex_position=2))
    assert d.label == "greedy"
    assert "compliance_risk" in d.flags and "leans_greedy" not in d.flags


def test_favours_expected_without_friendship_is_a_leaning(corroborating: Engine) -> None:
    d = decide(corroborating, observed(expects_favours=3))
    assert d.label is None and "leans_relationship" in d.flags
    assert decide(corroborating, observed(prior_friendship=3)).label == "relationship"


def test_a_leaning_does_not_hide_a_corroborated_type(corroborating: Engine) -> None:
    d = decide(corroborating, observed(principled=2, compares_on_merit=2, squeezes_margin=3))
    assert d.label == "rational"  # stingy has one signal (stronger, but alone)
    assert "leans_stingy" in d.flags


def test_min_signals_is_a_parameter() -> None:
    strict = Engine(load_entry_points=False, params={SCHEME: {"min_signals": 3}})
    two = observed(principled=3, compares_on_merit=3)
    assert decide(strict, two).label is None and "leans_rational" in decide(strict, two).flags
    assert (
        decide(strict, observed(principled=3, compares_on_merit=3, unswayed_by_favours=2)).label == "rational"
    )
