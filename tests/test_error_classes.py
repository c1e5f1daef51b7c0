"""The error tree: one base class, and every error carries what a caller
needs to report it (where, which rule, which record, which plugin)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from rules_support import AS_OF, engine, policy, record

import customer_rules as cr

ERRORS = (
    cr.PolicyError,
    cr.RecordError,
    cr.EvaluationError,
    cr.NotFittedError,
    cr.PluginError,
    cr.BackendUnavailable,
)


@pytest.mark.parametrize("cls", ERRORS)
def test_every_error_derives_from_the_base(cls: type[Exception]) -> None:
    assert issubclass(cls, cr.CustomerRulesError)
    assert issubclass(cr.CustomerRulesError, Exception)


def test_record_error_is_also_a_value_error() -> None:
    assert issubclass(cr.RecordError, ValueError)


# -- PolicyError ---------------------------------------------------------------------


def test_policy_error_attributes_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "tier.yaml"
    path.write_text(
        "id: tier\n"
        "labels:\n"
        "  - {id: key, zh: 重点, en: Key}\n"
        "rules:\n"
        "  - id: big\n"
        "    when: value.revenue12m >= 500000\n"
        "    then: key\n",
        encoding="utf-8",
    )
    with pytest.raises(cr.PolicyError) as info:
        cr.load_policy(path)
    err = info.value
    assert err.file == str(path)
    assert (err.line, err.column) == (6, 11)
    assert err.rule == "big"
    assert err.field == "rules[0].when"
    assert err.message == "unknown name 'value.revenue12m'"
    assert err.hint is not None and err.hint.startswith("did you mean 'value.revenue_12m'")
    assert str(err) == f"{path}:6:11, rule 'big', rules[0].when: {err.message} ({err.hint})"


def test_policy_error_defaults_and_rendering() -> None:
    err = cr.PolicyError("bad")
    assert (err.file, err.line, err.column, err.rule, err.field, err.hint) == (None,) * 6
    assert str(err) == "bad"
    placed = cr.PolicyError("bad", file="p.yaml", line=3, column=2, rule="r")
    assert str(placed) == "p.yaml:3:2, rule 'r': bad"


# -- RecordError ---------------------------------------------------------------------


BAD = record(
    id="C42",
    kind="robot",
    value={"revenue_12m": "lots", "orders_12m": -1},
    behaviour={"speech_pace": "fats"},
)


def test_record_error_from_classify_names_the_customer_and_the_fields() -> None:
    with pytest.raises(cr.RecordError) as info:
        engine(policy()).classify(BAD, as_of=AS_OF)
    err = info.value
    assert err.record_id == "C42"
    assert err.row is None
    assert set(err.paths) == {"kind", "value.revenue_12m", "value.orders_12m", "behaviour.speech_pace"}
    text = str(err)
    assert text.startswith("customer 'C42': invalid record: ")
    assert "value.revenue_12m: " in text


def test_record_error_in_a_batch_names_the_row() -> None:
    out = engine(policy()).classify_many([record(id="ok"), BAD, {"name": "no id"}], as_of=AS_OF)
    assert len(out.profiles) == 1
    assert [(r.row, r.record_id) for r in out.rejected] == [(1, "C42"), (2, None)]
    first, second = (r.error for r in out.rejected)
    assert isinstance(first, cr.RecordError) and first.row == 1
    assert isinstance(second, cr.RecordError) and second.paths == ["id"]
    assert "(row 2)" in out.rejected[1].reason


@pytest.mark.parametrize("bad", [None, 42, "C1", ["id", "C1"]])
def test_record_error_for_something_that_is_not_a_record(bad: Any) -> None:
    with pytest.raises(cr.RecordError) as info:
        engine(policy()).classify(bad, as_of=AS_OF)
    assert info.value.record_id is None
    assert info.value.paths == ["(record)"]


def test_customer_objects_pass_through() -> None:
    c = cr.Customer.model_validate(record())
    assert engine(policy()).classify(c, as_of=AS_OF).customer_id == "c1"


# -- EvaluationError -----------------------------------------------------------------


def test_evaluation_error_names_scheme_rules_and_customer() -> None:
    p = policy(
        [
            {"id": "a", "when": "true", "then": "yes"},
            {"id": "b", "when": "true", "then": "no"},
        ],
        hit="unique",
    )
    with pytest.raises(cr.EvaluationError) as info:
        engine(p).classify(record(), as_of=AS_OF)
    err = info.value
    assert (err.scheme, err.rules, err.record_id) == ("t", ("a", "b"), "c1")
    assert str(err).startswith("customer 'c1': scheme 't': rules 'a' and 'b' both match")


# -- PluginError ---------------------------------------------------------------------


class _BrokenFeatures:
    @cr.hookimpl
    def register_features(self) -> list[Any]:
        raise RuntimeError("database down")


class _WrongType:
    @cr.hookimpl
    def register_schemes(self) -> str:
        return "not a scheme"


class _BadPolicy:
    @cr.hookimpl
    def register_schemes(self) -> cr.Policy:
        return policy([{"id": "r", "when": "value.nope > 1", "then": "yes"}], pid="bad")


@pytest.mark.parametrize(
    ("plugin", "fragment"),
    [
        (_BrokenFeatures(), "register_features failed: RuntimeError: database down"),
        (_WrongType(), "register_schemes returned str, not a Scheme"),
        (_BadPolicy(), "scheme 'bad' does not load: "),
    ],
)
def test_plugin_error_names_the_plugin_and_the_cause(plugin: Any, fragment: str) -> None:
    with pytest.raises(cr.PluginError) as info:
        engine(plugins=[plugin])
    err = info.value
    assert err.plugin.endswith(type(plugin).__qualname__)
    assert fragment in err.cause
    assert str(err) == f"plugin {err.plugin!r}: {err.cause}"


def test_plugin_error_for_a_bad_hook_implementation() -> None:
    class Typo:
        @cr.hookimpl
        def register_schemas(self) -> None:  # not a hook
            return None

    with pytest.raises(cr.PluginError, match="register_schemas"):
        engine(plugins=[Typo()])


# -- the rest ------------------------------------------------------------------------


def test_not_fitted_and_backend_unavailable_are_importable_and_raisable() -> None:
    with pytest.raises(cr.CustomerRulesError, match="fit first"):
        raise cr.NotFittedError("fit first")
    with pytest.raises(cr.CustomerRulesError, match="no polars"):
        raise cr.BackendUnavailable("no polars")


def test_one_except_clause_catches_them_all() -> None:
    caught = []
    for make in (
        lambda: cr.load_policy("id: t\n", format="yaml"),
        lambda: engine(policy()).classify({"id": ""}, as_of=AS_OF),
        lambda: engine(plugins=[_BrokenFeatures()]),
    ):
        try:
            make()
        except cr.CustomerRulesError as exc:
            caught.append(type(exc).__name__)
    assert caught == ["PolicyError", "RecordError", "PluginError"]


def test_bad_as_of_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        engine(policy()).classify(record(), as_of=dt.datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="as_of must be a date"):
        engine(policy()).classify(record(), as_of=20260101)
