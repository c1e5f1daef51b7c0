"""Customer event streams: typed events in, what changed out.

``engine.stream()`` returns an :class:`EventStream`. Events (pydantic
models, one class per ``type``, see :data:`EVENT_TYPES`) are posted one at
a time or in batches; each customer has a session built from their events
(:meth:`EventStream.record` is the :class:`~customer_rules.Customer` those
events describe) and three statecharts run on it, in event time — every
window is computed against the event's date, never the wall clock:

* the deal stage (scheme ``deal_stage``): a durable_rules statechart whose
  states are the scheme's labels and whose transitions are guarded by the
  scheme's rules (SCHEMES.md §2). It moves on deal events only; a move to
  ``lost`` needs a ``lost`` event, a move back to a lower stage a
  ``terms_agreed`` event that withdraws a confirmation or a
  ``trial_started`` that starts a new trial; a move the rules ask for that
  the event may not cause is refused and reported as such;
* the crisis overlay (scheme ``crisis``, F and G) and the satisfaction
  grade (scheme ``satisfaction``, A-E; grade E holds the early warnings
  such as two quality repairs within 30 days or a case unresolved for more
  than 20 days), re-decided for a customer with cases or a sensitive
  identity on every case or identity event and on every later event while
  a case is open or was closed within ``horizon_days``;
* a crisis phase chart per case: ``latent`` from opening, ``outbreak`` when
  the case is a crisis (G), ``aftermath`` when it is closed after an
  outbreak, ``recovery`` when it no longer counts as a crisis; a case
  closed without an outbreak ends (``ended``). Entering outbreak, aftermath
  and recovery runs that phase's procedure (SCHEMES.md §9; for outbreak the
  G strategy's actions): the ``escalate`` hook is called with the case, the
  crisis decision and the plan.

What changed is returned as :class:`Change` items, each naming the event
that caused it. The stream's :meth:`~EventStream.snapshot` of a customer
equals ``engine.classify(stream.record(id), as_of=<the customer's last
event date>)`` for the three schemes.

Events of one customer must come in time order (same-day events in any
order). An event that is malformed, earlier than the customer's last
event, or about a case that does not exist is rejected with an
:class:`EventError` (a :class:`~customer_rules.RecordError`) naming the
event; nothing is applied and the stream stays usable.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from customer_rules.engine.plugins import call_hook
from customer_rules.errors import CustomerRulesError, PluginError, RecordError
from customer_rules.model.records import (
    Case,
    Customer,
    Deal,
    Identity,
    Interaction,
    InteractionKind,
    Severity,
)

if TYPE_CHECKING:
    from customer_rules.backends.durable import Chart, DurablePolicy, PolicyChart, Runtime
    from customer_rules.engine.engine import Engine
    from customer_rules.model.decision import Decision

# ---------------------------------------------------------------------------
# Events
# ---------------------------------------------------------------------------

_CONFIG = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class _Event(BaseModel):
    model_config = _CONFIG

    type: str = Field(description="The kind of event (each event class fixes it).")
    customer_id: str = Field(min_length=1, description="The customer the event is about.")
    at: AwareDatetime | dt.date = Field(
        description="When it happened: a date, or a timezone-aware datetime (its own date counts)."
    )

    @property
    def day(self) -> dt.date:
        """The date the event counts on."""
        at = self.at
        return at.date() if isinstance(at, dt.datetime) else at


class _CaseFacts(BaseModel):
    """Facts of a complaint case an event may record (the fields of :class:`Case`)."""

    model_config = _CONFIG

    summary: str | None = None
    severity: Severity | None = None
    quality_issue: bool | None = None
    repeat_complaint: bool | None = None
    safety_related: bool | None = None
    injury: bool | None = None
    property_loss: bool | None = None
    batch_issue: bool | None = None
    damage_amount: float | None = Field(default=None, ge=0)
    price_opaque: bool | None = None
    parts_wait_days: int | None = Field(default=None, ge=0)
    repair_days: int | None = Field(default=None, ge=0)
    technician_skill_issue: bool | None = None
    customer_accepts_repairs: bool | None = None
    solution_offered: bool | None = None
    hostile_tone: bool | None = None
    calmed: bool | None = None
    media_threat: bool | None = None
    legal_threat: bool | None = None
    extreme_behaviour_risk: bool | None = None
    exposed: bool | None = None
    media_involved: bool | None = None
    lawyer_involved: bool | None = None
    police_involved: bool | None = None
    regulator_involved: bool | None = None
    consumer_association_involved: bool | None = None
    government_involved: bool | None = None


CASE_FACTS: tuple[str, ...] = tuple(_CaseFacts.model_fields)


class Contact(_Event):
    """We were in touch with the customer (a visit, call, message or greeting)."""

    type: Literal["contact"] = "contact"
    kind: InteractionKind | None = None
    note: str | None = None


class TrialStarted(_Event):
    """The customer started a trial of our product or service."""

    type: Literal["trial_started"] = "trial_started"


class TrialEnded(_Event):
    """The customer's trial ended."""

    type: Literal["trial_ended"] = "trial_ended"


