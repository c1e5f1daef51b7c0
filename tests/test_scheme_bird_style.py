"""The built-in ``bird_style`` scheme (SCHEMES.md §7): pace × sociability,
missing axes, strategies by dominant need."""

from __future__ import annotations

from typing import Any

import pytest

from customer_rules import SAMPLE_AS_OF, Decision, Engine, PolicyError
from customer_rules.engine.plugins import DEFAULT_PLUGINS

SCHEME = "bird_style"
LABELS = ("eagle", "peacock", "dove", "owl")


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(load_entry_points=False)


def decide(engine: Engine, behaviour: dict[str, Any], **record: Any) -> Decision:
    return engine.classify(
        {"id": "c1", "behaviour": behaviour, **record}, as_of=SAMPLE_AS_OF, schemes=[SCHEME]
    )[SCHEME]


CASES = [
    pytest.param("fast", "weak", "eagle", (), id="§7 eagle: fast pace, weak sociability"),
    pytest.param("fast", "strong", "peacock", (), id="§7 peacock: fast pace, strong sociability"),
    pytest.param("slow", "strong", "dove", (), id="§7 dove: slow pace, strong sociability"),
    pytest.param("slow", "weak", "owl", (), id="§7 owl: slow pace, weak sociability"),
    pytest.param(
        "fast", None, None, ("behaviour.sociability",), id="§7 missing axis: sociability not observed"
    ),
    pytest.param(
        "slow", None, None, ("behaviour.sociability",), id="§7 missing axis: sociability not observed (slow)"
    ),
    pytest.param(None, "strong", None, ("behaviour.speech_pace",), id="§7 missing axis: pace not observed"),
    pytest.param(
        None, "weak", None, ("behaviour.speech_pace",), id="§7 missing axis: pace not observed (weak)"
    ),
    pytest.param(
        None,
        None,
        None,
        ("behaviour.speech_pace", "behaviour.sociability"),
        id="§7 missing axis: neither observed",
    ),
]


@pytest.mark.parametrize(("pace", "sociability", "label", "missing"), CASES)
def test_label(
    engine: Engine, pace: str | None, sociability: str | None, label: str | None, missing: tuple[str, ...]
) -> None:
    behaviour = {k: v for k, v in (("speech_pace", pace), ("sociability", sociability)) if v is not None}
    d = decide(engine, behaviour)
    assert d.label == label
    assert set(d.missing) == set(missing)
    if label is None:
        assert "unclassified" in d.explain(detail="full")
        for path in missing:
            assert path in d.explain(detail="full")
    else:
        assert d.rule == label
        assert d.evidence["behaviour.speech_pace"] == pace
        assert d.evidence["behaviour.sociability"] == sociability


def test_other_behaviour_signals_do_not_matter(engine: Engine) -> None:
    plain = decide(engine, {"speech_pace": "slow", "sociability": "weak"})
    busy = decide(
        engine,
        {
            "speech_pace": "slow",
            "sociability": "weak",
            "decides_fast": 3,
            "wants_data": 3,
            "prior_friendship": 3,
        },
        value={"revenue_12m": 1_000_000},
        lead={"has_need": True, "haggling": 3},
    )
    assert plain.label == busy.label == "owl"
    assert plain.missing == busy.missing == ()


def test_explanation_names_the_axes(engine: Engine) -> None:
    d = decide(engine, {"speech_pace": "fast", "sociability": "strong"})
    text = d.explain(detail="full")
    assert 'behaviour.speech_pace = "fast"' in text
    assert 'behaviour.sociability = "strong"' in text
    assert "孔雀型" in d.explain(lang="zh", detail="full")


def test_has_no_parameters_to_override() -> None:
    assert Engine(load_entry_points=False).params(SCHEME) == {}
    with pytest.raises(PolicyError, match="unknown parameter"):
        Engine(load_entry_points=False, params={SCHEME: {"speech_pace": "fast"}})


@pytest.mark.parametrize(
    ("label", "need"),
    [("eagle", "power"), ("peacock", "enthusiasm"), ("dove", "relationship"), ("owl", "respect")],
)
def test_every_label_has_a_bilingual_strategy_with_its_dominant_need(
    engine: Engine, label: str, need: str
) -> None:
    scheme = engine.schemes[SCHEME]
    strategy = scheme.strategies[label]
    assert strategy.extra["dominant_need"] == need
    assert strategy.actions and strategy.avoid
    assert strategy.escalation == 0
    for text in strategy.texts():
        assert text.en.strip() and text.zh and text.zh.strip()
    lab = scheme.policy.label(label)
    assert lab.en and lab.zh


def test_dove_strategy_never_gives_orders(engine: Engine) -> None:
    strategy = engine.schemes[SCHEME].strategies["dove"]
    assert any("order" in t.en.lower() for t in strategy.avoid)


def test_scheme_registration() -> None:
    assert "customer_rules.schemes.bird_style" in DEFAULT_PLUGINS
    scheme = Engine(load_entry_points=False).schemes[SCHEME]
    assert scheme.kind == "type"
    assert scheme.labels == LABELS
    assert scheme.policy.hit == "unique"
    assert scheme.policy.default is None
