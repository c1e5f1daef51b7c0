"""Tests for the customer record models and the sample population."""

from __future__ import annotations

import copy
import datetime as dt
import types
from collections.abc import Iterator
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

import customer_rules.model.records as _records
from customer_rules.lab.sample import SAMPLE_AS_OF, sample_customers, sample_records
from customer_rules.model.records import (
    Behaviour,
    Case,
    Compliance,
    Customer,
    Deal,
    Deduction,
    Grade,
    Interaction,
    Lead,
    Satisfaction,
    Value,
)

MODELS: tuple[type[BaseModel], ...] = (
    Customer,
    Value,
    Behaviour,
    Deal,
    Lead,
    Compliance,
    Deduction,
    Case,
    Interaction,
    Satisfaction,
    Grade,
)

FULL: dict[str, Any] = {
    "id": "C9001",
    "name": "华强电子有限公司",
    "kind": "company",
    "segment": "electronics",
    "region": "华南",
    "owner": "李娜",
    "birthday": "1975-03-14",
    "identity": ["fleet", "media"],
    "is_large_account": True,
    "value": {
        "revenue_12m": 1_250_000.5,
        "profit_12m": -12_000.0,
        "orders_12m": 48,
        "service_cost_12m": 30_000.0,
        "lifetime_value": 800_000.0,
        "growth_rate": -0.12,
        "share_of_wallet": 0.4,
        "overdue_amount": 0.0,
        "overdue_days": 0,
        "bad_debt": False,
        "litigation": False,
        "credit_rating": 3,
        "credit_terms_days": 90,
        "receivables": 400_000.0,
        "price_sensitivity": 2,
        "buying_desire": 3,
        "loyalty": 2,
        "business_risk": 1,
        "prospects": 3,
        "constructive_requests": True,
        "demands_outside_strengths": False,
        "discount_demands": 3,
        "disrupts_market": False,
        "competitor_courting": 3,
        "switching_cost": 0,
        "could_integrate": True,
        "turnover": 2_000_000.0,
        "consumer_resources": 2,
        "economic_strength": 3,
        "operating_level": 1,
    },
    "behaviour": {
        "speech_pace": "fast",
        "sociability": "weak",
        "is_owner": False,
        "seniority": 1,
        "compares_on_merit": 3,
        "wants_data": 2,
        "decides_fast": 0,
        "type_history": ["rational", "stingy"],
        "observed_at": "2026-10-01",
    },
    "deal": {
        "first_contact_at": "2025-01-10",
        "last_contact_at": "2026-11-01",
        "trial_started_at": "2025-02-01",
        "trial_ended_at": "2025-03-01",
        "needs_confirmed": True,
        "price_confirmed": True,
        "terms_agreed": True,
        "contract_sent_at": "2025-03-10",
        "contract_returned_at": "2025-03-15",
        "first_payment_at": "2025-04-01",
        "accepted_at": "2025-05-01",
    },
    "lead": {
        "has_need": True,
        "asks_details": 3,
        "urgency": 2,
        "needs_known": True,
        "contacts_known": True,
        "concerns_known": False,
        "budget_status": "pending",
        "comparing_vendors": True,
        "meticulous": 1,
        "decision_factors": 2,
        "raises_substitutes": False,
        "haggling": 0,
        "knows_margins": False,
        "throwaway_contact": False,
        "fishing_for_quote": False,
    },
    "compliance": {
        "score": 88.0,
        "business_score": 71.5,
        "operating_score": 45.0,
        "cooperation_score": 26.5,
        "assessed_at": "2026-11-20",
        "deductions": [
            {"at": "2026-09-03", "points": 2.0, "reason": "未按规定明码标价"},
            {
                "at": "2026-10-03",
                "points": 10.0,
                "reason": "销售非法渠道商品",
                "serious": True,
                "resolved_at": "2026-11-01",
            },
        ],
    },
    "cases": [
        {
            "id": "K1",
            "opened_at": "2026-10-20",
            "closed_at": "2026-11-02",
            "summary": "刹车异响",
            "severity": "key_part",
            "quality_issue": True,
            "safety_related": True,
            "damage_amount": 1200.0,
            "parts_wait_days": 4,
            "repair_days": 9,
            "repair_visits": ["2026-10-21", "2026-10-30"],
            "customer_accepts_repairs": False,
            "media_threat": True,
            "hostile_tone": True,
            "calmed": False,
        },
        {"id": "K2", "opened_at": "2026-11-10"},
    ],
    "interactions": [
        {"at": "2026-11-01", "kind": "visit", "note": "例行拜访"},
        {"at": "2026-11-05", "kind": "greeting"},
    ],
    "satisfaction": {
        "survey_score": 2,
        "surveyed_at": "2026-11-03",
        "loyal_evidence": False,
        "exceeded_expectations": False,
        "expectations_met": False,
        "details_neglected": True,
        "states_displeasure": True,
    },
}


