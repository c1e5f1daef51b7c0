"""Property tests of the interop formats.

* differential: hypothesis-generated decision tables (typed columns, every
  operator of the shared subset, ``is missing``, hit first / priority /
  collect, defaults, ``on_many``) exported to JDM and evaluated by
  zen-engine give the label (and, under collect, the labels) our python
  backend gives, on generated records. The known differences are
  normalised by ``interop.zen_input`` / ``interop.jdm.zen_decision`` (the
  one place, documented in ``interop.ZEN_DIFFERENCES``);
* round trips: policy -> JDM / DMN / xlsx -> policy decides every generated
  record as the original does.
"""

from __future__ import annotations

import itertools
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st
from rules_support import AS_OF

import customer_rules as cr
from customer_rules import interop
from customer_rules.interop.jdm import zen_decision

zen = pytest.importorskip("zen")
pytest.importorskip("openpyxl")
pytest.importorskip("defusedxml")

NUMBERS = {"value.revenue_12m": 0, "value.profit_12m": None, "value.orders_12m": 0, "value.overdue_days": 0}
INTEGER = {"value.orders_12m", "value.overdue_days"}
TEXTS = ["segment", "region"]
BOOLS = ["value.bad_debt", "is_large_account"]
FIELDS = [*NUMBERS, *TEXTS, *BOOLS]
TEXT_POOL = ["a", "b", "x y", "中文", 'say "hi"', "it's", ""]
NUMBER_POOL = [0, 1, 2, 2.5, 3, 10, 99.99, 0.1, 0.30000000000000004, 1000]
LABELS = ["L0", "L1", "L2", "L3"]

number_st = st.one_of(
    st.sampled_from(NUMBER_POOL),
    st.integers(-1000, 10**9),
    st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
)