class TermsAgreed(_Event):
    """Needs, price and service content discussed; what the customer confirmed.

    A later event with a confirmation set to false withdraws it.
    """

    type: Literal["terms_agreed"] = "terms_agreed"
    needs_confirmed: bool = True
    price_confirmed: bool = True
    terms_agreed: bool = True


class ContractSent(_Event):
    type: Literal["contract_sent"] = "contract_sent"


class ContractReturned(_Event):
    type: Literal["contract_returned"] = "contract_returned"


class PaymentReceived(_Event):
    type: Literal["payment_received"] = "payment_received"
    amount: float | None = Field(default=None, ge=0)


class ServiceAccepted(_Event):
    """The customer accepted our delivered service (cooperation succeeded)."""

    type: Literal["service_accepted"] = "service_accepted"


class Lost(_Event):
    """The deal was lost or abandoned."""

    type: Literal["lost"] = "lost"
    reason: str | None = None


class CaseOpened(_Event, _CaseFacts):
    """A complaint or service case was opened (with any facts known so far)."""

    type: Literal["case_opened"] = "case_opened"
    case_id: str = Field(min_length=1)


class CaseUpdated(_Event, _CaseFacts):
    """New facts about an open or closed case (flags such as media_threat, safety_related)."""

    type: Literal["case_updated"] = "case_updated"
    case_id: str = Field(min_length=1)


class RepairVisit(_Event):
    """The customer came in for a repair on a case."""

    type: Literal["repair_visit"] = "repair_visit"
    case_id: str = Field(min_length=1)


class CaseClosed(_Event, _CaseFacts):
    """A case was closed (with any last facts, e.g. solution_offered)."""

    type: Literal["case_closed"] = "case_closed"
    case_id: str = Field(min_length=1)


class IdentityObserved(_Event):
    """We learned the customer has a sensitive identity (journalist, lawyer, ...)."""

    type: Literal["identity_observed"] = "identity_observed"
    identity: Identity


class Tick(_Event):
    """Time passes for the customer: time windows are re-checked at this date."""

    type: Literal["tick"] = "tick"


Event = Annotated[
    Contact
    | TrialStarted
    | TrialEnded
    | TermsAgreed
    | ContractSent
    | ContractReturned
    | PaymentReceived
    | ServiceAccepted
    | Lost
    | CaseOpened
    | CaseUpdated
    | RepairVisit
    | CaseClosed
    | IdentityObserved
    | Tick,
    Field(discriminator="type"),
]
"""Any event (a pydantic discriminated union on ``type``)."""

EVENT_ADAPTER: TypeAdapter[Any] = TypeAdapter(Event)

EVENT_TYPES: dict[str, type[_Event]] = {
    cls.model_fields["type"].default: cls
    for cls in (
        Contact,
        TrialStarted,
        TrialEnded,
        TermsAgreed,
        ContractSent,
        ContractReturned,
        PaymentReceived,
        ServiceAccepted,
        Lost,
        CaseOpened,
        CaseUpdated,
        RepairVisit,
        CaseClosed,
        IdentityObserved,
        Tick,
    )
}

#: Events that can move the deal stage; the statechart's messages carry their code.
DEAL_EVENTS: dict[str, int] = {
    name: i + 1
    for i, name in enumerate(
        (
            "contact",
            "trial_started",
            "trial_ended",
            "terms_agreed",
            "contract_sent",
            "contract_returned",
            "payment_received",
            "service_accepted",
            "lost",
        )
    )
}
CASE_EVENTS = frozenset({"case_opened", "case_updated", "repair_visit", "case_closed", "identity_observed"})
_CASE_ID_EVENTS = frozenset({"case_opened", "case_updated", "repair_visit", "case_closed"})
_MILESTONES = {
    "trial_started": "trial_started_at",
    "trial_ended": "trial_ended_at",
    "contract_sent": "contract_sent_at",
    "contract_returned": "contract_returned_at",
    "payment_received": "first_payment_at",
    "service_accepted": "accepted_at",
}
# a milestone of a new deal cycle clears the later half of an old pair
_PAIRS = {"trial_started_at": "trial_ended_at", "contract_sent_at": "contract_returned_at"}


class EventError(RecordError):
    """An event was rejected: malformed, out of order, or about an unknown case.

    ``index`` is its position in a batch (``None`` for a single post),
    ``event`` the event as given. Nothing of it was applied.
    """

    def __init__(
        self,
        message: str,
        *,
        customer_id: str | None,
        event: Any,
        index: int | None = None,
        errors: list[tuple[str, str]] | None = None,
    ) -> None:
        self.event = event
        self.index = index
        self.message = message
        RecordError.__init__(self, customer_id, errors or [("event", message)], row=index)
        kind = (
            event.type
            if isinstance(event, _Event)
            else (event.get("type") if isinstance(event, Mapping) else type(event).__name__)
        )
        where = f"event {index}" if index is not None else "event"
        who = f" for customer {customer_id!r}" if customer_id is not None else ""
        self.args = (f"{where} ({kind!s}{who}): {message}",)

    def __str__(self) -> str:
        return str(self.args[0])


