"""Helpers shared by the event-stream tests: events by day number and
random, valid event histories (hypothesis)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import strategies as st

from customer_rules.streams.events import DEAL_EVENTS

START = dt.date(2026, 3, 1)


def day(n: int) -> dt.date:
    return START + dt.timedelta(days=n)


def ev(event_type: str, n: int, cid: str = "c1", /, **fields: Any) -> dict[str, Any]:
    return {"type": event_type, "customer_id": cid, "at": day(n), **fields}


CASE_FLAGS = (
    "media_threat",
    "legal_threat",
    "safety_related",
    "injury",
    "hostile_tone",
    "calmed",
    "media_involved",
    "quality_issue",
    "customer_accepts_repairs",
    "solution_offered",
    "exposed",
)


@st.composite
def histories(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Random, valid event histories of two customers."""
    n = 0
    events: list[dict[str, Any]] = []
    cases: dict[str, list[str]] = {"a": [], "b": []}
    closed: set[str] = set()
    for _ in range(draw(st.integers(1, 25))):
        n += draw(st.sampled_from([0, 0, 1, 4, 12, 25, 45]))
        cid = draw(st.sampled_from(["a", "b"]))
        kind = draw(st.sampled_from([*DEAL_EVENTS, "case_opened", "case_event", "identity_observed", "tick"]))
        fields: dict[str, Any] = {}
        if kind == "terms_agreed":
            fields = {k: draw(st.booleans()) for k in ("needs_confirmed", "price_confirmed", "terms_agreed")}
        elif kind == "identity_observed":
            fields = {"identity": draw(st.sampled_from(["journalist", "lawyer", "taxi_driver", "fleet"]))}
        elif kind in ("case_opened", "case_event"):
            if kind == "case_opened" or not cases[cid]:
                case = f"{cid}{len(cases[cid])}"
                cases[cid].append(case)
                kind = "case_opened"
            else:
                case = draw(st.sampled_from(cases[cid]))
                kind = draw(st.sampled_from(["case_updated", "repair_visit", "case_closed"]))
                if kind == "case_closed":
                    if case in closed:
                        kind = "case_updated"
                    closed.add(case)
            fields = {"case_id": case}
            if kind != "repair_visit":
                fields.update(
                    {f: draw(st.booleans()) for f in draw(st.lists(st.sampled_from(CASE_FLAGS), max_size=2))}
                )
                if draw(st.integers(0, 9)) == 0:
                    fields["damage_amount"] = draw(st.sampled_from([100.0, 60000.0]))
        events.append(ev(kind, n, cid, **fields))
    return events
