"""Built-in plugin: the ``crisis`` overlay and crisis phases of event streams.

The stream re-decides the ``crisis`` scheme on case events, and each case
has a phase chart (SCHEMES.md §9)::

    latent ──(the case is a crisis, G)──> outbreak ──(closed)──> aftermath ──(no longer G)──> recovery
    latent ──(closed without a crisis)──> ended

Entering outbreak, aftermath and recovery runs that phase's procedure
through the ``escalate`` hook; the outbreak plan is the G strategy's
actions when it has any. A plugin of its own, not part of the scheme's
plugin, so that a firm replacing the ``crisis`` policy keeps the phases.
"""

from __future__ import annotations

from customer_rules.plugin import CaseChart, PhaseChart, PhaseTransition, hookimpl

SCHEME = "crisis"
CRISIS = "G"

#: Steps per phase (SCHEMES.md §9). Entering outbreak runs the G strategy's
#: actions when the crisis scheme has them, else these.
PHASE_PLANS: dict[str, tuple[str, ...]] = {
    "outbreak": (
        "Early warning: report the case at once to the responsible function and management",
        "Set up a dedicated task team to assess the case",
        "Draw up a handling plan",
        "Negotiate with the customer in good faith",
        "Coordinate with public relations to prevent or contain exposure",
    ),
    "aftermath": (
        "Carry out what was agreed with the customer and keep them informed",
        "Watch media and online channels for follow-up exposure",
        "Keep a full record of what was agreed and done",
    ),
    "recovery": (
        "Review the case with the task team and remove the root cause",
        "Restore the relationship with a follow-up visit or call",
        "Close the crisis file",
    ),
}

PHASES = PhaseChart(
    scheme=SCHEME,
    label=CRISIS,
    start="latent",
    states={
        "latent": (
            PhaseTransition("outbreak", label=True),
            PhaseTransition("ended", closed=True, label=False),
        ),
        "outbreak": (PhaseTransition("aftermath", closed=True),),
        "aftermath": (PhaseTransition("recovery", label=False),),
        "recovery": (),
        "ended": (),
    },
    plans=PHASE_PLANS,
    strategy_states=("outbreak",),
)


@hookimpl
def register_statecharts() -> list[CaseChart | PhaseChart]:
    return [CaseChart(scheme=SCHEME, kind="crisis"), PHASES]
