"""Why a customer's class changed between two decisions of the same scheme
(two periods): ``cr.explain_change(before, after, lang=...)``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from customer_rules.lang.ast import Binary, Literal, Name, walk
from customer_rules.lang.ops import COMPARISONS
from customer_rules.model.decision import Decision
from customer_rules.model.decision import show as _show


def show(value: Any, lang: str = "en") -> str:
    return "缺失" if value is None and lang == "zh" else _show(value)


@dataclass(frozen=True)
class Crossing:
    """A threshold of a rule that an input crossed: ``path op threshold``
    held before and not after (``held_after`` False), or the other way round."""

    rule: str
    path: str
    op: str
    threshold: Any
    before: Any
    after: Any
    held_after: bool


@dataclass(frozen=True)
class ChangeExplanation:
    """What differs between two decisions of one customer under one scheme.

    ``moved`` maps each input (record path or feature) whose value changed
    to ``(before, after)``; ``params`` likewise for parameters;
    ``crossed`` lists the thresholds of the two deciding rules that an input
    crossed; ``policy_changed`` says the policy version differs; ``held``
    is the note when stability kept the grade; ``override`` the note when a
    manual override decided.
    """

    scheme: str
    before: Decision
    after: Decision
    moved: dict[str, tuple[Any, Any]]
    params: dict[str, tuple[Any, Any]]
    crossed: tuple[Crossing, ...]
    policy_changed: bool
    held: str | None
    override: str | None

    @property
    def changed(self) -> bool:
        return self.before.label != self.after.label

    def text(self, lang: str = "en") -> str:
        """The change in words, in English (``en``) or Chinese (``zh``), with
        display names and units (see :mod:`customer_rules.model.explanation`)."""
        from customer_rules.model.explanation import change

        return change(self, lang)

    def __str__(self) -> str:
        return self.text()


def _rule_nodes(decision: Decision) -> dict[str, Any]:
    source = decision.source
    if source is None:
        return {}
    return {r.id: r.node for r in source.checked.rules}


def _crossings(rule: str | None, node: Any, before: Decision, after: Decision) -> list[Crossing]:
    """The simple comparisons of a rule (a read value against a constant) whose
    outcome differs between the two decisions' evidence."""
    if rule is None or node is None:
        return []
    out = []
    for n in walk(node):
        if not (isinstance(n, Binary) and n.op in COMPARISONS and isinstance(n.left, Name)):
            continue
        path = n.left.dotted
        right = n.right
        if isinstance(right, Literal):
            threshold = right.value
        elif isinstance(right, Name) and right.dotted in after.evidence:
            threshold = after.evidence[right.dotted]
        else:
            continue
        if path not in before.evidence or path not in after.evidence:
            continue  # read in one decision only (a rule stops at its first false part)
        x, y = before.evidence[path], after.evidence[path]
        if x == y:
            continue
        op = COMPARISONS[n.op].python

        def holds(v: Any, op: Any = op, t: Any = threshold) -> bool:
            try:
                return v is not None and t is not None and op(v, t) is True
            except TypeError:
                return False

        if holds(x) != holds(y):
            out.append(Crossing(rule, path, n.op, threshold, x, y, holds(y)))
    return out


def explain_change(before: Decision, after: Decision, lang: str | None = None) -> Any:
    """Why ``after`` differs from ``before`` — two decisions of the same
    customer under the same scheme, e.g. last quarter's and this quarter's
    (from ``engine.decide`` or a decision store's ``to_decision()``).

    Says which inputs moved and which thresholds of the deciding rules they
    crossed, whether a parameter or the policy version changed, and whether
    stability rules or a manual override held the grade. Returns a
    :class:`ChangeExplanation`; with ``lang`` (``"en"`` or ``"zh"``) its
    text instead.
    """
    if before.scheme != after.scheme:
        raise ValueError(f"two decisions of different schemes: {before.scheme!r} and {after.scheme!r}")
    if before.record_id is not None and after.record_id is not None and before.record_id != after.record_id:
        raise ValueError(f"two decisions of different customers: {before.record_id!r} and {after.record_id!r}")
    moved: dict[str, tuple[Any, Any]] = {}
    params: dict[str, tuple[Any, Any]] = {}
    for key in before.evidence:
        if key not in after.evidence or key.startswith("cutoff("):
            continue  # compared only where both decisions read it
        x, y = before.evidence[key], after.evidence[key]
        if x == y:
            continue
        (params if key.startswith("params.") else moved)[key] = (x, y)
    nodes_before, nodes_after = _rule_nodes(before), _rule_nodes(after)
    crossed: list[Crossing] = []
    seen: set[tuple[str, str, str]] = set()
    for rule, node in (
        (before.rule, nodes_before.get(before.rule or "")),
        (after.rule, nodes_after.get(after.rule or "")),
    ):
        for c in _crossings(rule, node, before, after):
            if (c.rule, c.path, c.op) not in seen:
                seen.add((c.rule, c.path, c.op))
                crossed.append(c)
    note = after.note or ""
    result = ChangeExplanation(
        scheme=after.scheme,
        before=before,
        after=after,
        moved=moved,
        params=params,
        crossed=tuple(crossed),
        policy_changed=(before.policy_id, before.policy_version) != (after.policy_id, after.policy_version),
        held=note if note.startswith("hysteresis") else None,
        override=note if after.override is not None or note.startswith("manual override") else None,
    )
    return result if lang is None else result.text(lang)
