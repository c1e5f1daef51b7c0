"""Properties of the three type schemes (nine_types, social_style, bird_style)
over random behaviour records: one decision each, never an exception,
labels consistent with the reported scores, bird_style blind to unrelated
fields."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from customer_rules import SAMPLE_AS_OF, Engine
from customer_rules.model.records import Behaviour

SCHEMES = ("nine_types", "social_style", "bird_style")
NINE_LABELS = ("rational", "task", "greedy", "owner", "credit_seeking", "stingy", "tricky", "relationship")
AXES = ("speech_pace", "sociability")
_NOT_LEVELS = {*AXES, "is_owner", "type_history", "observed_at"}
LEVEL_FIELDS = tuple(name for name in Behaviour.model_fields if name not in _NOT_LEVELS)

ENGINE = Engine(load_entry_points=False)

levels = st.one_of(st.none(), st.integers(min_value=0, max_value=3))


def _behaviour_fields(names: tuple[str, ...]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional=dict.fromkeys(names, levels))


axes = st.fixed_dictionaries(
    {},
    optional={
        "speech_pace": st.one_of(st.none(), st.sampled_from(["fast", "slow"])),
        "sociability": st.one_of(st.none(), st.sampled_from(["strong", "weak"])),
    },
)
other_behaviour = st.builds(
    lambda signals, facts: {**signals, **facts},
    _behaviour_fields(LEVEL_FIELDS),
    st.fixed_dictionaries(
        {},
        optional={
            "is_owner": st.one_of(st.none(), st.booleans()),
            "type_history": st.lists(st.sampled_from([*NINE_LABELS, "composite"]), max_size=4),
        },
    ),
)
unrelated = st.fixed_dictionaries(
    {},
    optional={
        "value": st.fixed_dictionaries(
            {},
            optional={
                "revenue_12m": st.one_of(st.none(), st.floats(min_value=0, max_value=1e9)),
                "price_sensitivity": levels,
            },
        ),
        "lead": st.fixed_dictionaries(
            {},
            optional={
                "has_need": st.one_of(st.none(), st.booleans()),
                "asks_details": levels,
                "budget_status": st.one_of(st.none(), st.sampled_from(["approved", "pending", "none"])),
                "haggling": levels,
                "knows_margins": st.one_of(st.none(), st.booleans()),
            },
        ),
    },
)


def record(axes_part: dict[str, Any], behaviour: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    return {"id": "h1", "behaviour": {**behaviour, **axes_part}, **extra}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(axes, other_behaviour, unrelated)
def test_every_record_gets_one_decision_per_type_scheme(
    axes_part: dict[str, Any], behaviour: dict[str, Any], extra: dict[str, Any]
) -> None:
    profile = ENGINE.classify(record(axes_part, behaviour, extra), as_of=SAMPLE_AS_OF, schemes=SCHEMES)
    assert list(profile) == list(SCHEMES)
    for sid in SCHEMES:
        d = profile[sid]
        assert d.scheme == sid
        assert d.label is None or d.label in ENGINE.schemes[sid].labels
        if d.label is not None:
            assert d.strategy is not None
        elif sid == "bird_style":  # unclassified only for a missing axis, which is named
            assert d.missing


@settings(max_examples=200, deadline=None)
@given(other_behaviour)
def test_social_style_label_is_the_strongest_style(behaviour: dict[str, Any]) -> None:
    d = ENGINE.decide("social_style", {"id": "h2", "behaviour": behaviour}, as_of=SAMPLE_AS_OF)
    assert d.scores is not None
    threshold = ENGINE.params("social_style")["score_threshold"]
    known = {k.removesuffix("_score"): v for k, v in d.scores.items() if v is not None}
    top = max(known.values(), default=None)
    if top is None or top < threshold:
        assert d.label is None
        assert "tie" not in d.flags
    else:
        at_top = [s for s in ENGINE.schemes["social_style"].labels if known.get(s) == top]
        assert d.label == at_top[0]
        assert ("tie" in d.flags) is (len(at_top) > 1)
        assert d.also_matched == tuple(at_top[1:])


@settings(max_examples=200, deadline=None)
@given(other_behaviour)
def test_nine_types_single_label_is_strong_enough(behaviour: dict[str, Any]) -> None:
    d = ENGINE.decide("nine_types", {"id": "h3", "behaviour": behaviour}, as_of=SAMPLE_AS_OF)
    assert d.scores is not None
    threshold = ENGINE.params("nine_types")["signal_threshold"]
    strengths = {k.removesuffix("_strength"): v for k, v in d.scores.items()}
    if d.label in NINE_LABELS:
        assert d.labels == (d.label,)
        assert strengths[d.label] >= threshold
    recognised = [t for t in NINE_LABELS if t in d.labels]
    if len(recognised) > 1:
        assert d.label == "composite"
    if all(v is None for v in strengths.values()) and d.label is None:
        assert d.missing


@settings(max_examples=200, deadline=None)
@given(axes, other_behaviour, other_behaviour, unrelated, unrelated)
def test_bird_style_ignores_unrelated_fields(
    axes_part: dict[str, Any],
    behaviour_a: dict[str, Any],
    behaviour_b: dict[str, Any],
    extra_a: dict[str, Any],
    extra_b: dict[str, Any],
) -> None:
    a = ENGINE.decide("bird_style", record(axes_part, behaviour_a, extra_a), as_of=SAMPLE_AS_OF)
    b = ENGINE.decide("bird_style", record(axes_part, behaviour_b, extra_b), as_of=SAMPLE_AS_OF)
    assert (a.label, a.rule, a.missing, a.flags) == (b.label, b.rule, b.missing, b.flags)
    observed = {k: v for k, v in axes_part.items() if v is not None}
    assert (a.label is None) is (len(observed) < 2)
    assert set(a.missing) == {f"behaviour.{ax}" for ax in AXES if ax not in observed}
