"""The frame backend: whole tables classified with polars expressions.

What a user relies on: the same labels and rules as the python backend
(missing values, Kleene logic, x/0, dates, every hit policy), the kind of
table given back (polars, lazy, pandas), the column naming, the nested
tables, and rejected rows that are never lost.
"""

from __future__ import annotations

import datetime as dt
import math
import subprocess
import sys
import warnings
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rules_support import AS_OF, engine, policy

import customer_rules as cr
from customer_rules.backends.frame import FeatureUse
from customer_rules.model.tables import prepare

pytestmark = pytest.mark.usefixtures("frame_backend")  # the frame backend, also on small tables

# Records with something missing in each place the expressions below read.
RECORDS: list[dict[str, Any]] = [
    {
        "id": "full",
        "kind": "company",
        "birthday": "1980-02-29",
        "identity": ["media", "lawyer"],
        "value": {"revenue_12m": 600000, "profit_12m": -1500.5, "orders_12m": 12, "bad_debt": False},
        "behaviour": {"type_history": ["owner", "task", "owner"]},
        "lead": {"has_need": True, "budget_status": "approved"},
        "deal": {"first_contact_at": "2026-01-10", "last_contact_at": "2026-10-01"},
        "cases": [
            {"id": "k1", "opened_at": "2026-11-01", "repair_visits": ["2026-11-02", "2026-11-20"]},
            {
                "id": "k2",
                "opened_at": "2026-05-01",
                "closed_at": "2026-06-01",
                "repair_visits": ["2026-05-03"],
            },
        ],
        "interactions": [{"at": "2026-11-03", "kind": "call"}, {"at": "2026-12-01", "kind": "visit"}],
    },
    {
        "id": "empty",
    },
    {
        "id": "zero",
        "kind": "person",
        "value": {"revenue_12m": 0, "profit_12m": 0.0, "orders_12m": 0, "bad_debt": True},
        "lead": {"has_need": None, "budget_status": "none"},
        "deal": {"first_contact_at": "0001-01-05"},
    },
    {
        "id": "half",
        "kind": "retailer",
        "identity": ["fleet"],
        "value": {"revenue_12m": 120.25, "orders_12m": 3, "bad_debt": None},
        "lead": {"has_need": False},
        "deal": {"last_contact_at": "2025-03-01"},
        "interactions": [{"at": "2025-07-01"}],
    },
    {
        "id": "big",
        "birthday": "1999-11-22",
        "value": {"revenue_12m": 1e9, "profit_12m": 2.5e8, "orders_12m": 100000, "growth_rate": -0.25},
        "deal": {"first_contact_at": "9999-12-01", "last_contact_at": "9999-12-31"},
    },
]

EXPRESSIONS = [
    "value.bad_debt and lead.has_need",
    "value.bad_debt or lead.has_need",
    "not value.bad_debt",
    "(value.bad_debt and lead.has_need) is missing",
    "value.revenue_12m / value.orders_12m",
    "value.revenue_12m / 0",
    "value.orders_12m / value.orders_12m",
    "value.revenue_12m * 2 - value.profit_12m",
    "-value.profit_12m",
    "abs(value.profit_12m)",
    "min(value.revenue_12m, value.profit_12m)",
    "max(value.orders_12m, 3, value.revenue_12m)",
    "coalesce(value.profit_12m, value.revenue_12m, 0)",
    "value.orders_12m between 3 and 12",
    "value.orders_12m between value.orders_12m and value.revenue_12m",
    "value.revenue_12m between 0 and value.profit_12m",
    "value.orders_12m in [0, 3, 12]",
    "value.revenue_12m in [0, 120.25]",
    "value.orders_12m not in [3]",
    'kind in ["person", "company"]',
    'kind != "person"',
    'lead.budget_status == "approved"',
    '"media" in identity',
    '"fleet" not in identity',
    "kind in []",
    'has_any(identity, ["lawyer", "fleet"])',
    "len(identity)",
    "len(cases) + len(interactions)",
    "count_distinct(behaviour.type_history)",
    "deal.last_contact_at - deal.first_contact_at",
    "deal.first_contact_at + 30d",
    "deal.first_contact_at - value.orders_12m",
    "deal.last_contact_at + 2w > 2026-10-10",
    "deal.first_contact_at - 10d",
    "days_since(deal.first_contact_at)",
    "days_until(deal.last_contact_at)",
    "if(lead.has_need, value.revenue_12m, value.orders_12m)",
    'if(value.bad_debt, kind, "company")',
    "count_true(value.bad_debt, lead.has_need, value.orders_12m > 5)",
    "value.growth_rate is not missing",
    "open_cases",
    "repair_visits_within(30d)",
    "repair_visits_within(0d)",
    "days_unresolved",
    "days_to_birthday",
    "days_since_contact",
    "last_contact",
]


