"""The durable backend's fence around durable_rules (DESIGN.md): its own host
per engine, unique ruleset names, every action done inside the call and its
exceptions raised, JSON-safe facts, no negative priorities, session state
deleted, a clear error where durable_rules cannot run — and exact answers on
the values durable_rules cannot compare as Python does."""

from __future__ import annotations

import gc
import json
import sys
import threading
from typing import Any

import pytest

import customer_rules as cr

durable = pytest.importorskip("customer_rules.backends.durable")
if not durable.available():  # pragma: no cover - CPython 3.13+ or no durable_rules
    pytest.skip("durable_rules is not installed here", allow_module_level=True)

from rules_support import AS_OF, NO_SCHEMES, policy  # noqa: E402


def engines(p: cr.Policy) -> tuple[cr.Engine, cr.Engine]:
    kw: dict[str, Any] = {"load_entry_points": False, "block": NO_SCHEMES}
    return cr.Engine([p], **kw), cr.Engine([p], backend="durable", **kw)


def same(p: cr.Policy, *records: dict[str, Any]) -> list[cr.Decision]:
    reference, rules = engines(p)
    out = []
    for rec in records:
        a = reference.decide(p.id, rec, as_of=AS_OF)
        b = rules.decide(p.id, rec, as_of=AS_OF)
        assert (b.label, b.rule, b.also_matched, b.missing, b.flags) == (
            a.label,
            a.rule,
            a.also_matched,
            a.missing,
            a.flags,
        )
        assert list(b.evidence.items()) == list(a.evidence.items())
        out.append(b)
    return out


def test_backend_unavailable_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "version_info", (3, 13, 0))
    with pytest.raises(cr.BackendUnavailable, match=r"3\.12 and older") as info:
        cr.Engine(load_entry_points=False, backend="durable")
    assert 'pip install "customer-rules[durable]"' in str(info.value)
    monkeypatch.undo()
    monkeypatch.setitem(sys.modules, "durable.engine", None)  # import fails
    with pytest.raises(cr.BackendUnavailable, match=r"customer-rules\[durable\]"):
        cr.Engine(load_entry_points=False, backend="durable")
    with pytest.raises(cr.BackendUnavailable):
        cr.Engine(load_entry_points=False).stream(backend="durable")
    # streams run on the python backend by default: they need no durable_rules
    cr.Engine(load_entry_points=False).stream()



def test_durable_warnings_stay_behind_the_fence(monkeypatch: pytest.MonkeyPatch) -> None:
    """durable_rules warns on every action on CPython 3.12 (datetime.utcfromtimestamp):
    none of it reaches the caller; a warning of the caller's own code still does."""
    import warnings

    import durable.engine

    real = durable.engine._unix_now

    def noisy() -> float:  # what CPython 3.12 does in durable.engine._unix_now
        warnings.warn_explicit(
            "datetime.datetime.utcfromtimestamp() is deprecated",
            DeprecationWarning,
            durable.engine.__file__,
            17,
            module="durable.engine",
        )
        return real()

    monkeypatch.setattr(durable.engine, "_unix_now", noisy)
    engine = cr.Engine(load_entry_points=False, backend="durable")
    records = cr.sample_customers(20)
    engine.fit(records, as_of=cr.SAMPLE_AS_OF)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        batch = engine.classify_many(records, as_of=cr.SAMPLE_AS_OF)
    assert not batch.rejected
    with pytest.warns(DeprecationWarning, match="mine"):
        warnings.warn("mine", DeprecationWarning, stacklevel=1)


def test_each_engine_has_its_own_host_and_unique_ruleset_names() -> None:
    a = cr.Engine(load_entry_points=False, backend="durable")
    b = cr.Engine(load_entry_points=False, backend="durable")
    assert a.record_backend.runtime._host is not b.record_backend.runtime._host
    names_a = set(a.record_backend.runtime._handles)
    names_b = set(b.record_backend.runtime._handles)
    assert names_a and names_b and not names_a & names_b
    import durable.lang

    assert not durable.lang._rulesets  # nothing registered on the module-global host


