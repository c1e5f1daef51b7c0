"""The python backend's fused closures give what the generic closures give.

``Compiler(specialise=True)`` (the default) compiles comparisons and
arithmetic on cached values (fields, derived values, features, population
functions) to fused closures that look the value up themselves. They must
not change anything observable: the rules matched and undecided, the
flags, the evidence (values *and* the order they were read in, which
``explain(detail="full")`` shows), and the error raised, if any. Compared
here on random policies over random records, and on every built-in scheme
over the sample customers.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from rules_support import AS_OF, engine
from test_frame_differential import policies, records

import customer_rules as cr
from customer_rules.backends.base import Outcome
from customer_rules.backends.python import PythonPolicy


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


def _observed(policy: PythonPolicy, record: Any) -> tuple[Any, ...]:
    """Everything an evaluation shows: outcome with evidence in read order, or the error."""
    try:
        out: Outcome = policy.evaluate(record, AS_OF, None)
    except cr.CustomerRulesError as exc:
        return ("error", type(exc).__name__, str(exc))
    return (
        [r.id for r in out.matched],
        [r.id for r in out.unknown],
        out.flags,
        list(out.evidence.items()),
    )


def _assert_same(fused: tuple[Any, ...], generic: tuple[Any, ...]) -> None:
    assert fused[:3] == generic[:3]
    if fused[0] == "error":
        return
    keys_fused = [k for k, _ in fused[3]]
    keys_generic = [k for k, _ in generic[3]]
    assert keys_fused == keys_generic  # same values read, in the same order
    for (k, a), (_, b) in zip(fused[3], generic[3], strict=True):
        assert _same(a, b), (k, a, b)


def _pair(e: cr.Engine, sid: str) -> tuple[PythonPolicy, PythonPolicy]:
    fused = e.compiled(sid)
    assert isinstance(fused, PythonPolicy) and fused.compiler.specialise
    generic = PythonPolicy(e.checked(sid), sid, cuts=e.cuts(sid), specialise=False)
    return fused, generic


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
@given(data=policies(), rows=st.lists(records(), min_size=1, max_size=6))
def test_fused_closures_agree_with_generic_ones_on_random_policies(
    data: dict[str, Any], rows: list[dict[str, Any]]
) -> None:
    try:
        e = engine(cr.Policy.model_validate(data))
    except cr.PolicyError:  # pragma: no cover - the generator only builds well-typed policies
        assume(False)
        return
    fused, generic = _pair(e, "t")
    for i, row in enumerate(rows):
        rec = e.record_model.model_validate({"id": f"c{i}", **row})
        _assert_same(_observed(fused, rec), _observed(generic, rec))


@pytest.fixture(scope="module")
def fitted() -> tuple[cr.Engine, list[cr.Customer]]:
    e = cr.Engine(load_entry_points=False).fit(cr.sample_customers(400), as_of=cr.SAMPLE_AS_OF)
    return e, cr.sample_customers(150, seed=5)


def test_fused_closures_agree_with_generic_ones_on_every_builtin_scheme(
    fitted: tuple[cr.Engine, list[cr.Customer]],
) -> None:
    e, customers = fitted
    for sid in e.schemes:
        fused, generic = _pair(e, sid)
        for c in customers:
            a = fused.evaluate(c, cr.SAMPLE_AS_OF, c.id)
            b = generic.evaluate(c, cr.SAMPLE_AS_OF, c.id)
            assert [r.id for r in a.matched] == [r.id for r in b.matched], (sid, c.id)
            assert [r.id for r in a.unknown] == [r.id for r in b.unknown], (sid, c.id)
            assert a.flags == b.flags, (sid, c.id)
            assert list(a.evidence) == list(b.evidence), (sid, c.id)
            for k, v in a.evidence.items():
                assert _same(v, b.evidence[k]), (sid, c.id, k)


def test_a_parameter_beside_a_missing_value_is_evidence_only_once_read() -> None:
    """``x - params.m`` reads the parameter only when ``x`` is known (as the
    generic closure does); ``x >= params.t`` always reads it."""
    p = cr.Policy.model_validate(
        {
            "id": "t",
            "labels": [{"id": "yes", "zh": "是", "en": "Yes"}],
            "params": {"m": 2, "t": 10},
            "derive": {"less": "value.orders_12m - params.m"},
            "rules": [{"id": "r", "when": "value.revenue_12m >= params.t", "then": "yes"}],
        }
    )
    e = engine(p)
    unknown = e.decide("t", {"id": "c"}, as_of=AS_OF)
    assert list(unknown.evidence) == ["value.revenue_12m", "params.t", "value.orders_12m", "less"]
    known = e.decide("t", {"id": "c", "value": {"orders_12m": 5, "revenue_12m": 20}}, as_of=AS_OF)
    assert list(known.evidence) == ["value.revenue_12m", "params.t", "value.orders_12m", "params.m", "less"]
    assert known.evidence["less"] == 3 and known.label == "yes"
