"""Hit policies, defaults, and what a decision reports: evidence, other
matches, missing inputs, counterfactuals, explanations, parameters."""

from __future__ import annotations

import json
from typing import Any

import pytest
from rules_support import AS_OF, engine, policy, record

import customer_rules as cr

LABELS = (
    {"id": "gold", "zh": "金牌", "en": "Gold"},
    {"id": "silver", "zh": "银牌", "en": "Silver"},
    {"id": "bronze", "zh": "铜牌", "en": "Bronze"},
    {"id": "mixed", "zh": "混合", "en": "Mixed"},
)

# three rules that all match a record with revenue 600 and 5 orders
RULES = (
    {"id": "r_bronze", "when": "value.revenue_12m >= 100", "then": "bronze"},
    {"id": "r_gold", "when": "value.revenue_12m >= 500", "then": "gold"},
    {"id": "r_silver", "when": "value.orders_12m >= 5", "then": "silver"},
)


def rec(revenue: Any = 600, orders: Any = 5) -> dict[str, Any]:
    return record(value={"revenue_12m": revenue, "orders_12m": orders})


def decide(hit: str, r: dict[str, Any], rules: Any = RULES, **kw: Any) -> cr.Decision:
    p = policy(rules, labels=LABELS, hit=hit, **kw)
    return engine(p).decide("t", r, as_of=AS_OF)


# -- first ---------------------------------------------------------------------


def test_first_takes_the_first_matching_rule_in_order() -> None:
    d = decide("first", rec())
    assert (d.label, d.rule) == ("bronze", "r_bronze")
    assert d.also_matched == ("r_gold", "r_silver")
    assert d.labels == ("bronze",)


def test_first_skips_rules_that_do_not_match() -> None:
    d = decide("first", rec(revenue=50, orders=9))
    assert (d.label, d.rule, d.also_matched) == ("silver", "r_silver", ())


# -- unique --------------------------------------------------------------------


def test_unique_with_one_match_decides() -> None:
    d = decide("unique", rec(revenue=150, orders=1))
    assert (d.label, d.rule, d.also_matched) == ("bronze", "r_bronze", ())


def test_unique_with_two_matches_is_an_error_naming_both_rules() -> None:
    with pytest.raises(cr.EvaluationError) as info:
        decide("unique", rec(revenue=600, orders=1))
    err = info.value
    assert err.rules == ("r_bronze", "r_gold")
    assert "'r_bronze'" in str(err) and "'r_gold'" in str(err)
    assert "unique" in str(err)
    assert err.scheme == "t"
    assert err.record_id == "c1"
    assert isinstance(err, cr.CustomerRulesError)


def test_unique_error_in_a_batch_rejects_only_that_row() -> None:
    p = policy(RULES, labels=LABELS, hit="unique")
    out = engine(p).classify_many([rec(600, 1), rec(150, 1)], as_of=AS_OF)
    assert len(out.profiles) == 1
    assert [r.row for r in out.rejected] == [0]
    assert isinstance(out.rejected[0].error, cr.EvaluationError)


# -- priority --------------------------------------------------------------------


def test_priority_takes_the_label_listed_first() -> None:
    d = decide("priority", rec())
    assert (d.label, d.rule) == ("gold", "r_gold")
    assert set(d.also_matched) == {"r_bronze", "r_silver"}


def test_priority_tie_goes_to_the_first_rule() -> None:
    rules = (
        {"id": "a", "when": "value.orders_12m >= 1", "then": "silver"},
        {"id": "b", "when": "value.orders_12m >= 2", "then": "silver"},
        {"id": "c", "when": "value.orders_12m >= 3", "then": "bronze"},
    )
    d = decide("priority", rec(orders=5), rules=rules)
    assert (d.label, d.rule, d.also_matched) == ("silver", "a", ("b", "c"))


# -- collect ---------------------------------------------------------------------


def test_collect_reports_every_label_and_uses_on_many() -> None:
    d = decide("collect", rec(), on_many="mixed")
    assert d.labels == ("bronze", "gold", "silver")
    assert d.label == "mixed"
    assert d.rule == "r_bronze"
    assert d.also_matched == ("r_gold", "r_silver")