def _python_values(p: cr.Policy, name: str) -> list[Any]:
    e = engine(p)
    return [e.decide("t", r, as_of=AS_OF).evidence[name] for r in RECORDS]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)
    return bool(a == b)


@pytest.fixture(scope="module")
def table() -> pl.DataFrame:
    return cr.frame_from_records(RECORDS)


@pytest.mark.parametrize("expr", EXPRESSIONS)
def test_every_expression_has_the_python_value_row_by_row(expr: str, table: pl.DataFrame) -> None:
    p = policy(derive={"result": expr}, scores=["result"])
    out = engine(p).classify_frame(table, as_of=AS_OF, scores=True)
    got = out["t__score__result"].to_list()
    want = _python_values(p, "result")
    assert all(_same(g, w) for g, w in zip(got, want, strict=True)), (expr, got, want)


def test_kleene_logic_three_valued_truth_table() -> None:
    values = [True, False, None]
    rows = [
        {"id": f"r{i}", "value": {"bad_debt": a}, "lead": {"has_need": b}}
        for i, (a, b) in enumerate((a, b) for a in values for b in values)
    ]
    p = policy(
        [{"id": "and_", "when": "value.bad_debt and lead.has_need", "then": "yes"}],
        derive={"either": "value.bad_debt or lead.has_need"},
        scores=["either"],
        default="no",
    )
    out = engine(p).classify_frame(cr.frame_from_records(rows), as_of=AS_OF, scores=True)
    expect_and = [a is True and b is True for a in values for b in values]
    assert [lab == "yes" for lab in out["t"].to_list()] == expect_and
    expect_or = [
        True if (a is True or b is True) else (None if a is None or b is None else False)
        for a in values
        for b in values
    ]
    assert out["t__score__either"].to_list() == expect_or


def _labels(out: pl.DataFrame, sid: str = "t") -> list[tuple[str | None, str | None]]:
    return list(zip(out[sid].to_list(), out[f"{sid}__rule"].to_list(), strict=True))


def _python_labels(
    e: cr.Engine, rows: list[dict[str, Any]], sid: str = "t"
) -> list[tuple[str | None, str | None]]:
    out = []
    for r in rows:
        d = e.decide(sid, r, as_of=AS_OF)
        out.append((d.label, d.rule))
    return out


THREE = (
    {"id": "gold", "zh": "金", "en": "Gold"},
    {"id": "silver", "zh": "银", "en": "Silver", "flags": ["watch"]},
    {"id": "bronze", "zh": "铜", "en": "Bronze"},
)
RULES = [
    {"id": "low", "when": "value.revenue_12m < 1000", "then": "bronze", "because": {"en": "small"}},
    {"id": "mid", "when": "value.revenue_12m >= 100", "then": "silver"},
    {"id": "high", "when": "value.revenue_12m >= 500000", "then": "gold"},
    {"id": "needy", "when": "lead.has_need", "then": "silver"},
]


@pytest.mark.parametrize("hit", ["first", "priority", "collect"])
@pytest.mark.parametrize("default", [None, "bronze"])
def test_hit_policies_and_default_match_python(hit: str, default: str | None, table: pl.DataFrame) -> None:
    p = policy(RULES, labels=THREE, hit=hit, default=default)
    e = engine(p)
    out = e.classify_frame(table, as_of=AS_OF, labels=True, flags=True)
    assert _labels(out) == _python_labels(e, RECORDS)
    decisions = [e.decide("t", r, as_of=AS_OF) for r in RECORDS]
    assert out["t__labels"].to_list() == [list(d.labels) for d in decisions]
    assert out["t__flags"].to_list() == [list(d.flags) for d in decisions]


def test_collect_reports_on_many_when_labels_disagree(table: pl.DataFrame) -> None:
    p = policy(
        RULES, labels=(*THREE, {"id": "mixed", "zh": "混", "en": "Mixed"}), hit="collect", on_many="mixed"
    )
    out = engine(p).classify_frame(table, as_of=AS_OF, labels=True)
    row = out.filter(pl.col("id") == "full").row(0, named=True)
    assert row["t"] == "mixed"
    assert row["t__rule"] == "mid"
    assert row["t__labels"] == ["silver", "gold"]


def test_labels_come_out_as_enums_in_policy_order(table: pl.DataFrame) -> None:
    out = engine(policy(RULES, labels=THREE)).classify_frame(table, as_of=AS_OF)
    assert out.schema["t"] == pl.Enum(["gold", "silver", "bronze"])
    assert out.schema["t__rule"] == pl.Enum(["low", "mid", "high", "needy"])
    assert out.filter(pl.col("t") == "silver").height == 2