def test_no_host_thread_runs_and_every_action_completes_in_the_call() -> None:
    before = threading.active_count()
    rules = cr.Engine(load_entry_points=False, backend="durable")
    for customer in cr.sample_customers(3):
        rules.classify(customer, as_of=cr.SAMPLE_AS_OF)
    assert threading.active_count() == before


def test_rulesets_are_json_safe_discriminated_and_never_use_negative_priorities() -> None:
    rules = cr.Engine(load_entry_points=False, backend="durable")
    stream = rules.stream(backend="durable")
    definitions = [d for c in (rules.compiled(sid) for sid in rules.schemes) for d in c.rulesets().values()]
    (stage,) = stream._stages
    definitions.extend(stage.runner.chart.chart.definitions.values())  # type: ignore[attr-defined]
    definitions.extend(stream._phases.chart.definitions.values())  # type: ignore[union-attr]
    for definition in definitions:
        text = json.dumps(definition)  # actions were taken out at registration
        assert "$mt" not in text and "$imt" not in text  # no patterns at all
        for rule in definition.values():
            assert rule.get("pri", 0) >= 0
            (condition,) = (c["m"] for c in rule["all"])
            first = condition["$and"][0] if "$and" in condition else condition
            assert first == {durable.DISCRIMINATOR: 1}  # session-state objects never match


def test_the_session_state_of_a_decision_is_deleted() -> None:
    rules = cr.Engine(load_entry_points=False, backend="durable")
    compiled = rules.compiled("deal_stage")
    rules.decide("deal_stage", cr.sample_customers(1)[0], as_of=cr.SAMPLE_AS_OF)
    last = f"d{next(compiled._requests) - 1}"
    for part in compiled.partitions:
        with pytest.raises(Exception, match="309"):  # durable: no such session
            rules.record_backend.runtime._host.get_state(part.name, last)


def test_an_exception_inside_an_action_is_raised_in_the_caller() -> None:
    runtime = durable.Runtime()

    def boom(c: Any) -> None:
        raise ZeroDivisionError("inside durable")

    name = runtime.register(
        runtime.unique_name("boom"),
        {"r": {"all": [{"m": {durable.DISCRIMINATOR: 1}}], "run": runtime.action(boom)}},
    )
    with pytest.raises(ZeroDivisionError, match="inside durable"):
        runtime.post(name, {"sid": "0", durable.DISCRIMINATOR: 1})
    # and the runtime still works
    assert runtime.post(name, {"sid": "0", "other": 1}) is False  # not handled, reported as such


def test_rulesets_leave_durable_with_their_engine() -> None:
    rules = cr.Engine(load_entry_points=False, backend="durable")
    handles = rules.record_backend.runtime._handles
    assert handles
    del rules
    gc.collect()
    assert not handles


def test_field_names_never_share_durable_s_name_hash() -> None:
    names = durable.FieldNames("v")
    made = [names.new() for _ in range(5000)]
    hashes = {durable.fnv1a32(n) for n in made} | {durable.fnv1a32(n) for n in durable.RESERVED}
    assert len(hashes) == len(made) + len(durable.RESERVED)


def test_numbers_durable_cannot_write_or_compare_exactly_give_python_s_answers() -> None:
    p = policy(
        [
            {
                "id": "tiny",
                "when": "value.growth_rate > 0.00001 and value.growth_rate < 0.0001",
                "then": "yes",
            },
            {"id": "huge", "when": "value.orders_12m > 9007199254740992", "then": "yes"},
            {"id": "exact", "when": "value.orders_12m == 9007199254740993", "then": "yes"},
            {"id": "big", "when": "value.revenue_12m >= 1e16", "then": "yes"},
        ],
        hit="collect",
        default="no",
    )
    same(
        p,
        {"id": "a", "value": {"growth_rate": 5e-05}},
        {"id": "b", "value": {"orders_12m": 2**53 + 1}},
        {"id": "c", "value": {"orders_12m": 2**62, "revenue_12m": 1e16}},  # whole numbers stop at int64
        {"id": "d", "value": {"growth_rate": 1e-05, "revenue_12m": 1.5e300}},
    )


