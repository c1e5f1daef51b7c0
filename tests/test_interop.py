"""Interop: hand-written JDM and DMN files, spreadsheets, refusals and the CLI.

The property tests (zen-engine differential, round trips) are in
tests/test_interop_properties.py.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from rules_support import AS_OF

import customer_rules as cr
from customer_rules import interop
from customer_rules.cli.main import main
from customer_rules.interop.cells import read_cell, write_cell
from customer_rules.interop.jdm import zen_decision
from customer_rules.interop.table import Cell, Term

openpyxl = pytest.importorskip("openpyxl")
pytest.importorskip("defusedxml")

DATA = Path(__file__).parent / "data" / "interop"
LOAN_FIELDS = {
    "customer.revenue": "value.revenue_12m",
    "customer.overdueDays": "value.overdue_days",
    "customer.region": "region",
    "customer.badDebt": "value.bad_debt",
}
ENGINE = cr.Engine(load_entry_points=False)
_IDS = itertools.count()


def decide(policy: cr.Policy, record: dict[str, Any]) -> cr.Decision:
    sid = f"h{next(_IDS)}"
    ENGINE.add_policy(policy.model_copy(update={"id": sid}))
    return ENGINE.decide(sid, record, as_of=AS_OF)


class Decider:
    """One policy added once to the shared engine."""

    def __init__(self, policy: cr.Policy) -> None:
        self.sid = f"h{next(_IDS)}"
        ENGINE.add_policy(policy.model_copy(update={"id": self.sid}))

    def __call__(self, record: dict[str, Any]) -> cr.Decision:
        return ENGINE.decide(self.sid, record, as_of=AS_OF)


def record(
    revenue: Any = None, overdue: Any = None, region: Any = None, bad_debt: Any = None, **top: Any
) -> dict[str, Any]:
    value = {"revenue_12m": revenue, "overdue_days": overdue, "bad_debt": bad_debt}
    return {"id": "c1", "value": value, "region": region, **top}


GRID = list(
    itertools.product(
        [None, 0, 1000, 1001, 250000, 500000, 600000],
        [None, 0, 29, 30, 90, 91],
        [None, "north", "east", "south"],
        [None, True, False],
    )
)


# -- hand-written JDM, checked against zen-engine ----------------------------------


def test_hand_written_jdm_reads_as_expected() -> None:
    policy = interop.read_policy(DATA / "loan.jdm.json", fields=LOAN_FIELDS, policy_id="loan")
    assert [r.when for r in policy.rules] == [
        "value.bad_debt == true",
        'value.revenue_12m >= 500000 and value.overdue_days < 30 and (region is missing or region != "north")',
        "value.overdue_days between 30 and 90",
        "value.overdue_days is missing or value.overdue_days > 90",
        'value.revenue_12m > 1000 and value.revenue_12m <= 500000 and region in ["east", "west"]',
    ]
    assert [r.id for r in policy.rules] == ["r1", "r2", "r3", "r4", "r5"]  # UUIDs are not ids
    assert policy.rules[1].because == cr.Text(en="large, paying, outside the north")
    assert policy.hit == "first" and policy.default is None
    assert policy.label_ids == ("risky", "key", "watch", "regular")


def test_hand_written_jdm_decides_as_zen_engine_does() -> None:
    zen = pytest.importorskip("zen")
    policy = interop.from_jdm(DATA / "loan.jdm.json", fields=LOAN_FIELDS)
    decision = zen.ZenEngine().create_decision((DATA / "loan.jdm.json").read_text(encoding="utf-8"))
    ours = Decider(policy)
    matched = 0
    for revenue, overdue, region, bad_debt in GRID:
        theirs = decision.evaluate(
            {"customer": {"revenue": revenue, "overdueDays": overdue, "region": region, "badDebt": bad_debt}}
        )["result"]
        d = ours(record(revenue, overdue, region, bad_debt))
        assert d.label == theirs.get("tier"), (revenue, overdue, region, bad_debt, theirs)
        matched += d.label is not None
    assert matched > len(GRID) / 2  # the grid exercises the rules, not only the no-match case


def test_hand_written_collect_jdm_decides_as_zen_engine_does() -> None:
    zen = pytest.importorskip("zen")
    policy = interop.from_jdm(DATA / "tags.jdm.json")
    assert policy.hit == "collect"
    decision = zen.ZenEngine().create_decision((DATA / "tags.jdm.json").read_text(encoding="utf-8"))
    ours = Decider(policy)
    for segment, orders, large in itertools.product(
        [None, "retail", "food", "tech"], [None, 0, 10, 11, 99, 100, 500], [None, True, False]
    ):
        rec = {"id": "c1", "segment": segment, "value": {"orders_12m": orders}, "is_large_account": large}
        theirs = [r["trait"] for r in decision.evaluate(rec)["result"]]
        assert ours(rec).labels == tuple(dict.fromkeys(theirs)), (rec, theirs)


# -- hand-written DMN --------------------------------------------------------------


def test_hand_written_dmn_reads_as_expected() -> None:
    policy = interop.from_dmn(DATA / "tier.dmn", fields={"revenue": "value.revenue_12m"})
    assert policy.id == "customer_tier"
    assert policy.hit == "priority"
    assert policy.label_ids == ("risky", "key", "regular", "small")  # the output values' order
    assert policy.default == "small"
    assert {r.id: r.when for r in policy.rules} == {
        "key_account": "value.revenue_12m >= 500000 and value.overdue_days < 30 "
        'and (region is missing or region != "north")',
        "late": "value.overdue_days between 30 and 90",
        "mid": "value.revenue_12m > 1000 and value.revenue_12m < 500000 and value.overdue_days is not missing "
        'and region in ["east", "west"]',
        "unknown_payer": "value.revenue_12m > 0 and value.revenue_12m != 250000 and value.overdue_days is missing "
        'and region != "south"',
    }
    d = decide(policy, record(600000, 40, "east"))
    assert (d.label, d.rule) == ("risky", "late")  # P: risky outranks key whatever the rule order
    assert decide(policy, record(600000, 10, None)).label == "key"  # not("north") matches null
    assert decide(policy, record(2000, None, None)).label == "small"  # not(null, "south") does not
    assert decide(policy, record(2000, None, "east")).label == "regular"


def test_hand_written_collect_dmn() -> None:
    policy = interop.from_dmn(DATA / "traits.dmn")
    assert policy.hit == "collect"
    assert decide(policy, {"id": "c", "segment": "food", "value": {"bad_debt": True}}).labels == (
        "consumer",
        "debtor",
    )
    assert decide(policy, {"id": "c"}).labels == ("other",)  # not("retail","food") matches null


@pytest.mark.parametrize(
    ("name", "options"),
    [("tier.dmn", {"fields": {"revenue": "value.revenue_12m"}}), ("traits.dmn", {})],
)
def test_hand_written_dmn_exported_to_jdm_decides_as_zen_engine_does(
    name: str, options: dict[str, Any]
) -> None:
    zen = pytest.importorskip("zen")
    policy = interop.from_dmn(DATA / name, **options)
    decision = zen.ZenEngine().create_decision(json.dumps(interop.to_jdm(policy)))
    ours = Decider(policy)
    for revenue, overdue, region, bad_debt in GRID:
        for segment in (None, "food", "tech"):
            rec = interop.zen_input(record(revenue, overdue, region, bad_debt, segment=segment))
            d = ours(rec)
            label, labels = zen_decision(policy, decision.evaluate(rec)["result"])
            assert d.label == label
            if policy.hit == "collect":
                assert d.labels == labels


# -- cells ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "dialect", "cell"),
    [
        ("", "zen", Cell(True, ())),
        ("-", "feel", Cell(True, ())),
        ("null", "feel", Cell(True, None)),
        ("not(null)", "feel", Cell(False, ())),
        ('"a", "b"', "zen", Cell(False, (Term("in", ("a", "b")),))),
        ('["a", "b"]', "zen", Cell(False, (Term("in", ("a", "b")),))),
        ('!= "a"', "zen", Cell(True, (Term("!=", ("a",)),))),
        ('$ != null and $ != "a"', "zen", Cell(False, (Term("!=", ("a",)),))),
        ('not("a")', "feel", Cell(True, (Term("!=", ("a",)),))),
        ('not(null, "a")', "feel", Cell(False, (Term("!=", ("a",)),))),
        ("not(< 5)", "feel", Cell(False, (Term(">=", (5,)),))),  # null < 5 is unknown, so is its not
        ("[1..5]", "feel", Cell(False, (Term("between", (1, 5)),))),
        ("(1..5]", "zen", Cell(False, (Term(">", (1,)), Term("<=", (5,))))),
        ("< -2.5", "feel", Cell(False, (Term("<", (-2.5,)),))),
        ("null, > 3", "zen", Cell(True, (Term(">", (3,)),))),
        ("? = null or ? > 1 and ? < 3", "feel", Cell(True, (Term(">", (1,)), Term("<", (3,))))),
        ("'say \"hi\"'", "zen", Cell(False, (Term("==", ('say "hi"',)),))),
        (5, "feel", Cell(False, (Term("==", (5,)),))),
        (True, "feel", Cell(False, (Term("==", (True,)),))),
    ],
)
def test_cells_read_with_each_dialects_null_semantics(text: Any, dialect: Any, cell: Cell) -> None:
    assert read_cell(text, dialect, "here") == cell


@pytest.mark.parametrize(
    ("text", "dialect", "says"),
    [
        ('date("2024-01-01")', "feel", "names and functions"),
        ("> other.field", "zen", "names and functions"),
        ('not("a")', "zen", "ZEN has no not"),
        ("$ > 1 or $ < -1", "zen", "an 'or' of different tests"),
        ("not([1..5])", "feel", "not(...) of a range"),
        ("$ + 1 > 3", "zen", "cannot read"),
        ("> 5 5", "feel", "unexpected text"),
    ],
)
def test_cells_outside_the_subset_are_refused_naming_the_cell(text: str, dialect: Any, says: str) -> None:
    with pytest.raises(interop.InteropError) as info:
        read_cell(text, dialect, "rule 'r1' column 'Age'")
    assert says in str(info.value)
    assert info.value.cell == "rule 'r1' column 'Age'"
    assert "rule 'r1' column 'Age'" in str(info.value)


def test_zen_cannot_write_missing_or_several_tests() -> None:
    cell = Cell(True, (Term(">", (1,)), Term("!=", (3,))))
    assert read_cell(write_cell(cell, "feel"), "feel", "x") == cell
    with pytest.raises(interop.InteropError, match="ZEN cannot write"):
        write_cell(cell, "zen")


# -- refusals on export ----------------------------------------------------------------


def small_policy(when: str, **extra: Any) -> cr.Policy:
    return cr.Policy.model_validate(
        {
            "id": "t",
            "labels": [{"id": "yes", "zh": "是", "en": "Yes"}, {"id": "no", "zh": "否", "en": "No"}],
            "rules": [{"id": "r1", "when": when, "then": "yes"}],
            **extra,
        }
    )


@pytest.mark.parametrize(
    ("when", "says"),
    [
        ("abs(value.profit_12m) > 5", "a comparison must have a record field on one side"),
        ('value.revenue_12m > 5 or region == "east"', "'or' may only join"),
        ("not value.bad_debt", "only comparisons"),
        ("value.revenue_12m > value.profit_12m", "must be a constant"),
        ("value.revenue_12m * 2 > 5", "a comparison must have a record field on one side"),
        ("value.revenue_12m between params.lo and 5", "unknown parameter"),
        ("birthday < 2026-01-01", "dates compare differently"),
        (
            "value.revenue_12m > 5 and value.revenue_12m < 3 and value.revenue_12m is missing",
            "can never hold",
        ),
    ],
)
@pytest.mark.parametrize("fmt", ["jdm", "dmn"])
def test_export_refuses_what_tables_cannot_say(when: str, says: str, fmt: str) -> None:
    policy = small_policy(when)
    with pytest.raises(interop.InteropError) as info:
        interop.to_jdm(policy) if fmt == "jdm" else interop.to_dmn(policy)
    assert says in str(info.value)
    assert info.value.rule == "r1"


def test_export_refuses_policy_parts_tables_have_no_place_for() -> None:
    with pytest.raises(interop.InteropError, match="uses 'derive'"):
        interop.to_dmn(small_policy("m > 1", derive={"m": "value.revenue_12m / 2"}))
    with pytest.raises(interop.InteropError, match="hit: unique"):
        interop.to_jdm(small_policy("value.revenue_12m > 1", hit="unique"))
    with pytest.raises(interop.InteropError, match="ZEN cannot hold"):
        interop.to_jdm(small_policy("value.revenue_12m > 1e-40"))
    with pytest.raises(interop.InteropError, match="cannot be written in ZEN"):
        interop.to_jdm(small_policy('region == "a\\\\b"'))


def test_params_are_inlined_for_jdm_and_kept_for_dmn_and_xlsx(tmp_path: Path) -> None:
    policy = small_policy("value.revenue_12m >= params.big", params={"big": 500})
    cells = interop.to_jdm(policy)["nodes"][1]["content"]["rules"][0]
    assert cells["in0"] == ">= 500"
    assert interop.from_dmn(interop.to_dmn(policy)).params == {"big": 500}
    back = interop.from_xlsx(interop.to_xlsx(policy, tmp_path / "p.xlsx"))
    assert back.rules[0].when == "value.revenue_12m >= params.big" and back.params == {"big": 500}


# -- refusals on import ------------------------------------------------------------------

DMN_HEAD = '<definitions xmlns="https://www.omg.org/spec/DMN/20230324/MODEL/" id="d" name="d" namespace="x">'


def dmn(
    table_attrs: str, outputs: str = '<output id="o" name="l" typeRef="string"/>', cell: str = "-"
) -> str:
    return (
        f'{DMN_HEAD}<decision id="t" name="t"><decisionTable id="dt" {table_attrs}>'
        '<input id="i"><inputExpression id="ie" typeRef="number"><text>value.orders_12m</text></inputExpression></input>'
        f'{outputs}<rule id="r1"><inputEntry id="r1_i"><text>{cell}</text></inputEntry>'
        '<outputEntry id="r1_o"><text>"yes"</text></outputEntry></rule></decisionTable></decision></definitions>'
    )


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (dmn('hitPolicy="ANY"'), "A (any)"),
        (dmn('hitPolicy="RULE ORDER"'), "R (rule order)"),
        (dmn('hitPolicy="COLLECT" aggregation="SUM"'), "CSUM aggregates"),
        (dmn('hitPolicy="PRIORITY"'), "ranks by the output values"),
        (dmn("", outputs='<output id="o1" name="a"/><output id="o2" name="b"/>'), "2 outputs"),
        (dmn("", cell="date(&quot;2024-01-01&quot;)"), "rule 'r1' inputEntry 'r1_i'"),
        (dmn("").replace("20230324", "20151101"), "not a DMN 1.3-1.5 document"),
        (dmn("").replace("value.orders_12m", "a + b"), "is not a record path"),
        (dmn("", cell="&quot;ten&quot;"), "'ten' is not a number, the input's typeRef"),
        (dmn("").replace('typeRef="number"', 'typeRef="date"'), "input type 'date' is outside"),
    ],
)
def test_dmn_outside_the_subset_is_refused(text: str, says: str) -> None:
    with pytest.raises(interop.InteropError) as info:
        interop.from_dmn(text)
    assert says in str(info.value)


def test_dmn_hit_policies_map_to_ours() -> None:
    assert interop.from_dmn(dmn("")).hit == "unique"  # DMN's default
    assert interop.from_dmn(dmn('hitPolicy="FIRST"')).hit == "first"
    assert interop.from_dmn(dmn('hitPolicy="COLLECT"')).hit == "collect"
    ordered = dmn(
        'hitPolicy="OUTPUT ORDER"',
        outputs='<output id="o" name="l"><outputValues><text>"no","yes"</text></outputValues></output>',
    )
    policy = interop.from_dmn(ordered)
    assert (policy.hit, policy.label_ids) == ("collect", ("no", "yes"))


def test_dmn_with_entities_is_refused() -> None:
    evil = '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>' + dmn("").replace(
        '"yes"', "&x;"
    )
    with pytest.raises(interop.InteropError, match="refused XML"):
        interop.from_dmn(evil)


def test_jdm_outside_the_subset_is_refused_naming_the_cell() -> None:
    graph = json.loads((DATA / "loan.jdm.json").read_text(encoding="utf-8"))
    rule = graph["nodes"][1]["content"]["rules"][2]
    rule["c1a2b3c4-0002"] = "$ > 30 or $ < 5"
    with pytest.raises(interop.InteropError) as info:
        interop.from_jdm(graph, fields=LOAN_FIELDS)
    assert info.value.cell == "rule '7f3e2d1c-aaaa-4bbb-8ccc-000000000003' column 'Overdue days'"
    with pytest.raises(cr.PolicyError, match=r"unknown name .customer\.badDebt") as checked:
        interop.read_policy(DATA / "loan.jdm.json")  # not mapped: customer.* are not fields of ours
    assert checked.value.file == str(DATA / "loan.jdm.json")
    rule["c1a2b3c4-0002"] = ""
    rule["d9e8f7a6-0001"] = "42"
    with pytest.raises(interop.InteropError, match="not a text constant"):
        interop.from_jdm(graph, fields=LOAN_FIELDS)


def test_jdm_labels_can_be_mapped() -> None:
    policy = interop.from_jdm(
        DATA / "tags.jdm.json", labels={"consumer": "b2c", "heavy": "heavy_user"}, policy_id="traits"
    )
    assert policy.label_ids == ("b2c", "active", "heavy_user", "unknown")


def test_unchecked_names_fail_the_type_check_with_the_file_named() -> None:
    graph = json.loads((DATA / "tags.jdm.json").read_text(encoding="utf-8"))
    graph["nodes"][1]["content"]["inputs"][0]["field"] = "segmnt"
    with pytest.raises(cr.PolicyError) as info:
        ENGINE.check(interop.from_jdm(graph))
    assert "segmnt" in str(info.value)


# -- spreadsheets -------------------------------------------------------------------------


def test_xlsx_layout_round_trips_and_names_the_bad_cell(tmp_path: Path) -> None:
    policy = interop.from_dmn(DATA / "tier.dmn", fields={"revenue": "value.revenue_12m"})
    path = interop.to_xlsx(policy, tmp_path / "tier.xlsx")
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["Rules", "Labels", "Policy"]
    rules = wb["Rules"]
    assert [c.value for c in rules[1]] == [
        "rule",
        "value.revenue_12m",
        "value.overdue_days",
        "region",
        "label",
        "because",
    ]
    assert rules["D2"].value == 'not("north")'
    back = interop.from_xlsx(path)
    assert back.rules == policy.rules and back.labels == policy.labels and back.default == "small"
    rules["C5"] = "< today()"
    wb.save(path)
    with pytest.raises(interop.InteropError) as info:
        interop.from_xlsx(path)
    assert info.value.cell == "Rules!C5"
    assert "Rules!C5" in str(info.value) and str(path) in str(info.value)


def test_xlsx_typed_cells_and_unknown_labels(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    rules = wb.active
    rules.title = "Rules"
    rules.append(["rule", "value.orders_12m", "value.bad_debt", "label"])
    rules.append(["many", 100, None, "big"])
    rules.append(["debt", None, True, "bad"])
    labels = wb.create_sheet("Labels")
    labels.append(["id", "en", "zh"])
    labels.append(["big", "Big", "大"])
    wb.create_sheet("Policy").append(["key", "value"])
    wb.save(tmp_path / "t.xlsx")
    with pytest.raises(interop.InteropError) as info:
        interop.from_xlsx(tmp_path / "t.xlsx")
    assert info.value.cell == "Rules!D3" and "not on the Labels sheet" in str(info.value)
    labels.append(["bad", "Bad", "坏"])
    wb.save(tmp_path / "t.xlsx")
    policy = interop.from_xlsx(tmp_path / "t.xlsx")
    assert [r.when for r in policy.rules] == ["value.orders_12m == 100", "value.bad_debt == true"]
    assert policy.id == "t" and policy.hit == "first"


# -- files and the command line -------------------------------------------------------------


def test_json_files_are_told_apart_by_content(tmp_path: Path) -> None:
    from customer_rules.interop.files import format_of

    policy = interop.from_dmn(DATA / "traits.dmn")
    interop.write_policy(policy, tmp_path / "a.json")
    (tmp_path / "b.json").write_text(json.dumps(interop.to_jdm(policy)), encoding="utf-8")
    assert format_of(tmp_path / "a.json") == "json"
    assert format_of(tmp_path / "b.json") == "jdm"
    assert format_of(tmp_path / "new.jdm.json") == "jdm"
    assert interop.read_policy(tmp_path / "b.json").rules == interop.read_policy(tmp_path / "a.json").rules
    with pytest.raises(interop.InteropError, match="cannot tell the policy format"):
        format_of(tmp_path / "policy.txt")


def test_cli_converts_between_every_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    start = DATA / "tier.dmn"
    chain = ["tier.yaml", "tier.jdm.json", "tier.xlsx", "tier.toml", "tier.json", "tier.dmn"]
    src = start
    assert (
        main(["convert", str(start), str(tmp_path / "tier.yaml"), "--field", "revenue=value.revenue_12m"])
        == 0
    )
    src = tmp_path / "tier.yaml"
    for name in chain[1:]:
        assert main(["convert", str(src), str(tmp_path / name)]) == 0, capsys.readouterr()
        src = tmp_path / name
    first = cr.load_policy(tmp_path / "tier.yaml")
    last = interop.read_policy(tmp_path / "tier.dmn")
    # JDM writes priority as first over rules sorted by label rank: the same decisions
    assert last.hit == "first" and [r.id for r in last.rules] == [
        "late",
        "key_account",
        "mid",
        "unknown_payer",
    ]
    for rec in (record(600000, 40, "east"), record(600000, 10), record(2000), record(2000, None, "east")):
        assert decide(first, rec).label == decide(last, rec).label
    assert "wrote" in capsys.readouterr().out


def test_cli_check_and_verify_read_every_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = interop.from_dmn(DATA / "traits.dmn")
    interop.to_xlsx(policy, tmp_path / "traits.xlsx")
    assert main(["check", str(DATA / "traits.dmn"), str(tmp_path / "traits.xlsx")]) == 0
    assert main(["verify", "--no-search", str(DATA / "traits.dmn")]) == 0
    assert "check traits: no findings" in capsys.readouterr().out
    assert main(["check", str(DATA / "tags.jdm.json")]) == 1  # read, then found wanting
    assert "no rule covers some records" in capsys.readouterr().out


def test_cli_reports_refusals_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "p.yaml").write_text(
        "id: p\nlabels: [{id: a, zh: a, en: a}]\nrules:\n  - {id: r1, when: 'abs(value.profit_12m) > 1', then: a}\n",
        encoding="utf-8",
    )
    assert main(["convert", str(tmp_path / "p.yaml"), str(tmp_path / "p.dmn")]) == 1
    err = capsys.readouterr().err
    assert "rule 'r1'" in err and "outside the subset" in err
    assert not (tmp_path / "p.dmn").exists()
    assert main(["convert", str(DATA / "tier.dmn"), str(tmp_path / "q.yaml")]) == 1  # no --field mapping
    err = capsys.readouterr().err
    assert "tier.dmn" in err and "revenue" in err
