"""Explanations for people and for auditors (issue 15 items 1-4).

Every record field, feature, parameter, derived value and flag of every
built-in scheme and installed plugin has zh and en display names (and a
known unit); Chinese explanations are Chinese at both levels; the
counterfactual and change sentences read as a person would say them.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, get_args, get_origin

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

import customer_rules as cr
from customer_rules.lang.types import _unwrap
from customer_rules.model.explanation import UNITS, format_value, join, sentence, spaced

AS_OF = cr.SAMPLE_AS_OF

# -- 1. display names everywhere ----------------------------------------------------


def _models(model: type[BaseModel], prefix: str = "") -> list[tuple[str, Any]]:
    """Every field of a record model and of the models inside it: (path, FieldInfo)."""
    out: list[tuple[str, Any]] = []
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        out.append((path, info))
        bare, _ = _unwrap(info.annotation)
        if get_origin(bare) in (tuple, list):
            args = [a for a in get_args(bare) if a is not Ellipsis]
            bare, _ = _unwrap(args[0]) if args else (None, [])
        if isinstance(bare, type) and issubclass(bare, BaseModel):
            out += _models(bare, path + ".")
    return out


def installed_plugins() -> list[Any]:
    """Every plugin installed through the entry point (the care plugin among them)."""
    import importlib.metadata

    eps = importlib.metadata.entry_points(group="customer_rules")
    return [ep.load() for ep in eps if not ep.name.startswith("test_")]


@pytest.fixture(scope="module")
def engine() -> cr.Engine:
    e = cr.Engine(plugins=installed_plugins(), load_entry_points=False)
    e.fit(cr.sample_customers(), as_of=AS_OF)
    return e


def test_the_installed_care_plugin_is_covered(engine: cr.Engine) -> None:
    pytest.importorskip("customer_rules_care")
    assert "care_level" in engine.schemes  # the walks below cover a real plugin


def test_every_record_field_has_zh_and_en_names_and_a_known_unit(engine: cr.Engine) -> None:
    problems = []
    for path, info in _models(engine.record_model):
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        if extra.get("plugin"):
            continue  # a plugin's namespace itself: its fields are checked below
        names = extra.get("names") or {}
        if not (isinstance(names, dict) and names.get("en") and names.get("zh")):
            problems.append(f"{path}: no en/zh display names")
        unit = extra.get("unit")
        if unit is not None and unit not in UNITS:
            problems.append(f"{path}: unit {unit!r} is not one explanations know")
        bare, _ = _unwrap(info.annotation)
        if get_origin(bare) in (tuple, list):
            bare, _ = _unwrap(get_args(bare)[0])
        if get_origin(bare) is not None and get_origin(bare).__name__ == "Literal":  # type: ignore[union-attr]
            named = extra.get("values") or {}
            for value in get_args(bare):
                if not (value in named and named[value].get("en") and named[value].get("zh")):
                    problems.append(f"{path}: value {value!r} has no en/zh display names")
    assert problems == []


def test_every_feature_has_zh_and_en_names_and_a_known_unit(engine: cr.Engine) -> None:
    problems = [
        f"{f.name} ({f.plugin})"
        for f in engine.features.values()
        if not (f.en and f.zh) or (f.unit is not None and f.unit not in UNITS)
    ]
    assert problems == []


def test_every_scheme_names_itself_its_parameters_derived_values_and_flags(engine: cr.Engine) -> None:
    problems = []
    for scheme in engine.schemes.values():
        policy = scheme.policy
        if policy.name is None:
            problems.append(f"{scheme.id}: no display name (name: {{en, zh}})")
        label_flags = {f for label in policy.labels for f in label.flags}
        for key in [*policy.params, *policy.derive, *label_flags]:
            name = policy.names.get(key)
            if name is None:
                problems.append(f"{scheme.id}: {key} has no display names (names:)")
                continue
            if name.unit is not None and name.unit not in UNITS:
                problems.append(f"{scheme.id}: {key}: unknown unit {name.unit!r}")
        for key, value in policy.params.items():
            name = policy.names.get(key)
            if isinstance(value, str) and not isinstance(value, bool) and name is not None and value not in name.values:
                problems.append(f"{scheme.id}: parameter {key} = {value!r} has no display names (values:)")
        for flag in policy.flags:
            if not flag.zh:
                problems.append(f"{scheme.id}: flag {flag.id} has no zh text")
    assert problems == []


def test_a_names_entry_for_something_the_policy_does_not_have_is_an_error() -> None:
    text = """