def _with(path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    """A deep copy of FULL with ``value`` set at ``path``."""
    data: Any = copy.deepcopy(FULL)
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return dict(data)


def _locs(exc: ValidationError) -> list[tuple[str | int, ...]]:
    return [tuple(e["loc"]) for e in exc.errors()]


# ---------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------


def test_round_trip_full_dict() -> None:
    c = Customer.model_validate(FULL)
    dumped = c.model_dump(mode="json")
    again = Customer.model_validate(dumped)
    assert again == c
    assert again.model_dump(mode="json") == dumped
    assert Customer.model_validate_json(c.model_dump_json()) == c
    assert c.cases[0].repair_visits == (dt.date(2026, 10, 21), dt.date(2026, 10, 30))
    assert c.value.profit_12m == -12_000.0
    assert c.identity == ("fleet", "media")


def test_minimal_record_everything_unknown() -> None:
    c = Customer.model_validate({"id": "C1"})
    assert c.value.revenue_12m is None
    assert c.deal.trial_started_at is None
    assert c.lead.budget_status is None
    assert c.satisfaction.survey_score is None
    assert c.compliance.deductions == ()
    assert c.cases == () and c.interactions == () and c.identity == ()
    assert c.behaviour.type_history == ()

    def leaves(obj: Any, path: str = "") -> Iterator[tuple[str, Any]]:
        if isinstance(obj, dict):
            for k, v in obj.items():
                yield from leaves(v, f"{path}.{k}" if path else k)
        else:
            yield path, obj

    for path, v in leaves(c.model_dump()):
        if path == "id":
            continue
        # Unknown is not zero: no scalar defaults to 0 or False.
        assert v is None or v == (), path


def test_absent_sub_models_are_one_shared_empty_instance() -> None:
    # a record that leaves a sub-model out gets the one frozen empty instance
    # (validation builds none per record); it equals a freshly built one
    a = Customer.model_validate({"id": "A"})
    b = Customer.model_validate({"id": "B", "value": {"revenue_12m": 5}})
    for name in ("behaviour", "deal", "lead", "compliance", "satisfaction"):
        assert getattr(a, name) is getattr(b, name), name
        assert getattr(a, name) == type(getattr(a, name))(), name
    assert a.value is not b.value and b.value.revenue_12m == 5
    assert a.model_fields_set == {"id"}  # a default is still a default, not a value given


def test_id_required() -> None:
    with pytest.raises(ValidationError) as exc:
        Customer.model_validate({})
    assert ("id",) in _locs(exc.value)
    with pytest.raises(ValidationError) as exc:
        Customer.model_validate({"id": ""})
    assert ("id",) in _locs(exc.value)


def test_frozen() -> None:
    c = Customer.model_validate(FULL)
    for obj, attr, new in [
        (c, "name", "other"),
        (c.value, "revenue_12m", 1.0),
        (c.behaviour, "wants_data", 0),
        (c.cases[0], "closed_at", None),
        (c.compliance.deductions[0], "points", 0.0),
    ]:
        with pytest.raises(ValidationError, match="frozen"):
            setattr(obj, attr, new)
    assert isinstance(c.cases, tuple)
    assert isinstance(c.compliance.deductions, tuple)
    hash(c)  # frozen models with tuples are hashable


@pytest.mark.parametrize(
    "path",
    [
        ("nickname",),
        ("value", "revenue"),
        ("behaviour", "is_greedy"),
        ("cases", 0, "priority"),
        ("compliance", "deductions", 0, "officer"),
    ],
)
def test_unknown_field_rejected(path: tuple[str | int, ...]) -> None:
    with pytest.raises(ValidationError) as exc:
        Customer.model_validate(_with(path, 1))
    assert path in _locs(exc.value)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("value", "price_sensitivity"), 4),
        (("value", "price_sensitivity"), -1),
        (("behaviour", "wants_data"), 4),
        (("value", "revenue_12m"), -1.0),
        (("value", "overdue_days"), -3),
        (("value", "share_of_wallet"), 1.5),
        (("value", "profit_12m"), float("nan")),
        (("value", "revenue_12m"), float("inf")),
        (("compliance", "score"), 101),
        (("compliance", "deductions", 0, "points"), -2),
        (("satisfaction", "survey_score"), 0),
        (("satisfaction", "survey_score"), 6),
        (("kind",), "alien"),
        (("identity",), ["astronaut"]),
        (("behaviour", "speech_pace"), "medium"),
        (("lead", "budget_status"), "maybe"),
        (("cases", 0, "severity"), "catastrophic"),
        (("interactions", 0, "kind"), "fax"),
        (("cases", 0, "repair_visits"), ["not a date"]),
        (("birthday",), "2026-02-30"),
        (("value", "orders_12m"), 1.5),
    ],
)
def test_bound_violations_name_the_path(
    path: tuple[str | int, ...], value: Any
) -> None:
    with pytest.raises(ValidationError) as exc:
        Customer.model_validate(_with(path, value))
    assert any(loc[: len(path)] == path for loc in _locs(exc.value)), _locs(exc.value)