def test_unique_conflicts_are_rejected_with_both_rule_ids(table: pl.DataFrame) -> None:
    p = policy(RULES, labels=THREE, hit="unique")
    e = engine(p)
    result = e.classify_frame_with_rejects(table, as_of=AS_OF)
    frame, rejected = result
    assert frame.height + rejected.height == len(RECORDS)
    python = e.classify_many(RECORDS, as_of=AS_OF)
    assert rejected["row"].to_list() == [r.row for r in python.rejected]
    assert rejected["reason"].to_list() == [r.reason for r in python.rejected]
    assert "rules 'mid' and 'high' both match under hit policy 'unique'" in rejected["reason"][0]
    with pytest.raises(cr.EvaluationError) as info:
        e.classify_frame(table, as_of=AS_OF, rejected="raise")
    assert info.value.rules == ("mid", "high")


def test_reasons_name_the_rule_or_the_missing_inputs(table: pl.DataFrame) -> None:
    p = policy(RULES[:1] + RULES[2:3], labels=THREE, default="silver")
    out = engine(p).classify_frame(table, as_of=AS_OF, reasons=True)
    reasons = dict(zip(out["id"].to_list(), out["t__reason"].to_list(), strict=True))
    assert reasons["half"] == "low: small"
    assert reasons["full"] == "high: when value.revenue_12m >= 500000"
    assert reasons["empty"] == "no rule matched: default 'silver'; missing: value.revenue_12m"


# -- kinds of table ---------------------------------------------------------------


def test_pandas_in_pandas_out_keeps_the_index(table: pl.DataFrame) -> None:
    pd = pytest.importorskip("pandas")
    e = engine(policy(RULES, labels=THREE))
    pdf = table.to_pandas()
    pdf.index = pd.Index([f"x{i}" for i in range(len(pdf))])
    out = e.classify_frame(pdf, as_of=AS_OF)
    assert isinstance(out, pd.DataFrame)
    assert list(out.index) == list(pdf.index)
    assert list(out.columns) == [*pdf.columns, "t", "t__rule"]
    assert (
        out["t"].astype(object).where(out["t"].notna(), None).tolist()
        == e.classify_frame(table, as_of=AS_OF)["t"].to_list()
    )
    frame, rejected = e.classify_frame_with_rejects(pdf.assign(id=["", *pdf["id"][1:]]), as_of=AS_OF)
    assert isinstance(rejected, pd.DataFrame)
    assert list(rejected.columns) == ["row", "id", "reason"]
    assert list(frame.index) == list(pdf.index[1:])


def test_lazy_in_lazy_out(table: pl.DataFrame) -> None:
    e = engine(policy(RULES, labels=THREE))
    frame, rejected = e.classify_frame_with_rejects(table.lazy(), as_of=AS_OF)
    assert isinstance(frame, pl.LazyFrame)
    assert isinstance(rejected, pl.LazyFrame)
    assert frame.collect()["t"].to_list() == e.classify_frame(table, as_of=AS_OF)["t"].to_list()


def test_other_inputs_are_refused_with_a_clear_error() -> None:
    with pytest.raises(TypeError, match="polars DataFrame or LazyFrame or a pandas DataFrame"):
        engine(policy(RULES, labels=THREE)).classify_frame(RECORDS, as_of=AS_OF)


def test_pandas_without_pyarrow_names_the_extra(monkeypatch: pytest.MonkeyPatch, table: pl.DataFrame) -> None:
    pytest.importorskip("pandas")

    def no_arrow(*args: Any, **kwargs: Any) -> Any:
        raise ModuleNotFoundError("No module named 'pyarrow'")

    monkeypatch.setattr(pl, "from_pandas", no_arrow)
    with pytest.raises(ImportError, match=r"customer-rules\[pandas\]"):
        engine(policy(RULES, labels=THREE)).classify_frame(table.to_pandas(), as_of=AS_OF)


