"""Tests for cr.allocate: integer quotas of a scarce product by grade weight."""

from __future__ import annotations

import datetime as dt
import doctest
import math
import random
from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import customer_rules as cr
from customer_rules import Decision, Profile

AS_OF = dt.date(2026, 11, 22)
DOCS = Path(__file__).resolve().parent.parent / "docs" / "allocation.md"

# Licence grades of SCHEMES.md §6 with example weights (a firm picks its own).
GRADE_WEIGHTS = {"A5": 5, "A4": 4, "A3": 3, "A2": 2, "A1": 1.5, "A": 1, "B": 0.5, "C": 0}
RETAILERS = {
    "R1": "A5",
    "R2": "A4",
    "R3": "A3",
    "R4": "A2",
    "R5": "A1",
    "R6": "A",
    "R7": "B",
    "R8": "C",
    "R9": "suspended",
}


def decision(cid: str | None, label: str | None, scheme: str = "retail_license_grade") -> Decision:
    return Decision(
        scheme=scheme,
        label=label,
        rule=None,
        policy_id=scheme,
        policy_version="1",
        as_of=AS_OF,
        evidence={},
        record_id=cid,
    )


# ---------------------------------------------------------------------------
# worked examples (arithmetic by hand in the comments)


def test_licence_grades_largest_remainder() -> None:
    # weights in play: 5 + 4 + 3 + 2 + 1.5 + 1 + 0.5 = 17 (C is 0, suspended excluded)
    # exact quotas 100·w/17: A5 29 7/17, A4 23 9/17, A3 17 11/17, A2 11 13/17,
    # A1 8 14/17, A 5 15/17, B 2 16/17 -> whole parts sum to 95, 5 units left,
    # they go to the 5 largest remainders: B, A, A1, A2, A3.
    alloc = cr.allocate(100, RETAILERS, GRADE_WEIGHTS)
    assert alloc.quantities == {
        "R1": 29,
        "R2": 23,
        "R3": 18,
        "R4": 12,
        "R5": 9,
        "R6": 6,
        "R7": 3,
        "R8": 0,
        "R9": 0,
    }
    assert alloc.total == 100
    assert alloc.unallocated == 0
    assert alloc.leftover == 5
    assert alloc.by_label == {
        "A5": 29,
        "A4": 23,
        "A3": 18,
        "A2": 12,
        "A1": 9,
        "A": 6,
        "B": 3,
        "C": 0,
        "suspended": 0,
    }
    assert alloc.shares["R1"].quota == Fraction(500, 17)
    assert not alloc.shares["R1"].extra
    assert alloc.shares["R7"].rank == 1


def test_cap_binds_and_surplus_is_redistributed_by_weight() -> None:
    # R1 (A5) would get 29.4 but is capped at 20; the other 80 units go to
    # weights 4+3+2+1.5+1+0.5 = 12: 80·w/12 -> A4 26 2/3, A3 20, A2 13 1/3,
    # A1 10, A 6 2/3, B 3 1/3; whole parts 78 + 20 = 98, 2 units left, for the
    # two remainders of 2/3 (A4 and A).
    alloc = cr.allocate(100, RETAILERS, GRADE_WEIGHTS, caps={"R1": 20})
    assert alloc.quantities == {
        "R1": 20,
        "R2": 27,
        "R3": 20,
        "R4": 13,
        "R5": 10,
        "R6": 7,
        "R7": 3,
        "R8": 0,
        "R9": 0,
    }
    assert alloc.unallocated == 0
    assert alloc.shares["R1"].capped
    assert alloc.shares["R3"].quota == 20
    assert alloc.shares["R3"].rank is None


def test_redistribution_is_iterative() -> None:
    # 30 units, weights x 2, y 1, z 1: proportional 15, 7.5, 7.5. x is capped at
    # 5, the other 25 go to y and z: 12.5 each; now y exceeds its cap of 9, so
    # z takes the rest: 16.
    alloc = cr.allocate(30, {"x": "A", "y": "B", "z": "B"}, {"A": 2, "B": 1}, caps={"x": 5, "y": 9})
    assert alloc.quantities == {"x": 5, "y": 9, "z": 16}
    assert alloc.shares["y"].proportional == Fraction(15, 2)
    assert alloc.shares["y"].capped
    assert alloc.shares["z"].quota == 16


def test_everyone_capped_leaves_supply_unallocated() -> None:
    alloc = cr.allocate(100, RETAILERS, GRADE_WEIGHTS, caps=3)
    # 7 customers with a positive weight, 3 each; C and suspended get nothing
    assert alloc.quantities == {
        "R1": 3,
        "R2": 3,
        "R3": 3,
        "R4": 3,
        "R5": 3,
        "R6": 3,
        "R7": 3,
        "R8": 0,
        "R9": 0,
    }
    assert alloc.total == 21
    assert alloc.unallocated == 79


def test_caps_exactly_enough() -> None:
    alloc = cr.allocate(10, {"a": "A", "b": "B"}, {"A": 1, "B": 1}, caps={"a": 4, "b": 6})
    assert alloc.quantities == {"a": 4, "b": 6}
    assert alloc.unallocated == 0


