"""Test-only plugin: replaces the strategy of one built-in label.

It implements only ``choose_strategy``, taking two of the hook's four
arguments (pluggy's opt-in arguments), and answers only for ``bird_style`` /
``eagle``; every other decision keeps the scheme's own strategy.
"""

from __future__ import annotations

from typing import Any

from customer_rules import Strategy, Text, hookimpl

SCHEME = "bird_style"
LABEL = "eagle"

STRATEGY = Strategy(
    summary=Text(
        en="(test plugin) Eagles: a one-page brief with the bottom line first.",
        zh="（测试插件）老鹰型：一页纸简报，先说结论。",
    ),
    actions=(Text(en="Send the brief before the meeting", zh="会前发送简报"),),
    avoid=(Text(en="Small talk", zh="寒暄闲聊"),),
    extra={"replaced_by": "test_strategy_override"},
)


@hookimpl
def choose_strategy(decision: Any, scheme: Any) -> Strategy | None:
    if scheme.id == SCHEME and decision.label == LABEL:
        return STRATEGY
    return None
