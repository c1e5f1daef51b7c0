"""The backend protocol, and what every backend shares once it has evaluated rules.

A **backend** compiles a checked policy (:class:`~customer_rules.lang.compile.CheckedPolicy`)
plus its fitted cut-offs into a **compiled policy**. A compiled policy
decides one record (:class:`RecordPolicy`), a whole table
(:class:`TablePolicy`), or both; a backend says which with
``decides_records`` / ``decides_tables``. The engine holds compiled
policies through these protocols only.

Backends differ in how they find which rules hold; what follows from that
is the same everywhere and lives here: the hit policy (:func:`resolve`)
and the :class:`~customer_rules.Decision` built from a rule
:class:`Outcome` (:func:`decision_of`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from customer_rules.errors import EvaluationError
from customer_rules.lang.ast import Call, Name, Node
from customer_rules.lang.compile import CheckedPolicy, CheckedRule
from customer_rules.lang.functions import FUNCTIONS, POPULATION_FUNCTIONS
from customer_rules.lang.population import Cut
from customer_rules.model.decision import Decision

_MISS = object()


@dataclass
class Outcome:
    """What evaluating a policy's rules on one record found.

    ``matched``: the rules whose condition is true, in rule order;
    ``unknown``: those whose condition is missing (neither true nor false);
    ``flags``: the ids of the policy flags that hold; ``evidence``: every
    value read, by evidence key.
    """

    matched: list[CheckedRule]
    unknown: list[CheckedRule] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    evidence: dict[str, Any] = field(default_factory=dict)


def resolve(
    checked: CheckedPolicy, matched: list[CheckedRule], scheme: str, record_id: str | None
) -> tuple[CheckedRule | None, str | None, tuple[str, ...]]:
    """Apply the policy's hit policy to the matched rules (in rule order).

    Returns the deciding rule (``None`` for the default or unclassified),
    the label and every label matched. Under ``unique`` two matches are an
    :class:`EvaluationError` naming both rules.
    """
    policy = checked.policy
    if not matched:
        label = policy.default
        return None, label, (label,) if label is not None else ()
    hit = policy.hit
    rank = checked.label_rank
    if hit == "unique" and len(matched) > 1:
        raise EvaluationError(
            f"rules {matched[0].id!r} and {matched[1].id!r} both match under hit policy 'unique'",
            scheme=scheme,
            rules=(matched[0].id, matched[1].id),
            record_id=record_id,
        )
    if hit == "priority" and len(matched) > 1:
        chosen = min(matched, key=lambda r: (rank[r.label], r.index))
    else:
        chosen = matched[0]
    if hit != "collect":
        return chosen, chosen.label, (chosen.label,)
    labels = tuple(dict.fromkeys(r.label for r in matched))
    if len(labels) == 1:
        return chosen, labels[0], labels
    return chosen, policy.on_many or min(labels, key=rank.__getitem__), labels


def missing_of(checked: CheckedPolicy, outcome: Outcome) -> tuple[str, ...]:
    """The inputs the undecided rules name that evaluation read and found
    absent (``None``), in the order the policy first names them
    (:attr:`CheckedPolicy.input_order`): the same inputs are always listed
    in the same order, whichever rules could not be decided."""
    evidence = outcome.evidence
    return tuple([k for k in checked.inputs_of(outcome.unknown) if evidence.get(k, _MISS) is None])


def record_parts(checked: CheckedPolicy, nodes: Iterable[Node]) -> frozenset[str] | None:
    """The record attributes (``deal``, ``cases`` ...) that evaluating ``nodes``
    reads, derived values followed; None when they call a feature or a
    population function (which may read anything)."""
    parts: set[str] = set()
    ns = checked.namespace
    todo = list(nodes)
    seen: set[str] = set()
    while todo:
        node = todo.pop()
        if isinstance(node, Name):
            key = node.dotted
            if node.parts[0] == "params":
                continue
            if key in ns.derived:
                if key not in seen:
                    seen.add(key)
                    todo.append(next(n for d, n, _ in checked.derived if d == key))
                continue
            if key in ns.fields:
                parts.add(node.parts[0])
                continue
            return None  # a feature
        if isinstance(node, Call) and (node.name not in FUNCTIONS or node.name in POPULATION_FUNCTIONS):
            return None
        todo.extend(node.children())
    return frozenset(parts)


def decision_of(
    checked: CheckedPolicy,
    scheme: str,
    outcome: Outcome,
    *,
    record: Any,
    as_of: dt.date,
    record_id: str | None,
    source: Any,
) -> Decision:
    """The :class:`Decision` an outcome gives under the policy's hit policy."""
    matched = outcome.matched
    chosen, label, labels = resolve(checked, matched, scheme, record_id)
    policy = checked.policy
    flags = checked.label_flags[label] if label is not None else ()
    if outcome.flags:
        flags = (*flags, *outcome.flags)
    evidence = outcome.evidence
    return Decision(
        scheme=scheme,
        label=label,
        rule=chosen.id if chosen is not None else None,
        policy_id=policy.id,
        policy_version=policy.version,
        as_of=as_of,
        evidence=evidence,
        also_matched=tuple([r.id for r in matched if r is not chosen]) if len(matched) > 1 else (),
        missing=missing_of(checked, outcome) if outcome.unknown else (),
        labels=labels,
        flags=flags,
        record_id=record_id,
        source=source,
        record=record,
        scores={k: evidence.get(k) for k in policy.scores} if policy.scores else None,
    )


@runtime_checkable
class CompiledPolicy(Protocol):
    """A checked policy compiled by a backend, with the cut-offs it was given."""

    scheme: str
    checked: CheckedPolicy
    cuts: Mapping[str, Cut] | None


@runtime_checkable
class RecordPolicy(CompiledPolicy, Protocol):
    """A compiled policy that decides one record at a time."""

    def evaluate(self, record: Any, as_of: dt.date, record_id: str | None = None) -> Outcome:
        """Which rules hold for ``record`` on ``as_of`` (no hit policy applied)."""
        ...

    def decide(self, record: Any, as_of: dt.date, record_id: str | None = None) -> Decision:
        """The decision for ``record`` on ``as_of``."""
        ...


@runtime_checkable
class TablePolicy(CompiledPolicy, Protocol):
    """A compiled policy that decides a whole table at once."""

    def plan(self, as_of: dt.date, features: Any, **options: Any) -> Any:
        """What to evaluate over a table on ``as_of`` (backend-specific)."""
        ...


class Backend(Protocol):
    """Compiles checked policies; declares whether they decide records, tables or both."""

    name: str
    decides_records: bool
    decides_tables: bool

    def compile(
        self, checked: CheckedPolicy, scheme: str, cuts: Mapping[str, Cut] | None = None
    ) -> CompiledPolicy:
        """``checked`` compiled for scheme ``scheme`` with cut-offs ``cuts``."""
        ...
