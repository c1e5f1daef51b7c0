"""The built-in ``social_style`` scheme (SCHEMES.md §1b): scores, the
strongest style, ties, unclassified with reasons, parameters, strategies."""

from __future__ import annotations

from typing import Any

import pytest

from customer_rules import SAMPLE_AS_OF, Decision, Engine
from customer_rules.engine.plugins import DEFAULT_PLUGINS

SCHEME = "social_style"
LABELS = ("analytical", "relationship", "dominant", "amiable", "critical")
SIGNALS = {
    "analytical": ("wants_data", "digs_into_details", "challenging_questions"),
    "relationship": ("values_personal_trust", "wants_attention", "refers_others"),
    "dominant": ("decides_fast", "dislikes_small_talk", "wants_control"),
    "amiable": ("avoids_conflict", "passive", "hides_complaints"),
    "critical": ("high_standards", "spots_flaws", "criticises_bluntly"),
}
ALL_SIGNALS = [s for group in SIGNALS.values() for s in group]


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(load_entry_points=False)


def decide(engine: Engine, behaviour: dict[str, Any]) -> Decision:
    record = {"id": "c1", "behaviour": behaviour}
    return engine.classify(record, as_of=SAMPLE_AS_OF, schemes=[SCHEME])[SCHEME]


def style(name: str, *levels: int) -> dict[str, int]:
    """The signals of one style at the given levels (in signal order)."""
    return dict(zip(SIGNALS[name], levels, strict=False))


def observed(*styles: dict[str, int]) -> dict[str, Any]:
    """Every style signal observed at 0, then the given ones."""
    out: dict[str, Any] = dict.fromkeys(ALL_SIGNALS, 0)
    for s in styles:
        out.update(s)
    return out


CASES = [
    # one case per label
    pytest.param(
        observed(style("analytical", 3, 3, 2)),
        "analytical",
        id="§1b analytical: needs data, digs into details",
    ),
    pytest.param(
        observed(style("relationship", 3, 2, 1)),
        "relationship",
        id="§1b relationship: trust and attention first",
    ),
    pytest.param(
        observed(style("dominant", 2, 3, 3)), "dominant", id="§1b dominant: decides fast, wants control"
    ),
    pytest.param(observed(style("amiable", 2, 2, 2)), "amiable", id="§1b amiable: avoids conflict, passive"),
    pytest.param(
        observed(style("critical", 3, 3, 3)), "critical", id="§1b critical: high standards, blunt criticism"
    ),
    # params.score_threshold = 4: just below / at / just above
    pytest.param(observed(style("critical", 3, 0, 0)), None, id="§1b critical: score below threshold"),
    pytest.param(observed(style("critical", 3, 1, 0)), "critical", id="§1b critical: score at threshold"),
    pytest.param(observed(style("critical", 3, 1, 1)), "critical", id="§1b critical: score above threshold"),
    pytest.param(observed(style("analytical", 1, 1, 1)), None, id="§1b analytical: score below threshold"),
    pytest.param(
        observed(style("analytical", 2, 2, 0)), "analytical", id="§1b analytical: score at threshold"
    ),
    # the strongest style wins, whatever the label order
    pytest.param(
        observed(style("analytical", 2, 2, 1), style("critical", 3, 2, 1)),
        "critical",
        id="§1b several strong styles: the strongest is picked",
    ),
    pytest.param(
        observed(style("amiable", 3, 3, 1), style("relationship", 3, 2, 1)),
        "amiable",
        id="§1b several strong styles: a later style with a higher score wins",
    ),
    # ties: the first in label order
    pytest.param(
        observed(style("dominant", 3, 2, 0), style("amiable", 2, 3, 0)),
        "dominant",
        id="§1b several strong styles: a tie goes to the first in label order",
    ),
    # an unobserved signal counts 0 next to an observed one
    pytest.param(
        {"wants_data": 2, "digs_into_details": 2}, "analytical", id="§1b analytical: partly observed"
    ),
    # nothing recognised
    pytest.param(observed(), None, id="§1b unclassified: every signal observed as none"),
    pytest.param({}, None, id="§1b unclassified: no signals at all"),
]


