"""Built-in plugin: event streams re-decide the ``satisfaction`` grade on case events.

A plugin of its own, not part of the scheme's plugin, so that a firm
replacing the ``satisfaction`` policy keeps it tracked in streams.
"""

from __future__ import annotations

from customer_rules.plugin import CaseChart, hookimpl

CHART = CaseChart(scheme="satisfaction", kind="satisfaction")


@hookimpl
def register_statecharts() -> CaseChart:
    return CHART
