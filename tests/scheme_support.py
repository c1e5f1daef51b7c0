"""Helpers shared by the tests of the built-in tier and crisis schemes
(lead_grade, customer_quality, deal_stage, satisfaction, crisis)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from customer_rules import SAMPLE_AS_OF, Decision, Engine

AS_OF = SAMPLE_AS_OF


def days_ago(n: int, as_of: dt.date = AS_OF) -> dt.date:
    """The date ``n`` days before ``as_of``."""
    return as_of - dt.timedelta(days=n)


def decide(engine: Engine, scheme: str, as_of: dt.date = AS_OF, **record: Any) -> Decision:
    """Classify one dict record (id ``c1``) under one scheme."""
    return engine.classify({"id": "c1", **record}, as_of=as_of, schemes=[scheme])[scheme]


def assert_bilingual_strategies(engine: Engine, scheme: str) -> None:
    """Every label of ``scheme`` has a strategy, and every text in it has en and zh."""
    s = engine.schemes[scheme]
    assert set(s.strategies) == set(s.labels)
    for label, strategy in s.strategies.items():
        assert strategy.actions, label
        for text in strategy.texts():
            assert text.en.strip(), label
            assert text.zh is not None and text.zh.strip(), (label, text.en)
            # the Chinese text is really Chinese, not a copy of the English one
            assert any("\u4e00" <= ch <= "\u9fff" for ch in text.zh), (label, text.zh)