def test_zero_cap_gets_nothing_and_others_take_its_share() -> None:
    alloc = cr.allocate(9, {"a": "A", "b": "A", "c": "A"}, {"A": 1}, caps={"a": 0})
    assert alloc.quantities == {"a": 0, "b": 5, "c": 4}  # 4.5 each, tie broken by id


def test_none_cap_means_uncapped() -> None:
    alloc = cr.allocate(10, {"a": "A", "b": "A"}, {"A": 1}, caps={"a": None, "b": 2})
    assert alloc.quantities == {"a": 8, "b": 2}


def test_supply_zero() -> None:
    alloc = cr.allocate(0, RETAILERS, GRADE_WEIGHTS)
    assert set(alloc.quantities) == set(RETAILERS)
    assert all(q == 0 for q in alloc.values())
    assert alloc.total == 0
    assert alloc.unallocated == 0


def test_empty_decisions() -> None:
    alloc = cr.allocate(50, {}, GRADE_WEIGHTS)
    assert alloc.quantities == {}
    assert len(alloc) == 0
    assert alloc.total == 0
    assert alloc.unallocated == 50
    assert alloc.by_label == {}


def test_all_zero_weights_allocates_nothing() -> None:
    alloc = cr.allocate(50, {"a": "C", "b": "C", "c": "suspended"}, GRADE_WEIGHTS)
    assert alloc.quantities == {"a": 0, "b": 0, "c": 0}
    assert alloc.unallocated == 50


def test_suspended_gets_nothing_even_when_it_is_the_only_customer() -> None:
    alloc = cr.allocate(10, {"a": "suspended"}, {"A": 1})
    assert alloc["a"] == 0
    assert alloc.unallocated == 10


def test_exclude_can_be_changed() -> None:
    alloc = cr.allocate(10, {"a": "suspended", "b": "A"}, {"A": 1, "suspended": 1}, exclude=())
    assert alloc.quantities == {"a": 5, "b": 5}
    alloc = cr.allocate(10, {"a": "B", "b": "A"}, {"A": 1}, exclude=["B"])
    assert alloc.quantities == {"a": 0, "b": 10}


# ---------------------------------------------------------------------------
# ties


def test_tie_goes_to_higher_weight() -> None:
    # 6 units, weights 3 and 1: 4.5 and 1.5, equal remainders; the higher weight wins
    alloc = cr.allocate(6, {"small": "B", "big": "A"}, {"A": 3, "B": 1})
    assert alloc.quantities == {"big": 5, "small": 1}


def test_tie_goes_to_smaller_id_whatever_the_input_order() -> None:
    ids = ["C3", "C1", "C2"]
    for _ in range(10):
        random.shuffle(ids)
        alloc = cr.allocate(2, dict.fromkeys(ids, "A"), {"A": 1})
        assert alloc.quantities == {"C1": 1, "C2": 1, "C3": 0}
        assert list(alloc) == ["C1", "C2", "C3"]


def test_integer_ids_sort_numerically() -> None:
    alloc = cr.allocate(2, {10: "A", 9: "A", 2: "A"}, {"A": 1})
    assert alloc.quantities == {2: 1, 9: 1, 10: 0}


def test_tie_rule_is_explained() -> None:
    alloc = cr.allocate(2, {"C1": "A", "C2": "A", "C3": "A"}, {"A": 1})
    text = alloc.explain("C3")
    assert "tied on remainder with 2 others" in text
    assert "smaller customer id" in text
    assert "no extra unit" in text


def test_licence_example_is_the_same_in_any_order() -> None:
    expected = cr.allocate(100, RETAILERS, GRADE_WEIGHTS, caps={"R1": 20})
    items = list(RETAILERS.items())
    for seed in range(20):
        random.Random(seed).shuffle(items)
        again = cr.allocate(100, dict(items), GRADE_WEIGHTS, caps={"R1": 20})
        assert again == expected
        assert list(again.items()) == list(expected.items())


# ---------------------------------------------------------------------------
# input forms


def test_decisions_as_decision_objects() -> None:
    ds = [decision(cid, label) for cid, label in RETAILERS.items()]
    assert cr.allocate(100, ds, GRADE_WEIGHTS) == cr.allocate(100, RETAILERS, GRADE_WEIGHTS)
    assert cr.allocate(100, ds, GRADE_WEIGHTS, scheme="retail_license_grade").total == 100


def test_decision_for_another_scheme_is_refused() -> None:
    with pytest.raises(ValueError, match=r"'R1'.*'lead_grade'"):
        cr.allocate(10, [decision("R1", "A", scheme="lead_grade")], {"A": 1}, scheme="retail_license_grade")


def test_decision_without_record_id_is_refused() -> None:
    with pytest.raises(ValueError, match=r"decisions\[1\] has no customer id"):
        cr.allocate(10, [decision("R1", "A"), decision(None, "A")], {"A": 1})