def test_negative_profit_and_growth_allowed() -> None:
    data = _with(("value", "growth_rate"), -0.5)
    data["value"]["profit_12m"] = -1e6
    c = Customer.model_validate(data)
    assert c.value.growth_rate == -0.5
    assert c.value.profit_12m == -1e6


def test_case_closed_before_opened() -> None:
    with pytest.raises(ValidationError) as exc:
        Customer.model_validate(_with(("cases", 0, "closed_at"), "2026-10-01"))
    assert ("cases", 0) in _locs(exc.value)
    assert "closed_at" in str(exc.value) and "opened_at" in str(exc.value)
    with pytest.raises(ValidationError):
        Case(id="k", opened_at=dt.date(2026, 5, 2), closed_at=dt.date(2026, 5, 1))
    same_day = Case(
        id="k", opened_at=dt.date(2026, 5, 2), closed_at=dt.date(2026, 5, 2)
    )
    assert same_day.closed_at == same_day.opened_at


@pytest.mark.parametrize(
    ("earlier", "later"),
    [
        ("first_contact_at", "last_contact_at"),
        ("trial_started_at", "trial_ended_at"),
        ("contract_sent_at", "contract_returned_at"),
    ],
)
def test_deal_date_order(earlier: str, later: str) -> None:
    data = {"id": "x", "deal": {earlier: "2026-05-02", later: "2026-05-01"}}
    with pytest.raises(ValidationError) as exc:
        Customer.model_validate(data)
    assert ("deal",) in _locs(exc.value)
    assert later in str(exc.value)


def test_deduction_resolved_before_recorded() -> None:
    with pytest.raises(ValidationError) as exc:
        Customer.model_validate(
            _with(("compliance", "deductions", 1, "resolved_at"), "2026-01-01")
        )
    assert ("compliance", "deductions", 1) in _locs(exc.value)


def test_duplicate_case_ids_rejected() -> None:
    data = _with(("cases", 1, "id"), "K1")
    with pytest.raises(ValidationError, match="duplicate case id"):
        Customer.model_validate(data)


