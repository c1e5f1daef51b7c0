"""Request and response bodies of the HTTP service; the OpenAPI document is made from these."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

Lang = Literal["en", "zh"]
Explain = Literal["none", "short", "full"]

_REQ = ConfigDict(extra="forbid")

RECORD_DOC = (
    "A customer record (the fields of customer_rules.Customer; `id` required). "
    "An invalid record is answered with a problem naming the fields."
)


class ClassifyOptions(BaseModel):
    """How to classify: when, which schemes, which language, how much explanation."""

    model_config = _REQ

    as_of: dt.date | AwareDatetime = Field(
        description="The date every time window is computed against (required: the service never reads the clock)."
    )
    schemes: list[str] | None = Field(default=None, description="Scheme ids to decide (default: every one).")
    lang: Lang = Field(default="en", description="Language of label names and explanations.")
    explain: Explain = Field(
        default="none",
        description="`none`, `short` (the deciding rule's reason) or `full` (the whole account).",
    )


class ClassifyRequest(ClassifyOptions):
    """One record to classify."""

    record: dict[str, Any] = Field(description=RECORD_DOC)


class BatchRequest(ClassifyOptions):
    """Many records to classify (JSON); NDJSON bodies carry one record a line instead."""

    records: list[Any] = Field(description="Records to classify; invalid ones come back as rejected rows.")


class PolicyRef(BaseModel):
    """A scheme's policy: its id and version."""

    id: str
    version: str


class DecisionOut(BaseModel):
    """One scheme's decision."""

    scheme: str
    label: str | None
    label_name: str | None
    labels: list[str]
    rule: str | None
    flags: list[str]
    missing: list[str]
    note: str | None
    policy: PolicyRef
    strategy: dict[str, Any] | None = Field(description="The label's strategy (what to do, avoid, cadence).")
    explanation: str | None = Field(description="Present when `explain` is `short` or `full`.")


class ProfileOut(BaseModel):
    """Every decided scheme for one record."""

    record_id: str
    as_of: dt.date
    labels: dict[str, str | None]
    decisions: list[DecisionOut]
    skipped: dict[str, str] = Field(description="Schemes not decided, and why (e.g. not fitted).")


class ServedMixin(BaseModel):
    """What every decision response says about the policies it was decided with."""

    policies: dict[str, str] = Field(description="scheme id → policy version served.")
    generation: int = Field(description="The engine generation (incremented by every reload).")


class ClassifyResponse(ProfileOut, ServedMixin):
    """The profile of one record."""


class RejectedRow(BaseModel):
    """A row the batch could not classify."""

    row: int = Field(description="0-based position in the request.")
    record_id: str | None
    reason: str


class BatchResponse(ServedMixin):
    """Profiles for the rows that worked, plus the rejected rows: rows in = results + rejected."""

    results: list[ProfileOut]
    rejected: list[RejectedRow]


class SchemeSummary(BaseModel):
    """A scheme in the list."""

    id: str
    kind: str
    version: str
    labels: list[str]
    plugin: str | None


class LabelOut(BaseModel):
    """A label and its names."""

    id: str
    name: str


class SchemeDetail(SchemeSummary):
    """A scheme: labels with names, parameters, policy version."""

    description: str | None
    label_names: list[LabelOut]
    params: dict[str, Any]
    population_relative: bool
    fitted: bool


class EventsRequest(BaseModel):
    """Customer events (see customer_rules.EventStream for the event types), applied in order."""

    model_config = _REQ

    events: list[dict[str, Any]] = Field(description="Events; each has `type`, `customer_id` and `at`.")


class StepOut(BaseModel):
    """One step of an escalation's plan, in English and Chinese."""

    en: str
    zh: str = Field(description="The step in Chinese (English when the plan gave it in English only).")


class ChangeOut(BaseModel):
    """One thing an event changed."""

    kind: str
    customer_id: str
    at: dt.date
    scheme: str | None
    previous: str | None
    current: str | None
    rule: str | None
    case_id: str | None
    plan: list[str] = Field(description="An escalation's plan, in English.")
    steps: list[StepOut] = Field(description="The same plan, step by step, in English and Chinese.")
    reasons: list[str]


class RejectedEventOut(BaseModel):
    """An event that failed; `applied` only when an escalation hook failed after applying it."""

    index: int
    reason: str
    applied: bool


class EventsResponse(ServedMixin):
    """What the events changed: events in = posted + rejected."""

    changes: list[ChangeOut]
    rejected: list[RejectedEventOut]
    posted: int


class ReloadResponse(ServedMixin):
    """The engine now served."""


class RecordChanged(BaseModel):
    """A CRM's "record changed" webhook: the record as it is now."""

    model_config = _REQ

    record: dict[str, Any] = Field(description=RECORD_DOC)
    as_of: dt.date | AwareDatetime
    schemes: list[str] | None = None
    event_id: str | None = Field(default=None, description="The CRM's id of the change, echoed back.")


class LabelChange(BaseModel):
    """A label that moved."""

    scheme: str
    previous: str | None
    current: str | None


class WebhookResponse(ServedMixin):
    """Labels that changed since the last webhook for this record, and whether the callback got them."""

    record_id: str
    event_id: str | None
    changed: list[LabelChange]
    delivered: bool | None = Field(description="null: nothing to send or no callback configured.")


class Health(BaseModel):
    """Liveness / readiness."""

    status: str
    generation: int | None = None
    schemes: int | None = None


class Problem(BaseModel):
    """An RFC 9457 problem (application/problem+json)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[dict[str, Any]] | None = None
