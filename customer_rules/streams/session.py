"""What an event stream knows about one customer, built from their events.

A :class:`Session` keeps the customer's deal milestones, interactions,
identity and cases as the events describe them, and the record the rules
read (rebuilt only when an event changed something), plus the state of the
customer's statecharts.
"""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any, TypeVar

from pydantic import BaseModel

from customer_rules.model.records import Case, Customer, Deal, Interaction
from customer_rules.streams.events import (
    CASE_FACTS,
    CASE_ID_EVENTS,
    CYCLE_PAIRS,
    DEAL_EVENTS,
    MILESTONES,
    BaseEvent,
    CaseClosed,
    CaseFacts,
    CaseOpened,
    CaseUpdated,
    Contact,
    IdentityObserved,
    Lost,
    RepairVisit,
    TermsAgreed,
)

# ---------------------------------------------------------------------------
# A customer's session
# ---------------------------------------------------------------------------


class Session:
    """What the stream knows about one customer, built from their events."""

    __slots__ = (
        "_cases_cache",
        "_contacts",
        "_deal",
        "_deal_view",
        "_interactions",
        "_record",
        "activity",
        "cases",
        "clock",
        "closed",
        "deal",
        "dirty_cases",
        "evaluated",
        "events",
        "id",
        "identity",
        "labels",
        "phase_inputs",
        "phases",
        "stages",
    )

    def __init__(self, customer_id: str) -> None:
        self.id = customer_id
        self.clock: dt.date | None = None
        self.events = 0
        self.deal: dict[str, Any] = {}
        self._interactions: list[Interaction] = []  # read through interaction_list()
        self._contacts: list[dict[str, Any]] = []  # contacts not made Interaction records yet
        self.identity: list[str] = []
        self.cases: dict[str, dict[str, Any]] = {}
        self.closed: dict[str, dt.date] = {}
        self.activity: dict[str, dt.date] = {}  # day of the latest event about each case
        self.dirty_cases: set[str] = set()
        self._cases_cache: dict[str, Case] = {}
        self._record: Customer | None = None
        self._deal: Deal | None = None
        self._deal_view: SimpleNamespace | None = None
        self.stages: dict[str, str] = {}  # stage scheme -> state, once its chart ran
        self.labels: dict[str, str | None] = {}  # case chart scheme -> label
        self.evaluated: dt.date | None = None  # day the case charts were last decided
        self.phases: dict[str, str] = {}
        self.phase_inputs: dict[str, tuple[bool, bool]] = {}  # what the phase chart last saw

    # -- building the record -------------------------------------------------
    def apply(self, event: BaseEvent, day: dt.date) -> None:
        t = event.type
        deal = self.deal
        if isinstance(event, Contact):
            deal.setdefault("first_contact_at", day)
            deal["last_contact_at"] = day
            # made a record only when a whole record is needed (a deal-only chart never needs it)
            self._contacts.append({"at": day, "kind": event.kind, "note": event.note})
        elif t in MILESTONES:
            name = MILESTONES[t]
            old = deal.get(name)
            lost = deal.get("lost_at")
            # the first occurrence in the current deal cycle (after the latest loss)
            if old is None or (lost is not None and old <= lost):
                deal[name] = day
                later = CYCLE_PAIRS.get(name)
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
        if t in CASE_ID_EVENTS:
            self.activity[event.case_id] = day  # type: ignore[attr-defined]
        if t in DEAL_EVENTS:
            self._deal = None
            self._deal_view = None
        self._record = None

    def interaction_list(self) -> list[Interaction]:
        """The customer's interactions as records, in event order."""
        if self._contacts:
            self._interactions.extend(_copy_with(_EMPTY_INTERACTION, c) for c in self._contacts)
            self._contacts.clear()
        return self._interactions

    def deal_record(self) -> Deal:
        deal = self._deal
        if deal is None:
            deal = self._deal = _copy_with(_EMPTY_DEAL, self.deal)
        return deal

    def deal_view(self) -> SimpleNamespace:
        """A light record for rules that read deal fields only: its ``id``, and
        its ``deal`` as plain attributes (every field of :class:`Deal`, unset
        ones at their defaults) rather than a :class:`Deal` record — rules
        that read fields only read them as attributes, and building a record
        for every deal event cost more than deciding the stage."""
        view = self._deal_view
        if view is None:
            view = self._deal_view = SimpleNamespace(
                id=self.id, deal=SimpleNamespace(**{**_DEAL_DEFAULTS, **self.deal})
            )
        return view

    def fast_record(self) -> Customer:
        """The customer as a record for evaluating rules: copies of validated
        empty models with the session's values put in (every value came from
        a validated event), rebuilt only when an event changed something."""
        record = self._record
        if record is None:
            cache = self._cases_cache
            for cid in self.dirty_cases:
                data = self.cases[cid]
                cache[cid] = _copy_with(_EMPTY_CASE, {**data, "repair_visits": tuple(data["repair_visits"])})
            self.dirty_cases.clear()
            record = self._record = _copy_with(
                _EMPTY_CUSTOMER,
                {
                    "id": self.id,
                    "identity": tuple(self.identity),
                    "deal": self.deal_record(),
                    "cases": tuple(cache[c] for c in self.cases),
                    "interactions": tuple(self.interaction_list()),
                },
            )
        return record

    def record_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "identity": list(self.identity),
            "deal": dict(self.deal),
            "cases": [{**c, "repair_visits": list(c["repair_visits"])} for c in self.cases.values()],
            "interactions": [i.model_dump(exclude_none=True) for i in self.interaction_list()],
        }

    def only_case(self, case_id: str) -> Customer:
        """The record with one case only (to tell which case holds a label)."""
        full = self.fast_record()
        case = next(k for k in full.cases if k.id == case_id)
        return _copy_with(full, {"cases": (case,)})

    def live_cases(self, day: dt.date, horizon: int) -> bool:
        """Whether any case is open at ``day``, or had an event (a closing, a late
        repair visit ...) at most ``horizon`` days before it."""
        if len(self.closed) < len(self.cases):
            return True
        return any((day - last).days <= horizon for last in self.activity.values())


