"""The built-in ``deal_stage`` scheme (SCHEMES.md §2): potential → trial →
intent → quasi → formal as a snapshot on as_of, and `lost`."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from scheme_support import AS_OF, assert_bilingual_strategies, days_ago, decide

from customer_rules import Customer, Engine

pytestmark = pytest.mark.usefixtures("frame_backend")  # the frame backend, also on small tables

SCHEME = "deal_stage"
LABELS = ("lost", "formal", "quasi", "intent", "trial", "potential")


def ago(n: int) -> str:
    return days_ago(n).isoformat()


TRIAL = {"first_contact_at": ago(60), "trial_started_at": ago(40)}
TRIAL_DONE = {**TRIAL, "trial_ended_at": ago(30)}
CONFIRMED = {"needs_confirmed": True, "price_confirmed": True}
INTENT = {**TRIAL_DONE, **CONFIRMED}
QUASI = {**INTENT, "terms_agreed": True, "contract_sent_at": ago(20), "first_payment_at": ago(10)}
FORMAL = {**QUASI, "contract_returned_at": ago(15), "accepted_at": ago(5)}


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(load_entry_points=False)


CASES = [
    # potential
    pytest.param({}, "potential", id="§2 potential: never contacted"),
    pytest.param(
        {"first_contact_at": ago(400), "last_contact_at": ago(390)},
        "potential",
        id="§2 potential: contacted long ago",
    ),
    pytest.param({"first_contact_at": ago(3)}, "potential", id="§2 potential: contacted but not engaged yet"),
    # trial
    pytest.param(TRIAL, "trial", id="§2 trial: has started a trial"),
    pytest.param({"trial_started_at": ago(0)}, "trial", id="§2 trial boundary: trial starts on as_of"),
    pytest.param(
        {"trial_started_at": (AS_OF + dt.timedelta(days=1)).isoformat()},
        "potential",
        id="§2 trial boundary: trial starts the day after as_of",
    ),
    pytest.param(
        {**TRIAL, **CONFIRMED},
        "trial",
        id="§2 trial: needs and price confirmed during the trial (trial not done)",
    ),
    # intent
    pytest.param(INTENT, "intent", id="§2 intent: trial done, needs and price confirmed"),
    pytest.param(
        {**TRIAL_DONE, "needs_confirmed": True, "price_confirmed": False},
        "trial",
        id="§2 intent: price not confirmed",
    ),
    pytest.param(
        {**TRIAL_DONE, "needs_confirmed": None, "price_confirmed": True},
        "trial",
        id="§2 intent: needs not confirmed",
    ),
    pytest.param({**CONFIRMED}, "potential", id="§2 intent: confirmed without any trial"),
    # quasi
    pytest.param(QUASI, "quasi", id="§2 quasi: terms agreed, contract sent, first payment"),
    pytest.param(
        {**QUASI, "contract_sent_at": None, "contract_returned_at": None},
        "intent",
        id="§2 quasi: no contract sent or returned",
    ),
    pytest.param({**QUASI, "first_payment_at": None}, "intent", id="§2 quasi: not paying yet"),
    pytest.param({**QUASI, "terms_agreed": False}, "intent", id="§2 quasi: terms not agreed"),
    pytest.param(
        {
            "terms_agreed": True,
            "contract_sent_at": ago(9),
            "contract_returned_at": ago(8),
            "first_payment_at": ago(7),
        },
        "quasi",
        id="§2 quasi: path not rigid, no trial needed",
    ),
    # formal
    pytest.param(FORMAL, "formal", id="§2 formal: paid and accepted our service"),
    pytest.param({**FORMAL, "accepted_at": None}, "quasi", id="§2 formal: paid but not accepted yet"),
    pytest.param(
        {"first_payment_at": ago(30), "accepted_at": ago(20)},
        "formal",
        id="§2 formal: highest stage whose conditions hold",
    ),
    # lost
    pytest.param({**TRIAL_DONE, "lost_at": ago(10)}, "lost", id="§2 lost: lost after the last milestone"),
    pytest.param({**TRIAL, "lost_at": ago(0)}, "lost", id="§2 lost boundary: lost on as_of"),
    pytest.param(
        {**TRIAL, "lost_at": (AS_OF + dt.timedelta(days=1)).isoformat()},
        "trial",
        id="§2 lost boundary: lost the day after as_of",
    ),
    pytest.param(
        {**TRIAL_DONE, "lost_at": ago(30)}, "lost", id="§2 lost: a milestone on the loss day is before it"
    ),
    pytest.param({**FORMAL, "lost_at": ago(1)}, "lost", id="§2 lost: even a formal customer can be lost"),
    pytest.param(
        {**TRIAL, "lost_at": ago(35), "last_contact_at": ago(20)},
        "potential",
        id="§2 lost → potential: contacted again after the loss",
    ),
    pytest.param(
        {**INTENT, "lost_at": ago(25), "last_contact_at": ago(20)},
        "potential",
        id="§2 lost → potential: earlier stages do not come back with a mere contact",
    ),
    pytest.param(
        {**TRIAL, "lost_at": ago(35), "last_contact_at": ago(35)},
        "lost",
        id="§2 lost: last contact on the loss day is not a new contact",
    ),
    pytest.param(
        {**TRIAL, "lost_at": ago(35), "trial_ended_at": ago(20)},
        "trial",
        id="§2 lost overturned: a milestone after the loss (won back)",
    ),
    pytest.param(
        {**QUASI, "lost_at": ago(9), "accepted_at": ago(2)},
        "formal",
        id="§2 lost overturned: a later milestone revives the deal at its highest stage",
    ),
]


@pytest.mark.parametrize(("deal", "label"), CASES)
def test_label(engine: Engine, deal: dict[str, Any], label: str) -> None:
    assert decide(engine, SCHEME, deal=deal).label == label


def test_same_record_at_different_dates(engine: Engine) -> None:
    deal = {
        "first_contact_at": "2026-09-01",
        "trial_started_at": "2026-10-01",
        "trial_ended_at": "2026-10-20",
        **CONFIRMED,
        "terms_agreed": True,
        "contract_sent_at": "2026-11-01",
        "first_payment_at": "2026-11-05",
        "accepted_at": "2026-11-20",
        "lost_at": "2026-12-10",
    }
    stages = {
        dt.date(2026, 9, 15): "potential",
        dt.date(2026, 10, 1): "trial",
        dt.date(2026, 10, 25): "intent",
        dt.date(2026, 11, 10): "quasi",
        dt.date(2026, 11, 22): "formal",
        dt.date(2026, 12, 10): "lost",
    }
    for as_of, label in stages.items():
        assert decide(engine, SCHEME, as_of=as_of, deal=deal).label == label, as_of


@pytest.mark.parametrize(
    ("last_contact", "dormant"),
    [
        pytest.param(
            180, False, id="§2 potential: last contact 180 days ago (= dormant_after_days) is not dormant"
        ),
        pytest.param(181, True, id="§2 potential: last contact 181 days ago (> 180) is dormant"),
    ],
)
def test_dormant_flag(engine: Engine, last_contact: int, dormant: bool) -> None:
    d = decide(engine, SCHEME, deal={"first_contact_at": ago(300), "last_contact_at": ago(last_contact)})
    assert d.label == "potential"
    assert ("dormant" in d.flags) is dormant
    assert "never_contacted" not in d.flags


def test_never_contacted_flag(engine: Engine) -> None:
    assert "never_contacted" in decide(engine, SCHEME).flags
    assert (
        "never_contacted" not in decide(engine, SCHEME, interactions=[{"at": ago(5), "kind": "call"}]).flags
    )


def test_parameter_override_changes_outcome(engine: Engine) -> None:
    deal = {"first_contact_at": ago(10), **CONFIRMED}
    assert decide(engine, SCHEME, deal=deal).label == "potential"
    no_trial = engine.with_params(SCHEME, intent_requires_trial=False)
    assert decide(no_trial, SCHEME, deal=deal).label == "intent"


def test_parameter_shows_in_explanation(engine: Engine) -> None:
    no_trial = engine.with_params(SCHEME, intent_requires_trial=False)
    d = decide(no_trial, SCHEME, deal=CONFIRMED)
    assert d.rule == "needs_and_price_confirmed"
    assert "params.intent_requires_trial = false" in d.explain(detail="full")
    d = decide(engine, SCHEME, deal={"first_contact_at": ago(300), "last_contact_at": ago(200)})
    assert d.evidence["params.dormant_after_days"] == 180


def test_lost_decision_explains_itself(engine: Engine) -> None:
    d = decide(engine, SCHEME, deal={**TRIAL_DONE, "lost_at": ago(10)})
    assert d.rule == "lost"
    assert d.label_name("zh") == "已流失"
    assert "lost_at" in d.explain(detail="full")


def test_deal_stage_ignores_everything_but_the_deal(engine: Engine) -> None:
    plain = decide(engine, SCHEME, deal=QUASI)
    busy = decide(
        engine,
        SCHEME,
        deal=QUASI,
        lead={"has_need": False},
        value={"bad_debt": True},
        satisfaction={"survey_score": 1},
        cases=[{"id": "k1", "opened_at": ago(3), "safety_related": True}],
    )
    assert (plain.label, plain.rule) == (busy.label, busy.rule) == ("quasi", "agreed_contracted_paying")


def test_scheme_is_a_tier_ordered_highest_first(engine: Engine) -> None:
    s = engine.schemes[SCHEME]
    assert s.kind == "tier"
    assert s.labels == LABELS
    assert s.policy.hit == "priority"
    assert s.policy.default == "potential"


def test_every_label_has_a_bilingual_strategy(engine: Engine) -> None:
    assert_bilingual_strategies(engine, SCHEME)


# -- never_contacted: a milestone implies contact (issue 15) -------------------------


def without_contact(deal: dict[str, Any]) -> dict[str, Any]:
    """The same deal with no contact date on record (as an order log gives it)."""
    return {k: v for k, v in deal.items() if k not in ("first_contact_at", "last_contact_at")}


@pytest.mark.parametrize(
    ("deal", "label"),
    [
        pytest.param(TRIAL, "trial", id="trial"),
        pytest.param(INTENT, "intent", id="intent"),
        pytest.param(QUASI, "quasi", id="quasi"),
        pytest.param(FORMAL, "formal", id="formal"),
        pytest.param(
            {"first_payment_at": ago(30), "accepted_at": ago(20)}, "formal", id="formal, payments only"
        ),
        pytest.param({**TRIAL_DONE, "lost_at": ago(10)}, "lost", id="lost"),
        pytest.param({"lost_at": ago(10)}, "lost", id="lost, no other milestone"),
        pytest.param({"first_payment_at": ago(30)}, "potential", id="potential, paid once"),
        pytest.param({"contract_sent_at": ago(3)}, "potential", id="potential, contract sent"),
        pytest.param({"needs_confirmed": True}, "potential", id="potential, needs confirmed"),
    ],
)
def test_a_milestone_implies_contact(engine: Engine, deal: dict[str, Any], label: str) -> None:
    d = decide(engine, SCHEME, deal=without_contact(deal))
    assert d.label == label
    assert "never_contacted" not in d.flags


@pytest.mark.parametrize(
    "deal",
    [
        pytest.param({}, id="nothing on record"),
        pytest.param({"needs_confirmed": False, "price_confirmed": None}, id="needs not confirmed"),
        pytest.param(
            {"trial_started_at": (AS_OF + dt.timedelta(days=3)).isoformat()}, id="trial after as_of"
        ),
    ],
)
def test_never_contacted_without_a_milestone(engine: Engine, deal: dict[str, Any]) -> None:
    d = decide(engine, SCHEME, deal=deal)
    assert d.label == "potential"
    assert "never_contacted" in d.flags


DEAL_DATES = (
    "first_contact_at",
    "trial_started_at",
    "trial_ended_at",
    "contract_sent_at",
    "contract_returned_at",
    "first_payment_at",
    "accepted_at",
    "lost_at",
)
MILESTONES = DEAL_DATES[1:]


@settings(max_examples=60, deadline=None)
@given(
    dates=st.fixed_dictionaries({}, optional={k: st.integers(-20, 400) for k in DEAL_DATES}),
    confirmed=st.fixed_dictionaries(
        {},
        optional={
            k: st.none() | st.booleans() for k in ("needs_confirmed", "price_confirmed", "terms_agreed")
        },
    ),
)
def test_never_contacted_only_for_a_potential_customer_with_no_milestone(
    engine: Engine, dates: dict[str, int], confirmed: dict[str, bool | None]
) -> None:
    deal: dict[str, Any] = {k: ago(n) for k, n in dates.items()}
    deal.update(confirmed)
    try:
        Customer.model_validate({"id": "c1", "deal": deal})
    except ValidationError:
        assume(False)  # milestones out of order (a contract returned before it was sent, ...)
    d = decide(engine, SCHEME, deal=deal)
    reached = any(n >= 0 for k, n in dates.items() if k in MILESTONES) or any(confirmed.values())
    contacted = dates.get("first_contact_at") is not None
    assert ("never_contacted" in d.flags) is (not reached and not contacted)
    if "never_contacted" in d.flags:
        assert d.label == "potential"


# -- repeat buyers from an order log reach formal (issue 16) -----------------------


def repeat_buyer(first: int, second: int | None) -> dict[str, Any]:
    """A customer as customers_from_transactions builds it: the first purchase is
    the first payment, a second purchase counts as accepted service."""
    deal: dict[str, Any] = {"first_payment_at": ago(first)}
    if second is not None:
        deal["accepted_at"] = ago(second)
    value = {
        "first_purchase_at": ago(first),
        "last_purchase_at": ago(second if second is not None else first),
    }
    return {"id": "c1", "deal": deal, "value": value}


def test_repeat_buyers_are_formal_on_every_backend() -> None:
    import importlib.util

    import customer_rules as cr

    customers = [
        {**repeat_buyer(300, 200), "id": "repeat"},
        {**repeat_buyer(300, 0), "id": "repeat on as_of"},
        {**repeat_buyer(30, None), "id": "once"},
        {**repeat_buyer(30, -5), "id": "second purchase after as_of"},
    ]
    expected = ["formal", "formal", "potential", "potential"]
    # durable_rules cannot be installed on CPython >= 3.13: there, the python backend only
    backends = ("python", "durable") if importlib.util.find_spec("durable") else ("python",)
    for backend in backends:
        e = cr.Engine(load_entry_points=False, backend=backend)
        got = [e.decide(SCHEME, c, as_of=AS_OF) for c in customers]
        assert [d.label for d in got] == expected, backend
        assert not any("never_contacted" in d.flags for d in got), backend
    frame = cr.frame_from_records([cr.Customer.model_validate(c) for c in customers])
    out = cr.Engine(load_entry_points=False).classify_frame(frame, as_of=AS_OF, schemes=[SCHEME], flags=True)
    assert out[SCHEME].to_list() == expected
    assert not any("never_contacted" in f for f in out[f"{SCHEME}__flags"].to_list())
    formal = cr.Engine(load_entry_points=False).decide(SCHEME, customers[0], as_of=AS_OF)
    assert formal.rule == "paid_and_accepted"
