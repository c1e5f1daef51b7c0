"""Tests of the care_level plugin, as its author would write them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import customer_rules_care
import pytest

import customer_rules as cr
from customer_rules.testing import check_plugin

AS_OF = dt.date(2026, 11, 22)


def patient(
    condition: str | None, birthday: str | None = "1960-05-01", watch: bool | None = None, **extra: Any
) -> dict[str, Any]:
    care: dict[str, Any] = {} if condition is None else {"condition": condition}
    if watch is not None:
        care["constant_watch"] = watch  # the doctor's call: a dedicated nurse day and night
    return {
        "id": f"bed-{condition}",
        "care": care,
        "birthday": birthday,
        **extra,
    }


@pytest.fixture
def care(engine_factory: Callable[..., cr.Engine]) -> cr.Engine:
    return engine_factory(plugins=[customer_rules_care])


def test_the_plugin_passes_the_conformance_kit() -> None:
    report = check_plugin(customer_rules_care)
    assert report.ok
    assert report.schemes == ("care_level",)
    assert set(report.features) == {"patient_age"}


@pytest.mark.parametrize(
    ("condition", "label", "rule"),
    [
        ("critical", "special", "critical"),
        ("major_surgery", "special", "critical"),
        ("serious", "level1", "serious"),
        ("recovering", "level2", "recovering"),
        ("frail", "level2", "frail"),
        ("self_care", "level3", "self_care"),
    ],
)
def test_condition_gives_the_care_level(care: cr.Engine, condition: str, label: str, rule: str) -> None:
    watch = True if label == "special" else None
    decision = care.decide("care_level", patient(condition, watch=watch), as_of=AS_OF)
    assert (decision.label, decision.rule) == (label, rule)
    assert decision.strategy is not None
    assert decision.strategy == care.schemes["care_level"].strategies[label]


def test_elderly_self_caring_patient_gets_level2_by_parameter(care: cr.Engine) -> None:
    old = patient("self_care", birthday="1940-01-01")  # 86 at AS_OF
    decision = care.decide("care_level", old, as_of=AS_OF)
    assert (decision.label, decision.rule) == ("level2", "elderly")
    assert decision.evidence["patient_age"] == 86
    relaxed = care.with_params("care_level", elderly_age=90)
    assert relaxed.decide("care_level", old, as_of=AS_OF).label == "level3"


def test_age_is_counted_in_whole_years_to_the_birthday() -> None:
    record = cr.Customer(id="p", birthday=dt.date(1946, 11, 23))
    assert customer_rules_care.patient_age.func(record, AS_OF) == 79
    assert customer_rules_care.patient_age.func(record, dt.date(2026, 11, 23)) == 80
    assert customer_rules_care.patient_age.func(cr.Customer(id="q"), AS_OF) is None


def test_self_caring_patient_without_birthday_is_level3_and_says_age_is_missing(care: cr.Engine) -> None:
    decision = care.decide("care_level", patient("self_care", birthday=None), as_of=AS_OF)
    assert decision.label == "level3"
    assert "patient_age" in decision.missing


def test_a_customer_who_is_not_a_patient_is_unclassified(care: cr.Engine) -> None:
    for record in ({"id": "c1"}, {"id": "c2", "segment": "critical_infrastructure"}, patient(None)):
        decision = care.decide("care_level", record, as_of=AS_OF)
        assert decision.label is None
        assert decision.strategy is None
        assert "care.condition" in decision.missing
    # a core record given to the engine has the namespace unknown
    assert care.decide("care_level", cr.Customer(id="c3"), as_of=AS_OF).label is None


def test_an_unknown_care_condition_is_a_record_error_not_a_silent_skip(care: cr.Engine) -> None:
    with pytest.raises(cr.RecordError, match=r"care\.condition") as info:
        care.decide("care_level", patient("crtical"), as_of=AS_OF)
    assert info.value.paths == ["care.condition"]
    batch = care.classify_many([patient("serious"), patient("crtical")], as_of=AS_OF)
    assert len(batch.profiles) == 1
    assert [r.row for r in batch.rejected] == [1]


def test_strategies_carry_patrol_interval_and_marker(care: cr.Engine) -> None:
    extras = {label: s.extra for label, s in care.schemes["care_level"].strategies.items()}
    assert extras["special"]["dedicated_nurse"] is True
    assert (extras["level1"]["patrol_min_minutes"], extras["level1"]["patrol_max_minutes"]) == (30, 60)
    assert (extras["level2"]["patrol_min_minutes"], extras["level2"]["patrol_max_minutes"]) == (60, 120)
    assert extras["level3"]["patrol_min_minutes"] == 180
    assert {label: e["colour"] for label, e in extras.items()} == {
        "special": "green",
        "level1": "red",
        "level2": "blue",
        "level3": "none",
    }


def test_the_colour_convention_is_a_parameter(engine_factory: Callable[..., cr.Engine]) -> None:
    chart = engine_factory(
        plugins=[customer_rules_care], params={"care_level": {"colour_convention": "ward_chart"}}
    )
    special = chart.decide("care_level", patient("critical", watch=True), as_of=AS_OF).strategy
    level1 = chart.decide("care_level", patient("serious"), as_of=AS_OF).strategy
    assert special is not None and level1 is not None
    assert (special.extra["colour"], level1.extra["colour"]) == ("crimson", "pink")
    assert special.extra["colour_convention"] == "ward_chart"
    assert set(customer_rules_care.marker_conventions()) == {"bedside_card", "ward_chart"}


def test_an_unknown_colour_convention_is_refused(engine_factory: Callable[..., cr.Engine]) -> None:
    with pytest.raises(cr.CustomerRulesError, match="unknown colour convention 'purple'"):
        engine_factory(plugins=[customer_rules_care], params={"care_level": {"colour_convention": "purple"}})


def test_explanations_are_bilingual(care: cr.Engine) -> None:
    decision = care.decide("care_level", patient("serious"), as_of=AS_OF)
    assert "一级护理" in decision.explain(lang="zh")
    assert "30–60 分钟" in decision.explain(lang="zh")
    assert "level 1 care" in decision.explain(lang="en")


def test_installed_plugin_is_discovered_through_its_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUSTOMER_RULES_PLUGINS", "care_level")
    engine = cr.Engine()
    assert engine.schemes["care_level"].plugin == "care_level"
    assert "care_level" not in cr.Engine(block=["care_level"]).schemes


def test_the_patient_fields_live_in_the_care_namespace(care: cr.Engine) -> None:
    assert "care" not in cr.Customer.model_fields  # the core record is unchanged
    fields = care.namespace.fields
    assert fields["care.condition"].type.enum == customer_rules_care.CONDITIONS
    assert fields["care.condition"].names == {"en": "condition", "zh": "病情"}
    schema = care.record_model.model_json_schema()
    assert schema["properties"]["care"]["plugin"] == "customer_rules_care"
    with pytest.raises(cr.PolicyError, match=r"did you mean 'care\.condition'"):
        care.check(
            cr.Policy.model_validate(
                {
                    "id": "x",
                    "labels": [{"id": "a", "zh": "甲", "en": "a"}],
                    "rules": [{"id": "r", "when": "care.conditon == 'serious'", "then": "a"}],
                }
            )
        )


def test_a_ward_table_gives_the_labels_of_the_records(care: cr.Engine) -> None:
    import polars as pl

    rows = [patient(c) for c in (*customer_rules_care.CONDITIONS, None)]
    table = pl.DataFrame(
        {
            "id": [r["id"] for r in rows],
            "care.condition": [r["care"].get("condition") for r in rows],
            "birthday": [r["birthday"] for r in rows],
        }
    )
    out = care.classify_frame(table, as_of=AS_OF, schemes=["care_level"])
    assert out["care_level"].to_list() == [care.decide("care_level", r, as_of=AS_OF).label for r in rows]


@pytest.mark.parametrize("condition", ["critical", "major_surgery"])
@pytest.mark.parametrize("watch", [False, None])
def test_critical_patients_do_not_all_need_special_care(
    care: cr.Engine, condition: str, watch: bool | None
) -> None:
    """Seed 004: 重危病人不一定都要特护 — special care is the doctor's call (constant_watch);
    without it a critical patient gets level 1, the high level for most of them."""
    decision = care.decide("care_level", patient(condition, watch=watch), as_of=AS_OF)
    assert (decision.label, decision.rule) == ("level1", "critical_without_constant_watch")
    assert "一级护理" in decision.explain(lang="zh") or "level1" in decision.explain(lang="zh")
