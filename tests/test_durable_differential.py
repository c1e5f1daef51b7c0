"""The durable backend decides exactly like the python backend (the reference).

Random well-typed policies (every operator of the language, missing values,
derived values, parameters, flags, every hit policy) and random records
(missing fields, extreme and awkward numbers) are decided by both backends:
label, deciding rule, other matches, labels, flags, missing inputs and
evidence must be equal, or both must raise the same error.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import customer_rules as cr

durable = pytest.importorskip("customer_rules.backends.durable")
if not durable.available():  # pragma: no cover - CPython 3.13+ or no durable_rules
    pytest.skip("durable_rules is not installed here", allow_module_level=True)

from rules_support import AS_OF, NO_SCHEMES, policy  # noqa: E402

LABELS = (
    {"id": "high", "zh": "高", "en": "High"},
    {"id": "mid", "zh": "中", "en": "Mid"},
    {"id": "low", "zh": "低", "en": "Low"},
)

NUM_FIELDS = (
    "value.revenue_12m",
    "value.profit_12m",
    "value.orders_12m",
    "value.growth_rate",
    "behaviour.principled",
    "lead.asks_details",
)
DATE_FIELDS = ("deal.first_contact_at", "deal.lost_at", "deal.trial_started_at")
BOOL_FIELDS = ("value.bad_debt", "deal.terms_agreed", "lead.has_need")
ENUMS = {
    "lead.budget_status": ("approved", "pending", "none"),
    "behaviour.speech_pace": ("fast", "slow"),
    "kind": ("person", "company", "retailer", "terminal"),
}
NUM_FEATURES = ("open_cases", "days_since_contact", "repair_visits_within(30d)", "len(cases)")
AWKWARD = (0, 1, 2, 3, 7, 100, 0.5, 2.5, 1e-05, 5e-05, 1e16, 123456.789, 2**53, 2**60)

number_literal = st.sampled_from(AWKWARD).map(repr)
date_literal = st.dates(dt.date(2020, 1, 1), dt.date(2028, 12, 31)).map(dt.date.isoformat)


OPS = st.sampled_from(["==", "!=", "<", "<=", ">", ">="])
NUM0 = st.one_of(
    st.sampled_from(NUM_FIELDS),
    number_literal,
    st.sampled_from(NUM_FEATURES),
    st.sampled_from(["params.n", "dn"]),
)
DATE = st.one_of(
    st.sampled_from(DATE_FIELDS),
    date_literal,
    st.tuples(st.sampled_from(DATE_FIELDS), st.integers(0, 400)).map(lambda t: f"({t[0]} + {t[1]}d)"),
)


def _compare(num: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    enum_eq = st.tuples(st.sampled_from(sorted(ENUMS)), st.sampled_from(["==", "!="]), st.integers(0, 3)).map(
        lambda t: f'{t[0]} {t[1]} "{ENUMS[t[0]][t[2] % len(ENUMS[t[0]])]}"'
    )
    enum_in = st.tuples(
        st.sampled_from(sorted(ENUMS)),
        st.sampled_from(["in", "not in"]),
        st.lists(st.integers(0, 3), max_size=3),
    ).map(
        lambda t: f"{t[0]} {t[1]} [" + ", ".join(f'"{ENUMS[t[0]][i % len(ENUMS[t[0]])]}"' for i in t[2]) + "]"
    )
    return st.one_of(
        st.tuples(num, OPS, num).map(" ".join),
        st.tuples(DATE, OPS, DATE).map(" ".join),
        st.tuples(num, st.sampled_from(["in", "not in"]), st.lists(number_literal, max_size=3)).map(
            lambda t: f"{t[0]} {t[1]} [{', '.join(t[2])}]"
        ),
        st.tuples(num, number_literal, number_literal).map(lambda t: f"{t[0]} between {t[1]} and {t[2]}"),
        st.tuples(
            st.one_of(num, st.sampled_from(DATE_FIELDS)), st.sampled_from(["is missing", "is not missing"])
        ).map(" ".join),
        enum_eq,
        enum_in,
        st.sampled_from(BOOL_FIELDS),
        st.tuples(st.sampled_from(BOOL_FIELDS), st.sampled_from(["true", "false"])).map(
            lambda t: f"{t[0]} == {t[1]}"
        ),
        st.sampled_from(['"media" in identity', 'has_any(identity, ["lawyer", "police"])']),
        st.sampled_from(["params.b", "true", "false"]),
    )


CMP0 = _compare(NUM0)
NUM1 = st.one_of(
    NUM0,
    st.tuples(NUM0, st.sampled_from(["+", "-", "*", "/"]), NUM0).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
    NUM0.map(lambda a: f"-({a})"),
    NUM0.map(lambda a: f"abs({a})"),
    st.tuples(st.sampled_from(["min", "max", "coalesce"]), NUM0, NUM0).map(
        lambda t: f"{t[0]}({t[1]}, {t[2]})"
    ),
    st.sampled_from(DATE_FIELDS).map(lambda d: f"days_since({d})"),
    st.tuples(st.sampled_from(DATE_FIELDS), st.sampled_from(DATE_FIELDS)).map(lambda t: f"({t[0]} - {t[1]})"),
    st.tuples(CMP0, NUM0, NUM0).map(lambda t: f"if({t[0]}, {t[1]}, {t[2]})"),
    st.tuples(CMP0, CMP0).map(lambda t: f"count_true({t[0]}, {t[1]})"),
)
CMP1 = _compare(NUM1)
BOOL0 = st.one_of(CMP1, st.just("db"))
BOOL1 = st.one_of(
    BOOL0,
    BOOL0.map(lambda a: f"not ({a})"),
    st.tuples(BOOL0, st.sampled_from(["and", "or"]), BOOL0).map(lambda t: f"({t[0]}) {t[1]} ({t[2]})"),
)
BOOL2 = st.one_of(
    BOOL1,
    BOOL1.map(lambda a: f"not ({a})"),
    st.tuples(BOOL1, st.sampled_from(["and", "or"]), BOOL1).map(lambda t: f"({t[0]}) {t[1]} ({t[2]})"),
)


@st.composite
def policies(draw: st.DrawFn) -> cr.Policy:
    hit = draw(st.sampled_from(["first", "unique", "priority", "collect"]))
    n_rules = draw(st.integers(1, 5))
    rules = [
        {"id": f"r{i}", "when": draw(BOOL2), "then": draw(st.sampled_from([lab["id"] for lab in LABELS]))}
        for i in range(n_rules)
    ]
    flags = [
        {"id": f"f{i}", "when": draw(BOOL1), "en": "flag", "zh": "标记"}
        for i in range(draw(st.integers(0, 2)))
    ]
    derive = {
        # dn may not read itself or db; db may read dn
        "dn": draw(NUM1.filter(lambda e: "dn" not in e and "db" not in e)),
        "db": draw(CMP1.filter(lambda e: "db" not in e)),
    }
    extra: dict[str, Any] = {
        "hit": hit,
        "params": {"n": draw(st.sampled_from([0, 3, 2.5, 1e-05, 100])), "b": draw(st.booleans())},
        "derive": derive,
        "flags": flags,
    }
    if draw(st.booleans()):
        extra["default"] = "low"
    if hit == "collect" and draw(st.booleans()):
        extra["on_many"] = "mid"
    return policy(rules, pid="p", labels=LABELS, **extra)


awkward_float = st.one_of(
    st.sampled_from([0.0, 1e-05, 5e-05, 2.5, 1e16, 1.5e300, 123456.789, 9007199254740993.0]),
    st.floats(min_value=0, max_value=1e20, allow_nan=False, allow_infinity=False),
)


@st.composite
def records(draw: st.DrawFn) -> dict[str, Any]:
    def opt(strategy: st.SearchStrategy[Any]) -> Any:
        return draw(st.one_of(st.none(), strategy))

    dates = st.dates(dt.date(2020, 1, 1), dt.date(2027, 12, 31))
    first = opt(dates)
    return {
        "id": "c1",
        "kind": opt(st.sampled_from(ENUMS["kind"])),
        "identity": draw(
            st.lists(st.sampled_from(["media", "lawyer", "police", "fleet"]), max_size=2, unique=True)
        ),
        "value": {
            "revenue_12m": opt(awkward_float),
            "profit_12m": opt(st.one_of(awkward_float, awkward_float.map(lambda x: -x))),
            "orders_12m": opt(
                st.one_of(st.integers(0, 50), st.sampled_from([2**53, 2**53 + 1, 2**60, 2**70]))
            ),
            "growth_rate": opt(st.floats(min_value=-1, max_value=3, allow_nan=False)),
            "bad_debt": opt(st.booleans()),
        },
        "behaviour": {
            "principled": opt(st.integers(0, 3)),
            "speech_pace": opt(st.sampled_from(["fast", "slow"])),
        },
        "lead": {
            "asks_details": opt(st.integers(0, 3)),
            "has_need": opt(st.booleans()),
            "budget_status": opt(st.sampled_from(ENUMS["lead.budget_status"])),
        },
        "deal": {
            "first_contact_at": first,
            "last_contact_at": None if first is None else opt(st.just(first + dt.timedelta(days=10))),
            "trial_started_at": opt(dates),
            "lost_at": opt(dates),
            "terms_agreed": opt(st.booleans()),
        },
        "cases": [
            {"id": f"k{i}", "opened_at": d, "repair_visits": [d, d + dt.timedelta(days=3)]}
            for i, d in enumerate(draw(st.lists(dates, max_size=2)))
        ],
    }


def _outcome(engine: cr.Engine, rec: dict[str, Any]) -> Any:
    try:
        d = engine.decide("p", rec, as_of=AS_OF)
    except cr.CustomerRulesError as exc:
        return ("error", type(exc).__name__)
    return {
        "label": d.label,
        "rule": d.rule,
        "also_matched": d.also_matched,
        "labels": d.labels,
        "flags": d.flags,
        "missing": d.missing,
        "evidence": list(d.evidence.items()),
    }


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policies(), st.lists(records(), min_size=1, max_size=4))
def test_durable_decides_like_the_python_backend(p: cr.Policy, recs: list[dict[str, Any]]) -> None:
    try:
        reference = cr.Engine([p], load_entry_points=False, block=NO_SCHEMES)
    except cr.PolicyError:
        return  # an ill-typed random expression (rare): nothing to compare
    rules = cr.Engine([p], load_entry_points=False, block=NO_SCHEMES, backend="durable")
    for rec in recs:
        assert _outcome(rules, rec) == _outcome(reference, rec)


def test_the_built_in_schemes_decide_alike_on_the_sample() -> None:
    reference = cr.Engine(load_entry_points=False)
    rules = cr.Engine(load_entry_points=False, backend="durable")
    for customer in cr.sample_customers(25):
        for scheme in rules.schemes:
            if not rules.is_fitted(scheme):
                continue
            a = reference.decide(scheme, customer, as_of=cr.SAMPLE_AS_OF)
            b = rules.decide(scheme, customer, as_of=cr.SAMPLE_AS_OF)
            assert (b.label, b.rule, b.also_matched, b.missing, b.flags) == (
                a.label,
                a.rule,
                a.also_matched,
                a.missing,
                a.flags,
            ), (scheme, customer.id)
            assert dict(b.evidence) == dict(a.evidence)
            assert b.strategy == a.strategy