def parse_event(event: Any, index: int | None = None) -> _Event:
    """Validate an event given as a model or a mapping (raises :class:`EventError`)."""
    if isinstance(event, _Event):
        return event
    try:
        parsed: _Event = EVENT_ADAPTER.validate_python(event)
    except ValidationError as exc:
        cid = event.get("customer_id") if isinstance(event, Mapping) else None
        errors = [(".".join(str(p) for p in e["loc"]) or "(event)", e["msg"]) for e in exc.errors()]
        detail = "; ".join(f"{p}: {m}" for p, m in errors)
        raise EventError(
            f"invalid event: {detail}",
            customer_id=None if cid is None else str(cid),
            event=event,
            index=index,
            errors=errors,
        ) from None
    return parsed


# ---------------------------------------------------------------------------
# What changed
# ---------------------------------------------------------------------------


class _Explanation:
    """A decision computed on first use (the stream's hot path needs only labels)."""

    __slots__ = ("_args", "_decision")

    def __init__(self, engine: Engine, scheme: str, record: Customer, day: dt.date) -> None:
        self._args: tuple[Engine, str, Customer, dt.date] | None = (engine, scheme, record, day)
        self._decision: Decision | None = None

    def decision(self) -> Decision:
        if self._decision is None:
            assert self._args is not None
            engine, scheme, record, day = self._args
            self._decision = engine._decide(engine.schemes[scheme], record, day)
            self._args = None
        return self._decision


@dataclass(frozen=True)
class Change:
    """One thing an event changed.

    ``kind``: ``stage`` (deal stage moved), ``refused`` (the rules asked
    for a stage move the statechart does not allow for this event),
    ``crisis`` / ``satisfaction`` (the label changed), ``phase`` (a case's
    crisis phase moved) or ``escalation`` (a phase's procedure ran and the
    ``escalate`` hook was called). ``previous``/``current`` are labels or
    phases; ``rule`` the deciding rule; ``plan`` the procedure steps of an
    escalation. :attr:`reasons` (the rule's reason and the flags that hold,
    in English) and :attr:`decision` (the full decision, e.g. to explain it
    in Chinese) are computed when first read.
    """

    kind: Literal["stage", "refused", "crisis", "satisfaction", "phase", "escalation"]
    customer_id: str
    at: dt.date
    event: Any
    scheme: str | None = None
    previous: str | None = None
    current: str | None = None
    rule: str | None = None
    case_id: str | None = None
    plan: tuple[str, ...] = ()
    because: tuple[str, ...] = field(default=(), repr=False)
    explanation: _Explanation | None = field(default=None, repr=False, compare=False)

    @property
    def decision(self) -> Decision | None:
        """The full decision behind a crisis, satisfaction or escalation change."""
        return self.explanation.decision() if self.explanation is not None else None

    @property
    def reasons(self) -> tuple[str, ...]:
        """Why: the deciding rule's reason, then the flags that hold (English)."""
        if self.explanation is None:
            return self.because
        return _reasons(self.explanation.decision())

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
            self.plan,
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


# ---------------------------------------------------------------------------
# Phase procedures
# ---------------------------------------------------------------------------

PHASES = ("latent", "outbreak", "aftermath", "recovery", "ended")

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


# ---------------------------------------------------------------------------
# A customer's session
# ---------------------------------------------------------------------------