def test_duplicate_customer_is_refused() -> None:
    with pytest.raises(ValueError, match="'R1' appears more than once"):
        cr.allocate(10, [decision("R1", "A"), decision("R1", "B")], {"A": 1, "B": 1})


def test_decisions_of_other_types_are_refused() -> None:
    with pytest.raises(ValueError, match=r"decisions\[0\] is a tuple"):
        cr.allocate(10, [("R1", "A")], {"A": 1})
    with pytest.raises(ValueError, match="got str"):
        cr.allocate(10, "R1", {"A": 1})
    with pytest.raises(ValueError, match="must be a string or None"):
        cr.allocate(10, {"R1": 3}, {"A": 1})


def test_profiles_with_scheme() -> None:
    profiles = [
        Profile(
            cid, AS_OF, {"retail_license_grade": decision(cid, label), "other": decision(cid, "x", "other")}
        )
        for cid, label in RETAILERS.items()
    ]
    alloc = cr.allocate(100, profiles, GRADE_WEIGHTS, scheme="retail_license_grade")
    assert alloc == cr.allocate(100, RETAILERS, GRADE_WEIGHTS)
    with pytest.raises(ValueError, match="pass scheme="):
        cr.allocate(100, profiles, GRADE_WEIGHTS)
    with pytest.raises(ValueError, match="'R1' has no decision for scheme 'nope'"):
        cr.allocate(100, profiles, GRADE_WEIGHTS, scheme="nope")


def test_mapping_to_decisions_and_profiles() -> None:
    by_id = {cid: decision(cid, label) for cid, label in RETAILERS.items()}
    assert cr.allocate(100, by_id, GRADE_WEIGHTS) == cr.allocate(100, RETAILERS, GRADE_WEIGHTS)
    profiles = {
        cid: Profile(cid, AS_OF, {"g": decision(cid, label, "g")}) for cid, label in RETAILERS.items()
    }
    assert cr.allocate(100, profiles, GRADE_WEIGHTS, scheme="g") == cr.allocate(100, RETAILERS, GRADE_WEIGHTS)


def test_engine_batch_result() -> None:
    policy = cr.Policy.model_validate(
        {
            "id": "grade",
            "version": "1",
            "hit": "first",
            "labels": [
                {"id": "A", "zh": "甲", "en": "A"},
                {"id": "B", "zh": "乙", "en": "B"},
                {"id": "suspended", "zh": "暂停", "en": "Suspended"},
            ],
            "rules": [
                {"id": "bad", "when": "value.bad_debt == true", "then": "suspended"},
                {"id": "big", "when": "value.revenue_12m >= 100000", "then": "A"},
            ],
            "default": "B",
        }
    )
    engine = cr.Engine([policy], load_entry_points=False)
    batch = engine.classify_many(cr.sample_customers(40), as_of=cr.SAMPLE_AS_OF, schemes=["grade"])
    alloc = cr.allocate(1000, batch, {"A": 3, "B": 1}, scheme="grade")
    labels = {p.customer_id: p["grade"].label for p in batch}
    assert set(alloc) == set(labels)
    assert alloc.total == 1000
    assert alloc == cr.allocate(1000, labels, {"A": 3, "B": 1})
    assert all(alloc[c] == 0 for c, lab in labels.items() if lab == "suspended")


def test_polars_frame() -> None:
    pl = pytest.importorskip("polars")
    df = pl.DataFrame({"id": list(RETAILERS), "label": list(RETAILERS.values()), "x": range(9)})
    assert cr.allocate(100, df, GRADE_WEIGHTS) == cr.allocate(100, RETAILERS, GRADE_WEIGHTS)
    assert cr.allocate(100, df.lazy(), GRADE_WEIGHTS) == cr.allocate(100, RETAILERS, GRADE_WEIGHTS)
    renamed = df.rename({"id": "retailer", "label": "retail_license_grade"})
    alloc = cr.allocate(100, renamed, GRADE_WEIGHTS, id_column="retailer", scheme="retail_license_grade")
    assert alloc == cr.allocate(100, RETAILERS, GRADE_WEIGHTS)
    with pytest.raises(ValueError, match=r"no column 'grade'.*columns: id, label, x"):
        cr.allocate(100, df, GRADE_WEIGHTS, label_column="grade")


def test_polars_null_label_is_unclassified() -> None:
    pl = pytest.importorskip("polars")
    df = pl.DataFrame({"id": ["a", "b"], "label": ["A", None]})
    with pytest.raises(ValueError, match="'b', which is unclassified"):
        cr.allocate(10, df, {"A": 1})
    assert cr.allocate(10, df, {"A": 1}, missing_weight=0).quantities == {"a": 10, "b": 0}


def test_pandas_frame() -> None:
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"id": list(RETAILERS), "label": list(RETAILERS.values())})
    assert cr.allocate(100, df, GRADE_WEIGHTS) == cr.allocate(100, RETAILERS, GRADE_WEIGHTS)
    df.loc[0, "label"] = None
    alloc = cr.allocate(100, df, GRADE_WEIGHTS, missing_weight=0)
    assert alloc["R1"] == 0
    assert alloc.total == 100
    dup = pd.DataFrame({"id": ["a", "a"], "label": ["A", "A"]})
    with pytest.raises(ValueError, match="'a' appears more than once in column 'id'"):
        cr.allocate(10, dup, {"A": 1})


