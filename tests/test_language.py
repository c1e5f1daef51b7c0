"""The condition language, construct by construct, evaluated through tiny
policies on an engine (python backend) with records given as dicts."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rules_support import AS_OF, engine, matches, policy, record, value

import customer_rules as cr
from customer_rules.lang.ops import OPERATORS

T, F, N = True, False, None


def rev(x: Any) -> dict[str, Any]:
    return record(value={"revenue_12m": x})


# -- comparisons ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("value.revenue_12m == 100", T),
        ("value.revenue_12m != 100", F),
        ("value.revenue_12m < 100", F),
        ("value.revenue_12m <= 100", T),
        ("value.revenue_12m > 99.5", T),
        ("value.revenue_12m >= 100.5", F),
        ("100 == value.revenue_12m", T),
        ("50 < value.revenue_12m", T),
    ],
)
def test_number_comparisons(expr: str, expected: bool) -> None:
    assert value(expr, rev(100)) is expected


@pytest.mark.parametrize("op", ["==", "!=", "<", "<=", ">", ">="])
def test_comparison_with_missing_is_unknown(op: str) -> None:
    assert value(f"value.revenue_12m {op} 1", rev(None)) is None
    assert value(f"1 {op} value.revenue_12m", rev(None)) is None


def test_integer_and_float_compare_by_value() -> None:
    assert value("1 == 1.0") is True
    assert value("value.orders_12m == 3.0", record(value={"orders_12m": 3})) is True


def test_string_equality_and_enums() -> None:
    rec = record(kind="company", region="华南", behaviour={"speech_pace": "fast"})
    assert value('kind == "company"', rec) is True
    assert value('kind != "person"', rec) is True
    assert value('region == "华南"', rec) is True
    assert value('behaviour.speech_pace == "slow"', rec) is False
    assert value('"fast" == behaviour.speech_pace', rec) is True


def test_bool_field_equality() -> None:
    assert value("value.bad_debt == true", record(value={"bad_debt": True})) is True
    assert value("value.bad_debt == false", record(value={"bad_debt": True})) is False
    assert value("value.bad_debt", record(value={"bad_debt": True})) is True
    assert value("value.bad_debt == true", record()) is None


def test_date_comparisons() -> None:
    rec = record(birthday="1980-05-17")
    assert value("birthday == 1980-05-17", rec) is True
    assert value("birthday < 1990-01-01", rec) is True
    assert value("birthday >= 1980-05-18", rec) is False


# -- and / or / not: three-valued (Kleene) logic -----------------------------------

KLEENE_AND = {
    (T, T): T, (T, F): F, (T, N): N,
    (F, T): F, (F, F): F, (F, N): F,
    (N, T): N, (N, F): F, (N, N): N,
}  # fmt: skip
KLEENE_OR = {
    (T, T): T, (T, F): T, (T, N): T,
    (F, T): T, (F, F): F, (F, N): N,
    (N, T): T, (N, F): N, (N, N): N,
}  # fmt: skip


def _ab(a: bool | None, b: bool | None) -> dict[str, Any]:
    return record(value={"bad_debt": a, "litigation": b})


@pytest.mark.parametrize(("a", "b"), list(KLEENE_AND))
def test_and_is_kleene(a: bool | None, b: bool | None) -> None:
    assert value("value.bad_debt and value.litigation", _ab(a, b)) is KLEENE_AND[a, b]


@pytest.mark.parametrize(("a", "b"), list(KLEENE_OR))
def test_or_is_kleene(a: bool | None, b: bool | None) -> None:
    assert value("value.bad_debt or value.litigation", _ab(a, b)) is KLEENE_OR[a, b]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([T, F, N]), min_size=2, max_size=6), st.sampled_from(["and", "or"]))
def test_a_chain_of_one_connective_is_the_pairwise_fold(values: list[bool | None], op: str) -> None:
    # the python backend compiles a and b and c to one n-ary closure: the same
    # result, and the same operands read in the same order, as the nested pairs
    entry = OPERATORS[op]

    def leaves(log: list[int]) -> list[Any]:
        return [lambda x, i=i, v=v: (log.append(i), v)[1] for i, v in enumerate(values)]

    chain_log: list[int] = []
    pair_log: list[int] = []
    chain = entry.python(*leaves(chain_log))
    fs = leaves(pair_log)
    folded = fs[0]
    for f in fs[1:]:
        folded = entry.python(folded, f)
    assert chain(None) is folded(None)
    assert chain_log == pair_log
    # and through the engine: a flat chain and its right-nested form agree
    names = [f"value.{'bad_debt' if i % 2 == 0 else 'litigation'}" for i in range(len(values))]
    nested = names[-1]
    for name in reversed(names[:-1]):
        nested = f"({name} {op} {nested})"
    rec = _ab(values[0], values[1])
    assert value(f" {op} ".join(names), rec) is value(nested, rec)


@pytest.mark.parametrize(("a", "expected"), [(T, F), (F, T), (N, N)])
def test_not_is_kleene(a: bool | None, expected: bool | None) -> None:
    assert value("not value.bad_debt", _ab(a, None)) is expected


def test_a_rule_matches_only_when_its_condition_is_true() -> None:
    assert matches("value.bad_debt or value.litigation", _ab(None, True))
    assert not matches("value.bad_debt or value.litigation", _ab(None, False))
    assert not matches("not value.bad_debt", _ab(None, None))


def test_missing_on_the_left_of_and_does_not_hide_a_false_right() -> None:
    # the missing input must not stop the right-hand side from deciding
    assert value("value.revenue_12m > 1 and value.orders_12m > 1", record(value={"orders_12m": 0})) is False
    assert value("value.revenue_12m > 1 or value.orders_12m > 1", record(value={"orders_12m": 5})) is True


def test_precedence_not_and_or() -> None:
    # not binds tighter than and, which binds tighter than or
    assert value("not false and false") is False
    assert value("true or true and false") is True
    assert value("(true or true) and false") is False
    assert value("not 1 == 2") is True


# -- in / not in ---------------------------------------------------------------


def test_in_and_not_in_a_list_literal() -> None:
    rec = record(kind="retailer", value={"orders_12m": 3})
    assert value('kind in ["retailer", "terminal"]', rec) is True
    assert value('kind not in ["retailer", "terminal"]', rec) is False
    assert value('kind in ["person"]', rec) is False
    assert value("value.orders_12m in [1, 2, 3]", rec) is True
    assert value("value.orders_12m not in [1, 2]", rec) is True
    assert value("value.orders_12m in []", rec) is False


def test_in_with_missing_item_is_unknown() -> None:
    assert value('kind in ["person"]', record()) is None
    assert value('kind not in ["person"]', record()) is None


def test_in_a_list_field() -> None:
    rec = record(identity=["media", "fleet"])
    assert value('"media" in identity', rec) is True
    assert value('"lawyer" in identity', rec) is False
    assert value('"lawyer" not in identity', rec) is True
    assert value('"media" in identity', record()) is False


def test_in_list_with_parameter_items() -> None:
    assert value("value.orders_12m in [params.a, 7]", record(value={"orders_12m": 5}), params={"a": 5})


# -- between -------------------------------------------------------------------


@pytest.mark.parametrize(("x", "expected"), [(9, F), (10, T), (15, T), (20, T), (20.5, F), (None, N)])
def test_between_is_inclusive(x: Any, expected: bool | None) -> None:
    assert value("value.revenue_12m between 10 and 20", rev(x)) is expected


def test_between_dates_and_missing_bounds() -> None:
    rec = record(birthday="1980-05-17", value={"revenue_12m": 5})
    assert value("birthday between 1980-05-17 and 1980-05-17", rec) is True
    assert value("value.revenue_12m between value.profit_12m and 10", rec) is None
    assert value("value.revenue_12m between 1 and value.profit_12m", rec) is None


def test_between_binds_its_own_and() -> None:
    # "x between a and b and c": the first 'and' belongs to between
    assert value("value.revenue_12m between 1 and 10 and true", rev(5)) is True
    assert value("value.revenue_12m between 1 and 10 and false", rev(5)) is False


# -- is missing ----------------------------------------------------------------


def test_is_missing_and_is_not_missing() -> None:
    assert value("value.revenue_12m is missing", rev(None)) is True
    assert value("value.revenue_12m is not missing", rev(None)) is False
    assert value("value.revenue_12m is missing", rev(0)) is False
    assert value("value.revenue_12m is not missing", rev(0)) is True
    # it is never unknown itself, and it sees through arithmetic
    assert value("value.revenue_12m + 1 is missing", rev(None)) is True
    assert value("value.revenue_12m / 0 is missing", rev(3)) is True


# -- arithmetic ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("10 - 4 - 3", 3),
        ("2 * 3 / 4", 1.5),
        ("7 / 2", 3.5),
        ("-3 + 5", 2),
        ("-(3 + 5)", -8),
        ("- -4", 4),
        ("1.5 * 2", 3.0),
        ("1e3 + 1", 1001.0),
    ],
)
def test_arithmetic(expr: str, expected: float) -> None:
    assert value(expr) == expected


def test_arithmetic_on_fields_and_missing() -> None:
    rec = record(value={"revenue_12m": 1000, "service_cost_12m": 250})
    assert value("value.revenue_12m - value.service_cost_12m", rec) == 750
    assert value("value.service_cost_12m / value.revenue_12m", rec) == 0.25
    assert value("value.revenue_12m - value.profit_12m", rec) is None
    assert value("-value.profit_12m", rec) is None


def test_division_by_zero_is_missing() -> None:
    assert value("1 / 0") is None
    assert (
        value("value.revenue_12m / value.orders_12m", record(value={"revenue_12m": 5, "orders_12m": 0}))
        is None
    )
    assert value("value.revenue_12m / 0 > 1", rev(5)) is None
    assert not matches("value.revenue_12m / 0 > 1", rev(5))
    assert value("value.revenue_12m / 0.0 == 1 or true", rev(5)) is True


def test_out_of_range_arithmetic_is_missing_not_a_crash() -> None:
    assert value("2026-01-01 + 99999999999d") is None
    assert value("9" * 400 + " / 2") is None
    # a whole number beyond 64 bits never reaches a rule: the record refuses it
    # (tables hold Int64; see test_row_validity.py), so python and frames agree
    with pytest.raises(cr.RecordError, match=r"value\.orders_12m"):
        value("value.orders_12m * 1.5", record(value={"orders_12m": 10**400}))


def test_date_arithmetic() -> None:
    rec = record(deal={"first_contact_at": "2026-10-01", "last_contact_at": "2026-11-15"})
    assert value("deal.last_contact_at - deal.first_contact_at", rec) == 45
    assert value("2026-11-22 - 2026-11-01") == 21
    assert value("2026-03-01 - 2026-02-28") == 1
    assert value("deal.first_contact_at + 30d", rec) == dt.date(2026, 10, 31)
    assert value("deal.first_contact_at - 2w", rec) == dt.date(2026, 9, 17)
    assert value("30d + deal.first_contact_at", rec) == dt.date(2026, 10, 31)
    assert value("deal.first_contact_at + 3", rec) == dt.date(2026, 10, 4)
    assert value("deal.first_contact_at + 30d > deal.last_contact_at", rec) is False
    assert value("deal.trial_started_at + 30d", rec) is None


def test_durations_are_days() -> None:
    assert value("30d") == 30
    assert value("2w") == 14
    assert value("2w == 14d") is True
    assert value("0d") == 0


def test_date_literals() -> None:
    assert value("2026-01-31") == dt.date(2026, 1, 31)
    assert value("2024-02-29 < 2024-03-01") is True


# -- strings -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (r'"plain"', "plain"),
        (r'"say \"hi\""', 'say "hi"'),
        (r"'it\'s'", "it's"),
        (r"""'a "quoted" word'""", 'a "quoted" word'),
        (r'"back\\slash"', "back\\slash"),
        (r'"tab\there"', "tab\there"),
        (r'"line\nbreak"', "line\nbreak"),
        (r'"\u534e\u5357"', "华南"),
        ('"华南区 · 重点"', "华南区 · 重点"),
        ('""', ""),
    ],
)
def test_string_literals(text: str, expected: str) -> None:
    assert value(text) == expected


def test_chinese_string_compared_with_a_field() -> None:
    assert matches('region == "华南"', record(region="华南"))
    assert not matches('region == "华北"', record(region="华南"))
    assert matches(r'name == "李\"娜\""', record(name='李"娜"'))


# -- functions -----------------------------------------------------------------


def test_abs_min_max() -> None:
    assert value("abs(-3)") == 3
    assert value("abs(value.profit_12m)", record(value={"profit_12m": -12.5})) == 12.5
    assert value("min(3, 1, 2)") == 1
    assert value("max(3, 1, 2.5)") == 3
    assert value("min(value.revenue_12m, 10)", rev(4)) == 4
    assert value("max(value.revenue_12m, 10)", rev(None)) is None
    assert value("abs(value.revenue_12m)", rev(None)) is None


def test_len_and_count_distinct() -> None:
    rec = record(
        identity=["media", "fleet", "media"],
        cases=[{"id": "k1", "opened_at": "2026-01-02"}, {"id": "k2", "opened_at": "2026-02-03"}],
    )
    assert value("len(identity)", rec) == 3
    assert value("count_distinct(identity)", rec) == 2
    assert value("len(cases)", rec) == 2
    assert value("len(interactions)", rec) == 0


def test_has_any() -> None:
    rec = record(identity=["lawyer", "fleet"])
    assert value('has_any(identity, ["media", "lawyer"])', rec) is True
    assert value('has_any(identity, ["media", "police"])', rec) is False
    assert value('has_any(identity, ["media"])', record()) is False


def test_days_since_and_days_until() -> None:
    rec = record(deal={"first_contact_at": "2026-11-01"}, birthday="2026-12-01")
    assert value("days_since(deal.first_contact_at)", rec) == 21
    assert value("days_until(birthday)", rec) == 9
    assert value("days_since(2026-11-22)") == 0
    assert value("days_until(2026-11-21)") == -1
    assert value("days_since(deal.lost_at)", rec) is None


def test_coalesce() -> None:
    assert value("coalesce(value.profit_12m, 5)", record()) == 5
    assert value("coalesce(value.profit_12m, 5)", record(value={"profit_12m": -2})) == -2
    assert value("coalesce(value.profit_12m, value.revenue_12m, 0)", rev(7)) == 7
    assert value("coalesce(value.profit_12m, value.revenue_12m)", record()) is None
    assert value('coalesce(kind, "unknown") == "unknown"', record()) is True
    assert value('coalesce(behaviour.speech_pace, "unknown")', record()) == "unknown"


# -- features ------------------------------------------------------------------


def _visits(*dates: str) -> dict[str, Any]:
    return record(cases=[{"id": "k1", "opened_at": "2026-01-05", "repair_visits": list(dates)}])


def test_feature_without_arguments() -> None:
    rec = record(cases=[{"id": "k1", "opened_at": "2026-11-01"}])
    assert value("open_cases", rec) == 1
    assert value("days_unresolved", rec) == 21
    assert value("days_since_contact", rec) is None


def test_feature_with_duration_argument() -> None:
    rec = _visits("2026-11-20", "2026-11-01", "2026-09-01")
    assert value("repair_visits_within(30d)", rec) == 2
    assert value("repair_visits_within(2w)", rec) == 1
    assert value("repair_visits_within(365)", rec) == 3
    assert matches("repair_visits_within(30d) >= 2", rec)


def test_feature_with_parameter_argument() -> None:
    rec = _visits("2026-11-20", "2026-11-01", "2026-09-01")
    assert value("repair_visits_within(params.window)", rec, params={"window": 30}) == 2
    p = policy(derive={"result": "repair_visits_within(params.window)"}, params={"window": 30})
    e = engine(p, params={"t": {"window": 100}})
    assert e.decide("t", rec, as_of=AS_OF).evidence["result"] == 3


def test_feature_values_are_evidence() -> None:
    p = policy([{"id": "r", "when": "repair_visits_within(30d) >= 1", "then": "yes"}])
    d = engine(p).decide("t", _visits("2026-11-20"), as_of=AS_OF)
    assert d.label == "yes"
    assert d.evidence["repair_visits_within(30d)"] == 1


def test_huge_feature_window_counts_every_visit() -> None:
    assert value("repair_visits_within(99999999999d)", _visits("2026-11-20", "1999-01-01")) == 2


# -- params ----------------------------------------------------------------------


def test_params_are_read_and_overridable() -> None:
    p = policy(
        [{"id": "big", "when": "value.revenue_12m >= params.threshold", "then": "yes"}],
        params={"threshold": 500},
        default="no",
    )
    assert engine(p).decide("t", rev(600), as_of=AS_OF).label == "yes"
    assert engine(p).decide("t", rev(400), as_of=AS_OF).label == "no"
    e = engine(p, params={"t": {"threshold": 1000}})
    assert e.params("t") == {"threshold": 1000}
    assert e.decide("t", rev(600), as_of=AS_OF).label == "no"


def test_params_of_every_type() -> None:
    params = {"n": 3, "x": 1.5, "s": "company", "b": True, "d": dt.date(2026, 1, 1)}
    rec = record(kind="company", value={"orders_12m": 3, "bad_debt": True}, birthday="2026-01-01")
    assert value("value.orders_12m == params.n", rec, params=params) is True
    assert value("value.orders_12m * params.x", rec, params=params) == 4.5
    assert value("kind == params.s", rec, params=params) is True
    assert value("value.bad_debt == params.b", rec, params=params) is True
    assert value("birthday == params.d", rec, params=params) is True
    assert value("params.d + 1d", rec, params=params) == dt.date(2026, 1, 2)


# -- derived values --------------------------------------------------------------


def test_derive_chain() -> None:
    derive = {
        "margin": "value.revenue_12m - value.service_cost_12m",
        "margin_rate": "margin / value.revenue_12m",
        "healthy": "margin_rate >= 0.5",
    }
    rec = record(value={"revenue_12m": 1000, "service_cost_12m": 300})
    assert value("healthy and margin > 600", rec, derive=derive) is True
    p = policy([{"id": "h", "when": "healthy", "then": "yes"}], derive=derive, default="no")
    d = engine(p).decide("t", rec, as_of=AS_OF)
    assert d.label == "yes"
    assert d.evidence["margin"] == 700
    assert d.evidence["margin_rate"] == 0.7


def test_missing_input_of_a_derived_value_is_reported() -> None:
    derive = {"margin": "value.revenue_12m - value.service_cost_12m"}
    p = policy([{"id": "h", "when": "margin > 0", "then": "yes"}], derive=derive, default="no")
    d = engine(p).decide("t", record(value={"revenue_12m": 10}), as_of=AS_OF)
    assert d.label == "no"
    assert d.evidence["margin"] is None
    assert d.missing == ("value.service_cost_12m",)


def test_derived_values_are_evidence_even_when_no_rule_reads_them() -> None:
    p = policy([{"id": "r", "when": "true", "then": "yes"}], derive={"double": "value.revenue_12m * 2"})
    d = engine(p).decide("t", rev(21), as_of=AS_OF)
    assert d.evidence["double"] == 42


def test_derived_value_used_before_it_is_defined_is_unknown() -> None:
    with pytest.raises(cr.PolicyError, match="unknown name 'later'"):
        engine(policy(derive={"early": "later + 1", "later": "1"}))