def lit(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    return repr(v)


@st.composite
def unary_test(draw: st.DrawFn, field: str) -> str:
    """One test of the shared subset on ``field``, as text in our language."""
    if field in NUMBERS:
        const: st.SearchStrategy[Any] = number_st
        ops = ["==", "!=", "<", "<=", ">", ">=", "in", "not in", "between"]
    elif field in TEXTS:
        const = st.sampled_from(TEXT_POOL)
        ops = ["==", "!=", "in", "not in"]
    else:
        const = st.booleans()
        ops = ["==", "!="]
    op = draw(st.sampled_from(ops))
    if op in ("in", "not in"):
        values = draw(st.lists(const, min_size=1, max_size=3))
        core = f"{field} {op} [{', '.join(lit(v) for v in values)}]"
    elif op == "between":
        core = f"{field} between {lit(draw(const))} and {lit(draw(const))}"
    else:
        core = f"{field} {op} {lit(draw(const))}"
    shape = draw(st.sampled_from(["plain", "plain", "plain", "missing", "present", "or_missing"]))
    if shape == "missing":
        return f"{field} is missing"
    if shape == "present":
        return f"{field} is not missing"
    if shape == "or_missing":
        return f"({field} is missing or {core})"
    return core


@st.composite
def policies(draw: st.DrawFn, hits: tuple[str, ...] = ("first", "priority", "collect")) -> cr.Policy:
    hit = draw(st.sampled_from(hits))
    labels = LABELS[: draw(st.integers(2, 4))]
    rules = []
    for n in range(draw(st.integers(1, 6))):
        fields = draw(st.lists(st.sampled_from(FIELDS), unique=True, max_size=3))
        tests = [draw(unary_test(f)) for f in fields]
        rules.append(
            {"id": f"r{n}", "when": " and ".join(tests) or "true", "then": draw(st.sampled_from(labels))}
        )
    data: dict[str, Any] = {
        "id": "generated",
        "hit": hit,
        "labels": [{"id": lab, "zh": lab, "en": lab} for lab in labels],
        "rules": rules,
    }
    if draw(st.booleans()):
        data["default"] = draw(st.sampled_from(labels))
    if hit == "collect" and draw(st.booleans()):
        data["on_many"] = draw(st.sampled_from(labels))
    return cr.Policy.model_validate(data)


def constants(policy: cr.Policy) -> list[Any]:
    """Numbers and texts the policy compares with (records should hit them)."""
    out: list[Any] = []
    for rule in policy.rules:
        for tok in rule.when.replace("[", " ").replace("]", " ").replace(",", " ").split():
            try:
                out.append(float(tok) if "." in tok or "e" in tok else int(tok))
            except ValueError:
                continue
    return out


@st.composite
def records(draw: st.DrawFn, policy: cr.Policy) -> dict[str, Any]:
    seen = [v for v in constants(policy) if v >= 0]
    nums = st.one_of(st.sampled_from(NUMBER_POOL), number_st, *([st.sampled_from(seen)] if seen else []))
    value: dict[str, Any] = {}
    rec: dict[str, Any] = {"id": "c1", "value": value}
    for field in FIELDS:
        if draw(st.integers(0, 4)) == 0:
            continue  # missing
        if field in NUMBERS:
            v = draw(nums)
            if field in INTEGER:
                v = abs(int(v))
            elif NUMBERS[field] == 0:
                v = abs(v)
        elif field in TEXTS:
            v = draw(st.sampled_from(TEXT_POOL))
        else:
            v = draw(st.booleans())
        if field.startswith("value."):
            value[field.split(".", 1)[1]] = v
        else:
            rec[field] = v
    return interop.zen_input(rec)  # ZEN's decimals: the one normalisation


_ENGINE = cr.Engine(load_entry_points=False)
_IDS = itertools.count()


def ours(policy: cr.Policy) -> str:
    """Add the policy to the shared engine under a fresh id; returns that id."""
    sid = f"p{next(_IDS)}"
    _ENGINE.add_policy(policy.model_copy(update={"id": sid}))
    return sid


def answer(sid: str, rec: dict[str, Any], hit: str, *, rule: bool = False) -> tuple[Any, ...]:
    """What a decision says that the formats keep: the label (the labels under collect)."""
    d = _ENGINE.decide(sid, rec, as_of=AS_OF)
    out = (d.label, d.labels) if hit == "collect" else (d.label,)
    return (*out, d.rule) if rule else out


COUNTS: dict[str, int] = {}


def _count(name: str, n: int = 1) -> None:
    COUNTS[name] = COUNTS.get(name, 0) + n


# -- zen-engine as an oracle -------------------------------------------------------


@settings(
    max_examples=int(os.environ.get("INTEROP_EXAMPLES", 250)),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(data=st.data())
def test_zen_engine_decides_exported_tables_as_we_do(data: st.DataObject) -> None:
    policy = data.draw(policies())
    sid = ours(policy)
    try:
        graph = interop.to_jdm(policy)
    except interop.InteropError as exc:  # a constant ZEN's decimals cannot hold: refused, not rounded
        assert "ZEN cannot hold" in str(exc)
        reject()
    decision = zen.ZenEngine().create_decision(json.dumps(graph))
    for rec in data.draw(st.lists(records(policy), min_size=1, max_size=12)):
        got = decision.evaluate(rec)["result"]
        label, labels = zen_decision(policy, got)
        theirs = (label, labels) if policy.hit == "collect" else (label,)
        assert answer(sid, rec, policy.hit) == theirs, (policy.rules, rec, got)
        _count("zen records")
    _count("zen tables")


# -- round trips ---------------------------------------------------------------------


def through(fmt: str, policy: cr.Policy) -> cr.Policy:
    if fmt == "jdm":
        return interop.from_jdm(json.loads(json.dumps(interop.to_jdm(policy))))
    if fmt == "dmn":
        return interop.from_dmn(interop.to_dmn(policy))
    with tempfile.TemporaryDirectory() as tmp:
        path = interop.to_xlsx(policy, Path(tmp) / "policy.xlsx")
        return interop.from_xlsx(path)


@pytest.mark.parametrize("fmt", ["jdm", "dmn", "xlsx"])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_round_trip_decides_every_record_the_same(fmt: str, data: st.DataObject) -> None:
    hits = ("first", "priority", "collect") if fmt == "jdm" else ("first", "unique", "priority", "collect")
    policy = data.draw(policies(hits))
    try:
        back = through(fmt, policy)
    except interop.InteropError as exc:  # a constant ZEN's decimals cannot hold: refused, not rounded
        assert fmt == "jdm" and "ZEN cannot hold" in str(exc)
        reject()
    before, after = ours(policy), ours(back)
    for rec in data.draw(st.lists(records(policy), min_size=1, max_size=12)):
        try:
            want = answer(before, rec, policy.hit, rule=True)
        except cr.EvaluationError as exc:  # unique: two rules matched
            with pytest.raises(cr.EvaluationError):
                answer(after, rec, policy.hit)
            assert "both match" in str(exc)
            continue
        got = answer(after, rec, policy.hit, rule=True)
        assert got == want, (policy.rules, back.rules, rec)
        _count(f"round trip {fmt} records")
    _count(f"round trip {fmt} policies")


def test_report_example_counts() -> None:
    """Prints how many tables and records the property tests above tried (run with -s)."""
    print("interop example counts:", json.dumps(COUNTS, sort_keys=True))