# ---------------------------------------------------------------------------
# validation


@pytest.mark.parametrize("supply", [-1, 2.5, 10.0, True, "10", None])
def test_bad_supply(supply: Any) -> None:
    with pytest.raises(ValueError, match="supply must be a non-negative integer"):
        cr.allocate(supply, {"a": "A"}, {"A": 1})


@pytest.mark.parametrize("weight", [-1, float("nan"), float("inf"), "1", True, None])
def test_bad_weight_names_the_label(weight: Any) -> None:
    with pytest.raises(ValueError, match="weight for label 'A' must be a non-negative finite number"):
        cr.allocate(10, {"a": "A"}, {"A": weight})


def test_weights_must_be_a_mapping() -> None:
    with pytest.raises(ValueError, match="weights must be a mapping"):
        cr.allocate(10, {"a": "A"}, [("A", 1)])  # type: ignore[arg-type]


@pytest.mark.parametrize("cap", [-1, 1.5, "3", True])
def test_bad_cap_names_the_customer(cap: Any) -> None:
    with pytest.raises(ValueError, match="cap for customer 'a' must be a non-negative integer"):
        cr.allocate(10, {"a": "A"}, {"A": 1}, caps={"a": cap})


def test_bad_single_cap() -> None:
    with pytest.raises(ValueError, match="caps must be a non-negative integer"):
        cr.allocate(10, {"a": "A"}, {"A": 1}, caps=-2)


def test_cap_for_unknown_customer() -> None:
    with pytest.raises(ValueError, match="caps names customer 'zz'"):
        cr.allocate(10, {"a": "A"}, {"A": 1}, caps={"zz": 1})
    # customers read from decisions (not the keys of a dict) are checked the same way
    with pytest.raises(ValueError, match="caps names customer 'zz'"):
        cr.allocate(10, [decision("a", "A")], {"A": 1}, caps={"zz": 1})
    with pytest.raises(ValueError, match="caps names customer 'a'"):
        cr.allocate(10, [decision("b", "A")], {"A": 1}, caps={"b": 1, "a": 1})
    assert cr.allocate(10, [decision("a", "A"), decision("b", "A")], {"A": 1}, caps={"b": 1}).quantities == {
        "a": 9,
        "b": 1,
    }


def test_unknown_cap_is_named_before_a_missing_weight() -> None:
    """Bad caps are reported before labels without a weight, whatever the decisions' form."""
    for decisions in ({"a": "Z"}, [decision("a", "Z")]):
        with pytest.raises(ValueError, match="caps names customer 'zz'"):
            cr.allocate(10, decisions, {"A": 1}, caps={"zz": 1})


def test_unknown_label_raises_with_hint() -> None:
    with pytest.raises(ValueError, match=r"no weight for label 'a5' \(customer 'x'\).*did you mean 'A5'"):
        cr.allocate(10, {"x": "a5"}, GRADE_WEIGHTS)


def test_missing_weight_gives_unknown_labels_a_weight() -> None:
    assert cr.allocate(10, {"x": "D", "y": "A"}, {"A": 1}, missing_weight=0).quantities == {"x": 0, "y": 10}
    assert cr.allocate(10, {"x": "D", "y": "A"}, {"A": 1}, missing_weight=1).quantities == {"x": 5, "y": 5}
    with pytest.raises(ValueError, match="missing_weight must be"):
        cr.allocate(10, {"x": "D"}, {"A": 1}, missing_weight=-1)


def test_unclassified_customer_needs_missing_weight() -> None:
    with pytest.raises(ValueError, match="customer 'u', which is unclassified"):
        cr.allocate(10, [decision("u", None)], {"A": 1})
    alloc = cr.allocate(10, [decision("u", None), decision("a", "A")], {"A": 1}, missing_weight=0)
    assert alloc.quantities == {"a": 10, "u": 0}
    assert alloc.by_label == {"A": 10, None: 0}


def test_positive_weight_for_excluded_label_is_refused() -> None:
    with pytest.raises(ValueError, match="'suspended' is excluded"):
        cr.allocate(10, {"a": "A"}, {"A": 1, "suspended": 1})
    assert cr.allocate(10, {"a": "A"}, {"A": 1, "suspended": 0})["a"] == 10


def test_weight_types() -> None:
    from decimal import Decimal

    alloc = cr.allocate(10, {"a": "A", "b": "B"}, {"A": Decimal("0.3"), "B": Fraction(1, 10)})
    assert alloc.quantities == {"a": 8, "b": 2}  # 7.5 and 2.5: tie, higher weight wins
    # 0.1 + 0.2 in floats is not 0.3, but the split is exact over the floats given
    alloc = cr.allocate(3, {"a": "A", "b": "B"}, {"A": 0.1, "B": 0.2})
    assert alloc.quantities == {"a": 1, "b": 2}


# ---------------------------------------------------------------------------
# the result object


