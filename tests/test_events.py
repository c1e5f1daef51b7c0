"""Customer event streams (``engine.stream()``): the deal-stage statechart,
crisis detection in event time, the crisis phase chart with its escalations,
rejected events, replay, snapshots and memory.

Scenarios follow SCHEMES.md §2 (deal stage) and §9 (satisfaction E
warnings, the F and G overlays, crisis phases and the procedure on G).
"""

from __future__ import annotations

import datetime as dt
import gc
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from stream_support import day, ev, histories

import customer_rules as cr
from customer_rules.backends import durable as durable_backend
from customer_rules.streams.events import (
    EVENT_ADAPTER,
    EVENT_TYPES,
    EventError,
    RepairVisit,
    parse_event,
    sample_events,
)
from customer_rules.streams.stream import Change, EscalationError

# Every test runs on both stream backends: python (the default, every CPython) and
# durable_rules (where it is installed); the same assertions hold on both.
STREAM_BACKENDS = [
    "python",
    pytest.param(
        "durable",
        marks=pytest.mark.skipif(
            not durable_backend.available(), reason="durable_rules is not installed here"
        ),
    ),
]


@pytest.fixture(autouse=True, scope="module", params=STREAM_BACKENDS)
def stream_backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """``engine.stream()`` in this module runs on the backend of the parameter."""
    backend: str = request.param
    original = cr.Engine.stream

    def stream(self: cr.Engine, **options: Any) -> Any:
        options.setdefault("backend", backend)
        return original(self, **options)

    cr.Engine.stream = stream  # type: ignore[method-assign]
    try:
        yield backend
    finally:
        cr.Engine.stream = original  # type: ignore[method-assign]


ENGINE = cr.Engine(load_entry_points=False)


def run(stream: Any, *events: dict[str, Any]) -> list[Change]:
    out: list[Change] = []
    for e in events:
        out.extend(stream.post(e))
    return out


def kinds(changes: list[Change], kind: str) -> list[tuple[Any, ...]]:
    return [(c.previous, c.current, c.rule) for c in changes if c.kind == kind]


def agrees_with_classify(stream: Any, cid: str = "c1") -> None:
    snap = stream.snapshot(cid)
    profile = ENGINE.classify(stream.record(cid), as_of=stream.clock(cid), schemes=list(snap))
    assert snap == {scheme: profile[scheme].label for scheme in snap}