def test_collect_without_on_many_takes_the_highest_label() -> None:
    d = decide("collect", rec())
    assert d.labels == ("bronze", "gold", "silver")
    assert d.label == "gold"


def test_collect_with_one_label_needs_no_on_many() -> None:
    d = decide("collect", rec(revenue=150, orders=1), on_many="mixed")
    assert (d.label, d.labels) == ("bronze", ("bronze",))


def test_collect_same_label_twice_is_one_label() -> None:
    rules = (
        {"id": "a", "when": "value.orders_12m >= 1", "then": "silver"},
        {"id": "b", "when": "value.orders_12m >= 2", "then": "silver"},
    )
    d = decide("collect", rec(orders=5), rules=rules, on_many="mixed")
    assert (d.label, d.labels, d.also_matched) == ("silver", ("silver",), ("b",))


# -- default and unclassified ------------------------------------------------------


@pytest.mark.parametrize("hit", ["first", "unique", "priority", "collect"])
def test_default_when_nothing_matches(hit: str) -> None:
    d = decide(hit, rec(revenue=1, orders=0), default="bronze")
    assert (d.label, d.rule, d.labels, d.also_matched) == ("bronze", None, ("bronze",), ())
    assert d.classified


@pytest.mark.parametrize("hit", ["first", "unique", "priority", "collect"])
def test_unclassified_without_default(hit: str) -> None:
    d = decide(hit, rec(revenue=1, orders=0))
    assert d.label is None and d.rule is None and d.labels == ()
    assert not d.classified
    assert "unclassified" in d.explain(detail="full")
    assert "未分类" in d.explain(lang="zh", detail="full")


# -- missing inputs ----------------------------------------------------------------


def test_missing_lists_inputs_of_rules_whose_result_was_unknown() -> None:
    rules = (
        {"id": "by_revenue", "when": "value.revenue_12m >= 500", "then": "gold"},
        {"id": "by_orders", "when": "value.orders_12m >= 5", "then": "silver"},
        {"id": "by_cost", "when": "value.service_cost_12m < 10 and value.orders_12m > 100", "then": "bronze"},
    )
    d = decide("first", rec(revenue=None, orders=2), rules=rules)
    assert d.label is None
    # by_cost is False (orders > 100 is false) whatever the cost: its missing cost is not listed
    assert d.missing == ("value.revenue_12m",)
    assert "missing inputs: value.revenue_12m" in d.explain(detail="full")


def test_missing_lists_an_unknown_rule_even_when_another_rule_decided() -> None:
    rules = (
        {"id": "a", "when": "value.orders_12m >= 5", "then": "silver"},
        {"id": "b", "when": "value.revenue_12m >= 500", "then": "gold"},
    )
    d = decide("first", rec(revenue=None, orders=9), rules=rules)
    assert d.label == "silver"
    # the rule on revenue was unknown, so revenue is listed even though a rule matched
    assert d.missing == ("value.revenue_12m",)
    d = decide("first", rec(revenue=900, orders=9), rules=rules)
    assert d.missing == ()


# -- counterfactuals -----------------------------------------------------------------


def test_counterfactual_names_the_threshold_and_the_value() -> None:
    rules = (
        {"id": "key", "when": "value.revenue_12m >= 500000 and value.overdue_amount == 0", "then": "gold"},
        {"id": "regular", "when": "value.revenue_12m >= 10000", "then": "silver"},
    )
    r = record(value={"revenue_12m": 462000, "overdue_amount": 0})
    d = decide("first", r, rules=rules)
    assert d.label == "silver"
    [cf] = d.counterfactuals
    assert (cf.rule, cf.label) == ("key", "gold")
    assert [n.render() for n in cf.needs] == ["needs value.revenue_12m >= 500000, has 462000"]
    assert "for gold (rule key): needs value.revenue_12m >= 500000, has 462000" in d.explain(detail="full")
    assert "需要近12个月收入不低于 50 万元，实际为 46.2 万元" in d.explain(lang="zh", detail="full")
    assert "近12个月收入 46.2 万元，离金牌门槛 50 万元还差 3.8 万元" in d.explain(lang="zh")