def test_mapping_access() -> None:
    alloc = cr.allocate(100, RETAILERS, GRADE_WEIGHTS)
    assert alloc["R1"] == 29
    assert "R1" in alloc
    assert "nobody" not in alloc
    assert len(alloc) == 9
    assert dict(alloc) == alloc.quantities
    assert alloc.get("nobody") is None
    with pytest.raises(KeyError, match="'nobody' is not in this allocation"):
        alloc["nobody"]
    with pytest.raises(KeyError, match="'nobody'"):
        alloc.explain("nobody")


def test_result_is_frozen() -> None:
    alloc = cr.allocate(10, {"a": "A"}, {"A": 1})
    with pytest.raises(AttributeError):
        alloc.supply = 5  # type: ignore[misc]


def test_explain_shows_share_quota_rounding_and_cap() -> None:
    alloc = cr.allocate(100, RETAILERS, GRADE_WEIGHTS, caps={"R1": 20, "R2": 40})
    text = alloc.explain("R2")
    assert text.startswith("customer R2: 27 units (label A4, weight 4)")
    assert "weight share: 4 of 17" in text
    assert "proportional share: 100 × 23.53% = 23.529" in text
    assert "exact quota: 26.667 (including 3.137 redistributed from capped customers)" in text
    assert "cap: 40" in text
    assert "whole part 26, remainder 0.667" in text
    assert "+1" in text
    capped = alloc.explain("R1")
    assert "cap 20 binds: gets 20; the 9.412 it cannot take went to the others by weight" in capped
    assert "excluded" in alloc.explain("R9")
    assert "weight 0" in alloc.explain("R8")
    assert "quota is whole" in alloc.explain("R3")


def test_explain_cap_binding_only_after_redistribution() -> None:
    alloc = cr.allocate(30, {"x": "A", "y": "B", "z": "B"}, {"A": 2, "B": 1}, caps={"x": 5, "y": 9})
    assert "cap 9 binds after redistribution" in alloc.explain("y")


def test_explain_in_chinese_and_summary() -> None:
    alloc = cr.allocate(100, RETAILERS, GRADE_WEIGHTS, caps={"R1": 20})
    assert "上限 20 生效" in alloc.explain("R1", lang="zh")
    assert "最大余数法" in alloc.explain("R2", lang="zh")
    summary = alloc.explain()
    assert summary.splitlines()[0] == "supply 100, allocated 100, unallocated 0 (9 customers)"
    assert "  A5: 20" in summary
    assert alloc.explain(lang="zh").startswith("供应 100，分配 100，未分配 0")
    with pytest.raises(ValueError, match="lang"):
        alloc.explain("R1", lang="fr")


def test_to_frame() -> None:
    pytest.importorskip("polars")
    alloc = cr.allocate(100, RETAILERS, GRADE_WEIGHTS, caps={"R1": 20})
    df = alloc.to_frame()
    assert df.columns == [
        "customer_id",
        "label",
        "weight",
        "cap",
        "quota",
        "quantity",
        "capped",
        "rounded_up",
    ]
    assert df.height == 9
    assert df["customer_id"].to_list() == list(alloc)
    assert df["quantity"].to_list() == list(alloc.values())
    assert df["quantity"].sum() == 100
    assert df.row(0, named=True)["capped"] is True
    assert df.row(0, named=True)["cap"] == 20
    assert df.row(1, named=True)["cap"] is None


def test_to_frame_of_empty_allocation() -> None:
    pytest.importorskip("polars")
    assert cr.allocate(5, {}, {"A": 1}).to_frame().height == 0


@settings(max_examples=60, deadline=None)
@given(
    ids=st.lists(
        st.one_of(
            st.text(max_size=4), st.integers(-(2**70), 2**70), st.tuples(st.text(max_size=2), st.integers())
        ),
        min_size=1,
        max_size=8,
        unique=True,
    ),
    supply=st.integers(0, 10**30),
    cap=st.none() | st.integers(0, 10**25),
)
def test_to_frame_holds_any_ids_and_quantities(ids: list[Any], supply: int, cap: int | None) -> None:
    """Tuple or mixed ids become text, whole ids stay whole, and quantities or
    caps beyond 64 bits keep every digit (128-bit columns)."""
    pytest.importorskip("polars")
    alloc = cr.allocate(supply, dict.fromkeys(ids, "A"), {"A": 1}, caps=cap)
    df = alloc.to_frame()
    assert df["quantity"].to_list() == list(alloc.values())
    assert df["cap"].to_list() == [cap] * len(ids)
    if all(type(i) is int for i in ids):
        assert df["customer_id"].to_list() == list(alloc)
    else:
        assert df["customer_id"].to_list() == [str(i) for i in alloc]


def test_to_frame_names_a_number_beyond_128_bits() -> None:
    pytest.importorskip("polars")
    alloc = cr.allocate(2**130, {"a": "A"}, {"A": 1})
    with pytest.raises(ValueError, match=r"'quantity'.*beyond 128 bits"):
        alloc.to_frame()


