"""The open record: plugins add namespaces to the customer record
(``register_record_fields``), and records, rules, tables, files and the JSON
Schema know them. The throwaway plugin is tests/record_namespace_plugin.py."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import record_namespace_plugin as firm_plugin
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict

import customer_rules as cr
from customer_rules.model.records import extend_record

pytestmark = pytest.mark.usefixtures("frame_backend")  # the frame backend, also on small tables

AS_OF = dt.date(2026, 11, 22)


@pytest.fixture(scope="module")
def engine() -> cr.Engine:
    return cr.Engine(plugins=[firm_plugin], load_entry_points=False)


def _plugin(namespaces: dict[str, Any], name: str) -> Any:
    class Plugin:
        @cr.hookimpl
        def register_record_fields(self) -> dict[str, Any]:
            return namespaces

    Plugin.__name__ = Plugin.__qualname__ = name
    return Plugin()


class Other(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    score: float | None = cr.record_field("A score.", en="score", zh="分数")


# -- the record ----------------------------------------------------------------------


def test_records_accept_the_namespace_and_the_core_model_is_unchanged(engine: cr.Engine) -> None:
    rec = engine.record_model.model_validate({"id": "a", "firm": {"nps": 30, "industry": "bank"}})
    assert rec.firm.nps == 30  # type: ignore[attr-defined]
    assert issubclass(engine.record_model, cr.Customer)
    assert "firm" not in cr.Customer.model_fields
    assert engine.record_model.model_validate({"id": "b"}).firm.nps is None  # type: ignore[attr-defined]
    with pytest.raises(cr.RecordError, match=r"firm\.nps"):
        engine.classify({"id": "c", "firm": {"nps": 101}}, as_of=AS_OF)
    with pytest.raises(cr.RecordError, match=r"firm\.colour"):
        engine.classify({"id": "c", "firm": {"colour": "red"}}, as_of=AS_OF)
    with pytest.raises(cr.RecordError):  # without the plugin there is no such namespace
        cr.Engine(load_entry_points=False).classify({"id": "c", "firm": {}}, as_of=AS_OF)


def test_the_same_namespaces_give_the_same_record_model(engine: cr.Engine) -> None:
    again = cr.Engine(plugins=[firm_plugin], load_entry_points=False)
    assert again.record_model is engine.record_model
    assert cr.Engine(load_entry_points=False).record_model is cr.Customer


def test_json_schema_lists_the_namespace_with_names_and_units(engine: cr.Engine) -> None:
    schema = engine.record_model.model_json_schema()
    assert schema["properties"]["firm"]["plugin"] == "record_namespace_plugin"
    rating = schema["$defs"]["Firm"]["properties"]["internal_rating"]
    assert rating["names"] == {"en": "internal rating", "zh": "内部信用评级"}
    assert rating["unit"] == "grade 1-10"
    assert (rating["anyOf"][0]["minimum"], rating["anyOf"][0]["maximum"]) == (1, 10)


def test_fields_carry_display_names_and_units_through_one_mechanism(engine: cr.Engine) -> None:
    info = engine.namespace.fields["firm.internal_rating"]
    assert (info.name("zh"), info.name("en"), info.unit) == ("内部信用评级", "internal rating", "grade 1-10")
    assert engine.namespace.fields["value.revenue_12m"].unit == "CNY"  # core fields: the same extras


# -- clashes and unreadable models ---------------------------------------------------------


def test_a_namespace_that_is_a_core_field_is_a_plugin_error_naming_both() -> None:
    with pytest.raises(cr.PluginError) as info:
        cr.Engine(plugins=[_plugin({"value": Other}, "Grabby")], load_entry_points=False)
    assert info.value.plugin.endswith("Grabby")
    assert "'value'" in info.value.cause and "core record field" in info.value.cause


def test_two_plugins_with_one_namespace_is_a_plugin_error_naming_both() -> None:
    first, second = _plugin({"firm": Other}, "First"), _plugin({"firm": Other}, "Second")
    with pytest.raises(cr.PluginError) as info:
        cr.Engine(plugins=[first, second], load_entry_points=False)
    text = str(info.value)
    assert "First" in text and "Second" in text and "'firm'" in text


def test_a_namespace_that_clashes_with_a_feature_is_refused() -> None:
    class Plugin:
        @cr.hookimpl
        def register_record_fields(self) -> dict[str, Any]:
            return {"open_cases": Other}

    with pytest.raises(cr.PluginError, match="open_cases"):
        cr.Engine(plugins=[Plugin()], load_entry_points=False)


class Required(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    must: str = cr.record_field("Has no default.", en="must", zh="必须", default=...)


class Unbounded(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    count: int | None = cr.record_field("No bounds.", en="count", zh="数量")


class Nameless(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    score: float | None = None


class Unreadable(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    blob: dict[str, int] | None = cr.record_field("A mapping.", en="blob", zh="块")


@pytest.mark.parametrize(
    ("namespaces", "match"),
    [
        ({"ok": Required}, "every field needs a default"),
        ({"ok": Unbounded}, r"ok\.count: bound whole numbers"),
        ({"ok": Nameless}, r"ok\.score: declare its display names"),
        ({"ok": Unreadable}, r"ok\.blob: type .* cannot be read by rules"),
        ({"ok": dict}, "not a pydantic model class"),
        ({"Bad-Name": Other}, "not a plain lower-case identifier"),
        ({"params": Other}, "not a plain lower-case identifier"),
        (["ok"], "not a mapping"),
    ],
)
def test_unreadable_namespaces_are_plugin_errors(namespaces: Any, match: str) -> None:
    with pytest.raises(cr.PluginError, match=match):
        extend_record([("acme", namespaces)])


# -- rules -------------------------------------------------------------------------------


def _policy(when: str) -> cr.Policy:
    return cr.Policy.model_validate(
        {
            "id": "p",
            "labels": [{"id": "a", "zh": "甲", "en": "a"}],
            "rules": [{"id": "r", "when": when, "then": "a"}],
        }
    )


def test_policies_read_namespace_fields_type_checked_with_did_you_mean(engine: cr.Engine) -> None:
    engine.check(_policy("firm.nps > 3 and firm.industry == 'bank'"))
    with pytest.raises(cr.PolicyError, match=r"did you mean 'firm\.nps'"):
        engine.check(_policy("firm.nsp > 3"))
    with pytest.raises(cr.PolicyError, match="'banks' is not an allowed value"):
        engine.check(_policy("firm.industry == 'banks'"))
    with pytest.raises(cr.PolicyError):
        engine.check(_policy("firm.rated_at > 3"))
    with pytest.raises(cr.PolicyError):  # an engine without the plugin has no such field
        cr.Engine(load_entry_points=False).check(_policy("firm.nps > 3"))


# -- per record and per table: identical labels ----------------------------------------------

firm_values = st.fixed_dictionaries(
    {},
    optional={
        "industry": st.sampled_from(["retail", "hospital", "factory", "bank"]),
        "internal_rating": st.integers(1, 10),
        "nps": st.integers(-100, 100),
        "credit_line": st.floats(0, 1e7, allow_nan=False),
        "rated_at": st.dates(dt.date(2024, 1, 1), dt.date(2026, 12, 31)),
        "tags": st.lists(st.sampled_from(["a", "b"]), max_size=2).map(tuple),
    },
)
records = st.lists(
    st.fixed_dictionaries(
        {"firm": firm_values},
        optional={"value": st.fixed_dictionaries({"revenue_12m": st.floats(0, 1e6, allow_nan=False)})},
    ),
    min_size=1,
    max_size=12,
)


FIRM_ENGINE = cr.Engine(plugins=[firm_plugin], load_entry_points=False)


@settings(max_examples=25, deadline=None)
@given(rows=records)
def test_a_scheme_reading_the_namespace_labels_records_and_tables_alike(rows: list[dict[str, Any]]) -> None:
    engine = FIRM_ENGINE
    rows = [{"id": f"c{i}", **r} for i, r in enumerate(rows)]
    python = [engine.decide("firm_priority", r, as_of=AS_OF).label for r in rows]
    table = cr.frame_from_records(rows, model=engine.record_model)
    frame = engine.classify_frame(table, as_of=AS_OF, schemes=["firm_priority"])
    assert frame["firm_priority"].to_list() == python
    again = cr.records_from_frame(table, model=engine.record_model)
    assert [r.model_dump() for r in again] == [engine.record_model.model_validate(r).model_dump() for r in rows]


def test_namespace_columns_by_dots_double_underscores_or_a_struct(engine: cr.Engine) -> None:
    want = ["watch", "grow", "keep"]
    dotted = pl.DataFrame({"id": ["a", "b", "c"], "firm.internal_rating": [2, None, 9], "firm.nps": [0, 80, 10],
                           "firm.industry": [None, "hospital", "retail"]})
    under = dotted.rename({c: c.replace(".", "__") for c in dotted.columns})
    struct = dotted.select("id", pl.struct(
        pl.col("firm.internal_rating").alias("internal_rating"),
        pl.col("firm.nps").alias("nps"),
        pl.col("firm.industry").alias("industry"),
    ).alias("firm"))
    for table in (dotted, under, struct):
        assert engine.classify_frame(table, as_of=AS_OF, schemes=["firm_priority"])["firm_priority"].to_list() == want
    with pytest.warns(UserWarning, match="did you mean 'firm.nps'"):
        engine.classify_frame(dotted.rename({"firm.nps": "firm.npz"}), as_of=AS_OF, schemes=["firm_priority"])


def test_fit_and_python_backend_tables_read_the_namespace(engine: cr.Engine) -> None:
    rows = [{"id": f"c{i}", "firm": {"nps": i * 10 - 50, "industry": "retail"}} for i in range(10)]
    table = cr.frame_from_records(rows, model=engine.record_model)
    python = engine.classify_frame(table, as_of=AS_OF, schemes=["firm_priority"], backend="python")
    assert python["firm_priority"].to_list() == [engine.decide("firm_priority", r, as_of=AS_OF).label for r in rows]
    top = cr.Policy.model_validate(
        {"id": "top", "labels": [{"id": "y", "zh": "是", "en": "y"}, {"id": "n", "zh": "否", "en": "n"}],
         "rules": [{"id": "r", "when": "top(firm.nps, 3)", "then": "y"}], "default": "n"}
    )
    e1 = cr.Engine([top], plugins=[firm_plugin], load_entry_points=False).fit(rows)
    e2 = cr.Engine([top], plugins=[firm_plugin], load_entry_points=False).fit(table, as_of=AS_OF)
    assert e1.fitted_["top"]["cuts"] == e2.fitted_["top"]["cuts"]
    assert [e1.decide("top", r, as_of=AS_OF).label for r in rows].count("y") == 3


def test_the_command_line_reads_namespace_columns(
    engine: cr.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from customer_rules.cli import main as cli

    monkeypatch.setattr(cli, "build_engine", lambda policies=(): cr.Engine(plugins=[firm_plugin], load_entry_points=False))
    source = tmp_path / "firms.csv"
    source.write_text("id,firm.nps,firm__industry,firm.internal_rating\na,80,retail,\nb,10,bank,2\nc,x,bank,\n")
    out = tmp_path / "out.csv"
    code = cli.main(["classify", str(source), "--as-of", "2026-11-22", "--schemes", "firm_priority",
                     "--out", str(out), "--rejected", str(tmp_path / "bad.csv")])
    assert code == 0
    labels = pl.read_csv(out)
    assert labels["firm_priority"].to_list() == ["grow", "watch"]
    bad = pl.read_csv(tmp_path / "bad.csv")
    assert bad["id"].to_list() == ["c"] and "firm.nps" in bad["reason"][0]


def test_the_durable_backend_reads_the_namespace() -> None:
    try:
        durable = cr.Engine(plugins=[firm_plugin], load_entry_points=False, backend="durable")
    except cr.BackendUnavailable:
        pytest.skip("durable_rules cannot run here")
    rows = [
        {"id": "a", "firm": {"internal_rating": 2}},
        {"id": "b", "firm": {"nps": 60, "industry": "retail"}},
        {"id": "c"},
        {"id": "d", "firm": {"rated_at": "2025-05-01"}},
    ]
    assert [durable.decide("firm_priority", r, as_of=AS_OF).label for r in rows] == [
        FIRM_ENGINE.decide("firm_priority", r, as_of=AS_OF).label for r in rows
    ]


class _Mutable(BaseModel):
    """A namespace model that is not frozen."""

    model_config = ConfigDict(extra="forbid")
    beds: int | None = cr.record_field("Beds.", en="beds", zh="床位数", ge=0, le=1000)


class _Frozen(BaseModel):
    """A frozen namespace model."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    beds: int | None = cr.record_field("Beds.", en="beds", zh="床位数", ge=0, le=1000)


def test_an_absent_namespace_is_shared_only_when_its_model_is_frozen() -> None:
    model = extend_record([("p", {"ward": _Mutable, "wing": _Frozen})])
    a, b = model.model_validate({"id": "A"}), model.model_validate({"id": "B"})
    assert a.ward is not b.ward and a.ward == b.ward == _Mutable()  # type: ignore[attr-defined]
    assert a.wing is b.wing and a.wing == _Frozen()  # type: ignore[attr-defined]