def test_importing_the_package_does_not_import_polars() -> None:
    code = (
        "import sys, customer_rules as cr; cr.Engine(load_entry_points=False); print('polars' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- column naming and nested tables ---------------------------------------------


def test_double_underscore_names_and_struct_columns_read_the_same(table: pl.DataFrame) -> None:
    e = engine(policy(RULES, labels=THREE))
    want = e.classify_frame(table, as_of=AS_OF)["t"].to_list()
    underscored = table.rename({c: c.replace(".", "__") for c in table.columns})
    assert e.classify_frame(underscored, as_of=AS_OF)["t"].to_list() == want
    structs = pl.DataFrame([cr.Customer.model_validate(r).model_dump(mode="python") for r in RECORDS])
    assert isinstance(structs.schema["value"], pl.Struct)
    out = e.classify_frame(structs, as_of=AS_OF)
    assert out["t"].to_list() == want
    assert out.schema["value"] == structs.schema["value"]  # the input's columns as given (checked unnested)
    with pytest.raises(ValueError, match=r"both give 'value\.revenue_12m'"):
        e.classify_frame(structs.with_columns(pl.lit(1.0).alias("value.revenue_12m")), as_of=AS_OF)
    with pytest.raises(ValueError, match=r"both give 'value\.revenue_12m'"):
        e.classify_frame(
            table.with_columns(pl.col("value.revenue_12m").alias("value__revenue_12m")), as_of=AS_OF
        )


def test_separate_nested_tables_equal_list_columns() -> None:
    records = cr.sample_customers(40)
    e = cr.Engine(load_entry_points=False)
    t = cr.tables_from_records(records)
    assert set(t) == {"customers", "cases", "interactions", "deductions", "grades"}
    assert t["cases"].columns[0] == "customer_id"
    schemes = [s for s in e.schemes if e.is_fitted(s)]
    whole = e.classify_frame(cr.frame_from_records(records), as_of=cr.SAMPLE_AS_OF).select(schemes)
    split = e.classify_frame(
        t["customers"],
        cases=t["cases"],
        interactions=t["interactions"],
        deductions=t["deductions"],
        grades=t["grades"],
        as_of=cr.SAMPLE_AS_OF,
    ).select(schemes)
    assert split.equals(whole)
    with pytest.raises(ValueError, match="given twice"):
        e.classify_frame(cr.frame_from_records(records), cases=t["cases"], as_of=cr.SAMPLE_AS_OF)


def test_a_case_without_repair_visits_has_none() -> None:
    """A nested item that leaves out (or nulls) a list field gets its empty default."""
    case = {"id": "k1", "opened_at": "2026-11-01"}
    as_list = pl.DataFrame([{"id": "a", "cases": [{**case, "repair_visits": None}]}, {"id": "b"}])
    split = {"cases": pl.DataFrame([{"customer_id": "a", **case}])}
    for table, tables in [(as_list, None), (pl.DataFrame({"id": ["a", "b"]}), split)]:
        records = cr.records_from_frame(table, **(tables or {}))
        assert [len(r.cases) for r in records] == [1, 0]
        assert records[0].cases[0].repair_visits == ()
    p = policy([{"id": "r", "when": "repair_visits_within(30d) == 0", "then": "yes"}], default="no")
    e = engine(p)
    for backend in ("frame", "python"):
        out = e.classify_frame(as_list, as_of=AS_OF, backend=backend, rejected="raise")
        assert out["t"].to_list() == ["yes", "yes"]


def test_records_round_trip_through_tables() -> None:
    records = cr.sample_customers(30)
    assert cr.records_from_frame(cr.frame_from_records(records)) == records
    t = cr.tables_from_records(records)
    back = cr.records_from_frame(
        t["customers"],
        cases=t["cases"],
        interactions=t["interactions"],
        deductions=t["deductions"],
        grades=t["grades"],
    )
    assert back == records


def test_unknown_columns_pass_through_and_near_misses_warn(table: pl.DataFrame) -> None:
    e = engine(policy(RULES, labels=THREE))
    extra = table.with_columns(pl.lit("x").alias("crm_code"), pl.lit(1.0).alias("value.revenu_12m"))
    with pytest.warns(UserWarning, match=r"'value.revenu_12m' \(did you mean 'value.revenue_12m'\?\)"):
        out = e.classify_frame(extra, as_of=AS_OF)
    assert out["crm_code"].to_list() == ["x"] * len(RECORDS)
    assert out.columns[: len(extra.columns)] == extra.columns


def test_absent_columns_are_missing_values() -> None:
    e = engine(policy(RULES, labels=THREE, default="bronze"))
    out = e.classify_frame(pl.DataFrame({"id": ["a", "b"]}), as_of=AS_OF, reasons=True)
    assert out["t"].to_list() == ["bronze", "bronze"]
    assert out["t__reason"][0].endswith("missing: value.revenue_12m, lead.has_need")


# -- rejected rows -----------------------------------------------------------------

BAD_ROWS: list[tuple[dict[str, Any], str]] = [
    ({"value": {"revenue_12m": -5}}, "value.revenue_12m: Input should be greater than or equal to 0"),
    ({"value": {"price_sensitivity": 4}}, "value.price_sensitivity: Input should be less than or equal to 3"),
    ({"kind": "alien"}, "kind: Input should be 'person', 'company', 'retailer' or 'terminal'"),
    ({"identity": ["media", "spy"]}, "identity: Input should be 'media'"),
    ({"id": ""}, "id: String should have at least 1 character"),
    ({"id": None}, "id: Field required"),
    (
        {"deal": {"first_contact_at": "2026-02-02", "last_contact_at": "2026-01-01"}},
        "deal: Value error, deal.last_contact_at (2026-01-01) is before deal.first_contact_at (2026-02-02)",
    ),
    (
        {"cases": [{"id": "k", "opened_at": "2026-02-02", "closed_at": "2026-01-01"}]},
        "cases.0: Value error, case 'k': closed_at (2026-01-01) is before opened_at (2026-02-02)",
    ),
    (
        {"cases": [{"id": "k", "opened_at": "2026-02-02"}, {"id": "k", "opened_at": "2026-02-03"}]},
        "(record): Value error, duplicate case id 'k'",
    ),
    ({"cases": [{"id": "k"}]}, "cases.0.opened_at: Field required"),
    (
        {"compliance": {"deductions": [{"at": "2026-01-01", "points": -1, "reason": "x"}]}},
        "compliance.deductions.0.points: Input should be greater than or equal to 0",
    ),
]


def _raw_table(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """A table straight from dicts, without the record model's validation."""
    from customer_rules.model.tables import _flatten, canonical_schema, customer_spec

    def text_dates(dtype: pl.DataType) -> pl.DataType:  # dates stay ISO strings, as in a CSV
        if isinstance(dtype, pl.Date):
            return pl.String()
        if isinstance(dtype, pl.List):
            return pl.List(text_dates(dtype.inner))  # type: ignore[arg-type]
        if isinstance(dtype, pl.Struct):
            return pl.Struct({f.name: text_dates(f.dtype) for f in dtype.fields})  # type: ignore[arg-type]
        return dtype

    spec = customer_spec()
    schema = {name: text_dates(dtype) for name, dtype in canonical_schema(spec).items()}
    flat = [_flatten(r, spec) for r in rows]
    columns = {name: [f.get(name) for f in flat] for name in schema}
    return pl.DataFrame(columns, schema=schema, strict=False)


def test_invalid_rows_are_rejected_with_the_column_named() -> None:
    rows = [{"id": "ok"}] + [{"id": f"bad{i}", **patch} for i, (patch, _) in enumerate(BAD_ROWS)]
    e = engine(policy(RULES, labels=THREE))
    frame, rejected = e.classify_frame_with_rejects(_raw_table(rows), as_of=AS_OF)
    assert frame["id"].to_list() == ["ok"]
    assert frame.height + rejected.height == len(rows)
    assert rejected["row"].to_list() == list(range(1, len(rows)))
    for reason, (patch, expected) in zip(rejected["reason"].to_list(), BAD_ROWS, strict=True):
        assert expected in reason, (patch, reason)
    # the record model refuses exactly the same rows
    python = e.classify_many(rows, as_of=AS_OF)
    assert [r.row for r in python.rejected] == rejected["row"].to_list()


def test_rejected_rows_warn_raise_or_pass_silently() -> None:
    e = engine(policy(RULES, labels=THREE))
    bad = _raw_table([{"id": "ok"}, {"id": "x", "value": {"revenue_12m": -1}}])
    with pytest.warns(cr.RejectedRowsWarning, match="1 of 2 rows rejected"):
        assert e.classify_frame(bad, as_of=AS_OF).height == 1
    with pytest.raises(cr.RecordError) as info:
        e.classify_frame(bad, as_of=AS_OF, rejected="raise")
    assert info.value.paths == ["value.revenue_12m"]
    assert info.value.row == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert e.classify_frame(bad, as_of=AS_OF, rejected="ignore").height == 1


def test_pydantic_lax_inputs_are_accepted_column_wise() -> None:
    table = pl.DataFrame(
        {
            "id": ["a", "b"],
            "value.orders_12m": [3.0, None],
            "value.revenue_12m": ["1e3", " 12 "],
            "value.bad_debt": ["yes", "0"],
            "deal.first_contact_at": [dt.datetime(2026, 1, 1), None],
            "birthday": ["2000-01-31", None],
        }
    )
    records = cr.records_from_frame(table)
    assert records[0].value.orders_12m == 3
    assert records[0].value.revenue_12m == 1000.0
    assert records[1].value.bad_debt is False
    assert records[0].deal.first_contact_at == dt.date(2026, 1, 1)
    assert records[0].birthday == dt.date(2000, 1, 31)


# -- features ------------------------------------------------------------------------


@pytest.mark.parametrize("as_of", [cr.SAMPLE_AS_OF, dt.date(2024, 2, 29), dt.date(2026, 3, 1)])
def test_every_engine_feature_has_a_frame_version_with_the_same_values(as_of: dt.date) -> None:
    records = cr.sample_customers(120)
    e = cr.Engine(load_entry_points=False)
    frame = prepare(cr.frame_from_records(records)).valid
    for feat in e.features.values():
        assert feat.frame is not None, feat.name
        for args in [()] if not feat.args else [(0,), (30,), (400,), (-3,), (10**9,)]:
            got = frame.select(FeatureUse("x", feat, args).expr(as_of)).to_series().to_list()
            want = [feat.func(r, as_of, *args) for r in records]
            assert all(_same(g, w) for g, w in zip(got, want, strict=True)), (feat.name, args)


def test_a_feature_without_a_frame_version_falls_back_row_by_row(table: pl.DataFrame) -> None:
    @cr.feature(type="integer", description="interactions logged")
    def logged_contacts(c: cr.Customer, as_of: dt.date) -> int:
        return len(c.interactions)

    class Plugin:
        @cr.hookimpl
        def register_features(self) -> list[cr.Feature]:
            return [logged_contacts]

    p = policy([{"id": "r", "when": "logged_contacts >= 1", "then": "yes"}], default="no")
    e = engine(p, plugins=[Plugin()])
    with pytest.warns(UserWarning, match="logged_contacts have no frame implementation"):
        out = e.classify_frame(table, as_of=AS_OF)
    assert out["t"].to_list() == ["yes", "no", "no", "yes", "no"]


# -- population-relative schemes, hysteresis, overrides -------------------------------


def test_population_schemes_need_fit_and_then_use_its_cut_offs() -> None:
    p = policy(
        [{"id": "top", "when": "top(value.revenue_12m, 2)", "then": "yes"}],
        default="no",
    )
    e = engine(p)
    table = cr.frame_from_records(RECORDS)
    with pytest.raises(cr.NotFittedError):
        e.classify_frame(table, as_of=AS_OF, schemes=["t"])
    assert "t" not in e.classify_frame(table, as_of=AS_OF).columns
    e.fit(RECORDS, as_of=AS_OF)
    out = e.classify_frame(table, as_of=AS_OF)
    assert _labels(out) == _python_labels(e, RECORDS)
    assert out["t"].to_list() == ["yes", "no", "no", "no", "yes"]


@pytest.mark.parametrize("stability", [{"min_days": 30}, {"margin": 0.2}, {"min_days": 10, "margin": 0.5}])
def test_hysteresis_keeps_labels_as_python_does(stability: dict[str, Any]) -> None:
    p = policy(
        [
            {"id": "big", "when": "value.revenue_12m >= 1000", "then": "gold"},
            {"id": "mid", "when": "value.revenue_12m >= 100", "then": "silver"},
        ],
        labels=THREE,
        default="bronze",
        derive={"twice": "value.revenue_12m * 2"},
        stability=stability,
    )
    e = engine(p)
    rows = []
    for i, (rev, prev, days_ago) in enumerate(
        [
            (1100, "silver", 5),
            (1100, "silver", 50),
            (950, "gold", 50),
            (80, "silver", 50),
            (None, "gold", 1),
            (500, None, 0),
        ]
    ):
        grades = (
            []
            if prev is None
            else [{"scheme": "t", "label": prev, "since": AS_OF - dt.timedelta(days=days_ago)}]
        )
        grades.append({"scheme": "other", "label": "x", "since": AS_OF})
        rows.append({"id": f"c{i}", "value": {"revenue_12m": rev}, "grades": grades})
    out = e.classify_frame(cr.frame_from_records(rows), as_of=AS_OF, reasons=True, flags=True)
    decisions = [e.decide("t", r, as_of=AS_OF) for r in rows]
    assert _labels(out) == [(d.label, d.rule) for d in decisions]
    notes = [d.note for d in decisions]
    assert [r if r.startswith("hysteresis") else None for r in out["t__reason"].to_list()] == notes


def test_overrides_apply_with_the_python_backend_only(table: pl.DataFrame) -> None:
    class Sticky:
        @cr.hookimpl
        def adjust_decision(self, decision: cr.Decision) -> cr.Override | None:
            if decision.record_id == "empty":
                return cr.Override(label="gold", reason="VIP", author="me")
            return None

    e = engine(policy(RULES, labels=THREE), plugins=[Sticky()])
    with pytest.warns(UserWarning, match="adjust_decision hooks"):
        fast = e.classify_frame(table, as_of=AS_OF)
    slow = e.classify_frame(table, as_of=AS_OF, backend="python")
    assert fast["t"][1] is None
    assert slow["t"][1] == "gold"
    assert slow.drop("t", "t__rule").equals(fast.drop("t", "t__rule"))


def test_python_backend_option_gives_the_same_table() -> None:
    records = cr.sample_customers(50)
    e = cr.Engine(load_entry_points=False)
    table = cr.frame_from_records(records)
    kw: dict[str, Any] = {"as_of": cr.SAMPLE_AS_OF, "flags": True, "labels": True, "scores": True}
    assert e.classify_frame(table, backend="python", **kw).equals(e.classify_frame(table, **kw))


def test_engine_backend_frame_still_decides_single_records_in_python() -> None:
    p = policy(RULES, labels=THREE)
    fast = engine(p, backend="frame")
    assert fast.backend == "frame"
    assert (
        fast.decide("t", RECORDS[0], as_of=AS_OF).rule == engine(p).decide("t", RECORDS[0], as_of=AS_OF).rule
    )


def test_frame_from_records_reads_what_model_dump_gives() -> None:
    from polars.testing import assert_frame_equal

    from customer_rules.model.tables import _flatten, canonical_schema, customer_spec

    records = list(cr.sample_customers(60))
    records.append(
        cr.Customer.model_validate(
            {
                "id": "G1",
                "identity": ["media", "lawyer"],
                "grades": [
                    {"scheme": "value_pyramid", "label": "vip", "since": "2026-01-02"},
                    {"scheme": "lead_grade", "label": "A", "since": "2025-05-01"},
                ],
            }
        )
    )
    spec = customer_spec()
    schema = canonical_schema(spec)
    rows = [_flatten(r.model_dump(), spec) for r in records]  # the row-by-row reference
    expected = pl.DataFrame({c: [row.get(c) for row in rows] for c in schema}, schema=schema)
    assert_frame_equal(cr.frame_from_records(records), expected)
    assert_frame_equal(cr.frame_from_records([r.model_dump() for r in records]), expected)
    assert cr.frame_from_records([]).schema == schema


@settings(max_examples=15, deadline=None)
@given(n=st.integers(0, 30), seed=st.integers(0, 10_000))
def test_frame_from_records_matches_model_dump_for_any_sample(n: int, seed: int) -> None:
    """Records are read one (sub-)model at a time by polars: the table must be
    the one a record-by-record ``model_dump`` gives, for any mix of records."""
    from polars.testing import assert_frame_equal

    from customer_rules.model.tables import _flatten, canonical_schema, customer_spec

    records = cr.sample_customers(n, seed=seed)
    spec = customer_spec()
    schema = canonical_schema(spec)
    rows = [_flatten(r.model_dump(), spec) for r in records]
    expected = pl.DataFrame({c: [row.get(c) for row in rows] for c in schema}, schema=schema)
    assert_frame_equal(cr.frame_from_records(records), expected)


def _first_true_reference(columns: list[list[bool | None]], order: list[int], row: int) -> int | None:
    """The rule a first-hit table picks for ``row``: the first in ``order`` whose
    condition is true (an unknown condition never decides)."""
    return next((i for i in order if columns[i][row] is True), None)


@settings(max_examples=40, deadline=None)
@given(
    data=st.data(),
    n_conds=st.integers(0, 40),
    n_rows=st.integers(1, 12),
    fanout=st.sampled_from([2, 3, 8]),
    wide=st.booleans(),
)
def test_first_true_index_is_the_first_true_condition_in_order(
    data: st.DataObject, n_conds: int, n_rows: int, fanout: int, wide: bool
) -> None:
    """``_first`` (a tree of coalesces over narrow integer indexes) gives the
    first true condition in the order given, null when none is true, for
    true/false/null conditions, any order (priority) and rule indexes past
    the UInt8 range; and it equals the flat Int32 coalesce it replaced."""
    from customer_rules.backends import frame

    cell = st.sampled_from([True, False, None])
    columns = [
        data.draw(st.lists(cell, min_size=n_rows, max_size=n_rows), label=f"c{i}") for i in range(n_conds)
    ]
    order = data.draw(st.permutations(range(n_conds)), label="order")
    offset = 300 if wide else 0  # rule indexes above 255 need UInt16
    table = pl.DataFrame(
        {
            "row": range(n_rows),
            **{f"c{i}": pl.Series(col, dtype=pl.Boolean()) for i, col in enumerate(columns)},
        }
    )
    conds = [(i + offset, pl.col(f"c{i}")) for i in order]
    flat = (
        pl.coalesce([pl.when(c).then(pl.lit(i, dtype=pl.Int32())) for i, c in conds])
        if conds
        else pl.lit(None, dtype=pl.Int32())
    )
    got = table.with_columns(new=frame._first(conds, fanout), old=flat)
    assert got.schema["new"] == pl.Int32()
    want = [
        None if (j := _first_true_reference(columns, order, r)) is None else j + offset for r in range(n_rows)
    ]
    assert got["new"].to_list() == want
    assert got["old"].to_list() == want


# -- polars optimisations --------------------------------------------------------------


def test_a_small_run_unoptimised_gives_what_the_optimised_query_gives(monkeypatch: pytest.MonkeyPatch) -> None:
    """Below ``PLAIN_ROWS`` a run's query skips polars' optimisations (its
    cost there is planning); every scheme's every output must be the same
    as with them, rejected rows included."""
    from customer_rules.backends import frame as frame_backend

    e = cr.Engine(load_entry_points=False).fit(cr.sample_customers(400), as_of=cr.SAMPLE_AS_OF)
    data = cr.frame_from_records(cr.sample_customers(150, seed=11))
    # a rejected row too (an out-of-range value)
    data = data.with_columns(
        pl.when(pl.int_range(pl.len()) == 3).then(-5.0).otherwise(pl.col("value.share_of_wallet"))
        .alias("value.share_of_wallet")
    )
    options: dict[str, Any] = {"reasons": True, "flags": True, "labels": True, "scores": True}
    outs, used = [], []
    flags_of = frame_backend._query_flags

    def spy(rows: int) -> pl.QueryOptFlags:
        flags = flags_of(rows)
        used.append(flags.comm_subexpr_elim)
        return flags

    monkeypatch.setattr(frame_backend, "_query_flags", spy)
    for plain in (0, 10**9):  # every run optimised, then none
        monkeypatch.setattr(frame_backend, "PLAIN_ROWS", plain)
        outs.append(e.classify_frame_with_rejects(data, as_of=cr.SAMPLE_AS_OF, **options))
    assert used == [True, False]
    optimised, plain_run = outs
    assert optimised.n_rejected == plain_run.n_rejected >= 1
    assert optimised.frame.equals(plain_run.frame)
    assert optimised.rejected.equals(plain_run.rejected)


def test_a_table_decided_in_parts_gives_what_one_query_gives(monkeypatch: pytest.MonkeyPatch) -> None:
    """Above ``PART_ROWS`` a run decides its rows a part at a time (the
    memory bound of a big table); every output and rejected row must be the
    same as one query over the whole table, also for an input in several
    chunks whose boundaries fall inside a part."""
    from customer_rules.backends import frame as frame_backend

    e = cr.Engine(load_entry_points=False).fit(cr.sample_customers(400), as_of=cr.SAMPLE_AS_OF)
    data = cr.frame_from_records(cr.sample_customers(150, seed=12))
    data = data.with_columns(
        pl.when(pl.int_range(pl.len()) == 40).then(-5.0).otherwise(pl.col("value.share_of_wallet"))
        .alias("value.share_of_wallet")
    )
    chunked = pl.concat([data.slice(0, 61), data.slice(61, 50), data.slice(111)], rechunk=False)
    assert max(chunked.n_chunks("all")) == 3
    options: dict[str, Any] = {"reasons": True, "flags": True, "labels": True, "scores": True}
    flags_of = frame_backend._query_flags
    parts: list[int] = []

    def spy(rows: int) -> pl.QueryOptFlags:
        parts.append(rows)
        return flags_of(rows)

    monkeypatch.setattr(frame_backend, "_query_flags", spy)
    whole = e.classify_frame_with_rejects(data, as_of=cr.SAMPLE_AS_OF, **options)
    assert parts == [149]
    monkeypatch.setattr(frame_backend, "PART_ROWS", 17)
    for table in (data, chunked):
        parts.clear()
        split = e.classify_frame_with_rejects(table, as_of=cr.SAMPLE_AS_OF, **options)
        assert parts == [17] * 8 + [13]
        assert split.n_rejected == whole.n_rejected >= 1
        assert split.frame.equals(whole.frame)
        assert split.rejected.equals(whole.rejected)


@pytest.mark.parametrize("op", ["==", "!=", "<", "<=", ">", ">="])
@pytest.mark.parametrize(
    "orders", [[None, None], [0, None], [None, 3]], ids=["all missing", "first known", "second known"]
)
def test_a_constant_compared_with_a_computed_value_gives_every_row(op: str, orders: list[int | None]) -> None:
    # found by the differential test: a date parameter against the parameter
    # plus an all-null field made polars' small-table engine give one row
    e = engine(
        policy(
            [{"id": "r", "when": f"params.day {op} params.day + value.orders_12m", "then": "yes"}],
            params={"day": dt.date(2024, 1, 1)},
        )
    )
    rows = [{"id": f"c{i}", "value": {"orders_12m": n}} for i, n in enumerate(orders)]
    out = e.classify_frame(cr.frame_from_records(rows), as_of=AS_OF, backend="frame")
    assert out.get_column("t").to_list() == [e.decide("t", r, as_of=AS_OF).label for r in rows]