def test_event_models_require_their_keys() -> None:
    with pytest.raises(ValidationError) as exc:
        Customer.model_validate({"id": "x", "cases": [{"id": "k"}]})
    assert ("cases", 0, "opened_at") in _locs(exc.value)
    with pytest.raises(ValidationError) as exc:
        Customer.model_validate({"id": "x", "interactions": [{"kind": "call"}]})
    assert ("interactions", 0, "at") in _locs(exc.value)
    d = Deduction(at=dt.date(2026, 1, 1), points=3, reason="r")
    assert d.serious is False


# ---------------------------------------------------------------------------
# Schema and field typing
# ---------------------------------------------------------------------------

ALLOWED_LEAVES = (int, float, bool, str, dt.date)


def _leaf_ok(annotation: Any) -> bool:
    origin = get_origin(annotation)
    if origin is Annotated:
        return _leaf_ok(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        return len(args) == 1 and _leaf_ok(args[0])
    if origin is Literal:
        return all(isinstance(a, str) for a in get_args(annotation))
    if origin is tuple:
        items = get_args(annotation)
        return len(items) == 2 and items[1] is Ellipsis and _leaf_ok(items[0])
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation in MODELS
    return annotation in ALLOWED_LEAVES and annotation is not dt.datetime


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_field_types_are_the_supported_ones(model: type[BaseModel]) -> None:
    assert model.model_config.get("frozen") is True
    assert model.model_config.get("extra") == "forbid"
    for name, info in model.model_fields.items():
        assert _leaf_ok(info.annotation), f"{model.__name__}.{name}: {info.annotation}"
        assert info.description, f"{model.__name__}.{name} has no description"


def test_json_schema_describes_every_property() -> None:
    schema = Customer.model_json_schema()
    defs = schema.get("$defs", {})
    assert set(defs) >= {m.__name__ for m in MODELS if m is not Customer}
    missing: list[str] = []
    for owner, node in [("Customer", schema), *defs.items()]:
        for prop, spec in node["properties"].items():
            if not spec.get("description"):
                missing.append(f"{owner}.{prop}")
    assert not missing, missing


def test_json_schema_units() -> None:
    defs = Customer.model_json_schema()["$defs"]
    assert defs["Value"]["properties"]["revenue_12m"]["unit"] == "CNY"
    assert defs["Value"]["properties"]["overdue_days"]["unit"] == "days"
    assert defs["Value"]["properties"]["orders_12m"]["unit"] == "count"
    assert defs["Value"]["properties"]["share_of_wallet"]["unit"] == "share 0-1"
    assert defs["Value"]["properties"]["price_sensitivity"]["unit"] == "level 0-3"
    assert defs["Compliance"]["properties"]["score"]["unit"] == "points 0-100"


NINE_TYPES = (
    "rational",
    "task",
    "greedy",
    "owner",
    "credit_seeking",
    "stingy",
    "tricky",
    "relationship",
)
SOCIAL_STYLES = ("analytical", "relationship", "dominant", "amiable", "critical")


def test_behaviour_signals_cover_every_type_and_style() -> None:
    props = Customer.model_json_schema()["$defs"]["Behaviour"]["properties"]
    indicated: dict[str, list[str]] = {}
    for name, spec in props.items():
        for label in spec.get("indicates", []):
            indicated.setdefault(label, []).append(name)
        if spec.get("unit") == "level 0-3" and name != "seniority":
            assert spec.get("indicates"), (
                f"signal {name} does not say what it indicates"
            )
    for t in NINE_TYPES:
        signals = [s for s in indicated.get(f"nine_types:{t}", []) if s != "is_owner"]
        assert len(signals) >= 2, (t, signals)
    for s in SOCIAL_STYLES:
        assert len(indicated.get(f"social_style:{s}", [])) >= 2, s
    assert "type_history" in indicated["nine_types:composite"]


def test_public_names() -> None:
    assert _records.__all__ == sorted(_records.__all__)
    for name in _records.__all__:
        assert hasattr(_records, name), name
    assert {"Level", "Identity", *(m.__name__ for m in MODELS)} <= set(_records.__all__)


def test_top_level_names_do_not_shadow_features() -> None:
    features = {
        "repairs_30d",
        "days_unresolved",
        "days_since_last_contact",
        "open_cases",
        "revenue_share_rank",
    }
    assert not features & set(Customer.model_fields)


# ---------------------------------------------------------------------------
# Hypothesis: bad input only ever raises ValidationError
# ---------------------------------------------------------------------------

junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.dates(),
    st.datetimes(),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)
