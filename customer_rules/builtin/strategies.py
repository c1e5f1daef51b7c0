"""Built-in plugin: a scheme's own strategy for a label (called last, so any
other plugin's ``choose_strategy`` answer wins)."""

from __future__ import annotations

from typing import Any

from customer_rules.plugin import hookimpl


@hookimpl(trylast=True)
def choose_strategy(decision: Any, scheme: Any) -> Any:
    if decision.label is None:
        return None
    return scheme.strategies.get(decision.label)