_M = TypeVar("_M", bound=BaseModel)


def _copy_with(model: _M, update: dict[str, Any]) -> _M:
    """``model.model_copy(update=update)`` for the session's models, without
    pydantic's generic copying (a quarter of the time; a stream makes one
    for most events): the same field values, fields set, and no extra or
    private values (the record models forbid extra fields and have no
    private attributes, which the module checks once below)."""
    cls = type(model)
    new = cls.__new__(cls)
    _set(new, "__dict__", {**model.__dict__, **update})
    _set(new, "__pydantic_extra__", None)
    _set(new, "__pydantic_fields_set__", model.__pydantic_fields_set__ | update.keys())
    _set(new, "__pydantic_private__", None)
    return new


_set = object.__setattr__
_EMPTY_CUSTOMER = Customer(id="-")
_EMPTY_DEAL = Deal()
_EMPTY_CASE = Case(id="-", opened_at=dt.date(2000, 1, 1))
_EMPTY_INTERACTION = Interaction(at=dt.date(2000, 1, 1))
#: every field of an empty Deal: what the deal view holds for fields no event set
_DEAL_DEFAULTS: dict[str, Any] = dict(_EMPTY_DEAL.__dict__)
for _empty in (_EMPTY_CUSTOMER, _EMPTY_DEAL, _EMPTY_CASE, _EMPTY_INTERACTION):
    # what _copy_with relies on (a record model with private attributes or extra fields would need them copied)
    assert _empty.__pydantic_private__ is None and _empty.__pydantic_extra__ is None, type(_empty)


def _facts(event: CaseFacts) -> dict[str, Any]:
    return {name: getattr(event, name) for name in event.model_fields_set if name in CASE_FACTS}