def test_counterfactual_with_the_constant_on_the_left_and_a_missing_value() -> None:
    rules = ({"id": "key", "when": "500000 <= value.revenue_12m", "then": "gold"},)
    d = decide("first", record(), rules=rules, default="bronze")
    [cf] = d.counterfactuals
    assert cf.needs[0].render() == "needs value.revenue_12m >= 500000, has missing"


def test_no_counterfactual_for_rules_below_the_decision() -> None:
    # under first, rules after the deciding one are not alternatives
    d = decide("first", rec(revenue=600, orders=1), rules=RULES[1:] + RULES[:1])
    assert d.rule == "r_gold"
    assert d.counterfactuals == []


# -- explanations and output formats --------------------------------------------------


def _explained() -> cr.Decision:
    rules = (
        {
            "id": "big",
            "when": "value.revenue_12m >= 500",
            "then": "gold",
            "because": {"en": "Large account", "zh": "大客户"},
        },
    )
    return decide("first", rec(), rules=rules, default="bronze")


def test_explain_in_english() -> None:
    text = _explained().explain(detail="full")
    assert text.splitlines()[0] == "t: gold (Gold)"
    assert "by rule big: Large account" in text
    assert "value.revenue_12m = 600" in text
    assert str(_explained()) == _explained().explain()


def test_explain_in_chinese() -> None:
    text = _explained().explain(lang="zh", detail="full")
    assert text.splitlines()[0] == "t：金牌"
    assert "依据第 1 条规则：大客户" in text
    assert "读取：近12个月收入 = 600 元" in text


def test_explain_default_label() -> None:
    d = decide("first", rec(revenue=1), rules=RULES[1:2], default="bronze")
    assert "no rule matched; default label" in d.explain(detail="full")
    assert "采用默认类别" in d.explain(lang="zh", detail="full")


def test_html_repr_escapes_and_shows_the_decision() -> None:
    rules = ({"id": "r", "when": 'name == "<b>&"', "then": "gold", "because": "x < y"},)
    d = decide("first", record(name="<b>&"), rules=rules)
    html = d._repr_html_()
    assert "<b>t: Gold</b>" in html
    assert "x &lt; y" in html
    assert "<b>&" not in html.replace("<b>t: Gold</b>", "")
    full = d.to_html(detail="full")
    assert "&lt;b&gt;&amp;" in full and "<table>" in full


def test_profile_html_and_explain() -> None:
    p = policy(RULES, labels=LABELS)
    profile = engine(p).classify(rec(), as_of=AS_OF)
    assert profile.labels == {"t": "bronze"}
    assert "<table>" in profile._repr_html_()
    assert profile.explain(detail="full").startswith("Customer c1 as of 2026-11-22")
    assert profile.explain(lang="zh", detail="full").startswith("客户 c1（截至2026年11月22日）")


def test_to_dict_is_json_ready() -> None:
    rules = ({"id": "r", "when": "birthday < 2000-01-01 and value.revenue_12m > 1", "then": "gold"},)
    d = decide("first", record(birthday="1990-01-01", value={"revenue_12m": 5}), rules=rules)
    out = d.to_dict()
    assert json.loads(json.dumps(out)) == out
    assert out["label"] == "gold" and out["rule"] == "r"
    assert out["policy"] == {"id": "t", "version": "1"}
    assert out["as_of"] == "2026-11-22"
    assert out["record_id"] == "c1"
    assert out["evidence"] == {"birthday": "1990-01-01", "value.revenue_12m": 5.0}