level = st.one_of(st.integers(min_value=-2, max_value=5), junk)
date_like = st.one_of(st.dates().map(str), st.dates(), junk)

case_st = st.fixed_dictionaries(
    {"id": st.one_of(st.text(max_size=5), junk)},
    optional={
        "opened_at": date_like,
        "closed_at": date_like,
        "severity": st.one_of(
            st.sampled_from(["minor", "major", "key_part", "huge"]), junk
        ),
        "repair_visits": st.one_of(st.lists(date_like, max_size=3), junk),
        "damage_amount": st.one_of(st.floats(), junk),
        "media_threat": st.one_of(st.booleans(), junk),
    },
)

record_st = st.fixed_dictionaries(
    {"id": st.one_of(st.text(max_size=6), junk)},
    optional={
        "kind": st.one_of(
            st.sampled_from(["person", "company", "retailer", "terminal"]), junk
        ),
        "birthday": date_like,
        "identity": st.one_of(
            st.lists(
                st.sampled_from(["media", "lawyer", "fleet", "pirate"]), max_size=3
            ),
            junk,
        ),
        "value": st.one_of(
            st.fixed_dictionaries(
                {},
                optional={
                    "revenue_12m": st.one_of(st.floats(), junk),
                    "profit_12m": st.one_of(st.floats(), junk),
                    "price_sensitivity": level,
                    "bad_debt": st.one_of(st.booleans(), junk),
                    "share_of_wallet": st.one_of(st.floats(), junk),
                },
            ),
            junk,
        ),
        "behaviour": st.one_of(
            st.fixed_dictionaries(
                {},
                optional={
                    "speech_pace": st.one_of(st.sampled_from(["fast", "slow"]), junk),
                    "wants_data": level,
                    "type_history": st.one_of(
                        st.lists(st.text(max_size=8), max_size=3), junk
                    ),
                },
            ),
            junk,
        ),
        "deal": st.one_of(
            st.fixed_dictionaries(
                {},
                optional={"trial_started_at": date_like, "trial_ended_at": date_like},
            ),
            junk,
        ),
        "compliance": st.one_of(
            st.fixed_dictionaries(
                {},
                optional={
                    "score": st.one_of(st.floats(), junk),
                    "deductions": st.lists(
                        st.fixed_dictionaries(
                            {"at": date_like, "points": st.one_of(st.floats(), junk)},
                            optional={"reason": junk, "serious": junk},
                        ),
                        max_size=2,
                    ),
                },
            ),
            junk,
        ),
        "cases": st.one_of(st.lists(case_st, max_size=3), junk),
        "satisfaction": st.one_of(
            st.fixed_dictionaries({}, optional={"survey_score": level}), junk
        ),
        "extra_field": junk,
    },
)


@settings(max_examples=300, deadline=None)
@given(record_st)
def test_random_dicts_validate_or_raise_validation_error(data: dict[str, Any]) -> None:
    try:
        c = Customer.model_validate(data)
    except ValidationError:
        return
    # Whatever validates round-trips through JSON.
    assert Customer.model_validate(c.model_dump(mode="json")) == c


# ---------------------------------------------------------------------------
# Sample data
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample() -> list[Customer]:
    return sample_customers()


def _dates(obj: Any) -> Iterator[dt.date]:
    if isinstance(obj, dt.date):
        yield obj
    elif isinstance(obj, BaseModel):
        for name in type(obj).model_fields:
            yield from _dates(getattr(obj, name))
    elif isinstance(obj, tuple):
        for item in obj:
            yield from _dates(item)


def test_sample_is_deterministic(sample: list[Customer]) -> None:
    assert sample_customers() == sample
    assert sample_records(50, seed=3) == sample_records(50, seed=3)
    assert sample_records(50, seed=3) != sample_records(50, seed=4)