@pytest.mark.parametrize(("behaviour", "label"), CASES)
def test_label(engine: Engine, behaviour: dict[str, Any], label: str | None) -> None:
    assert decide(engine, behaviour).label == label


def test_decision_reports_every_score(engine: Engine) -> None:
    d = decide(engine, {**style("analytical", 3, 2, 1), **style("critical", 1)})
    assert d.scores is not None
    assert dict(d.scores) == {
        "analytical_score": 6,
        "relationship_score": None,
        "dominant_score": None,
        "amiable_score": None,
        "critical_score": 1,
    }
    assert "analytical_score = 6" in d.explain(detail="full")


@pytest.mark.parametrize(
    ("behaviour", "label", "also", "tie"),
    [
        pytest.param(
            observed(style("analytical", 3, 2, 0), style("critical", 2, 2, 1)),
            "analytical",
            ("critical",),
            True,
            id="§1b tie of two styles at the top",
        ),
        pytest.param(
            observed(style("relationship", 2, 2, 0), style("dominant", 2, 2, 0), style("critical", 1, 1, 2)),
            "relationship",
            ("dominant", "critical"),
            True,
            id="§1b tie of three styles at the top",
        ),
        pytest.param(
            observed(style("analytical", 3, 2, 1), style("critical", 2, 2, 1)),
            "analytical",
            (),
            False,
            id="§1b no tie when one style is ahead",
        ),
        pytest.param(
            observed(style("analytical", 3, 0, 0), style("critical", 3, 0, 0)),
            None,
            (),
            False,
            id="§1b no tie below score_threshold",
        ),
    ],
)
def test_tie_is_reported(
    engine: Engine, behaviour: dict[str, Any], label: str | None, also: tuple[str, ...], tie: bool
) -> None:
    d = decide(engine, behaviour)
    assert d.label == label
    assert d.also_matched == also
    assert ("tie" in d.flags) is tie


def test_no_signals_is_unclassified_with_every_missing_signal_listed(engine: Engine) -> None:
    d = decide(engine, {})
    assert d.label is None
    assert set(d.missing) == {f"behaviour.{s}" for s in ALL_SIGNALS}
    assert d.scores is not None and all(v is None for v in d.scores.values())


def test_unobserved_styles_are_unknown_not_false(engine: Engine) -> None:
    d = decide(engine, style("amiable", 1, 0, 0))
    assert d.label is None
    missing = set(d.missing)
    assert not any(f"behaviour.{s}" in missing for s in SIGNALS["amiable"])
    assert {f"behaviour.{s}" for s in SIGNALS["dominant"]} <= missing


@pytest.mark.parametrize(
    ("params", "behaviour", "default_label", "changed_label"),
    [
        pytest.param(
            {"score_threshold": 6},
            observed(style("dominant", 3, 2, 0)),
            "dominant",
            None,
            id="§1b score_threshold raised",
        ),
        pytest.param(
            {"score_threshold": 3},
            observed(style("critical", 3, 0, 0)),
            None,
            "critical",
            id="§1b score_threshold lowered",
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
    changed = Engine(load_entry_points=False, params={SCHEME: params})
    assert decide(changed, behaviour).label == changed_label
    assert changed.params(SCHEME) == {"score_threshold": params["score_threshold"], "gift_limit_yuan": 200}


def test_deciding_parameter_is_in_the_explanation(engine: Engine) -> None:
    d = decide(engine, observed(style("dominant", 2, 2, 0)))
    assert d.label == "dominant"
    assert "params.score_threshold = 4" in d.explain(detail="full")
    assert "参数“识别风格的得分” = 4 分" in d.explain(lang="zh", detail="full")


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


def test_relationship_style_has_a_contact_cadence(engine: Engine) -> None:
    cadence = engine.schemes[SCHEME].strategies["relationship"].cadence
    assert cadence is not None and cadence.min_days <= cadence.max_days


def test_scheme_registration() -> None:
    assert "customer_rules.schemes.social_style" in DEFAULT_PLUGINS
    scheme = Engine(load_entry_points=False).schemes[SCHEME]
    assert scheme.kind == "type"
    assert scheme.labels == LABELS
    assert scheme.policy.hit == "priority"
    assert scheme.policy.default is None
    assert scheme.policy.scores == tuple(f"{s}_score" for s in LABELS)