def test_to_dict_of_nested_records_read_whole() -> None:
    rules = ({"id": "r", "when": "len(cases) >= 1 and len(identity) >= 1", "then": "gold"},)
    r = record(
        identity=["media"], cases=[{"id": "k1", "opened_at": "2026-01-02", "repair_visits": ["2026-01-03"]}]
    )
    out = decide("first", r, rules=rules).to_dict()
    assert json.loads(json.dumps(out)) == out
    assert out["evidence"]["identity"] == ["media"]
    [case] = out["evidence"]["cases"]
    assert (case["id"], case["opened_at"], case["repair_visits"]) == ("k1", "2026-01-02", ["2026-01-03"])


def test_flags_and_scores() -> None:
    labels = ({"id": "gold", "zh": "金牌", "en": "Gold", "flags": ["vip"]}, *LABELS[1:])
    p = policy(
        [{"id": "r", "when": "value.revenue_12m >= 500", "then": "gold"}],
        labels=labels,
        flags=[{"id": "many_orders", "when": "value.orders_12m > 3", "en": "Many orders"}],
        derive={"per_order": "value.revenue_12m / value.orders_12m"},
        scores=["per_order"],
    )
    d = engine(p).decide("t", rec(), as_of=AS_OF)
    assert d.flags == ("vip", "many_orders")
    assert d.scores == {"per_order": 120}


# -- parameters --------------------------------------------------------------------


def _param_policy() -> cr.Policy:
    return policy(
        [{"id": "big", "when": "value.revenue_12m >= params.threshold", "then": "gold"}],
        labels=LABELS,
        params={"threshold": 500},
        default="bronze",
    )


def test_engine_params_override_the_defaults() -> None:
    e = engine(_param_policy(), params={"t": {"threshold": 1000}})
    assert e.decide("t", rec(), as_of=AS_OF).label == "bronze"
    assert engine(_param_policy()).decide("t", rec(), as_of=AS_OF).label == "gold"


def test_unknown_param_is_a_policy_error() -> None:
    with pytest.raises(cr.PolicyError, match="unknown parameter 'treshold'") as info:
        engine(_param_policy(), params={"t": {"treshold": 1000}})
    assert info.value.field == "params.treshold"


def test_param_of_the_wrong_type_is_a_policy_error() -> None:
    with pytest.raises(cr.PolicyError, match="bad value for parameter 'threshold'"):
        engine(_param_policy(), params={"t": {"threshold": "high"}})


def test_params_for_an_unknown_scheme_is_a_policy_error() -> None:
    with pytest.raises(cr.PolicyError, match="unknown scheme"):
        engine(_param_policy(), params={"nope": {"threshold": 1}})


def test_engine_with_params_returns_a_new_engine() -> None:
    e = engine(_param_policy())
    e2 = e.with_params("t", threshold=1000)
    assert e2 is not e
    assert e.params("t") == {"threshold": 500}
    assert e2.params("t") == {"threshold": 1000}
    assert e.decide("t", rec(), as_of=AS_OF).label == "gold"
    assert e2.decide("t", rec(), as_of=AS_OF).label == "bronze"
    with pytest.raises(cr.PolicyError):
        e.with_params("t", nope=1)
    with pytest.raises(KeyError):
        e.with_params("nope", threshold=1)


def test_policy_with_params() -> None:
    p = _param_policy()
    p2 = p.with_params(threshold=1000)
    assert p.params == {"threshold": 500} and p2.params == {"threshold": 1000}
    assert engine(p2).decide("t", rec(), as_of=AS_OF).label == "bronze"
    with pytest.raises(cr.PolicyError, match="unknown parameter"):
        p.with_params(nope=1)


def test_params_of_a_plugin_scheme_are_checked_as_policy_errors() -> None:
    class Plugin:
        @cr.hookimpl
        def register_schemes(self) -> cr.Scheme:
            return cr.Scheme(_param_policy())

    with pytest.raises(cr.PolicyError, match="unknown parameter 'nope'"):
        cr.Engine(load_entry_points=False, plugins=[Plugin()], params={"t": {"nope": 1}})
    e = cr.Engine(load_entry_points=False, plugins=[Plugin()], params={"t": {"threshold": 1000}})
    assert e.params("t") == {"threshold": 1000}