def test_nan_from_arithmetic_compares_like_python() -> None:
    # inf - inf is NaN: every comparison false, != true, and NaN is not missing
    nan = "(value.revenue_12m * 1e308 * 10 - value.revenue_12m * 1e308 * 10)"
    p = policy(
        [
            {"id": "gt", "when": f"{nan} > 0", "then": "yes"},
            {"id": "not_gt", "when": f"not ({nan} > 0)", "then": "no"},
            {"id": "ne", "when": f"{nan} != 1", "then": "yes"},
            {"id": "present", "when": f"{nan} is not missing", "then": "yes"},
        ],
        hit="collect",
    )
    (d,) = same(p, {"id": "a", "value": {"revenue_12m": 5.0}})
    assert d.also_matched == ("ne", "present")


def test_a_large_policy_is_split_over_several_rulesets_and_still_exact() -> None:
    rules = [
        {
            "id": f"r{i}",
            "when": f"value.orders_12m >= {i} and (value.revenue_12m < {i * 1000} or value.bad_debt)",
            "then": "yes",
        }
        for i in range(60)
    ]
    p = policy(rules, hit="collect", default="no")
    _, durable_engine = engines(p)
    compiled = durable_engine.compiled("t")
    assert len(compiled.partitions) > 1
    same(
        p,
        {"id": "a", "value": {"orders_12m": 30, "revenue_12m": 20000}},
        {"id": "b", "value": {"orders_12m": 70}},
    )


def test_a_condition_too_large_for_one_durable_condition_is_computed_in_python() -> None:
    parts = " or ".join(f"(value.orders_12m == {i} and value.revenue_12m > {i})" for i in range(20))
    p = policy([{"id": "big", "when": parts, "then": "yes"}], default="no")
    same(
        p, {"id": "a", "value": {"orders_12m": 7, "revenue_12m": 8}}, {"id": "b", "value": {"orders_12m": 7}}
    )
    compiled = engines(p)[1].compiled("t")
    for definition in compiled.rulesets().values():
        for rule in definition.values():
            assert json.dumps(rule).count('"$and"') + json.dumps(rule).count('"$or"') <= 15


def test_hysteresis_and_population_schemes_work_on_the_durable_backend() -> None:
    rules = cr.Engine(load_entry_points=False, backend="durable")
    reference = cr.Engine(load_entry_points=False)
    population = cr.sample_customers(60)
    rules.fit(population, as_of=cr.SAMPLE_AS_OF)
    reference.fit(population, as_of=cr.SAMPLE_AS_OF)
    for scheme in rules.population_schemes():
        for c in population[:10]:
            assert (
                rules.decide(scheme, c, as_of=cr.SAMPLE_AS_OF).label
                == reference.decide(scheme, c, as_of=cr.SAMPLE_AS_OF).label
            )


def test_look_up_answers_are_reused_only_for_values_every_condition_treats_alike() -> None:
    # look-ups remember durable's answer by where each value falls among the constants it is
    # compared with: values on either side of a threshold, or equal to one, must not share it
    p = policy(
        [
            {"id": "big", "when": "value.revenue_12m >= 1000", "then": "yes"},
            {"id": "mid", "when": "value.revenue_12m > 10 and value.revenue_12m != 500", "then": "no"},
            {"id": "late", "when": "deal.lost_at >= 2026-01-31", "then": "yes"},
        ],
        hit="first",
    )
    reference, rules = engines(p)
    compiled = rules.compiled(p.id)
    assert isinstance(compiled, durable.DurablePolicy)
    revenues = [5, 10, 10.5, 11, 499, 500, 501, 999.5, 1000, 1001, 5, 500, 10, 1e6, None]
    lost = [None, "2026-01-30", "2026-01-31", "2026-02-01", "2025-01-01"]
    for revenue in revenues:
        for day in lost:
            data: dict[str, Any] = {"id": "a", "value": {"revenue_12m": revenue}, "deal": {"lost_at": day}}
            expected = reference.decide(p.id, data, as_of=AS_OF)
            got = compiled.label_of(cr.Customer.model_validate(data), AS_OF)
            assert got == (expected.label, expected.rule), (revenue, day)