class _Session:
    """What the stream knows about one customer, built from their events."""

    __slots__ = (
        "_cases_cache",
        "_deal",
        "_record",
        "activity",
        "cases",
        "clock",
        "closed",
        "crisis",
        "deal",
        "dirty_cases",
        "evaluated",
        "events",
        "id",
        "identity",
        "interactions",
        "phase_inputs",
        "phases",
        "satisfaction",
        "stage",
    )

    def __init__(self, customer_id: str) -> None:
        self.id = customer_id
        self.clock: dt.date | None = None
        self.events = 0
        self.deal: dict[str, Any] = {}
        self.interactions: list[Interaction] = []
        self.identity: list[str] = []
        self.cases: dict[str, dict[str, Any]] = {}
        self.closed: dict[str, dt.date] = {}
        self.activity: dict[str, dt.date] = {}  # day of the latest event about each case
        self.dirty_cases: set[str] = set()
        self._cases_cache: dict[str, Case] = {}
        self._record: Customer | None = None
        self._deal: Deal | None = None
        self.stage: str | None = None  # None until the deal chart runs
        self.crisis: str | None = None
        self.satisfaction: str | None = None
        self.evaluated: dt.date | None = None  # day crisis/satisfaction were last decided
        self.phases: dict[str, str] = {}
        self.phase_inputs: dict[str, tuple[int, int]] = {}  # what the phase chart last saw

    # -- building the record -------------------------------------------------
    def apply(self, event: _Event, day: dt.date) -> None:
        t = event.type
        deal = self.deal
        if isinstance(event, Contact):
            deal.setdefault("first_contact_at", day)
            deal["last_contact_at"] = day
            self.interactions.append(
                _EMPTY_INTERACTION.model_copy(update={"at": day, "kind": event.kind, "note": event.note})
            )
        elif t in _MILESTONES:
            name = _MILESTONES[t]
            old = deal.get(name)
            lost = deal.get("lost_at")
            # the first occurrence in the current deal cycle (after the latest loss)
            if old is None or (lost is not None and old <= lost):
                deal[name] = day
                later = _PAIRS.get(name)
                if later is not None and deal.get(later) is not None and deal[later] < day:
                    del deal[later]
        elif isinstance(event, TermsAgreed):
            deal["needs_confirmed"] = event.needs_confirmed
            deal["price_confirmed"] = event.price_confirmed
            deal["terms_agreed"] = event.terms_agreed
        elif isinstance(event, Lost):
            deal["lost_at"] = day
        elif isinstance(event, CaseOpened):
            self.cases[event.case_id] = {
                "id": event.case_id,
                "opened_at": day,
                "repair_visits": [],
                **_facts(event),
            }
            self.dirty_cases.add(event.case_id)
        elif isinstance(event, CaseUpdated | CaseClosed):
            self.cases[event.case_id].update(_facts(event))
            if isinstance(event, CaseClosed):
                self.cases[event.case_id]["closed_at"] = day
                self.closed[event.case_id] = day
            self.dirty_cases.add(event.case_id)
        elif isinstance(event, RepairVisit):
            self.cases[event.case_id]["repair_visits"].append(day)
            self.dirty_cases.add(event.case_id)
        elif isinstance(event, IdentityObserved) and event.identity not in self.identity:
            self.identity.append(event.identity)
        if t in _CASE_ID_EVENTS:
            self.activity[event.case_id] = day  # type: ignore[attr-defined]
        if t in DEAL_EVENTS:
            self._deal = None
        self._record = None

    def deal_record(self) -> Deal:
        deal = self._deal
        if deal is None:
            deal = self._deal = _EMPTY_DEAL.model_copy(update=self.deal)
        return deal

    def fast_record(self) -> Customer:
        """The customer as a record for evaluating rules: copies of validated
        empty models with the session's values put in (every value came from
        a validated event), rebuilt only when an event changed something."""
        record = self._record
        if record is None:
            cache = self._cases_cache
            for cid in self.dirty_cases:
                data = self.cases[cid]
                cache[cid] = _EMPTY_CASE.model_copy(
                    update={**data, "repair_visits": tuple(data["repair_visits"])}
                )
            self.dirty_cases.clear()
            record = self._record = _EMPTY_CUSTOMER.model_copy(
                update={
                    "id": self.id,
                    "identity": tuple(self.identity),
                    "deal": self.deal_record(),
                    "cases": tuple(cache[c] for c in self.cases),
                    "interactions": tuple(self.interactions),
                }
            )
        return record

    def record_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "identity": list(self.identity),
            "deal": dict(self.deal),
            "cases": [{**c, "repair_visits": list(c["repair_visits"])} for c in self.cases.values()],
            "interactions": [i.model_dump(exclude_none=True) for i in self.interactions],
        }

    def only_case(self, case_id: str) -> Customer:
        """The record with one case only (to tell which case is the crisis)."""
        full = self.fast_record()
        case = next(k for k in full.cases if k.id == case_id)
        return full.model_copy(update={"cases": (case,)})

    def live_cases(self, day: dt.date, horizon: int) -> bool:
        """Whether any case is open at ``day``, or had an event (a closing, a late
        repair visit ...) at most ``horizon`` days before it."""
        if len(self.closed) < len(self.cases):
            return True
        return any((day - last).days <= horizon for last in self.activity.values())


_EMPTY_CUSTOMER = Customer(id="-")
_EMPTY_DEAL = Deal()
_EMPTY_CASE = Case(id="-", opened_at=dt.date(2000, 1, 1))
_EMPTY_INTERACTION = Interaction(at=dt.date(2000, 1, 1))


def _facts(event: _CaseFacts) -> dict[str, Any]:
    return {name: getattr(event, name) for name in event.model_fields_set if name in CASE_FACTS}


# ---------------------------------------------------------------------------
# The stream
# ---------------------------------------------------------------------------


class _Compiled:
    """What ``engine.stream()`` compiled for an engine, shared by its streams."""

    __slots__ = ("charts", "phases", "policies", "runtime")

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        #: scheme id -> (the engine's compiled policy it was made from, the durable policy)
        self.policies: dict[str, tuple[Any, DurablePolicy]] = {}
        #: stage scheme id -> its statechart
        self.charts: dict[str, PolicyChart] = {}
        self.phases: Chart | None = None


_COMPILED: weakref.WeakKeyDictionary[Engine, _Compiled] = weakref.WeakKeyDictionary()
_COMPILED_LOCK = threading.Lock()


