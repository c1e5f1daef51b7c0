"""Hysteresis for one record: keep the previous label unless the change is clear.

A scheme's ``stability`` keeps a customer's previous label (from the
record's grade history) when it was taken fewer than ``min_days`` ago, or
when the change would not survive the ``margin``: deciding again with the
policy's hysteresis rewrites (:mod:`customer_rules.lang.stability`) —
the previous label's rules relaxed, the others tightened — compiled by the
same record backend. The frame backend makes the same choice column-wise
over the same rewrites.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from customer_rules.backends.base import Outcome, RecordPolicy, decision_of
from customer_rules.model.decision import Decision, Kept
from customer_rules.model.records import Customer


def stabilise(
    compiled: RecordPolicy,
    outcome: Outcome,
    decision: Decision,
    record: Customer,
    day: dt.date,
    rewrites: Callable[[str], tuple[RecordPolicy, RecordPolicy]],
) -> Decision:
    """``decision`` (made from ``outcome``), or the previous label kept with a note.

    ``rewrites(scheme)`` gives the relaxed and the tightened rewrite of the
    policy, compiled (asked for only when the margin has to be tested).
    """
    checked = compiled.checked
    stability = checked.policy.stability
    if stability is None:
        return decision
    sid = compiled.scheme
    previous = record.previous_grade(sid, day)
    if previous is None or previous.label == decision.label or previous.label not in checked.label_rank:
        return decision
    held = (day - previous.since).days
    if held < stability.min_days:
        note = (
            f"hysteresis: kept {previous.label}, held {held} of the {stability.min_days} days required"
            f" before a change (rules said {decision.label or 'unclassified'})"
        )
        why = Kept(previous.label, decision.label, held_days=held, min_days=stability.min_days)
        return replace(decision, label=previous.label, labels=(previous.label,), rule=None, note=note, kept=why)
    if not stability.margin:
        return decision
    relaxed, tight = rewrites(sid)
    by_relaxed = relaxed.evaluate(record, day, record.id)
    by_tight = tight.evaluate(record, day, record.id)

    def pick(attr: str) -> list[Any]:
        """The rules of the previous label as the relaxed rewrite found them, the others as the tight one."""
        held_by = {side: {r.index for r in getattr(o, attr)} for side, o in (("r", by_relaxed), ("t", by_tight))}
        return [r for r in checked.rules if r.index in held_by["r" if r.label == previous.label else "t"]]

    evidence = {**by_relaxed.evidence, **by_tight.evidence}
    for name, _, _ in checked.derived:  # derived values as the policy itself computes them
        if name in outcome.evidence:
            evidence[name] = outcome.evidence[name]
    kept = Outcome(pick("matched"), pick("unknown"), outcome.flags, evidence)
    sticky = decision_of(checked, sid, kept, record=record, as_of=day, record_id=record.id, source=compiled)
    if sticky.label != previous.label:
        return decision
    note = (
        f"hysteresis: kept {previous.label}; the change to {decision.label or 'unclassified'} is"
        f" within the {stability.margin:.0%} margin of its thresholds"
    )
    return replace(sticky, note=note, kept=Kept(previous.label, decision.label, margin=stability.margin))
