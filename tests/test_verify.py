"""cr.verify: the static analysis finds what is wrong with a decision table,
with a record that shows it, and finds nothing in tables that are right."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import customer_rules as cr

HERE = Path(__file__).parent / "policies"
FLAWED = sorted(p for p in (HERE / "flawed").glob("*.yaml") if p.name != "expectations.yaml")
CLEAN = sorted((HERE / "clean").glob("*.yaml"))
EXPECTED: dict[str, list[dict[str, Any]]] = yaml.safe_load((HERE / "flawed" / "expectations.yaml").read_text())
AS_OF = cr.SAMPLE_AS_OF


@pytest.fixture(scope="module")
def engine() -> cr.Engine:
    return cr.Engine()


def test_the_corpus_is_big_enough() -> None:
    assert len(FLAWED) >= 15
    assert len(CLEAN) >= 5
    assert sorted(EXPECTED) == sorted(p.name for p in FLAWED)


@pytest.mark.parametrize("path", FLAWED, ids=lambda p: p.stem)
def test_each_flawed_policy_gets_its_expected_finding(path: Path, engine: cr.Engine) -> None:
    policy = cr.load_policy(path)
    findings = cr.verify(policy, engine)
    found = {(f.kind, f.rules): f for f in findings}
    for want in EXPECTED[path.name]:
        key = (want["kind"], tuple(want["rules"]))
        assert key in found, f"{path.name}: expected {key}, got {list(found)}"
        finding = found[key]
        assert finding.severity in ("error", "warning", "info")
        assert finding.message
        if want.get("witness"):
            assert finding.witness is not None
            _witness_shows(policy, finding, engine)


def _witness_shows(policy: cr.Policy, finding: cr.Finding, engine: cr.Engine) -> None:
    """Run the witness through a real engine: it must show the problem."""
    eng = cr.Engine([policy], load_entry_points=False)
    assert finding.witness is not None
    if finding.kind in ("gap", "missing_gap"):
        decision = eng.decide(policy.id, finding.witness, as_of=AS_OF)
        assert decision.label is None
        if finding.kind == "gap":
            # every field the rules read has a value: a real hole, not missing data
            assert not decision.missing
    elif finding.kind == "overlap":
        with pytest.raises(cr.EvaluationError) as info:
            eng.decide(policy.id, finding.witness, as_of=AS_OF)
        assert set(info.value.rules) == set(finding.rules)


@pytest.mark.parametrize("path", CLEAN, ids=lambda p: p.stem)
def test_clean_policies_have_no_finding(path: Path, engine: cr.Engine) -> None:
    findings = cr.verify(cr.load_policy(path), engine)
    assert list(findings) == [], findings.explain()
    assert findings.ok


def test_severities_errors_for_mishandled_records_warnings_for_dead_text(engine: cr.Engine) -> None:
    by_kind = {}
    for path in FLAWED:
        for f in cr.verify(cr.load_policy(path), engine):
            by_kind.setdefault(f.kind, set()).add(f.severity)
    assert by_kind["gap"] == {"error"}
    assert by_kind["overlap"] == {"error"}
    assert by_kind["unreachable"] == {"warning"}
    assert by_kind["dead_label"] == {"warning"}
    assert by_kind["always_false"] == {"warning"}
    assert by_kind["missing_gap"] == {"info"}


# -- exactness of the interval and set reasoning ---------------------------------

OPS = ["<", "<=", ">", ">=", "==", "!="]


def _policy(rules: list[tuple[str, str]], hit: str = "first") -> cr.Policy:
    return cr.Policy.model_validate(
        {
            "id": "probe",
            "hit": hit,
            "labels": [{"id": "a", "zh": "甲", "en": "a"}, {"id": "b", "zh": "乙", "en": "b"}],
            "rules": [{"id": f"r{i}", "when": w, "then": t} for i, (w, t) in enumerate(rules)],
        }
    )


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(OPS), st.integers(-1, 4)), min_size=1, max_size=3),
    st.booleans(),
)
def test_gap_on_a_level_field_matches_brute_force(conds: list[tuple[str, int]], with_missing: bool) -> None:
    """value.loyalty is a whole level 0-3: the analysis must agree with trying every value."""
    rules = [(f"value.loyalty {op} {c}", "a") for op, c in conds]
    if with_missing:
        rules.append(("value.loyalty is missing", "b"))
    policy = _policy(rules)
    findings = cr.verify(policy, search=False)
    eng = cr.Engine([policy], load_entry_points=False)
    unclassified = [
        v for v in (None, 0, 1, 2, 3) if eng.decide("probe", {"id": "x", "value": {"loyalty": v}}, as_of=AS_OF).label is None
    ]
    gaps = findings.of_kind("gap")
    missing_gaps = findings.of_kind("missing_gap")
    known_gap = [v for v in unclassified if v is not None]
    assert bool(gaps) == bool(known_gap)
    assert bool(missing_gaps) == (not known_gap and None in unclassified)
    assert not findings.of_kind("undecided")
    for f in gaps:
        assert f.exact
        assert f.witness is not None and f.witness["value"]["loyalty"] in known_gap


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(OPS), st.sampled_from([99.5, 100.0, 100.5]), st.sampled_from(OPS), st.sampled_from([99.5, 100.0]))
def test_overlap_on_a_real_field_matches_brute_force(op1: str, c1: float, op2: str, c2: float) -> None:
    """Two thresholds on a real number: overlap iff some value satisfies both (checked on the boundaries)."""
    policy = _policy([(f"value.revenue_12m {op1} {c1}", "a"), (f"value.revenue_12m {op2} {c2}", "b")], hit="unique")
    findings = cr.verify(policy, search=False)
    eng = cr.Engine([policy], load_entry_points=False)
    probes = [0.0, 50.0, 99.0, 99.25, 99.5, 99.75, 100.0, 100.25, 100.5, 100.75, 1e6]
    both = []
    for v in probes:
        try:
            eng.decide("probe", {"id": "x", "value": {"revenue_12m": v}}, as_of=AS_OF)
        except cr.EvaluationError:
            both.append(v)
    assert bool(findings.of_kind("overlap")) == bool(both)


def test_enum_reasoning_names_the_uncovered_value(engine: cr.Engine) -> None:
    policy = _policy([('lead.budget_status in ["approved", "pending"]', "a"), ("lead.budget_status is missing", "b")])
    (gap,) = cr.verify(policy, engine).of_kind("gap")
    assert gap.witness == {"id": "witness", "lead": {"budget_status": "none"}}


# -- where the analysis cannot decide -------------------------------------------


def test_features_are_undecided_without_search_and_found_with_it(engine: cr.Engine) -> None:
    policy = _policy([("open_cases >= 1", "a"), ("value.revenue_12m >= 0", "b")])
    quiet = cr.verify(policy, engine, search=False)
    assert quiet.of_kind("undecided")
    assert all(f.severity == "info" and not f.exact for f in quiet.of_kind("undecided"))
    assert "open_cases" in quiet.of_kind("undecided")[0].message
    searched = cr.verify(policy, engine)
    assert not searched.of_kind("undecided")


def test_an_impossible_feature_rule_is_still_proved_unreachable(engine: cr.Engine) -> None:
    # whatever open_cases is, the second rule only matches what the first took
    policy = _policy([("open_cases >= 1", "a"), ("open_cases >= 2", "b")])
    findings = cr.verify(policy, engine, search=False)
    (f,) = findings.of_kind("unreachable")
    assert f.rules == ("r1", "r0")
    assert f.exact


# -- inputs and rendering ------------------------------------------------------------


def test_verify_takes_a_scheme_id_a_scheme_or_a_file(engine: cr.Engine) -> None:
    by_id = cr.verify("bird_style", engine)
    by_scheme = cr.verify(engine.schemes["bird_style"], engine)
    by_file = cr.verify(HERE / "flawed" / "gap.yaml", engine)
    assert by_id.policy_id == by_scheme.policy_id == "bird_style"
    assert [f.kind for f in by_id] == [f.kind for f in by_scheme]
    assert by_file.of_kind("gap")


def test_findings_render_as_text_and_html(engine: cr.Engine) -> None:
    findings = cr.verify(HERE / "flawed" / "overlap.yaml", engine)
    text = findings.explain()
    assert "overlap [big, medium]" in text and "value.revenue_12m = 100" in text
    page = findings._repr_html_()
    assert "<table>" in page and "overlap" in page and "value.revenue_12m = 100" in page
    one = findings[0]
    assert one.kind in str(one) and "<div" in one._repr_html_()
    assert "no findings" in cr.verify(HERE / "clean" / "tiers.yaml", engine)._repr_html_()


# -- the built-in schemes --------------------------------------------------------------

# Findings accepted by design, with the reason. Every other finding fails the test.
ACCEPTED: dict[str, dict[tuple[str, tuple[str, ...]], str]] = {
    "nine_types": {
        ("missing_gap", ()): "no type recognised from the observed signals leaves the customer unclassified",
        ("undecided", ()): "max/coalesce over 24 signals: too many cases to decide whether a record with every"
        " signal known can be unrecognised; the search rarely draws 24 low signals",
    },
    "social_style": {
        ("gap", ()): "no style reaches params.score_threshold: unclassified by design (SCHEMES.md)",
    },
    "bird_style": {("missing_gap", ()): "a missing axis leaves the customer unclassified (by design)"},
    "lead_grade": {("gap", ()): "a lead none of the grades fits stays unclassified (by design)"},
    "customer_quality": {
        ("gap", ()): "too few criteria known (e.g. zero revenue makes cost-to-serve unknown): unclassified by design",
    },
    "deal_stage": {
        ("undecided", ("contacted_after_loss",)): "a contact after the loss and no milestone after it:"
        " comparisons between two date fields are outside the box analysis, and the bounded search"
        " may miss the combination",
    },
    "satisfaction": {
        ("missing_gap", ()): "no complaint signal and no survey: unclassified by design",
        **{
            ("undecided", (rule,)): "a D-level case signal with no E-level one (no case left open too long"
            " without a solution, no hostile tone...): features over nested cases, which the bounded search"
            " does not reach"
            for rule in ("parts_wait", "prices_not_transparent", "slow_repair_skill")
        },
    },
    "crisis": {},
    "value_pyramid": {
        ("missing_gap", ()): "a missing measure leaves the customer unclassified (by design)",
        **{
            ("undecided", (rule,)): "ranked by revenue among the customers without a profit"
            " (top_pct_within over a derived group): the bounded search may draw no such group"
            for rule in ("top_vip_by_revenue", "top_major_by_revenue", "top_ordinary_by_revenue", "rest_by_revenue")
        },
    },
    "terminal_priority": {("gap", ()): "customers that are not terminals are not classified by this scheme"},
    "retail_license_grade": {("gap", ()): "customers that are not licensed retailers are not classified"},
}


@pytest.mark.parametrize("scheme", sorted(ACCEPTED))
def test_built_in_schemes_pass_verify_or_document_the_finding(scheme: str, engine: cr.Engine) -> None:
    findings = cr.verify(scheme, engine, max_examples=100)
    unexplained = [f for f in findings if (f.kind, f.rules) not in ACCEPTED[scheme]]
    assert not unexplained, "\n".join(f.explain() for f in unexplained)


# -- intended gaps ------------------------------------------------------------------------

GAP_SCHEMES = (
    "social_style",
    "lead_grade",
    "customer_quality",
    "terminal_priority",
    "retail_license_grade",
    "rfm",
)


def test_a_declared_gap_is_information_with_its_reason(engine: cr.Engine) -> None:
    text = (HERE / "flawed" / "gap.yaml").read_text(encoding="utf-8")
    plain = cr.verify(cr.load_policy(text, format="yaml", engine=engine), engine)
    (gap,) = plain.of_kind("gap")
    assert gap.severity == "error" and not plain.ok
    declared = text + "intended_gap: {en: revenue between 50 and 100 is left to a person, zh: 人工处理}\n"
    findings = cr.verify(cr.load_policy(declared, format="yaml", engine=engine), engine)
    (info,) = findings.of_kind("gap")
    assert info.severity == "info" and findings.ok and not findings.errors
    assert info.message.endswith("by design: revenue between 50 and 100 is left to a person")
    assert info.witness == gap.witness  # still shown: which records stay unclassified


@pytest.mark.parametrize("scheme", GAP_SCHEMES)
def test_built_in_schemes_with_a_gap_by_design_declare_it(scheme: str, engine: cr.Engine) -> None:
    policy = engine.schemes[scheme].policy
    assert policy.intended_gap is not None and policy.intended_gap.zh
    findings = cr.verify(scheme, engine, max_examples=30)
    assert not findings.errors, findings.explain()
    assert all(f.severity == "info" for f in findings.of_kind("gap"))


def test_only_those_declare_a_gap(engine: cr.Engine) -> None:
    declared = {sid for sid, s in engine.schemes.items() if s.policy.intended_gap is not None}
    assert declared == set(GAP_SCHEMES)
