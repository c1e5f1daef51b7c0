"""Built-in plugin: the ``deal_stage`` statechart of event streams.

The stages are the scheme's labels and the scheme's rules are the
transition guards; this chart says which deal events may cause which move
(docs/events.md). It is a plugin of its own, not part of the scheme's
plugin, so that a firm replacing the ``deal_stage`` policy (blocking
``customer_rules.schemes.deal_stage``) keeps the statechart.
"""

from __future__ import annotations

from customer_rules.plugin import DEAL_EVENTS, Move, StageChart, hookimpl

SCHEME = "deal_stage"
LOST = "lost"

#: The deal stage moves on deal events: to ``lost`` only on a ``lost`` event,
#: out of ``lost`` on any other deal event, back to a lower stage only when a
#: confirmation is withdrawn or a new trial starts (the trial is not done).
CHART = StageChart(
    scheme=SCHEME,
    events=DEAL_EVENTS,
    moves=(
        Move(events=("lost",), target=LOST),
        Move(events=tuple(e for e in DEAL_EVENTS if e != "lost"), source=LOST),
        Move(events=("terms_agreed", "trial_started"), backward=True),
    ),
)


@hookimpl
def register_statecharts() -> StageChart:
    return CHART
