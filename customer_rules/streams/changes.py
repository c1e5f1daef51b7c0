"""What an event changed: :class:`Change` items, batch results and the
error of a failing escalation hook."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from customer_rules.errors import CustomerRulesError, PluginError
from customer_rules.lang.policy import Text

if TYPE_CHECKING:
    from customer_rules.engine.engine import Engine
    from customer_rules.lang.compile import CheckedPolicy
    from customer_rules.model.decision import Decision
    from customer_rules.model.records import Customer

# ---------------------------------------------------------------------------
# What changed
# ---------------------------------------------------------------------------


class Explanation:
    """A decision computed on first use (the stream's hot path needs only labels)."""

    __slots__ = ("_args", "_decision")

    def __init__(self, engine: Engine, scheme: str, record: Customer, day: dt.date) -> None:
        self._args: tuple[Engine, str, Customer, dt.date] | None = (engine, scheme, record, day)
        self._decision: Decision | None = None

    def decision(self) -> Decision:
        if self._decision is None:
            assert self._args is not None
            engine, scheme, record, day = self._args
            self._decision = engine.decide(scheme, record, as_of=day)
            self._args = None
        return self._decision


@dataclass(frozen=True)
class Change:
    """One thing an event changed.

    ``kind``: ``stage`` (a stage chart moved), ``refused`` (the rules asked
    for a stage move the statechart does not allow for this event), a case
    chart's kind (``crisis`` / ``satisfaction`` for the built-in schemes: the
    label changed), ``phase`` (a case's phase moved) or ``escalation`` (a
    phase's procedure ran and the ``escalate`` hook was called).
    ``previous``/``current`` are labels or phases; ``rule`` the deciding
    rule; ``steps`` the procedure steps of an escalation, each a bilingual
    :class:`~customer_rules.Text` (:meth:`plan_in` gives them in one
    language, :attr:`plan` in English). :attr:`reasons`
    (the rule's reason and the flags that hold, in English) and
    :attr:`decision` (the full decision, e.g. to explain it in Chinese) are
    computed when first read.
    """

    kind: str
    customer_id: str
    at: dt.date
    event: Any
    scheme: str | None = None
    previous: str | None = None
    current: str | None = None
    rule: str | None = None
    case_id: str | None = None
    steps: tuple[Text, ...] = ()
    because: tuple[str, ...] = field(default=(), repr=False)
    explanation: Explanation | None = field(default=None, repr=False, compare=False)

    @property
    def plan(self) -> tuple[str, ...]:
        """The procedure steps of an escalation, in English."""
        return self.plan_in("en")

    def plan_in(self, lang: str = "en") -> tuple[str, ...]:
        """The procedure steps of an escalation in ``lang`` (``en`` or ``zh``;
        a step given in English only is English in both)."""
        return tuple(step.get(lang) for step in self.steps)

    @property
    def decision(self) -> Decision | None:
        """The full decision behind a case chart's change or an escalation."""
        return self.explanation.decision() if self.explanation is not None else None

    @property
    def reasons(self) -> tuple[str, ...]:
        """Why: the deciding rule's reason, then the flags that hold (English)."""
        if self.explanation is None:
            return self.because
        return reasons_of(self.explanation.decision())

    def key(self) -> tuple[Any, ...]:
        """The change without the objects it refers to (for comparing runs)."""
        return (
            self.kind,
            self.customer_id,
            self.at,
            self.scheme,
            self.previous,
            self.current,
            self.rule,
            self.reasons,
            self.case_id,
            self.steps,
        )


@dataclass
class RejectedEvent:
    """An event of a batch that failed; ``applied`` says whether it took effect
    (only an escalation hook failing after the event was applied)."""

    index: int
    event: Any
    error: CustomerRulesError
    applied: bool = False


@dataclass
class StreamResult:
    """What a batch changed, and the events rejected: events in = posted + rejected
    (an event whose ``escalate`` hook failed is rejected with ``applied=True``)."""

    changes: list[Change]
    rejected: list[RejectedEvent]
    posted: int = 0

    def __iter__(self) -> Any:
        return iter(self.changes)

    def __len__(self) -> int:
        return len(self.changes)


class EscalationError(PluginError):
    """An ``escalate`` hook failed after the event was applied; ``changes`` are the event's changes."""

    def __init__(self, plugin: str, cause: str, changes: list[Change]) -> None:
        super().__init__(plugin, cause)
        self.changes = changes


def because_of(checked: CheckedPolicy, rule: str | None) -> tuple[str, ...]:
    if rule is None:
        return ()
    for r in checked.policy.rules:
        if r.id == rule and r.because is not None:
            return (str(r.because.get("en")),)
    return ()


def reasons_of(decision: Decision) -> tuple[str, ...]:
    out = []
    because = decision.because("en")
    if because:
        out.append(because)
    policy = decision.source.checked.policy if decision.source is not None else None
    texts = {f.id: f.en for f in policy.flags} if policy is not None else {}
    for flag in decision.flags:
        if flag in texts and texts[flag] not in out:
            out.append(texts[flag])
    return tuple(out)