class Escalations:
    """A plugin recording every escalate call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None, list[str]]] = []

    @cr.hookimpl
    def escalate(self, case: Any, decision: Any, plan: list[str], customer: Any) -> None:
        self.calls.append((case.id, decision.label if decision is not None else None, plan))


# ---------------------------------------------------------------------------
# deal stage (SCHEMES.md §2)
# ---------------------------------------------------------------------------


def test_the_stage_walks_potential_trial_intent_quasi_formal() -> None:
    s = ENGINE.stream()
    steps = [
        (ev("contact", 0), None),
        (ev("trial_started", 2), ("potential", "trial", "trial_started")),
        (ev("trial_ended", 9), None),
        (ev("terms_agreed", 10), ("trial", "intent", "needs_and_price_confirmed")),
        (ev("contract_sent", 11), None),
        (ev("payment_received", 14), ("intent", "quasi", "agreed_contracted_paying")),
        (ev("service_accepted", 30), ("quasi", "formal", "paid_and_accepted")),
    ]
    for event, expected in steps:
        changes = s.post(event)
        stages = kinds(changes, "stage")
        assert stages == ([expected] if expected else []), event
        for c in changes:
            assert c.event.type == event["type"] and c.at == event["at"]  # the event that caused it
        agrees_with_classify(s)
    assert s.snapshot("c1")["deal_stage"] == "formal"


def test_a_stage_change_names_its_reason() -> None:
    s = ENGINE.stream()
    (change,) = s.post(ev("trial_started", 0))
    assert change.kind == "stage" and change.scheme == "deal_stage"
    assert change.reasons == ("The customer has started a trial of our product or service",)


def test_intent_needs_the_trial_to_be_done() -> None:
    s = ENGINE.stream()
    run(s, ev("trial_started", 0), ev("terms_agreed", 3))
    assert s.snapshot("c1")["deal_stage"] == "trial"
    assert kinds(s.post(ev("trial_ended", 5)), "stage") == [("trial", "intent", "needs_and_price_confirmed")]


def test_quasi_needs_terms_a_contract_and_a_payment() -> None:
    s = ENGINE.stream()
    run(s, ev("trial_started", 0), ev("trial_ended", 3), ev("terms_agreed", 4), ev("payment_received", 6))
    assert s.snapshot("c1")["deal_stage"] == "intent"  # paying, but no contract yet
    assert kinds(s.post(ev("contract_returned", 7)), "stage") == [
        ("intent", "quasi", "agreed_contracted_paying")
    ]


def test_a_paid_and_accepted_service_is_formal_whatever_came_before() -> None:
    # the path is not rigid: no trial, no terms
    s = ENGINE.stream()
    changes = run(s, ev("payment_received", 0), ev("service_accepted", 2))
    assert kinds(changes, "stage") == [("potential", "formal", "paid_and_accepted")]


def test_lost_only_on_a_lost_event_and_back_to_potential_only_on_a_later_contact() -> None:
    s = ENGINE.stream()
    run(s, ev("trial_started", 0))
    assert kinds(s.post(ev("lost", 5)), "stage") == [("trial", "lost", "lost")]
    # a contact on the day of the loss is not after it
    assert s.post(ev("contact", 5)) == []
    assert s.snapshot("c1")["deal_stage"] == "lost"
    assert kinds(s.post(ev("contact", 6)), "stage") == [("lost", "potential", "contacted_after_loss")]
    agrees_with_classify(s)


def test_a_milestone_after_the_loss_wins_the_customer_back() -> None:
    s = ENGINE.stream()
    run(s, ev("trial_started", 0), ev("trial_ended", 3), ev("lost", 5))
    # milestones before the loss no longer count: a new trial does
    assert kinds(s.post(ev("trial_started", 9)), "stage") == [("lost", "trial", "trial_started")]
    agrees_with_classify(s)


def test_withdrawing_a_confirmation_moves_back() -> None:
    s = ENGINE.stream()
    run(s, ev("trial_started", 0), ev("trial_ended", 3), ev("terms_agreed", 4))
    changes = s.post(ev("terms_agreed", 6, price_confirmed=False))
    assert kinds(changes, "stage") == [("intent", "trial", "trial_started")]


def test_events_that_are_not_about_the_deal_leave_the_stage_alone() -> None:
    s = ENGINE.stream()
    run(s, ev("trial_started", 0))
    changes = run(
        s, ev("case_opened", 1, case_id="k1"), ev("tick", 3), ev("identity_observed", 4, identity="fleet")
    )
    assert kinds(changes, "stage") == []
    assert s.snapshot("c1")["deal_stage"] == "trial"


def test_the_statechart_refuses_a_move_the_event_may_not_cause() -> None:
    # a firm's own deal_stage whose rules would send a customer back on a contact
    policy = cr.Policy.model_validate(
        {
            "id": "deal_stage",
            "hit": "first",
            "labels": [
                {"id": "lost", "zh": "流失", "en": "lost"},
                {"id": "trial", "zh": "试用", "en": "trial"},
                {"id": "potential", "zh": "潜在", "en": "potential"},
            ],
            "rules": [
                {"id": "recent_contact", "when": "deal.last_contact_at is not missing", "then": "potential"},
                {"id": "trial", "when": "deal.trial_started_at is not missing", "then": "trial"},
            ],
            "default": "potential",
        }
    )
    engine = cr.Engine([policy], load_entry_points=False, block=["customer_rules.schemes.deal_stage"])
    s = engine.stream()
    run(s, ev("trial_started", 0))
    (refused,) = s.post(ev("contact", 2))
    assert (refused.kind, refused.previous, refused.current, refused.rule) == (
        "refused",
        "trial",
        "potential",
        "recent_contact",
    )
    assert s.snapshot("c1")["deal_stage"] == "trial"


# ---------------------------------------------------------------------------
# crisis detection in event time (SCHEMES.md §9)
# ---------------------------------------------------------------------------


def crisis(changes: list[Change]) -> list[tuple[Any, ...]]:
    return kinds(changes, "crisis")


def satisfaction(changes: list[Change]) -> list[tuple[Any, ...]]:
    return kinds(changes, "satisfaction")


def test_two_quality_repair_visits_within_30_days_warn() -> None:
    s = ENGINE.stream()
    opened = ev("case_opened", 0, case_id="k1", quality_issue=True, solution_offered=True)
    run(s, opened, ev("repair_visit", 1, case_id="k1"))
    assert s.snapshot("c1")["satisfaction"] == "D"
    changes = s.post(ev("repair_visit", 25, case_id="k1"))
    assert satisfaction(changes) == [("D", "E", "repeated_repairs")]
    assert crisis(changes) == []  # a warning, not yet a crisis


def test_two_repair_visits_further_apart_do_not_warn() -> None:
    s = ENGINE.stream()
    opened = ev("case_opened", 0, case_id="k1", quality_issue=True, solution_offered=True)
    run(s, opened, ev("repair_visit", 1, case_id="k1"))
    assert satisfaction(s.post(ev("repair_visit", 40, case_id="k1"))) == []
    assert s.snapshot("c1")["satisfaction"] == "D"


def test_a_case_unresolved_past_20_days_warns_at_a_later_event() -> None:
    s = ENGINE.stream()
    run(s, ev("case_opened", 0, case_id="k1"))
    assert satisfaction(s.post(ev("contact", 20))) == []  # 20 days: not past
    changes = s.post(ev("contact", 21))
    assert satisfaction(changes) == [(None, "E", "unresolved_too_long")]
    assert "A problem has been open too long without a satisfactory solution" in changes[-1].reasons
    agrees_with_classify(s)


@pytest.mark.parametrize(
    ("flag", "rule"),
    [
        ("media_involved", "outside_parties_involved"),
        ("lawyer_involved", "outside_parties_involved"),
        ("police_involved", "outside_parties_involved"),
        ("media_threat", "exposure_lawsuit_or_extreme"),
        ("legal_threat", "exposure_lawsuit_or_extreme"),
        ("extreme_behaviour_risk", "exposure_lawsuit_or_extreme"),
        ("safety_related", "safety_related"),
    ],
)
def test_g_criteria_raise_a_crisis_with_reasons(flag: str, rule: str) -> None:
    s = ENGINE.stream()
    run(s, ev("case_opened", 0, case_id="k1"))
    changes = s.post(ev("case_updated", 3, case_id="k1", **{flag: True}))
    assert crisis(changes) == [("none", "G", rule)]
    (raised,) = [c for c in changes if c.kind == "crisis"]
    assert raised.reasons and raised.decision is not None and raised.decision.label == "G"
    agrees_with_classify(s)


def test_a_safety_related_complaint_is_a_crisis_from_the_start() -> None:
    s = ENGINE.stream()
    assert crisis(s.post(ev("case_opened", 0, case_id="k1", safety_related=True))) == [
        ("none", "G", "safety_related")
    ]


def test_large_damage_and_refused_repairs_are_crises() -> None:
    s = ENGINE.stream()
    assert crisis(s.post(ev("case_opened", 0, case_id="k1", damage_amount=80000))) == [
        ("none", "G", "large_damage")
    ]
    s = ENGINE.stream()
    run(
        s,
        ev("case_opened", 0, case_id="k1", customer_accepts_repairs=False),
        ev("repair_visit", 5, case_id="k1"),
        ev("repair_visit", 20, case_id="k1"),
    )
    assert crisis(s.post(ev("repair_visit", 40, case_id="k1"))) == [("none", "G", "repairs_refused")]


@pytest.mark.parametrize("identity", ["journalist", "lawyer", "consumer_association", "taxi_driver"])
def test_a_sensitive_identity_with_an_open_case_is_f(identity: str) -> None:
    s = ENGINE.stream()
    assert crisis(s.post(ev("identity_observed", 0, identity=identity))) == []  # no case: no overlay
    changes = s.post(ev("case_opened", 1, case_id="k1"))
    assert crisis(changes) == [("none", "F", "sensitive_identity")]
    assert len(changes[0].reasons) >= 2  # the reason and the handling note of the identity


def test_injury_property_loss_and_batch_problems_are_f() -> None:
    for flag, rule in (("injury", "injury_or_property_loss"), ("batch_issue", "batch_problem")):
        s = ENGINE.stream()
        assert crisis(s.post(ev("case_opened", 0, case_id="k1", **{flag: True}))) == [("none", "F", rule)]


def test_a_crisis_fades_in_event_time_once_the_case_window_has_passed() -> None:
    s = ENGINE.stream()
    run(s, ev("case_opened", 0, case_id="k1", media_threat=True), ev("case_closed", 5, case_id="k1"))
    assert s.snapshot("c1")["crisis"] == "G"  # closed cases count for 30 days
    assert crisis(s.post(ev("contact", 30))) == []
    assert crisis(s.post(ev("tick", 36))) == [("G", "none", None)]
    agrees_with_classify(s)


# ---------------------------------------------------------------------------
# crisis phases and the procedure (SCHEMES.md §9)
# ---------------------------------------------------------------------------


def phases(changes: list[Change]) -> list[tuple[Any, Any]]:
    return [(c.previous, c.current) for c in changes if c.kind == "phase"]


def test_the_phases_of_a_crisis_case_and_their_escalations() -> None:
    hook = Escalations()
    engine = cr.Engine(load_entry_points=False, plugins=[hook])
    s = engine.stream()
    opened = s.post(ev("case_opened", 0, case_id="k1", quality_issue=True))
    assert phases(opened) == [(None, "latent")]
    outbreak = s.post(ev("case_updated", 2, case_id="k1", media_involved=True))
    assert phases(outbreak) == [("latent", "outbreak")]
    (step,) = [c for c in outbreak if c.kind == "escalation"]
    g_strategy = engine.schemes["crisis"].strategies["G"]
    assert step.plan == tuple(a.en for a in g_strategy.actions)  # the G procedure
    assert step.plan[0].startswith("Early warning")
    assert hook.calls == [("k1", "G", list(step.plan))]
    aftermath = s.post(ev("case_closed", 10, case_id="k1"))
    assert phases(aftermath) == [("outbreak", "aftermath")]
    recovery = s.post(ev("tick", 45))
    assert phases(recovery) == [("aftermath", "recovery")]
    assert [c[2][0] for c in hook.calls] == [
        step.plan[0],
        "Carry out what was agreed with the customer and keep them informed",
        "Review the case with the task team and remove the root cause",
    ]
    assert all(call[0] == "k1" for call in hook.calls)
    assert s.phases("c1") == {"k1": "recovery"}
    assert s.stats()["phase_instances"] == 0  # the finished chart is released


def test_a_case_closed_without_a_crisis_ends_quietly() -> None:
    hook = Escalations()
    s = cr.Engine(load_entry_points=False, plugins=[hook]).stream()
    changes = run(
        s, ev("case_opened", 0, case_id="k1"), ev("case_closed", 3, case_id="k1", solution_offered=True)
    )
    assert phases(changes) == [(None, "latent"), ("latent", "ended")]
    assert hook.calls == []
    assert s.stats()["phase_instances"] == 0


def test_only_the_crisis_case_breaks_out() -> None:
    s = ENGINE.stream()
    run(s, ev("case_opened", 0, case_id="calm"), ev("case_opened", 1, case_id="hot"))
    changes = s.post(ev("case_updated", 2, case_id="hot", lawyer_involved=True))
    assert [(c.case_id, c.current) for c in changes if c.kind == "phase"] == [("hot", "outbreak")]
    assert s.phases("c1") == {"calm": "latent", "hot": "outbreak"}


def test_a_failing_escalation_hook_is_reported_after_the_event_is_applied() -> None:
    class Broken:
        @cr.hookimpl
        def escalate(self) -> None:
            raise RuntimeError("pager down")

    s = cr.Engine(load_entry_points=False, plugins=[Broken()]).stream()
    s.post(ev("case_opened", 0, case_id="k1"))
    with pytest.raises(EscalationError, match="pager down") as info:
        s.post(ev("case_updated", 1, case_id="k1", safety_related=True))
    assert [c.kind for c in info.value.changes] == ["crisis", "phase", "escalation"]
    assert s.snapshot("c1")["crisis"] == "G"  # applied
    batch = s.post_many([ev("case_closed", 2, case_id="k1")])
    # one event in: rejected (applied, its hook failed), not also posted (issue 13, item 8)
    assert batch.posted == 0 and len(batch.rejected) == 1 and batch.rejected[0].applied
    assert batch.posted + len(batch.rejected) == 1


def test_escalation_failures_keep_the_batch_counts_invariant() -> None:
    """events in = posted + rejected, with an escalate hook that fails on some events."""

    class Flaky:
        @cr.hookimpl
        def escalate(self, case: Any) -> None:
            if case is not None and case.id == "k1":
                raise RuntimeError("pager down")

    s = cr.Engine(load_entry_points=False, plugins=[Flaky()]).stream()
    events = [ev("case_opened", 0, case_id="k1"), ev("case_opened", 0, case_id="k2")]
    events += [ev("case_updated", 1, case_id=k, safety_related=True) for k in ("k1", "k2")]
    events += [ev("case_updated", 2, case_id="nope", safety_related=True)]  # unknown case: rejected
    batch = s.post_many(events)
    assert batch.posted + len(batch.rejected) == len(events)
    assert [(r.index, r.applied) for r in batch.rejected] == [(2, True), (4, False)]


# ---------------------------------------------------------------------------
# malformed and out-of-order events
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"type": "contact", "at": "2026-03-01"}, "customer_id"),
        (
            {"type": "teleport", "customer_id": "c1", "at": "2026-03-01"},
            "does not match any of the expected tags",
        ),
        ({"type": "contact", "customer_id": "c1", "at": "yesterday"}, "at"),
        ({"type": "contact", "customer_id": "c1", "at": dt.datetime(2026, 3, 1, 9, 0)}, "at"),  # naive
        (
            {
                "type": "case_updated",
                "customer_id": "c1",
                "at": "2026-03-01",
                "case_id": "k1",
                "damage_amount": -5,
            },
            "damage_amount",
        ),
        (
            {"type": "identity_observed", "customer_id": "c1", "at": "2026-03-01", "identity": "spy"},
            "identity",
        ),
        ({"type": "contact", "customer_id": "c1", "at": "2026-03-01", "colour": "red"}, "colour"),
    ],
)
def test_a_malformed_event_is_rejected_naming_it(event: dict[str, Any], message: str) -> None:
    s = ENGINE.stream()
    run(s, ev("trial_started", 0))
    with pytest.raises(EventError, match=message) as info:
        s.post(event)
    assert isinstance(info.value, cr.RecordError)
    assert info.value.event is event
    assert str(info.value).startswith("event (")
    # nothing applied, the stream still works
    assert s.snapshot("c1")["deal_stage"] == "trial"
    assert kinds(s.post(ev("trial_ended", 1)), "stage") == []


def test_an_out_of_order_event_is_rejected_and_changes_nothing() -> None:
    s = ENGINE.stream()
    run(s, ev("contact", 10))
    record = s.record("c1")
    with pytest.raises(EventError, match="out of order") as info:
        s.post(ev("trial_started", 9))
    assert info.value.record_id == "c1"
    assert s.record("c1") == record and s.clock("c1") == day(10)
    assert kinds(s.post(ev("trial_started", 10)), "stage") == [("potential", "trial", "trial_started")]


def test_same_day_events_may_come_in_any_order_and_datetimes_count_by_their_date() -> None:
    s = ENGINE.stream()
    tz = dt.timezone(dt.timedelta(hours=8))
    s.post({"type": "contact", "customer_id": "c1", "at": dt.datetime(2026, 3, 1, 18, 0, tzinfo=tz)})
    s.post(ev("trial_started", 0))  # a date: the same day, accepted
    assert s.clock("c1") == day(0)


def test_case_events_must_refer_to_an_open_case() -> None:
    s = ENGINE.stream()
    with pytest.raises(EventError, match="unknown case 'k9'"):
        s.post(ev("repair_visit", 0, case_id="k9"))
    run(s, ev("case_opened", 1, case_id="k1"))
    with pytest.raises(EventError, match="already open"):
        s.post(ev("case_opened", 2, case_id="k1"))
    run(s, ev("case_closed", 3, case_id="k1"))
    with pytest.raises(EventError, match="already closed"):
        s.post(ev("case_closed", 4, case_id="k1"))


def test_a_batch_keeps_going_and_loses_nothing() -> None:
    s = ENGINE.stream()
    events = [
        ev("contact", 0),
        {"type": "contact", "customer_id": "c1"},  # no date
        ev("trial_started", 2),
        ev("contact", 1),  # out of order
        RepairVisit(customer_id="c2", at=day(3), case_id="k1"),  # unknown case
        ev("trial_ended", 4),
    ]
    result = s.post_many(events)
    assert [r.index for r in result.rejected] == [1, 3, 4]
    assert result.posted + len(result.rejected) == len(events)
    assert all(isinstance(r.error, EventError) and r.error.index == r.index for r in result.rejected)
    assert "event 3 (contact for customer 'c1')" in str(result.rejected[1].error)
    assert kinds(result.changes, "stage") == [("potential", "trial", "trial_started")]


# ---------------------------------------------------------------------------
# replay, snapshots, sessions
# ---------------------------------------------------------------------------


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories())
def test_the_snapshot_equals_classify_of_the_record_built_from_the_events(
    events: list[dict[str, Any]],
) -> None:
    s = ENGINE.stream()
    for e in events:
        s.post(e)
        agrees_with_classify(s, e["customer_id"])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories())
def test_replaying_the_same_events_gives_the_same_changes(events: list[dict[str, Any]]) -> None:
    first = [c.key() for c in ENGINE.stream().post_many(events)]
    second = [c.key() for c in ENGINE.stream().post_many(events)]
    assert first == second


def test_streams_of_one_engine_share_rulesets_but_not_customers() -> None:
    engine = cr.Engine(load_entry_points=False)
    first = engine.stream()
    run(
        first,
        ev("contact", 0),
        ev("trial_started", 2),
        ev("case_opened", 3, case_id="K1", safety_related=True),
    )
    assert first.snapshot("c1")["deal_stage"] == "trial"
    assert first.phases("c1") == {"K1": "outbreak"}
    second = engine.stream()
    assert "c1" not in second
    assert second.stats() == {"customers": 0, "stage_instances": 0, "phase_instances": 0}
    # the same customer starts afresh in the new stream, while the first stream keeps its state
    assert kinds(run(second, ev("contact", 5), ev("trial_started", 6)), "stage") == [
        ("potential", "trial", "trial_started")
    ]
    assert second.phases("c1") == {}
    assert first.phases("c1") == {"K1": "outbreak"}
    agrees_with_classify(second)
    # an engine with other parameters decides with them
    strict = engine.with_params("deal_stage", intent_requires_trial=False)
    s = strict.stream()
    stages = kinds(run(s, ev("contact", 0), ev("terms_agreed", 1)), "stage")
    assert stages and stages[-1][1] == "intent"
    assert kinds(run(engine.stream(), ev("contact", 0), ev("terms_agreed", 1)), "stage") == []


def test_the_record_is_a_valid_customer_built_from_the_events() -> None:
    s = ENGINE.stream()
    run(
        s,
        ev("contact", 0, kind="visit", note="first visit"),
        ev("trial_started", 1),
        ev("trial_ended", 4),
        ev("lost", 6),
        ev("trial_started", 9),  # a new cycle: the old trial end no longer pairs with it
        ev("identity_observed", 10, identity="lawyer"),
        ev("case_opened", 11, case_id="k1", severity="major"),
        ev("repair_visit", 12, case_id="k1"),
    )
    record = s.record("c1")
    assert record.deal.first_contact_at == day(0)
    assert record.deal.trial_started_at == day(9) and record.deal.trial_ended_at is None
    assert record.deal.lost_at == day(6)
    assert record.identity == ("lawyer",)
    assert record.interactions[0].note == "first visit"
    (case,) = record.cases
    assert (case.id, case.opened_at, case.severity, case.repair_visits) == (
        "k1",
        day(11),
        "major",
        (day(12),),
    )
    assert cr.Customer.model_validate(record.model_dump()) == record


def test_release_forgets_a_customer_and_idle_customers_go_by_themselves() -> None:
    s = ENGINE.stream(idle_days=60)
    run(s, ev("trial_started", 0, "old"), ev("case_opened", 1, "old", case_id="k1"))
    run(s, ev("contact", 50, "new"))
    assert set(s.customers()) == {"old", "new"}
    run(s, ev("contact", 70, "new"))  # "old" was last seen 69 days before the latest event
    assert s.customers() == ["new"]
    assert s.stats()["customers"] == 1 and s.stats()["phase_instances"] == 0
    s.release("new")
    assert len(s) == 0
    with pytest.raises(KeyError, match="never seen, or released"):
        s.snapshot("new")


def test_memory_stays_flat_over_a_long_stream() -> None:
    """20k events (the 200k-event run is benchmarks/bench_events.py)."""

    def rss_mb() -> float:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4096 / 1e6

    s = ENGINE.stream(idle_days=120)
    cohorts = [
        sample_events(500, seed=k, start=dt.date(2000, 1, 1) + dt.timedelta(days=400 * k), prefix=f"L{k}-")
        for k in range(5)
    ]
    s.post_many(cohorts[0])  # warm up
    gc.collect()
    before = rss_mb()
    posted = 0
    for cohort in cohorts[1:]:
        posted += s.post_many(cohort).posted
    gc.collect()
    after = rss_mb()
    assert posted >= 15_000
    assert s.stats()["customers"] <= 600  # earlier cohorts were released
    assert after - before < 25, (before, after)


_FIELD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.floats(allow_nan=True),
    st.text(max_size=3),
    st.sampled_from(["2026-03-01", "2026-03-01T10:00:00+08:00", "2026-03-01T10:00:00", dt.date(2026, 3, 1)]),
    st.sampled_from(["minor", "call", "journalist", "k1"]),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from([*EVENT_TYPES, "nope", 3]),
    fields=st.dictionaries(
        st.sampled_from(
            ["customer_id", "at", "case_id", "kind", "note", "amount", "identity", "severity",
             "media_threat", "damage_amount", "needs_confirmed", "colour"]
        ),
        _FIELD_VALUES,
        max_size=6,
    ),
)
def test_a_dict_event_parses_as_the_event_union_does(kind: Any, fields: dict[str, Any]) -> None:
    """parse_event validates a dict with its type's class directly: the same event, or
    the same errors, as the discriminated union gives."""
    event = {"type": kind, "customer_id": "c1", "at": "2026-03-01", **fields}
    try:
        expected: Any = EVENT_ADAPTER.validate_python(event)
    except ValidationError as exc:
        with pytest.raises(EventError) as info:
            parse_event(event)
        assert info.value.errors == [
            (".".join(str(p) for p in e["loc"]) or "(event)", e["msg"]) for e in exc.errors()
        ]
        return
    parsed = parse_event(event)
    assert type(parsed) is type(expected)
    assert parsed == expected
    assert parsed.model_fields_set == expected.model_fields_set


def test_session_copies_equal_pydantic_copies() -> None:
    """The session's fast copies of its empty models equal ``model_copy``'s."""
    from customer_rules.streams.session import (
        _EMPTY_CASE,
        _EMPTY_CUSTOMER,
        _EMPTY_DEAL,
        _EMPTY_INTERACTION,
        _copy_with,
    )

    updates = [
        (_EMPTY_DEAL, {"first_contact_at": dt.date(2026, 1, 2), "terms_agreed": True}),
        (_EMPTY_INTERACTION, {"at": dt.date(2026, 1, 2), "kind": "call", "note": None}),
        (_EMPTY_CASE, {"id": "k1", "opened_at": dt.date(2026, 1, 2), "repair_visits": (dt.date(2026, 1, 3),)}),
        (_EMPTY_CUSTOMER, {"id": "c1", "identity": ("lawyer",), "deal": _EMPTY_DEAL}),
    ]
    for model, update in updates:
        fast, slow = _copy_with(model, update), model.model_copy(update=update)
        assert type(fast) is type(slow)
        assert fast == slow
        assert fast.model_fields_set == slow.model_fields_set
        assert fast.model_dump() == slow.model_dump()
