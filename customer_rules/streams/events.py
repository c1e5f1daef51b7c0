"""Customer events: what a CRM tells the stream, and how they build a record.

Events are pydantic models, one class per ``type`` (see :data:`EVENT_TYPES`);
:func:`parse_event` validates a model or a mapping and raises an
:class:`EventError` naming the event. :func:`sample_events` makes plausible,
reproducible event streams for benchmarks, tests and demos.

Deal events (:data:`DEAL_EVENTS`) fill the ``deal`` milestones of the record;
case events (:data:`CASE_EVENTS`) its cases and identity. Which scheme reacts
to which events is declared by the schemes' statecharts
(:mod:`customer_rules.streams.statecharts`), not here.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
from collections.abc import Iterator, Mapping
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from customer_rules.errors import RecordError
from customer_rules.model.records import Identity, InteractionKind, Severity

# ---------------------------------------------------------------------------
# Events
# ---------------------------------------------------------------------------

_CONFIG = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class BaseEvent(BaseModel):
    """What every event has: its type, its customer and when it happened."""

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


class CaseFacts(BaseModel):
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


CASE_FACTS: tuple[str, ...] = tuple(CaseFacts.model_fields)


class Contact(BaseEvent):
    """We were in touch with the customer (a visit, call, message or greeting)."""

    type: Literal["contact"] = "contact"
    kind: InteractionKind | None = None
    note: str | None = None


class TrialStarted(BaseEvent):
    """The customer started a trial of our product or service."""

    type: Literal["trial_started"] = "trial_started"


class TrialEnded(BaseEvent):
    """The customer's trial ended."""

    type: Literal["trial_ended"] = "trial_ended"


class TermsAgreed(BaseEvent):
    """Needs, price and service content discussed; what the customer confirmed.

    A later event with a confirmation set to false withdraws it.
    """

    type: Literal["terms_agreed"] = "terms_agreed"
    needs_confirmed: bool = True
    price_confirmed: bool = True
    terms_agreed: bool = True


class ContractSent(BaseEvent):
    type: Literal["contract_sent"] = "contract_sent"


class ContractReturned(BaseEvent):
    type: Literal["contract_returned"] = "contract_returned"


class PaymentReceived(BaseEvent):
    type: Literal["payment_received"] = "payment_received"
    amount: float | None = Field(default=None, ge=0)


class ServiceAccepted(BaseEvent):
    """The customer accepted our delivered service (cooperation succeeded)."""

    type: Literal["service_accepted"] = "service_accepted"


class Lost(BaseEvent):
    """The deal was lost or abandoned."""

    type: Literal["lost"] = "lost"
    reason: str | None = None


class CaseOpened(BaseEvent, CaseFacts):
    """A complaint or service case was opened (with any facts known so far)."""

    type: Literal["case_opened"] = "case_opened"
    case_id: str = Field(min_length=1)


class CaseUpdated(BaseEvent, CaseFacts):
    """New facts about an open or closed case (flags such as media_threat, safety_related)."""

    type: Literal["case_updated"] = "case_updated"
    case_id: str = Field(min_length=1)


class RepairVisit(BaseEvent):
    """The customer came in for a repair on a case."""

    type: Literal["repair_visit"] = "repair_visit"
    case_id: str = Field(min_length=1)


class CaseClosed(BaseEvent, CaseFacts):
    """A case was closed (with any last facts, e.g. solution_offered)."""

    type: Literal["case_closed"] = "case_closed"
    case_id: str = Field(min_length=1)


class IdentityObserved(BaseEvent):
    """We learned the customer has a sensitive identity (journalist, lawyer, ...)."""

    type: Literal["identity_observed"] = "identity_observed"
    identity: Identity


class Tick(BaseEvent):
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

#: Event type -> event class.
EVENT_TYPES: dict[str, type[BaseEvent]] = {
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

#: Event type -> the validator of its class (:func:`parse_event`'s fast path).
_VALIDATORS: dict[Any, Any] = {t: cls.__pydantic_validator__ for t, cls in EVENT_TYPES.items()}

#: Events about the deal: they fill the record's ``deal`` milestones.
DEAL_EVENTS: tuple[str, ...] = (
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
#: Events about cases and identity: they fill the record's ``cases`` and ``identity``.
CASE_EVENTS = frozenset({"case_opened", "case_updated", "repair_visit", "case_closed", "identity_observed"})
#: Events that name a case (``case_id``).
CASE_ID_EVENTS = frozenset({"case_opened", "case_updated", "repair_visit", "case_closed"})
#: Deal milestone events and the ``deal`` field each one dates.
MILESTONES = {
    "trial_started": "trial_started_at",
    "trial_ended": "trial_ended_at",
    "contract_sent": "contract_sent_at",
    "contract_returned": "contract_returned_at",
    "payment_received": "first_payment_at",
    "service_accepted": "accepted_at",
}
# a milestone of a new deal cycle clears the later half of an old pair
CYCLE_PAIRS = {"trial_started_at": "trial_ended_at", "contract_sent_at": "contract_returned_at"}


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
            if isinstance(event, BaseEvent)
            else (event.get("type") if isinstance(event, Mapping) else type(event).__name__)
        )
        where = f"event {index}" if index is not None else "event"
        who = f" for customer {customer_id!r}" if customer_id is not None else ""
        self.args = (f"{where} ({kind!s}{who}): {message}",)

    def __str__(self) -> str:
        return str(self.args[0])


def parse_event(event: Any, index: int | None = None) -> BaseEvent:
    """Validate an event given as a model or a mapping (raises :class:`EventError`)."""
    if type(event) is dict:
        # the class its type names validates it directly (what the union does
        # after reading the tag); anything it refuses goes through the union
        # below, so errors name their place exactly as before
        kind = event.get("type")
        validator = _VALIDATORS.get(kind) if isinstance(kind, str) else None
        if validator is not None:
            try:
                return validator.validate_python(event)  # type: ignore[no-any-return]
            except ValidationError:
                pass
    elif isinstance(event, BaseEvent):
        return event
    try:
        parsed: BaseEvent = EVENT_ADAPTER.validate_python(event)
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
