"""Property tests of the condition language and the record boundary.

* printing any tree and parsing the text gives the same tree;
* any dict either validates as a record or is refused with a RecordError
  naming field paths — never another exception;
* any expression text, over any valid record, either evaluates or raises a
  CustomerRulesError — never another exception;
* the ``unique`` and ``first`` hit policies agree whenever at most one rule
  matches.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from rules_support import AS_OF, engine, policy

import customer_rules as cr
from customer_rules.lab.generate import _set as set_path
from customer_rules.lang.ast import (
    ARITH,
    COMPARE,
    LOGIC,
    Between,
    Binary,
    Call,
    Duration,
    In,
    IsMissing,
    ListOf,
    Literal,
    Name,
    Node,
    Unary,
    to_text,
    walk,
)
from customer_rules.lang.check import FUNCTIONS
from customer_rules.lang.parser import KEYWORDS, MAX_DEPTH, MAX_NODES, MAX_TEXT, parse

FAST = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- trees -------------------------------------------------------------------------------

# names that start like a keyword are still names
TRICKY_NAMES = (
    "order",
    "notes",
    "index",
    "island",
    "android",
    "trueish",
    "falsey",
    "missing_x",
    "in_",
    "is2",
)

ident = st.one_of(
    st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,7}", fullmatch=True).filter(lambda s: s not in KEYWORDS),
    st.sampled_from(TRICKY_NAMES),
)

non_negative_floats = st.floats(min_value=0, allow_nan=False, allow_infinity=False).filter(
    lambda x: math.copysign(1.0, x) > 0
)

strings = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8", exclude_categories=("Cs",)),
        st.sampled_from(['"', "'", "\\", "\n", "\t", "(", "[", "中", "文"]),
    ),
    max_size=12,
)

literals = st.one_of(
    st.integers(min_value=0, max_value=10**30).map(Literal),
    non_negative_floats.map(Literal),
    strings.map(Literal),
    st.booleans().map(Literal),
    st.dates().map(Literal),
)
durations = st.builds(Duration, st.integers(min_value=0, max_value=10**6), st.sampled_from(["d", "w"]))
names = st.lists(ident, min_size=1, max_size=3).map(lambda parts: Name(tuple(parts)))

leaves = st.one_of(literals, durations, names)


def _extend(children: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    return st.one_of(
        st.builds(Unary, st.sampled_from(["-", "not"]), children),
        st.builds(Binary, st.sampled_from(ARITH + COMPARE + LOGIC), children, children),
        st.builds(In, children, children, st.booleans()),
        st.builds(Between, children, children, children),
        st.builds(IsMissing, children, st.booleans()),
        st.builds(Call, ident, st.lists(children, max_size=3).map(tuple)),
        st.builds(ListOf, st.lists(children, max_size=3).map(tuple)),
    )


trees = st.recursive(leaves, _extend, max_leaves=12)


def _within_limits(node: Node, text: str) -> bool:
    count = depth = 0
    stack = [(node, 1)]
    while stack:
        n, d = stack.pop()
        count += 1
        depth = max(depth, d)
        stack.extend((c, d + 1) for c in n.children())
    brackets = text.count("(") + text.count("[")  # an upper bound on the nesting
    return count <= MAX_NODES and depth <= MAX_DEPTH and len(text) <= MAX_TEXT and brackets <= MAX_DEPTH // 2


@FAST
@given(trees)
def test_printed_trees_parse_back_to_the_same_tree(tree: Node) -> None:
    text = to_text(tree)
    assume(_within_limits(tree, text))
    parsed = parse(text)
    assert parsed == tree
    # equality of 1, 1.0 and true is Python's: compare the exact values too
    assert repr(parsed) == repr(tree)
    assert to_text(parsed) == text


@FAST
@given(trees)
def test_printing_is_stable(tree: Node) -> None:
    text = to_text(tree)
    assume(_within_limits(tree, text))
    assert to_text(parse(text)) == text


def test_round_trip_examples() -> None:
    # a few shapes the printer has to parenthesise
    for text in (
        "(a or b) and c",
        "not (a and b)",
        "(not a) == b",
        "a - (b - c)",
        "-(a * b)",
        "a - -b",
        "(a between 1 and 2) == true",
        "x in [1, 2] and y not in z",
        "(x is missing) is not missing",
        'f(g(1), "a\\"b", 2w, 2026-01-31)',
    ):
        assert to_text(parse(text)) == text


# -- records at the boundary --------------------------------------------------------------

NUMBER_FIELDS = (
    "value.revenue_12m",
    "value.profit_12m",
    "value.orders_12m",
    "value.overdue_days",
    "value.share_of_wallet",
    "value.price_sensitivity",
    "compliance.score",
    "satisfaction.survey_score",
)
BOOL_FIELDS = ("value.bad_debt", "value.litigation", "deal.needs_confirmed", "lead.has_need")
DATE_FIELDS = ("birthday", "deal.first_contact_at", "satisfaction.surveyed_at", "compliance.assessed_at")
TEXT_FIELDS = ("name", "region")
ENUM_FIELDS = {
    "kind": ("person", "company", "retailer", "terminal"),
    "behaviour.speech_pace": ("fast", "slow"),
    "lead.budget_status": ("approved", "pending", "none"),
}
IDENTITIES = ("media", "journalist", "lawyer", "police", "fleet")
ALL_FIELDS = (*NUMBER_FIELDS, *BOOL_FIELDS, *DATE_FIELDS, *TEXT_FIELDS, *ENUM_FIELDS, "identity", "cases")

anything = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.integers(min_value=10**20, max_value=10**400),
        st.floats(),
        st.text(max_size=10),
        st.dates(),
        st.dates().map(dt.date.isoformat),
        st.sampled_from(["2026-02-30", "fast", "media", "", "1e999", "NaN"]),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=5,
)


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path, v in flat.items():
        set_path(out, path, v)
    return out


raw_records = st.builds(
    lambda rid, flat: {**({"id": rid} if rid is not None else {}), **_nest(flat)},
    st.one_of(st.none(), st.text(max_size=4), st.integers(), st.just("c1")),
    st.dictionaries(st.sampled_from(ALL_FIELDS), anything, max_size=6),
)

READING_POLICY = policy(
    [
        {
            "id": "big",
            "when": "value.revenue_12m - value.profit_12m > 1000 and value.orders_12m >= 3",
            "then": "yes",
        },
        {
            "id": "late",
            "when": "days_since(deal.first_contact_at) > 30d or birthday < 1990-01-01",
            "then": "yes",
        },
        {"id": "who", "when": 'kind in ["company", "retailer"] or "media" in identity', "then": "no"},
        {
            "id": "cases",
            "when": "open_cases > 0 or repair_visits_within(30d) > 1 or len(cases) > 2",
            "then": "no",
        },
    ],
    derive={"ratio": "value.revenue_12m / value.orders_12m", "shifted": "deal.first_contact_at + 10000d"},
    hit="collect",
    default="no",
)
READING_ENGINE = engine(READING_POLICY)


@FAST
@given(raw_records)
def test_any_dict_is_classified_or_refused_with_a_record_error(data: dict[str, Any]) -> None:
    try:
        profile = READING_ENGINE.classify(data, as_of=AS_OF)
    except cr.RecordError as exc:
        assert exc.errors, "a RecordError names at least one problem"
        for path in exc.paths:
            assert path == "(record)" or path.split(".")[0] in {*data, "id"}, path
        if isinstance(data.get("id"), str) and data["id"]:
            assert exc.record_id == data["id"]
    else:
        assert profile["t"].label in ("yes", "no")


@FAST
@given(st.lists(raw_records, max_size=5))
def test_batches_lose_no_rows(rows: list[dict[str, Any]]) -> None:
    out = READING_ENGINE.classify_many(rows, as_of=AS_OF)
    assert len(out.profiles) + len(out.rejected) == len(rows)
    assert all(isinstance(r.error, cr.RecordError) for r in out.rejected)


# -- any expression over any valid record ----------------------------------------------------


def _valid_number(path: str) -> st.SearchStrategy[Any]:
    if path in ("value.price_sensitivity",):
        return st.integers(0, 3)
    if path == "satisfaction.survey_score":
        return st.integers(1, 5)
    if path == "value.share_of_wallet":
        return st.floats(0, 1)
    if path == "compliance.score":
        return st.floats(0, 100)
    if path in ("value.orders_12m", "value.overdue_days"):
        return st.one_of(st.integers(0, 1000), st.integers(10**20, 10**400))
    if path == "value.profit_12m":
        return st.floats(allow_nan=False, allow_infinity=False)
    return st.one_of(st.floats(0, 1e6), st.floats(min_value=0, allow_nan=False, allow_infinity=False))


extreme_dates = st.one_of(st.dates(), st.sampled_from([dt.date.min, dt.date.max, AS_OF]))

valid_fields: dict[str, st.SearchStrategy[Any]] = {
    **{p: _valid_number(p) for p in NUMBER_FIELDS},
    **{p: st.booleans() for p in BOOL_FIELDS},
    **dict.fromkeys(DATE_FIELDS, extreme_dates),
    **{p: st.text(max_size=6) for p in TEXT_FIELDS},
    **{p: st.sampled_from(v) for p, v in ENUM_FIELDS.items()},
    "identity": st.lists(st.sampled_from(IDENTITIES), max_size=3),
    "cases": st.lists(
        st.fixed_dictionaries(
            {"opened_at": extreme_dates},
            optional={"repair_visits": st.lists(extreme_dates, max_size=3)},
        ),
        max_size=2,
    ).map(lambda cs: [{"id": f"k{i}", **c} for i, c in enumerate(cs)]),
}

valid_records = st.fixed_dictionaries(
    {},
    optional={
        p: st.one_of(st.none(), s) if p not in ("identity", "cases") else s for p, s in valid_fields.items()
    },
).map(lambda flat: {"id": "c1", **_nest(flat)})

TOKENS = (
    *ALL_FIELDS,
    "open_cases",
    "days_unresolved",
    "days_since_contact",
    "last_contact",
    "repair_visits_within",
    "params.n",
    "params.d",
    "params.s",
    *sorted(FUNCTIONS),
    "0",
    "1",
    "3.5",
    "1e308",
    "9" * 40,
    "30d",
    "2w",
    "99999999999d",
    "2026-11-22",
    "0001-01-01",
    "9999-12-31",
    '"media"',
    '"company"',
    "'x'",
    '"\\u4e2d"',
    "true",
    "false",
    "and",
    "or",
    "not",
    "in",
    "between",
    "is",
    "missing",
    *ARITH,
    *COMPARE,
    "(",
    ")",
    "[",
    "]",
    ",",
    ".",
    "=",
    "&&",
    "__class__",
    "@",
    "'",
    '"',
)

token_text = st.lists(st.sampled_from(TOKENS), min_size=1, max_size=12).map(" ".join)

# well-formed trees over real names: these get past the parser, often past the checker too
real_leaves = st.one_of(
    st.sampled_from(
        [
            Name(tuple(t.split(".")))
            for t in (*ALL_FIELDS, "open_cases", "days_unresolved", "params.n", "params.d")
        ]
    ),
    st.integers(0, 10**20).map(Literal),
    st.sampled_from([Literal(0), Literal(2.5), Literal("media"), Literal(True), Literal(AS_OF)]),
    durations,
)


def _real_extend(children: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    funcs = sorted(FUNCTIONS)  # every built-in function, as the language grows
    return st.one_of(
        st.builds(Unary, st.sampled_from(["-", "not"]), children),
        st.builds(Binary, st.sampled_from(ARITH + COMPARE + LOGIC), children, children),
        st.builds(In, children, st.lists(children, max_size=3).map(tuple).map(ListOf), st.booleans()),
        st.builds(Between, children, children, children),
        st.builds(IsMissing, children, st.booleans()),
        st.builds(Call, st.sampled_from(funcs), st.lists(children, min_size=1, max_size=3).map(tuple)),
        st.builds(lambda d: Call("repair_visits_within", (d,)), durations),
    )


real_text = st.recursive(real_leaves, _real_extend, max_leaves=8).map(to_text)

expressions = st.one_of(token_text, real_text)

PARAMS = {"n": 3, "d": dt.date(2026, 1, 1), "s": "company"}


def _try_engine(expr: str, as_condition: bool) -> cr.Engine | None:
    if as_condition:
        p = policy([{"id": "r", "when": expr, "then": "yes"}], params=PARAMS, default="no")
    else:
        p = policy(derive={"x": expr}, params=PARAMS)
    try:
        e = engine(p)
    except cr.PolicyError as exc:
        assert exc.message
        event("refused")
        return None
    event("loaded")
    return e


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expressions, st.booleans(), st.lists(valid_records, min_size=1, max_size=3))
def test_any_expression_evaluates_or_raises_a_library_error(
    expr: str, as_condition: bool, records: list[dict[str, Any]]
) -> None:
    e = _try_engine(expr, as_condition)
    if e is None:
        return
    for r in records:
        try:
            d = e.decide("t", r, as_of=AS_OF)
        except cr.CustomerRulesError:
            continue
        if as_condition:
            assert d.label in ("yes", "no")
        d.explain()
        d.explain(lang="zh")
        json.dumps(d.to_dict())
        d.counterfactuals  # noqa: B018 - computing them must not fail either


@FAST
@given(real_text)
def test_checked_trees_have_names_the_checker_knows(expr: str) -> None:
    # whatever the checker accepts only reads declared names
    e = _try_engine(expr, as_condition=False)
    if e is None:
        return
    known = set(e.namespace.all_names()) | {f"params.{k}" for k in PARAMS}
    for n in walk(parse(expr)):
        if isinstance(n, Name):
            assert n.dotted in known


# -- unique and first agree when at most one rule matches ----------------------------------------

THRESHOLD_FIELDS = ("value.revenue_12m", "value.orders_12m", "value.overdue_days", "compliance.score")

threshold_rules = st.lists(
    st.tuples(
        st.sampled_from(THRESHOLD_FIELDS),
        st.sampled_from(COMPARE),
        st.integers(0, 100),
        st.sampled_from(["yes", "no"]),
    ),
    min_size=1,
    max_size=4,
)

threshold_records = st.fixed_dictionaries(
    {}, optional={f: st.one_of(st.none(), st.integers(0, 100)) for f in THRESHOLD_FIELDS}
).map(lambda flat: {"id": "c1", **_nest(flat)})


@FAST
@given(threshold_rules, st.booleans(), st.lists(threshold_records, min_size=1, max_size=4))
def test_unique_and_first_agree_when_at_most_one_rule_matches(
    rules: list[tuple[str, str, int, str]], with_default: bool, records: list[dict[str, Any]]
) -> None:
    defs = [
        {"id": f"r{i}", "when": f"{field} {op} {n}", "then": label}
        for i, (field, op, n, label) in enumerate(rules)
    ]
    extra: dict[str, Any] = {"default": "no"} if with_default else {}
    first = engine(policy(defs, hit="first", **extra))
    unique = engine(policy(defs, hit="unique", **extra))
    for r in records:
        by_first = first.decide("t", r, as_of=AS_OF)
        try:
            by_unique = unique.decide("t", r, as_of=AS_OF)
        except cr.EvaluationError as exc:
            assert len(by_first.also_matched) >= 1
            assert exc.rules[0] == by_first.rule
            assert exc.rules[1] == by_first.also_matched[0]
            continue
        assert by_first.also_matched == ()
        assert (by_unique.label, by_unique.rule, by_unique.missing) == (
            by_first.label,
            by_first.rule,
            by_first.missing,
        )