def test_repr_html_escapes() -> None:
    alloc = cr.allocate(3, {"<b>x</b>": "A", "y": "A"}, {"A": 1})
    out = alloc._repr_html_()
    assert "&lt;b&gt;x&lt;/b&gt;" in out
    assert "<b>x</b>" not in out
    assert "supply 3" in out


# ---------------------------------------------------------------------------
# properties


def reference(
    supply: int, labels: Mapping[str, str], weights: Mapping[str, Fraction], caps: Mapping[str, int]
) -> dict[str, int]:
    """Independent, slow re-statement of the rules (one customer fixed at a time)."""
    w = {c: (Fraction(0) if lab == "suspended" else weights[lab]) for c, lab in labels.items()}
    active = {c for c in labels if w[c] > 0}
    quota: dict[str, Fraction] = {c: Fraction(0) for c in labels}
    fixed: set[str] = set()
    budget = Fraction(supply)
    if all(c in caps for c in active):
        budget = min(budget, Fraction(sum(caps[c] for c in active)))
    while True:
        free = active - fixed
        left = budget - sum(caps[c] for c in fixed)
        total = sum((w[c] for c in free), Fraction(0))
        if not free or total == 0:
            break
        over = [c for c in free if c in caps and caps[c] <= left * w[c] / total]
        if not over:
            for c in free:
                quota[c] = left * w[c] / total
            break
        # fix the one that is furthest over its cap first (any order gives the same set)
        fixed.add(min(over, key=lambda c: (Fraction(caps[c]) / w[c], str(c))))
    for c in fixed:
        quota[c] = Fraction(caps[c])
    out = {c: math.floor(q) for c, q in quota.items()}
    left_units = int(sum(quota.values())) - sum(out.values())
    order = sorted(
        (c for c in labels if quota[c] != out[c]),
        key=lambda c: (out[c] - quota[c], -w[c], str(c)),
    )
    for c in order[:left_units]:
        out[c] += 1
    return out


LABELS = ["A5", "A4", "A3", "A2", "A1", "A", "B", "C", "suspended"]


@st.composite
def problems(draw: st.DrawFn) -> tuple[int, dict[str, str], dict[str, Fraction], dict[str, int]]:
    n = draw(st.integers(0, 25))
    ids = [f"C{i:02d}" for i in range(n)]
    labels = {c: draw(st.sampled_from(LABELS)) for c in ids}
    weights = {
        lab: Fraction(draw(st.integers(0, 12)), draw(st.sampled_from([1, 2, 3, 4, 10])))
        for lab in LABELS
        if lab != "suspended"
    }
    capped = draw(st.lists(st.sampled_from(ids), unique=True)) if ids else []
    caps = {c: draw(st.integers(0, 40)) for c in capped}
    supply = draw(st.integers(0, 400))
    return supply, labels, weights, caps


def target(
    supply: int, labels: Mapping[str, str], weights: Mapping[str, Fraction], caps: Mapping[str, int]
) -> int:
    positive = [c for c, lab in labels.items() if lab != "suspended" and weights[lab] > 0]
    if any(c not in caps for c in positive):
        return supply
    return min(supply, sum(caps[c] for c in positive))


@settings(max_examples=300, deadline=None)
@given(problems())
def test_sum_caps_and_zero_weights(
    problem: tuple[int, dict[str, str], dict[str, Fraction], dict[str, int]],
) -> None:
    supply, labels, weights, caps = problem
    alloc = cr.allocate(supply, labels, weights, caps)
    assert set(alloc) == set(labels)
    assert alloc.total == target(supply, labels, weights, caps)
    assert alloc.unallocated == supply - alloc.total >= 0
    for c in labels:
        q = alloc[c]
        assert q >= 0
        if c in caps:
            assert q <= caps[c]
        if labels[c] == "suspended" or weights[labels[c]] == 0:
            assert q == 0
    assert sum(alloc.by_label.values()) == alloc.total


@settings(max_examples=300, deadline=None)
@given(problems())
def test_matches_reference(problem: tuple[int, dict[str, str], dict[str, Fraction], dict[str, int]]) -> None:
    supply, labels, weights, caps = problem
    assert cr.allocate(supply, labels, weights, caps).quantities == reference(supply, labels, weights, caps)


@settings(max_examples=300, deadline=None)
@given(problems())
def test_higher_weight_never_gets_less_with_the_same_cap(
    problem: tuple[int, dict[str, str], dict[str, Fraction], dict[str, int]],
) -> None:
    supply, labels, weights, caps = problem
    alloc = cr.allocate(supply, labels, weights, caps)
    w = {c: (Fraction(0) if lab == "suspended" else weights[lab]) for c, lab in labels.items()}
    for i in labels:
        for j in labels:
            if w[i] > w[j] and caps.get(i) == caps.get(j):
                assert alloc[i] >= alloc[j], (i, j)