def _stage_moves(order: Sequence[str], lost: str | None) -> Any:
    """Which events may move the deal stage from ``source`` to ``target``."""
    rank = {label: i for i, label in enumerate(order)}
    any_deal = None
    only_lost = frozenset({DEAL_EVENTS["lost"]})
    # backwards only when a confirmation is withdrawn or a new trial starts (the trial is not done)
    withdraw = frozenset({DEAL_EVENTS["terms_agreed"], DEAL_EVENTS["trial_started"]})
    not_lost = frozenset(c for e, c in DEAL_EVENTS.items() if e != "lost")

    def allowed(source: str, target: str) -> frozenset[int] | None:
        if target == lost:
            return only_lost
        if source == lost:
            return not_lost
        if source in rank and target in rank and rank[target] < rank[source]:
            return withdraw
        return any_deal

    return allowed


class EventStream:
    """Typed customer events in, changes out; see the module documentation.

    Made by :meth:`Engine.stream`. ``horizon_days``: how long after closing
    a case keeps the crisis and satisfaction re-decided at every event;
    ``idle_days``: release a customer whose last event is more than this
    many days before the latest event of the stream (``None``: keep every
    customer until :meth:`release`).
    """

    def __init__(
        self,
        engine: Engine,
        *,
        stage_scheme: str | None = "deal_stage",
        crisis_scheme: str | None = "crisis",
        satisfaction_scheme: str | None = "satisfaction",
        horizon_days: int = 90,
        idle_days: int | None = None,
        phase_plans: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        from customer_rules.backends.durable import Chart, DurablePolicy, PolicyChart, Runtime, Transition

        self.engine = engine
        self.horizon_days = horizon_days
        self.idle_days = idle_days
        self.phase_plans = {**PHASE_PLANS, **{k: tuple(v) for k, v in (phase_plans or {}).items()}}
        # compiling the rulesets and charts takes a while (about 0.1 s for the built-in
        # schemes): it is done once per engine and its later streams share the result
        with _COMPILED_LOCK:
            cache = _COMPILED.get(engine)
            if cache is None:
                runtime: Runtime = engine._durable if engine._durable is not None else Runtime()
                cache = _COMPILED[engine] = _Compiled(runtime)
            runtime = cache.runtime
            self.runtime = runtime

            def policy(sid: str | None) -> DurablePolicy | None:
                if sid is None or sid not in engine.schemes:
                    return None
                compiled = engine._compiled[sid]
                if isinstance(compiled, DurablePolicy) and compiled.runtime is runtime:
                    return compiled
                held = cache.policies.get(sid)
                if held is None or held[0] is not compiled:  # new, or the engine's policy changed
                    made = DurablePolicy(compiled.checked, sid, cuts=compiled.cuts, runtime=runtime)
                    held = cache.policies[sid] = (compiled, made)
                return held[1].fresh()

            self._stage = policy(stage_scheme)
            self._crisis = policy(crisis_scheme)
            self._satisfaction = policy(satisfaction_scheme)
            self.stage_chart: PolicyChart | None = None
            if self._stage is not None:
                assert stage_scheme is not None
                shared = self._stage._origin or self._stage
                chart = cache.charts.get(stage_scheme)
                if chart is None or chart.policy is not shared:
                    labels = shared.checked.policy.label_ids
                    lost = "lost" if "lost" in labels else None
                    order = [lab for lab in reversed(labels) if lab != lost]  # lowest stage first
                    chart = cache.charts[stage_scheme] = PolicyChart(
                        shared, "deal_stage_chart", _stage_moves(order, lost), DEAL_EVENTS.values()
                    )
                self.stage_chart = chart.fresh()
            # one crisis phase chart per case: g = the case is a crisis (G), closed = the case is closed
            if cache.phases is None:
                cache.phases = Chart(
                    runtime,
                    "crisis_phase_chart",
                    {
                        "latent": [
                            Transition("outbreak", {"g": 1}),
                            Transition("ended", ("$and", ({"closed": 1}, {"$neq": {"g": 1}}))),
                        ],
                        "outbreak": [Transition("aftermath", {"closed": 1})],
                        "aftermath": [Transition("recovery", {"$neq": {"g": 1}})],
                        "recovery": [],
                        "ended": [],
                    },
                    start="latent",
                )
            self.phase_chart: Chart = cache.phases.fresh()
        self._sessions: OrderedDict[str, _Session] = OrderedDict()
        self._watermark: dt.date | None = None
        self._lock = threading.RLock()  # posts from several threads apply one at a time
        self.posted = 0

    # -- reading ---------------------------------------------------------------
    def __contains__(self, customer_id: object) -> bool:
        return customer_id in self._sessions

    def __len__(self) -> int:
        return len(self._sessions)

    def customers(self) -> list[str]:
        return list(self._sessions)

    def _session(self, customer_id: str) -> _Session:
        try:
            return self._sessions[customer_id]
        except KeyError:
            raise KeyError(f"no session for customer {customer_id!r} (never seen, or released)") from None

    def record(self, customer_id: str) -> Customer:
        """The validated :class:`~customer_rules.Customer` the customer's events describe."""
        return Customer.model_validate(self._session(customer_id).record_dict())

    def clock(self, customer_id: str) -> dt.date | None:
        """The date of the customer's last event."""
        return self._session(customer_id).clock

    def snapshot(self, customer_id: str) -> dict[str, str | None]:
        """The customer's labels as of their last event: scheme id -> label.

        Equals ``engine.classify(stream.record(id), as_of=stream.clock(id))``
        for the deal stage, crisis and satisfaction schemes.
        """
        s = self._session(customer_id)
        out: dict[str, str | None] = {}
        day = s.clock
        assert day is not None
        if self._stage is not None and self.stage_chart is not None:
            if s.stage is None:  # no deal event yet: decide now
                out[self._stage.scheme] = self._stage.label_of(s.fast_record(), day)[0]
            else:
                out[self._stage.scheme] = None if s.stage == self.stage_chart.none_state else s.stage
        for policy, tracked in ((self._crisis, s.crisis), (self._satisfaction, s.satisfaction)):
            if policy is None:
                continue
            if s.evaluated is None:  # never tracked: no case and no sensitive identity yet
                out[policy.scheme] = policy.label_of(s.fast_record(), day)[0]
            else:
                out[policy.scheme] = tracked
        return out

    def stage(self, customer_id: str) -> str | None:
        return self.snapshot(customer_id).get(self._stage.scheme if self._stage else "deal_stage")

    def phases(self, customer_id: str) -> dict[str, str]:
        """The crisis phase of each of the customer's cases."""
        return dict(self._session(customer_id).phases)

    def stats(self) -> dict[str, int]:
        """Sessions held: customers, and durable statechart instances."""
        return {
            "customers": len(self._sessions),
            "stage_instances": self.stage_chart.chart.instances if self.stage_chart else 0,
            "phase_instances": self.phase_chart.instances,
        }

    # -- releasing -------------------------------------------------------------
    def release(self, customer_id: str) -> None:
        """Forget a customer: their session, statecharts and durable state."""
        s = self._sessions.pop(customer_id, None)
        if s is None:
            return
        if self.stage_chart is not None:
            self.stage_chart.forget(s.id)
        for case_id, phase in s.phases.items():
            if phase not in ("recovery", "ended"):
                self.phase_chart.forget((s.id, case_id))

    def release_idle(self, before: dt.date) -> int:
        """Release every customer whose last event is before ``before``; how many."""
        n = 0
        while self._sessions:
            cid, s = next(iter(self._sessions.items()))
            if s.clock is None or s.clock >= before:
                break
            self.release(cid)
            n += 1
        return n

    # -- posting ---------------------------------------------------------------
    def post(self, event: Any) -> list[Change]:
        """Apply one event; the changes it caused (raises :class:`EventError` if rejected)."""
        return self._post(event, None)

    def post_many(self, events: Iterable[Any]) -> StreamResult:
        """Apply events in order; a rejected event does not stop the batch."""
        result = StreamResult([], [])
        for i, event in enumerate(events):
            try:
                result.changes.extend(self._post(event, i))
                result.posted += 1
            except EscalationError as exc:  # applied, but reported once: as rejected
                result.changes.extend(exc.changes)
                result.rejected.append(RejectedEvent(i, event, exc, applied=True))
            except EventError as exc:
                result.rejected.append(RejectedEvent(i, event, exc))
        return result

    def _post(self, raw: Any, index: int | None) -> list[Change]:
        event = parse_event(raw, index)
        with self._lock:
            return self._apply(event, index)

    def _apply(self, event: _Event, index: int | None) -> list[Change]:
        day = event.day
        cid = event.customer_id
        s = self._sessions.get(cid)
        self._check(event, day, s, index)
        if s is None:
            s = self._sessions[cid] = _Session(cid)
        else:
            self._sessions.move_to_end(cid)
        s.apply(event, day)
        s.clock = day
        s.events += 1
        self.posted += 1
        changes: list[Change] = []
        hook_errors: list[PluginError] = []
        t = event.type
        if t in DEAL_EVENTS and self.stage_chart is not None:
            self._move_stage(s, event, day, changes)
        if self._crisis is not None or self._satisfaction is not None:
            last = s.evaluated
            # re-decide on case and identity events, and as time passes while a case
            # is live now or was live when last decided (a window may have closed since)
            if t in CASE_EVENTS or (
                last is not None
                and last != day
                and s.cases
                and (s.live_cases(day, self.horizon_days) or s.live_cases(last, self.horizon_days))
            ):
                self._decide_crisis(s, event, day, changes, hook_errors)
        if self._watermark is None or day > self._watermark:
            self._watermark = day
            if self.idle_days is not None:
                self.release_idle(day - dt.timedelta(days=self.idle_days))
        if hook_errors:
            first = hook_errors[0]
            raise EscalationError(first.plugin, first.cause, changes)
        return changes

    def _check(self, event: _Event, day: dt.date, s: _Session | None, index: int | None) -> None:
        cid = event.customer_id

        def reject(message: str) -> EventError:
            return EventError(message, customer_id=cid, event=event, index=index)

        if s is not None and s.clock is not None and day < s.clock:
            raise reject(
                f"out of order: dated {day.isoformat()}, before this customer's last event"
                f" ({s.clock.isoformat()}); events of a customer must come in time order"
            )
        if event.type not in _CASE_ID_EVENTS:
            return
        case_id: str = event.case_id  # type: ignore[attr-defined]
        known = s is not None and case_id in s.cases
        if isinstance(event, CaseOpened):
            if known:
                raise reject(f"case {case_id!r} is already open")
            return
        if not known:
            raise reject(f"unknown case {case_id!r}: open it with a case_opened event first")
        assert s is not None
        if isinstance(event, CaseClosed) and case_id in s.closed:
            raise reject(f"case {case_id!r} is already closed")

    # -- the deal stage --------------------------------------------------------
    def _move_stage(self, s: _Session, event: _Event, day: dt.date, changes: list[Change]) -> None:
        chart = self.stage_chart
        assert chart is not None and self._stage is not None
        parts = chart.record_parts
        if parts is not None and parts <= {"deal"}:
            # the guards read deal fields only: a light view spares building the whole record
            record: Any = SimpleNamespace(id=s.id, deal=s.deal_record())
        else:
            record = s.fast_record()
        source, target, rule, refused = chart.step(s.id, record, day, DEAL_EVENTS[event.type])
        s.stage = target
        # a policy without a default label: its unclassified state is reported as None
        before = None if source == chart.none_state else source
        after = None if target == chart.none_state else target
        scheme = self._stage.scheme
        if refused:
            checked = self._stage.checked
            proposed = next((r.label for r in checked.rules if r.id == rule), checked.policy.default)
            changes.append(
                Change(
                    "refused",
                    s.id,
                    day,
                    event,
                    scheme,
                    before,
                    proposed,
                    rule,
                    because=_because(self._stage, rule),
                )
            )
        elif after != before:
            changes.append(
                Change(
                    "stage",
                    s.id,
                    day,
                    event,
                    scheme,
                    before,
                    after,
                    rule,
                    because=_because(self._stage, rule),
                )
            )

    # -- crisis, satisfaction and phases -------------------------------------------
    def _decide_crisis(
        self, s: _Session, event: _Event, day: dt.date, changes: list[Change], hook_errors: list[PluginError]
    ) -> None:
        first = s.evaluated is None
        s.evaluated = day
        record = s.fast_record()
        explanation: _Explanation | None = None
        memo: dict[Any, Any] = {}  # feature values shared by the two schemes
        for policy in (self._satisfaction, self._crisis):
            if policy is None:
                continue
            label, rule = policy.label_of(record, day, memo)
            is_crisis = policy is self._crisis
            previous = policy.checked.policy.default if first else (s.crisis if is_crisis else s.satisfaction)
            if is_crisis:
                s.crisis = label
            else:
                s.satisfaction = label
            if label != previous:
                lazy = _Explanation(self.engine, policy.scheme, record, day)
                if is_crisis:
                    explanation = lazy
                changes.append(
                    Change(
                        "crisis" if is_crisis else "satisfaction",
                        s.id,
                        day,
                        event,
                        policy.scheme,
                        previous,
                        label,
                        rule,
                        explanation=lazy,
                    )
                )
        if isinstance(event, CaseOpened):
            s.phases[event.case_id] = "latent"
            changes.append(Change("phase", s.id, day, event, None, None, "latent", case_id=event.case_id))
        self._move_phases(s, event, day, changes, hook_errors, explanation)

    def _case_is_crisis(self, s: _Session, case_id: str, day: dt.date) -> bool:
        crisis = self._crisis
        if crisis is None or s.crisis != "G":
            return False
        if len(s.cases) == 1:
            return True
        return crisis.label_of(s.only_case(case_id), day)[0] == "G"

    def _move_phases(
        self,
        s: _Session,
        event: _Event,
        day: dt.date,
        changes: list[Change],
        hook_errors: list[PluginError],
        explanation: _Explanation | None,
    ) -> None:
        live = [c for c, phase in s.phases.items() if phase not in ("recovery", "ended")]
        for case_id in live:
            inputs = (1 if self._case_is_crisis(s, case_id, day) else 0, 1 if case_id in s.closed else 0)
            if s.phase_inputs.get(case_id) == inputs:
                continue  # nothing the chart looks at changed
            s.phase_inputs[case_id] = inputs
            key = (s.id, case_id)
            for _ in range(len(PHASES)):
                before, after, _tag = self.phase_chart.step(key, {"g": inputs[0], "closed": inputs[1]})
                if after == before:
                    break
                s.phases[case_id] = after
                changes.append(Change("phase", s.id, day, event, None, before, after, case_id=case_id))
                if after in self.phase_plans:
                    if explanation is None and self._crisis is not None:
                        explanation = _Explanation(self.engine, self._crisis.scheme, s.fast_record(), day)
                    self._escalate(s, event, day, case_id, after, explanation, changes, hook_errors)
                if after in ("recovery", "ended"):
                    self.phase_chart.forget(key)  # the case's chart is done
                    del s.phase_inputs[case_id]
                    break

    def _escalate(
        self,
        s: _Session,
        event: _Event,
        day: dt.date,
        case_id: str,
        phase: str,
        explanation: _Explanation | None,
        changes: list[Change],
        hook_errors: list[PluginError],
    ) -> None:
        decision = explanation.decision() if explanation is not None else None
        plan = self.phase_plans.get(phase, ())
        if phase == "outbreak" and decision is not None and decision.strategy is not None:
            actions = tuple(a.get("en") for a in decision.strategy.actions)
            if actions:
                plan = actions
        record = s.fast_record()
        case = next(k for k in record.cases if k.id == case_id)
        changes.append(
            Change(
                "escalation",
                s.id,
                day,
                event,
                None,
                None,
                phase,
                case_id=case_id,
                plan=plan,
                explanation=explanation,
            )
        )
        try:
            call_hook(
                self.engine.plugin_manager,
                "escalate",
                case=case,
                decision=decision,
                plan=list(plan),
                customer=record,
                engine=self.engine,
            )
        except PluginError as exc:
            hook_errors.append(exc)


def _because(policy: DurablePolicy, rule: str | None) -> tuple[str, ...]:
    if rule is None:
        return ()
    for r in policy.checked.policy.rules:
        if r.id == rule and r.because is not None:
            return (str(r.because.get("en")),)
    return ()


def _reasons(decision: Decision) -> tuple[str, ...]:
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


# ---------------------------------------------------------------------------
# Synthetic streams (benchmarks, tests, demos)
# ---------------------------------------------------------------------------


def _add_event(
    timeline: list[tuple[dt.date, int, dict[str, Any]]],
    seq: Iterator[int],
    cid: str,
    event_type: str,
    when: dt.date,
    /,
    **fields: Any,
) -> None:
    timeline.append((when, next(seq), {"type": event_type, "customer_id": cid, "at": when, **fields}))


def sample_events(
    customers: int = 100, *, seed: int = 7, start: dt.date = dt.date(2026, 1, 1), prefix: str = "S"
) -> list[dict[str, Any]]:
    """A plausible, reproducible stream of events for ``customers`` customers.

    Each customer has a sales story (contacts, trial, terms, contract,
    payment, acceptance; some are lost and contacted again) and about a
    third a complaint story (a case with repair visits, updates such as
    media or legal threats, a sensitive identity now and then, closing).
    Customers start at different dates; the events of all customers are
    merged in time order (each customer's own order kept).
    """
    import random

    rng = random.Random(seed)
    timeline: list[tuple[dt.date, int, dict[str, Any]]] = []
    seq = itertools.count()
    for n in range(customers):
        cid = f"{prefix}{n:06d}"
        day = start + dt.timedelta(days=rng.randrange(0, max(customers // 20, 1) + 30))

        add = functools.partial(_add_event, timeline, seq, cid)

        add("contact", day, kind=rng.choice(["visit", "call", "message"]))
        for kind in (
            "trial_started",
            "trial_ended",
            "terms_agreed",
            "contract_sent",
            "contract_returned",
            "payment_received",
            "service_accepted",
        ):
            if rng.random() < 0.12:
                day += dt.timedelta(days=rng.randrange(1, 20))
                add("lost", day, reason="went quiet")
                if rng.random() < 0.5:
                    day += dt.timedelta(days=rng.randrange(5, 40))
                    add("contact", day, kind="call")
                break
            day += dt.timedelta(days=rng.randrange(1, 12))
            if rng.random() < 0.4:
                add("contact", day, kind=rng.choice(["visit", "call", "message", "greeting"]))
            add(kind, day)
        if rng.random() < 0.35:
            day += dt.timedelta(days=rng.randrange(1, 30))
            case = f"K{n}"
            add(
                "case_opened",
                day,
                case_id=case,
                quality_issue=rng.random() < 0.7,
                severity=rng.choice(["minor", "minor", "major", "key_part"]),
            )
            for _ in range(rng.randrange(0, 4)):
                day += dt.timedelta(days=rng.randrange(1, 15))
                add("repair_visit", day, case_id=case)
            if rng.random() < 0.5:
                day += dt.timedelta(days=rng.randrange(1, 10))
                flag = rng.choice(
                    [
                        "media_threat",
                        "legal_threat",
                        "safety_related",
                        "hostile_tone",
                        "lawyer_involved",
                        "price_opaque",
                        "injury",
                    ]
                )
                add("case_updated", day, case_id=case, **{flag: True})
            if rng.random() < 0.1:
                add("identity_observed", day, identity=rng.choice(["journalist", "lawyer", "taxi_driver"]))
            if rng.random() < 0.8:
                day += dt.timedelta(days=rng.randrange(1, 30))
                add("case_closed", day, case_id=case, solution_offered=True)
            day += dt.timedelta(days=rng.randrange(20, 90))
            add("tick", day)
    timeline.sort(key=lambda t: (t[0], t[1]))
    return [e for _, _, e in timeline]