id: t
labels: [{id: a, zh: 甲, en: A}]
params: {limit: 3}
names:
  limt: {en: limit, zh: 上限}
"""
    with pytest.raises(cr.PolicyError, match="limt") as info:
        cr.load_policy(text, format="yaml")
    assert "did you mean 'limit'" in str(info.value)


def test_core_fields_must_declare_their_names() -> None:
    from customer_rules.model.records import _opt

    with pytest.raises(TypeError):
        _opt("A field without display names.")  # type: ignore[call-arg]


# -- 3. Chinese output is Chinese ------------------------------------------------------

_ALLOWED = re.compile(r"^(?:[A-G][1-5]?|VIP|RFM)$")  # grade letters, VIP and RFM (a name Chinese readers use as is)
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SYNTAX = re.compile(r"(?<!=)==(?!=)|!=|>=|<=|[<>\[\]{}]")
_DOUBLED = re.compile(r"[。；，、：！？]{2,}|[。；，、：][;,.:]|[;,.:][。；，、：]")


def chinese_problems(text: str, allow: tuple[str, ...] = ()) -> list[str]:
    """What makes ``text`` not plain Chinese: ASCII words (other than grade
    letters, VIP and ``allow``), expression syntax, doubled punctuation."""
    out = []
    for line in text.splitlines():
        words = [w for w in _WORD.findall(line) if not _ALLOWED.match(w) and w not in allow]
        if words:
            out.append(f"ASCII words {words[:3]}: {line.strip()[:120]}")
        if _SYNTAX.search(line):
            out.append(f"expression syntax: {line.strip()[:120]}")
        if _DOUBLED.search(line):
            out.append(f"doubled punctuation: {line.strip()[:120]}")
    return out


def test_the_checker_catches_what_the_issue_shows() -> None:
    old = (
        "nine_types：task（任务型）\n"
        "  读取：behaviour.compares_on_merit = 1, params.signal_threshold = 2\n"
        "  标记：compliance_risk\n  做：告知。；记录"
    )
    problems = chinese_problems(old)
    assert any("ASCII" in p for p in problems) and any("doubled" in p for p in problems)
    assert chinese_problems("零售户分级：A类五星（B1 线索，VIP 客户）") == []


@pytest.mark.parametrize("detail", ["summary", "full"])
def test_every_scheme_explains_every_sample_customer_in_chinese(engine: cr.Engine, detail: str) -> None:
    problems: dict[str, str] = {}
    for customer in cr.sample_customers():
        profile = engine.classify(customer, as_of=AS_OF)
        for decision in profile.values():
            for p in chinese_problems(decision.explain(lang="zh", detail=detail)):
                problems.setdefault(f"{decision.scheme}/{decision.label}", p)
    assert problems == {}


def test_english_explanations_name_things_too(engine: cr.Engine) -> None:
    customer = cr.sample_customers()[0]
    text = engine.classify(customer, as_of=AS_OF).explain(lang="en")
    assert "behaviour." not in text and "params." not in text and "value." not in text


# -- 2. two levels ----------------------------------------------------------------------

TIER = """
id: tier
version: "1"
name: {en: account tier, zh: 客户层级}
labels:
  - {id: key, zh: 重点客户, en: key account}
  - {id: regular, zh: 普通客户, en: regular}
rules:
  - id: big
    when: value.revenue_12m >= params.key_revenue and value.overdue_days <= 30
    then: key
    because: {en: "Large and pays on time", zh: "规模大且按时付款"}
default: regular
params: {key_revenue: 500000}
names:
  key_revenue: {en: key account revenue, zh: 重点客户收入门槛, unit: CNY}
