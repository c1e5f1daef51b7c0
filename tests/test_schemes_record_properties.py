"""Properties of the tier and crisis schemes (lead_grade, customer_quality,
deal_stage, satisfaction, crisis) over random valid records: exactly one
decision per scheme and never an exception, at any as_of; and each decision
blind to the parts of the record its scheme does not read."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from customer_rules import SAMPLE_AS_OF, Engine
from customer_rules.lang.types import Type, record_fields
from customer_rules.model.records import Case, Lead, Satisfaction, Value

SCHEMES = ("lead_grade", "customer_quality", "deal_stage", "satisfaction", "crisis")
IDENTITIES = (
    "media", "journalist", "lawyer", "regulator", "government", "police",
    "consumer_association", "celebrity", "official", "taxi_driver", "fleet",
)  # fmt: skip

#: The parts of a record each scheme must not read.
UNRELATED: dict[str, tuple[str, ...]] = {
    "lead_grade": (
        "value",
        "deal",
        "cases",
        "satisfaction",
        "identity",
        "is_large_account",
        "behaviour",
        "interactions",
    ),
    "customer_quality": ("lead", "deal", "cases", "satisfaction", "identity", "behaviour", "interactions"),
    "deal_stage": ("lead", "value", "cases", "satisfaction", "identity", "is_large_account", "behaviour"),
    "satisfaction": ("lead", "value", "deal", "identity", "is_large_account", "behaviour", "interactions"),
    "crisis": ("lead", "value", "deal", "satisfaction", "is_large_account", "behaviour", "interactions"),
}

ENGINE = Engine(load_entry_points=False)

EARLIEST = dt.date(2023, 1, 1)
dates = st.dates(min_value=EARLIEST, max_value=SAMPLE_AS_OF)


def _leaf(t: Type) -> st.SearchStrategy[Any]:
    if t.kind == "bool":
        return st.booleans()
    if t.kind == "date":
        return dates
    if t.kind == "string":
        return st.sampled_from(t.enum) if t.enum else st.text(max_size=5)
    lo = t.ge if t.ge is not None else -1e6
    hi = t.le if t.le is not None else 1e8
    if t.integer:
        return st.integers(min_value=int(lo), max_value=int(min(hi, 10**6)))
    return st.floats(min_value=lo, max_value=hi, allow_nan=False, allow_infinity=False)


def scalar_fields(model: type[BaseModel], skip: tuple[str, ...] = ()) -> st.SearchStrategy[dict[str, Any]]:
    """A dict of any subset of the model's scalar fields, each a valid value or None."""
    optional = {
        path: st.one_of(st.none(), _leaf(f.type))
        for path, f in record_fields(model).items()
        if f.type.kind in ("bool", "date", "string", "number") and path not in skip
    }
    return st.fixed_dictionaries({}, optional=optional)


def _ordered(a: dt.date | None, b: dt.date | None) -> tuple[dt.date | None, dt.date | None]:
    if a is not None and b is not None and b < a:
        return b, a
    return a, b


@st.composite
def deals(draw: st.DrawFn) -> dict[str, Any]:
    maybe = st.one_of(st.none(), dates)
    names = (
        "first_contact_at", "last_contact_at", "trial_started_at", "trial_ended_at",
        "contract_sent_at", "contract_returned_at", "first_payment_at", "accepted_at", "lost_at",
    )  # fmt: skip
    d: dict[str, Any] = {n: draw(maybe) for n in names}
    for a, b in (
        ("first_contact_at", "last_contact_at"),
        ("trial_started_at", "trial_ended_at"),
        ("contract_sent_at", "contract_returned_at"),
    ):
        d[a], d[b] = _ordered(d[a], d[b])
    for flag in ("needs_confirmed", "price_confirmed", "terms_agreed"):
        d[flag] = draw(st.one_of(st.none(), st.booleans()))
    return {k: v for k, v in d.items() if v is not None}


@st.composite
def cases(draw: st.DrawFn) -> list[dict[str, Any]]:
    out = []
    for i in range(draw(st.integers(min_value=0, max_value=3))):
        body = draw(scalar_fields(Case, skip=("id", "opened_at", "closed_at")))
        opened = draw(dates)
        closed = draw(st.one_of(st.none(), st.dates(min_value=opened, max_value=SAMPLE_AS_OF)))
        visits = draw(st.lists(st.dates(min_value=opened, max_value=SAMPLE_AS_OF), max_size=4))
        out.append({**body, "id": f"k{i}", "opened_at": opened, "closed_at": closed, "repair_visits": visits})
    return out


records = st.fixed_dictionaries(
    {"id": st.just("h1")},
    optional={
        "is_large_account": st.one_of(st.none(), st.booleans()),
        "identity": st.lists(st.sampled_from(IDENTITIES), max_size=3),
        "value": scalar_fields(Value),
        "lead": scalar_fields(Lead),
        "deal": deals(),
        "cases": cases(),
        "satisfaction": scalar_fields(Satisfaction),
        "behaviour": st.fixed_dictionaries(
            {},
            optional={
                "speech_pace": st.sampled_from(["fast", "slow"]),
                "sociability": st.sampled_from(["strong", "weak"]),
                "principled": st.integers(min_value=0, max_value=3),
            },
        ),
        "interactions": st.lists(
            st.fixed_dictionaries(
                {"at": dates, "kind": st.sampled_from(["visit", "call", "message", "greeting"])}
            ),
            max_size=3,
        ),
    },
)

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(records, st.dates(min_value=dt.date(2022, 6, 1), max_value=dt.date(2027, 12, 31)))
def test_one_decision_per_scheme_at_any_date(rec: dict[str, Any], as_of: dt.date) -> None:
    profile = ENGINE.classify(rec, as_of=as_of, schemes=SCHEMES)
    assert tuple(profile) == SCHEMES
    for sid in SCHEMES:
        d = profile[sid]
        scheme = ENGINE.schemes[sid]
        assert d.scheme == sid and d.as_of == as_of
        assert d.label is None or d.label in scheme.labels
        if d.label is not None:
            assert d.strategy is scheme.strategies[d.label]
        assert set(d.flags) <= {f.id for f in scheme.policy.flags} | {
            f for lab in scheme.policy.labels for f in lab.flags
        }
        d.explain()
        d.explain(lang="zh")


@SETTINGS
@given(records)
def test_defaults_always_decide(rec: dict[str, Any]) -> None:
    profile = ENGINE.classify(rec, as_of=SAMPLE_AS_OF, schemes=("deal_stage", "crisis"))
    assert profile["deal_stage"].label is not None
    assert profile["crisis"].label in ("G", "F", "none")


@SETTINGS
@given(records, records)
def test_decisions_ignore_unrelated_parts(rec: dict[str, Any], other: dict[str, Any]) -> None:
    base = ENGINE.classify(rec, as_of=SAMPLE_AS_OF, schemes=SCHEMES)
    for sid, unrelated in UNRELATED.items():
        mixed = {k: v for k, v in rec.items() if k not in unrelated}
        mixed.update({k: v for k, v in other.items() if k in unrelated})
        d = ENGINE.classify(mixed, as_of=SAMPLE_AS_OF, schemes=[sid])[sid]
        b = base[sid]
        assert (d.label, d.rule, d.flags) == (b.label, b.rule, b.flags), sid