@pytest.mark.parametrize("n", [0, 1, 7, 45])
def test_sample_size(n: int) -> None:
    assert len(sample_customers(n)) == n


def test_sample_negative_n_rejected() -> None:
    with pytest.raises(ValueError):
        sample_customers(-1)


def test_sample_ids_and_validation(sample: list[Customer]) -> None:
    ids = [c.id for c in sample]
    assert len(sample) == 300
    assert len(set(ids)) == len(ids)
    assert ids[0] == "C0001" and ids[-1] == "C0300"
    records = sample_records()
    assert [r["id"] for r in records] == ids
    assert [Customer.model_validate(r) for r in records] == sample


def test_sample_dates_not_after_as_of(sample: list[Customer]) -> None:
    late = [(c.id, d) for c in sample for d in _dates(c) if d > SAMPLE_AS_OF]
    assert not late


def test_sample_deal_milestones_in_order(sample: list[Customer]) -> None:
    chain = (
        "first_contact_at",
        "trial_started_at",
        "trial_ended_at",
        "contract_sent_at",
        "contract_returned_at",
        "first_payment_at",
        "accepted_at",
    )
    for c in sample:
        seen = [getattr(c.deal, f) for f in chain if getattr(c.deal, f) is not None]
        assert seen == sorted(seen), (c.id, seen)
        if c.deal.lost_at is not None:
            assert all(d <= c.deal.lost_at for d in seen), c.id
        if c.deal.last_contact_at is not None and c.deal.first_contact_at is not None:
            assert c.deal.first_contact_at <= c.deal.last_contact_at
        for case in c.cases:
            assert all(v >= case.opened_at for v in case.repair_visits), case.id


def test_sample_compliance_score_matches_deductions(sample: list[Customer]) -> None:
    for c in sample:
        if c.compliance.score is not None:
            total = sum(d.points for d in c.compliance.deductions)
            assert c.compliance.score == pytest.approx(max(0.0, 100.0 - total)), c.id


def test_sample_variety(sample: list[Customer]) -> None:
    assert {c.kind for c in sample} == {"person", "company", "retailer", "terminal"}
    assert 0 < sum(1 for c in sample if c.identity) < len(sample) // 5
    assert any(d.serious for c in sample for d in c.compliance.deductions)
    recent = [
        v
        for c in sample
        for case in c.cases
        for v in case.repair_visits
        if (SAMPLE_AS_OF - v).days <= 30
    ]
    assert recent
    cases = [case for c in sample for case in c.cases]
    assert any(
        k.closed_at is None and (SAMPLE_AS_OF - k.opened_at).days > 20 for k in cases
    )
    assert any(k.media_threat for k in cases)
    assert any(k.legal_threat for k in cases)
    assert any(k.safety_related for k in cases)
    assert len({c.owner for c in sample if c.owner}) in (5, 6)
    assert all(i.at <= SAMPLE_AS_OF for c in sample for i in c.interactions)
    # Unknown values occur: some behaviour signals and value figures are None.
    assert any(c.behaviour.speech_pace is None for c in sample)
    assert any(c.value.profit_12m is None for c in sample)
    # Bird style quadrants and lead budget states all occur.
    quadrants = {(c.behaviour.speech_pace, c.behaviour.sociability) for c in sample}
    assert {
        ("fast", "weak"),
        ("fast", "strong"),
        ("slow", "strong"),
        ("slow", "weak"),
    } <= quadrants
    assert {"approved", "pending", "none"} <= {c.lead.budget_status for c in sample}
    assert {1, 2, 3, 4, 5} <= {c.satisfaction.survey_score for c in sample}
    assert {"minor", "major", "key_part"} <= {k.severity for k in cases}
    assert any(len(set(c.behaviour.type_history)) > 1 for c in sample)
    assert any(c.is_large_account for c in sample)
    assert sum(1 for c in sample if c.kind == "terminal" and c.value.turnover) > 70
    assert sum(1 for c in sample if (c.compliance.score or 0) >= 90) > 40
    assert any((c.value.profit_12m or 0) < 0 for c in sample)