"""


def tier_engine(text: str = TIER) -> cr.Engine:
    return cr.Engine([cr.load_policy(text, format="yaml")], load_entry_points=False)


def customer(revenue: float, overdue_days: int = 0, **extra: Any) -> dict[str, Any]:
    return {"id": "C1", "value": {"revenue_12m": revenue, "overdue_days": overdue_days}, **extra}


def test_the_people_level_says_what_would_change_the_result() -> None:
    d = tier_engine().decide("tier", customer(462_000), as_of=AS_OF)
    zh = d.explain(lang="zh")
    assert zh.splitlines()[0] == "客户层级：普通客户"
    assert "近12个月收入 46.2 万元，离重点客户门槛 50 万元还差 3.8 万元" in zh
    assert chinese_problems(zh) == []
    en = d.explain(lang="en")
    assert en.splitlines()[0] == "Account tier: regular"
    assert "revenue (12 months) CNY 462,000, CNY 38,000 short of the key account threshold of CNY 500,000" in en


def test_the_people_level_gives_the_reason_and_the_values_that_decided() -> None:
    d = tier_engine().decide("tier", customer(620_000, overdue_days=3), as_of=AS_OF)
    zh = d.explain(lang="zh")
    assert "原因：规模大且按时付款。" in zh
    assert "依据：近12个月收入 62 万元，逾期天数 3 天" in zh
    en = d.explain()
    assert "Why: Large and pays on time." in en
    assert "Based on: revenue (12 months) CNY 620,000; days overdue 3 days" in en
    assert "params" not in en and "rule big" not in en


def test_the_full_level_keeps_every_value_read_for_auditors() -> None:
    d = tier_engine().decide("tier", customer(620_000, overdue_days=3), as_of=AS_OF)
    full = d.explain(detail="full")
    assert "by rule big: Large and pays on time" in full
    assert "params.key_revenue = 500000" in full and "value.overdue_days = 3" in full
    zh = d.explain(lang="zh", detail="full")
    assert "依据第 1 条规则：规模大且按时付款。" in zh
    assert "参数“重点客户收入门槛” = 50 万元" in zh and "逾期天数 = 3 天" in zh
    assert chinese_problems(zh) == []


def test_an_unknown_level_or_language_is_refused() -> None:
    d = tier_engine().decide("tier", customer(1), as_of=AS_OF)
    with pytest.raises(ValueError, match="detail"):
        d.explain(detail="everything")
    with pytest.raises(ValueError, match="lang"):
        d.explain(lang="fr")


def test_html_has_the_same_two_levels() -> None:
    d = tier_engine().decide("tier", customer(462_000), as_of=AS_OF)
    people = d._repr_html_()
    assert "Account tier: regular" in people and "<table>" not in people
    full = d.to_html(lang="zh", detail="full")
    assert "<table>" in full and "value.revenue_12m" in full and "近12个月收入" in full


def test_a_missing_value_is_said_not_recorded() -> None:
    d = tier_engine().decide("tier", {"id": "C1"}, as_of=AS_OF)
    zh = d.explain(lang="zh")
    assert "近12个月收入未记录，重点客户需要近12个月收入不低于 50 万元" in zh


def test_the_strategy_never_joins_sentences_with_a_full_stop_and_a_semicolon() -> None:
    s = cr.Strategy(
        summary={"en": "Serve well.", "zh": "做好服务。"},
        actions=({"en": "Call.", "zh": "打电话。"}, {"en": "Visit.", "zh": "上门拜访。"}),
    )
    assert "做：打电话；上门拜访。" in s.render("zh")
    assert "Do: Call; Visit." in s.render("en")


def test_stability_and_overrides_are_said_in_both_languages() -> None:
    text = TIER + "stability: {min_days: 90}\n"
    e = tier_engine(text)
    grades = [{"scheme": "tier", "label": "key", "since": "2026-10-01"}]
    d = e.decide("tier", customer(100_000, grades=grades), as_of=AS_OF)
    assert d.label == "key" and d.kept is not None
    assert "保持重点客户：该等级才保持了 52 天，满 90 天才调整（按规则应为普通客户）" in d.explain(lang="zh")
    assert "kept key account: held for 52 of the 90 days required" in d.explain()


# -- values and units -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "unit", "zh", "en"),
    [
        (462000, "CNY", "46.2 万元", "CNY 462,000"),
        (8500, "CNY", "8500 元", "CNY 8,500"),
        (123_000_000, "CNY", "1.23 亿元", "CNY 123,000,000"),
        (30, "days", "30 天", "30 days"),
        (1, "days", "1 天", "1 day"),
        (96, "points 0-100", "96 分", "96 points"),
        (0.125, "ratio", "12.5%", "12.5%"),
        (5, "percent", "5%", "5%"),
        (2, "level 0-3", "中（2）", "medium (2)"),
        (True, None, "是", "yes"),
        (None, "CNY", "未记录", "not recorded"),
        (dt.date(2026, 3, 2), None, "2026年3月2日", "2026-03-02"),
    ],
)
def test_values_read_with_their_units(value: Any, unit: str | None, zh: str, en: str) -> None:
    assert format_value(value, unit, "zh") == zh
    assert format_value(value, unit, "en") == en


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=0, max_value=1e12, allow_nan=False))
def test_amounts_in_wan_and_yi_keep_their_size(x: float) -> None:
    text = format_value(x, "CNY", "zh")
    number, unit = text.split(" ")
    scale = {"元": 1, "万元": 1e4, "亿元": 1e8}[unit]
    assert abs(float(number.replace(",", "")) * scale - x) <= 0.005 * scale + 1e-9
    assert scale == 1 or float(number.replace(",", "")) >= 1  # the largest unit that keeps a whole part


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.text(alphabet="做好服务", max_size=6), st.sampled_from(["", "。", "；", "，", ".", "。；"])).map(
            "".join
        ),
        max_size=5,
    )
)
def test_joined_clauses_never_double_punctuation(parts: list[str]) -> None:
    text = sentence(join(parts, "zh"), "zh")
    assert not re.search(r"[。；][。；]", text)


def test_spacing_between_chinese_and_numbers() -> None:
    assert spaced("收入", "46.2 万元") == "收入 46.2 万元"
    assert spaced("为", "是") == "为是"


# -- 4. what changed -----------------------------------------------------------------------


def test_what_changed_names_the_input_and_the_threshold_it_crossed() -> None:
    e = tier_engine()
    before = e.decide("tier", customer(620_000), as_of=dt.date(2026, 9, 30))
    after = e.decide("tier", customer(455_000), as_of=dt.date(2026, 12, 31))
    zh = cr.explain_change(before, after, lang="zh")
    assert zh.splitlines()[0] == "客户层级：由重点客户变为普通客户"
    assert "近12个月收入由 62 万元降至 45.5 万元，低于重点客户门槛 50 万元" in zh
    assert chinese_problems(zh) == []
    back = cr.explain_change(after, before, lang="en")
    assert "revenue (12 months) rose from CNY 455,000 to CNY 620,000, and now reaches the key account threshold" in back


def test_what_changed_names_a_parameter_and_a_new_policy_version() -> None:
    before = tier_engine().decide("tier", customer(520_000), as_of=AS_OF)
    newer = TIER.replace('version: "1"', 'version: "2"').replace("key_revenue: 500000", "key_revenue: 600000")
    after = tier_engine(newer).decide("tier", customer(520_000), as_of=AS_OF)
    zh = cr.explain_change(before, after, lang="zh")
    assert "规则版本由 1 改为 2" in zh
    assert "参数“重点客户收入门槛”由 50 万元改为 60 万元" in zh
    assert chinese_problems(zh) == []
    en = cr.explain_change(before, after, lang="en")
    assert "parameter key account revenue changed from CNY 500,000 to CNY 600,000" in en


def test_what_changed_says_when_stability_held_the_grade() -> None:
    e = tier_engine(TIER + "stability: {min_days: 90}\n")
    before = e.decide("tier", customer(620_000), as_of=dt.date(2026, 10, 1))
    grades = [{"scheme": "tier", "label": "key", "since": "2026-10-01"}]
    after = e.decide("tier", customer(100_000, grades=grades), as_of=AS_OF)
    zh = cr.explain_change(before, after, lang="zh")
    assert zh.splitlines()[0] == "客户层级：仍为重点客户"
    assert "保持重点客户：该等级才保持了 52 天" in zh
    assert chinese_problems(zh) == []