@settings(max_examples=200, deadline=None)
@given(problems(), st.randoms(use_true_random=False))
def test_input_order_never_matters(
    problem: tuple[int, dict[str, str], dict[str, Fraction], dict[str, int]], rnd: random.Random
) -> None:
    supply, labels, weights, caps = problem
    first = cr.allocate(supply, labels, weights, caps)
    items = list(labels.items())
    rnd.shuffle(items)
    cap_items = list(caps.items())
    rnd.shuffle(cap_items)
    second = cr.allocate(supply, dict(items), weights, dict(cap_items))
    assert second == first
    assert list(second.items()) == list(first.items())
    assert cr.allocate(supply, labels, weights, caps) == first  # same call, same answer


@settings(max_examples=300, deadline=None)
@given(problems())
def test_within_one_of_exact_quota_without_caps(
    problem: tuple[int, dict[str, str], dict[str, Fraction], dict[str, int]],
) -> None:
    supply, labels, weights, _ = problem
    alloc = cr.allocate(supply, labels, weights)
    w = {c: (Fraction(0) if lab == "suspended" else weights[lab]) for c, lab in labels.items()}
    total = sum(w.values(), Fraction(0))
    for c in labels:
        exact = supply * w[c] / total if total else Fraction(0)
        assert abs(alloc[c] - exact) < 1
        assert alloc[c] in (math.floor(exact), math.ceil(exact))


@settings(max_examples=200, deadline=None)
@given(problems(), st.integers(1, 50))
def test_scaling_weights_changes_nothing(
    problem: tuple[int, dict[str, str], dict[str, Fraction], dict[str, int]], k: int
) -> None:
    supply, labels, weights, caps = problem
    scaled = {lab: w * k for lab, w in weights.items()}
    assert (
        cr.allocate(supply, labels, scaled, caps).quantities
        == cr.allocate(supply, labels, weights, caps).quantities
    )


# ---------------------------------------------------------------------------
# docs


def test_docs_examples_run() -> None:
    result = doctest.testfile(
        str(DOCS), module_relative=False, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    )
    assert result.attempted > 0
    assert result.failed == 0


@settings(max_examples=200, deadline=None)
@given(problems())
def test_explanations_agree_with_the_shares(
    problem: tuple[int, dict[str, str], dict[str, Fraction], dict[str, int]],
) -> None:
    """Explaining everyone reuses per-allocation figures (so it stays linear):
    they must say what a customer-by-customer reading of the shares says."""
    supply, labels, weights, caps = problem
    alloc = cr.allocate(supply, labels, weights, caps)
    shares = {c: alloc.shares[c] for c in alloc.shares}
    assert list(shares) == list(alloc.quantities)
    total_weight = sum((s.weight for s in shares.values()), Fraction(0))
    for c, s in shares.items():
        assert s.quantity == alloc[c]
        text = alloc.explain(c)
        assert text.startswith(f"customer {c}: {s.quantity} unit")
        if s.excluded or s.weight == 0:
            continue
        assert f"of {total_weight.numerator if total_weight.denominator == 1 else ''}" in text
        if s.rank is not None:
            ties = sum(
                1 for x in shares.values() if x is not s and x.rank is not None and x.remainder == s.remainder
            )
            assert ("tied on remainder with" in text) == (ties > 0)
            if ties:
                assert f"with {ties} other" in text


@settings(max_examples=100, deadline=None)
@given(problems())
def test_explaining_from_the_working_says_what_the_shares_say(
    problem: tuple[int, dict[str, str], dict[str, Fraction], dict[str, int]],
) -> None:
    """``explain`` reads a customer's figures from the allocation's working
    without building its Share: the text must be the one its Share gives."""
    from customer_rules.apps.allocate import Allocation

    supply, labels, weights, caps = problem
    alloc = cr.allocate(supply, labels, weights, caps)
    plain = Allocation(
        supply=alloc.supply,
        quantities=alloc.quantities,
        shares={c: alloc.shares[c] for c in alloc.shares},
        leftover=alloc.leftover,
    )
    for c in alloc:
        for lang in ("en", "zh"):
            assert alloc.explain(c, lang=lang) == plain.explain(c, lang=lang)


@st.composite
def any_caps_problems(
    draw: st.DrawFn,
) -> tuple[int, dict[Any, str], dict[str, Fraction], dict[Any, int] | int | None]:
    """``problems`` with ids that may be ints or mixed ints and strings, and
    caps that may be one int for everyone or none at all."""
    supply, labels, weights, caps = draw(problems())
    ids = draw(st.sampled_from(["str", "int", "mixed"]))
    rename: dict[str, Any] = {
        c: c if ids == "str" else int(c[1:]) * 7 % 26 if ids == "int" or i % 2 else c
        for i, c in enumerate(labels)
    }
    form = draw(st.sampled_from(["map", "one", "none"]))
    cap: dict[Any, int] | int | None = (
        {rename[c]: v for c, v in caps.items()}
        if form == "map"
        else draw(st.integers(0, 30))
        if form == "one"
        else None
    )
    return supply, {rename[c]: lab for c, lab in labels.items()}, weights, cap


@settings(max_examples=300, deadline=None)
@given(any_caps_problems())
def test_working_follows_the_documented_queue(
    problem: tuple[int, dict[Any, str], dict[str, Fraction], dict[Any, int] | int | None],
) -> None:
    """Re-derive each customer's rank, extra unit and quantity from its Share
    alone, by the rules the module states: queued are the customers with a
    positive weight, not held at their cap, whose quota is not whole; the
    queue runs by larger remainder, then higher weight, then id (ints before
    strings); the first ``leftover`` get one more unit."""
    from customer_rules.apps.allocate import Allocation

    supply, labels, weights, caps = problem
    alloc = cr.allocate(supply, labels, weights, caps)
    shares = [alloc.shares[c] for c in alloc.shares]
    assert [s.customer_id for s in shares] == list(alloc.quantities)
    assert len(alloc.shares) == len(labels) and all(c in alloc.shares for c in labels)

    def id_key(c: Any) -> tuple[int, Any]:
        return (0, c) if isinstance(c, int) else (1, c)

    assert [s.customer_id for s in shares] == sorted(labels, key=id_key)
    queue = sorted(
        (s for s in shares if s.weight > 0 and not s.capped and s.quota != s.base),
        key=lambda s: (-s.remainder, -s.weight, id_key(s.customer_id)),
    )
    assert {s.customer_id for s in shares if s.rank is not None} == {s.customer_id for s in queue}
    for rank, s in enumerate(queue, start=1):
        assert s.rank == rank
    for s in shares:
        cap = caps if isinstance(caps, int) else (caps or {}).get(s.customer_id)
        assert s.cap == cap
        assert s.label == labels[s.customer_id]
        assert s.extra == (s.rank is not None and s.rank <= alloc.leftover)
        assert s.quantity == alloc[s.customer_id] == (s.cap if s.capped else s.base + s.extra)
        if s.weight == 0:
            assert s.quantity == 0 and s.rank is None and not s.capped
    plain = Allocation(
        supply=alloc.supply,
        quantities=alloc.quantities,
        shares={s.customer_id: s for s in shares},
        leftover=alloc.leftover,
    )
    for c in alloc:
        assert alloc.explain(c) == plain.explain(c)
        assert alloc.explain(c, lang="zh") == plain.explain(c, lang="zh")


@settings(max_examples=300, deadline=None)
@given(any_caps_problems(), st.sampled_from([None, 0, 1]))
def test_table_and_totals_from_the_working_are_the_shares_ones(
    problem: tuple[int, dict[Any, str], dict[str, Fraction], dict[Any, int] | int | None],
    missing_weight: int | None,
) -> None:
    """``to_frame`` and ``by_label`` (so the summary) read the working per kind of
    customer, without a Share each: they must give what the Shares, read one by
    one, give (an Allocation over a plain dict of Shares takes that path)."""
    pytest.importorskip("polars")
    from customer_rules.apps.allocate import Allocation

    supply, labels, weights, caps = problem
    labels = {c: (None if missing_weight is not None and lab == "A" else lab) for c, lab in labels.items()}
    alloc = cr.allocate(supply, labels, weights, caps, missing_weight=missing_weight)
    plain = Allocation(
        supply=alloc.supply,
        quantities=alloc.quantities,
        shares={c: alloc.shares[c] for c in alloc.shares},
        leftover=alloc.leftover,
    )
    assert list(alloc.by_label.items()) == list(plain.by_label.items())
    assert alloc.explain() == plain.explain() and alloc.explain(lang="zh") == plain.explain(lang="zh")
    new, old = alloc.to_frame(), plain.to_frame()
    assert new.schema == old.schema
    assert new.to_dict(as_series=False) == old.to_dict(as_series=False)


@settings(max_examples=200, deadline=None)
@given(any_caps_problems(), st.randoms(use_true_random=False))
def test_customers_asked_for_in_any_order_get_their_own_working(
    problem: tuple[int, dict[Any, str], dict[str, Fraction], dict[Any, int] | int | None],
    rnd: random.Random,
) -> None:
    """A customer's place is taken without a lookup when it follows the last
    one asked for (the same id object); any order, repeats, equal ids that
    are other objects and unknown ids must read what asking in order reads."""
    supply, labels, weights, caps = problem
    in_order = cr.allocate(supply, labels, weights, caps)
    texts = {c: (in_order.explain(c), in_order.explain(c, lang="zh")) for c in in_order}
    shares = {c: in_order.shares[c] for c in in_order}
    alloc = cr.allocate(supply, labels, weights, caps)
    asks = list(alloc) * 2
    rnd.shuffle(asks)
    asks += list(alloc)[: rnd.randint(0, len(labels))]
    for c in asks:
        same = c if rnd.random() < 0.5 or not isinstance(c, str) else "".join(list(c))  # an equal, other object
        assert alloc.explain(same) == texts[c][0]
        assert alloc.explain(same, lang="zh") == texts[c][1]
        assert alloc.shares[same] == shares[c]
    for unknown in ("nobody", -1, ("x", 1)):
        if unknown not in labels:
            with pytest.raises(KeyError):
                alloc.explain(unknown)
            assert unknown not in alloc.shares
    assert list(alloc.shares) == list(alloc) and len(alloc.shares) == len(labels)
