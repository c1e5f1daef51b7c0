"""The policy lab beyond verify: property checks (cr.check), comparing two
engines on the same customers (cr.compare), parameter sweeps (cr.sweep) and
the pictures."""

from __future__ import annotations

import os

import polars as pl
import pytest

import customer_rules as cr
from customer_rules.lab.compare import contacts_per_week, label_shares

AS_OF = cr.SAMPLE_AS_OF


@pytest.fixture(scope="module")
def engine() -> cr.Engine:
    return cr.Engine()


@pytest.fixture(scope="module")
def customers() -> list[cr.Customer]:
    return cr.sample_customers()


# -- cr.check on the built-in schemes: declared properties hold ---------------------

PROPERTIES: dict[str, list[cr.Property]] = {
    "bird_style": [cr.exactly_one_label(known_inputs=True)],
    "lead_grade": [
        cr.implies("lead.has_need == false", "D"),
        cr.implies(
            "lead.has_need == true and lead.asks_details >= 3 and lead.needs_known == true"
            " and lead.contacts_known == true and lead.concerns_known == true",
            "A",
        ),
    ],
    "value_pyramid": [cr.monotone("value.profit_12m"), cr.label_order("value.profit_12m")],
    "retail_license_grade": [
        cr.monotone("compliance.score"),
        cr.monotone("compliance.business_score"),
        cr.implies('serious_violation_open and kind == "retailer"', "suspended"),
    ],
    "terminal_priority": [cr.monotone("value.consumer_resources"), cr.monotone("value.operating_level")],
    "customer_quality": [cr.implies("value.bad_debt == true", "poor")],
    "deal_stage": [cr.exactly_one_label()],
    "crisis": [cr.exactly_one_label(), cr.implies("safety", "G")],
    "satisfaction": [cr.implies("satisfaction.states_displeasure == true", ["E", "D"])],
    "nine_types": [cr.implies("behaviour.shifts_with_situation >= 2", "composite")],
    "social_style": [cr.implies("analytical_score >= params.score_threshold and analytical_score >= top_score",
                                "analytical")],
}


@pytest.mark.parametrize("scheme", sorted(PROPERTIES))
def test_built_in_schemes_have_their_declared_properties(scheme: str, engine: cr.Engine) -> None:
    report = cr.check(scheme, PROPERTIES[scheme], engine, max_examples=60)
    assert report.ok, report.explain()
    assert all(r.examples > 0 for r in report)


def test_a_failing_property_returns_a_shrunk_counterexample_and_its_explanation(engine: cr.Engine) -> None:
    report = cr.check("lead_grade", cr.exactly_one_label(), engine, max_examples=100)
    (result,) = report
    assert not result.passed and not report.ok
    assert result.record is not None
    # shrunk: nothing recorded at all is the smallest unclassified lead
    assert result.record == {"id": "generated"}
    assert "lead_grade: unclassified" in result.explanation
    assert result.decisions[0] is not None and result.decisions[0].label is None
    assert "FAIL" in report.explain() and "✗" in report._repr_html_()


def test_monotone_catches_a_policy_that_demotes_bigger_customers(engine: cr.Engine) -> None:
    policy = cr.Policy.model_validate(
        {
            "id": "upside_down",
            "labels": [{"id": "key", "zh": "重点", "en": "key"}, {"id": "small", "zh": "小", "en": "small"}],
            "rules": [
                {"id": "odd", "when": "value.revenue_12m >= 1000000", "then": "small"},
                {"id": "key", "when": "value.revenue_12m >= 100000", "then": "key"},
            ],
            "default": "small",
        }
    )
    (result,) = cr.check(policy, cr.monotone("value.revenue_12m"), engine, max_examples=200)
    assert not result.passed
    assert result.record is not None and result.other is not None
    low, high = result.record["value"]["revenue_12m"], result.other["value"]["revenue_12m"]
    assert low < high
    assert [d.label for d in result.decisions if d is not None] == ["key", "small"]


def test_label_order_catches_labels_out_of_step_with_a_measure(engine: cr.Engine) -> None:
    policy = cr.Policy.model_validate(
        {
            "id": "loyalty_first",
            "labels": [{"id": "key", "zh": "重点", "en": "key"}, {"id": "small", "zh": "小", "en": "small"}],
            "rules": [{"id": "loyal", "when": "value.loyalty == 3", "then": "key"}],
            "default": "small",
        }
    )
    (result,) = cr.check(policy, cr.label_order("value.revenue_12m"), engine, max_examples=200)
    assert not result.passed  # a loyal small spender outranks a disloyal big one


# -- cr.compare -----------------------------------------------------------------------


def test_compare_tighter_licence_grades(engine: cr.Engine, customers: list[cr.Customer]) -> None:
    tight = engine.with_params("retail_license_grade", star5_top=4, star4_top=8, star3_top=12, star2_top=16,
                               star1_top=20)
    comp = cr.compare(engine, tight, customers, as_of=AS_OF)
    assert comp.scheme_a == comp.scheme_b == "retail_license_grade"  # the one scheme that differs
    assert comp.n == len(customers)
    m = comp.matrix
    assert isinstance(m, pl.DataFrame)
    assert m.columns[0] == "label_a" and m["total"].sum() == comp.n
    # counts add up per row and column; shares sum to 1
    assert sum(comp.counts.values()) == comp.n
    assert abs(comp.shares.drop("label_a", "total").sum_horizontal().sum() - 1.0) < 1e-9
    # fewer stars: nobody moves up, 20 of the 40 starred lose a band or their star
    ranks = engine.schemes["retail_license_grade"].labels
    assert comp.moves and all(ranks.index(x.label_b) > ranks.index(x.label_a) for x in comp.moves if x.label_b)
    totals_a, totals_b = comp.totals()
    assert sum(totals_a[lab] for lab in ("A5", "A4", "A3", "A2", "A1")) == 41  # ties at the cut-offs
    assert sum(totals_b[lab] for lab in ("A5", "A4", "A3", "A2", "A1")) == 20
    move = comp.moves[0]
    text = move.explain()
    assert " A:" in text and " B:" in text and move.decision_a.rule != move.decision_b.rule
    frame = comp.moved_frame()
    assert frame.height == comp.moved and set(frame.columns) == {"id", "label_a", "label_b", "rule_a", "rule_b"}
    assert "moved" in str(comp) and "<table>" in comp._repr_html_()


def test_compare_workload_follows_the_cadences(customers: list[cr.Customer]) -> None:
    # VIPs get a contact every 7-14 days, major customers every 14-30: a wider VIP band costs contacts
    base = cr.Engine()
    wider = base.with_params("value_pyramid", vip_top_pct=3)
    comp = cr.compare(base, wider, customers, as_of=AS_OF)
    vip = base.schemes["value_pyramid"].strategies["vip"].cadence
    major = base.schemes["value_pyramid"].strategies["major"].cadence
    assert vip is not None and major is not None
    expected_a = sum(
        contacts_per_week(base.decide("value_pyramid", c, as_of=AS_OF)) for c in customers
    )
    assert comp.workload_a == pytest.approx(expected_a)
    per_vip = 7 / ((vip.min_days + vip.max_days) / 2)
    per_major = 7 / ((major.min_days + major.max_days) / 2)
    promoted = len(comp.moves_between("major", "vip"))
    assert promoted == comp.moved > 0
    assert comp.workload_b - comp.workload_a == pytest.approx(promoted * (per_vip - per_major))
    wl = comp.workload
    row = wl.filter(pl.col("label") == "vip")
    assert row["contacts_per_week_a"][0] == pytest.approx(comp.totals()[0]["vip"] * per_vip, abs=1e-3)


def test_compare_fits_population_schemes_first(customers: list[cr.Customer]) -> None:
    a, b = cr.Engine(), cr.Engine().with_params("value_pyramid", vip_top_pct=2)
    assert not a.is_fitted("value_pyramid")
    comp = cr.compare(a, b, customers, as_of=AS_OF, scheme="value_pyramid")
    assert a.is_fitted("value_pyramid") and b.is_fitted("value_pyramid")
    assert all(x.label_a == "major" and x.label_b == "vip" for x in comp.moves)
    assert comp.moved > 0


def test_compare_needs_a_scheme_when_nothing_or_several_differ(engine: cr.Engine, customers: list) -> None:
    with pytest.raises(ValueError, match="no scheme differs"):
        cr.compare(engine, cr.Engine(), customers[:5], as_of=AS_OF)


# -- what-if: with_params and sweep -------------------------------------------------


def test_with_params_gives_a_new_engine_and_leaves_the_old_one(
    engine: cr.Engine, customers: list[cr.Customer]
) -> None:
    strict = engine.with_params("retail_license_grade", a_min=95)
    assert strict is not engine
    assert strict.params("retail_license_grade")["a_min"] == 95
    assert engine.params("retail_license_grade")["a_min"] == 90
    # the stars rank retailers: a new engine with new parameters is fitted anew
    assert not strict.is_fitted("retail_license_grade")
    strict.fit(customers, as_of=AS_OF, schemes=["retail_license_grade"])
    record = {"id": "r", "kind": "retailer", "compliance": {"score": 92}}
    assert strict.decide("retail_license_grade", record, as_of=AS_OF).label == "B"


def test_sweep_gives_label_shares_per_value(engine: cr.Engine, customers: list[cr.Customer]) -> None:
    retailers = [c for c in customers if c.kind == "retailer"]
    frame = cr.sweep(engine, "retail_license_grade", "a_min", [80, 90, 95], retailers, as_of=AS_OF)
    assert frame.columns[:2] == ["a_min", "n"]
    assert frame["a_min"].to_list() == [80, 90, 95]
    labels = [c for c in frame.columns if c not in ("a_min", "n", "contacts_per_week")]
    assert labels[:9] == list(engine.schemes["retail_license_grade"].labels)
    for row in frame.iter_rows(named=True):
        assert sum(row[lab] for lab in labels) == pytest.approx(1.0)
    # a higher bar for class A moves retailers from A to B
    assert frame["B"].to_list() == sorted(frame["B"].to_list())
    assert frame["B"][0] < frame["B"][2]


# -- the lab on a table (issue 14: a sweep over 100,000 customers took ~30 s record by record) --


def _table_and_rows(customers: list[cr.Customer]) -> tuple[pl.DataFrame, list[dict[str, object]]]:
    """The customers as a table and as dicts, each with one row the record model refuses."""
    table = cr.frame_from_records(customers)
    table = pl.concat([table, table.head(1).with_columns(id=pl.lit("bad"), kind=pl.lit("robot"))])
    rows: list[dict[str, object]] = [c.model_dump(mode="json") for c in customers]
    rows.append({**rows[0], "id": "bad", "kind": "robot"})
    return table, rows


@pytest.mark.parametrize(
    ("scheme", "param", "values"),
    [
        ("value_pyramid", "vip_top_pct", [1, 3, 5]),  # fitted anew for every value
        ("retail_license_grade", "a_min", [80, 95]),
        ("lead_grade", "a_min_asks_details", [1, 3]),
    ],
)
def test_a_sweep_over_a_table_is_the_sweep_over_its_records(
    customers: list[cr.Customer], scheme: str, param: str, values: list[int]
) -> None:
    table, rows = _table_and_rows(customers)
    engine = cr.Engine()
    from_rows = cr.sweep(engine, scheme, param, values, rows, as_of=AS_OF)
    from_table = cr.sweep(engine, scheme, param, values, table, as_of=AS_OF)
    assert from_table.equals(from_rows)
    assert from_table["n"].to_list() == [len(customers)] * len(values)  # the refused row left out
    lazy = cr.sweep(engine, scheme, param, values, table.lazy(), as_of=AS_OF)
    assert lazy.equals(from_rows)


def test_label_shares_of_a_table_are_those_of_its_records(customers: list[cr.Customer]) -> None:
    table, rows = _table_and_rows(customers)
    for scheme in ("value_pyramid", "crisis", "nine_types"):
        # each fits its own engine: label_shares fits the one it is given
        assert label_shares(cr.Engine(), scheme, table, as_of=AS_OF) == label_shares(
            cr.Engine(), scheme, rows, as_of=AS_OF
        )


def test_a_table_is_decided_record_by_record_when_a_plugin_adjusts_decisions(
    customers: list[cr.Customer],
) -> None:
    first = customers[0].id

    class Override:
        @cr.hookimpl
        def adjust_decision(self, decision: cr.Decision) -> cr.Override | None:
            if decision.scheme == "lead_grade" and decision.record_id == first:
                return cr.Override(label="A", reason="met the buyer", author="sales")
            return None

    table, rows = _table_and_rows(customers)
    plain = label_shares(cr.Engine(), "lead_grade", table, as_of=AS_OF)
    engine = cr.Engine(plugins=[Override()])
    shares = label_shares(engine, "lead_grade", table, as_of=AS_OF)
    assert shares == label_shares(engine, "lead_grade", rows, as_of=AS_OF)
    assert shares != plain  # the override counted: the frame backend would have left it out
    swept = cr.sweep(engine, "lead_grade", "a_min_asks_details", [1, 3], table, as_of=AS_OF)
    assert swept.equals(cr.sweep(engine, "lead_grade", "a_min_asks_details", [1, 3], rows, as_of=AS_OF))


class _Cadence:
    """A plugin that chooses a cadence of its own for every ``lead_grade`` A."""

    def __init__(self, *, named: list[str] | None) -> None:
        self.named = named

    @cr.hookimpl
    def choose_strategy(self, decision: cr.Decision, scheme: cr.Scheme) -> cr.Strategy | None:
        strategy = scheme.strategies.get(decision.label) if decision.label else None
        if scheme.id != "lead_grade" or decision.label != "A" or strategy is None:
            return None
        return strategy.model_copy(update={"cadence": cr.Cadence(min_days=1, max_days=1)})

    @cr.hookimpl
    def strategy_schemes(self) -> list[str] | None:
        return self.named


def test_a_plugin_naming_its_strategy_schemes_leaves_the_others_column_wise(
    customers: list[cr.Customer], monkeypatch: pytest.MonkeyPatch
) -> None:
    import customer_rules.lab.compare as lab

    table, rows = _table_and_rows(customers)
    scoped = cr.Engine(plugins=[_Cadence(named=["lead_grade"])])
    unscoped = cr.Engine(plugins=[_Cadence(named=None)])
    assert scoped.has_custom_strategies and unscoped.has_custom_strategies
    assert scoped.has_custom_strategies_for("lead_grade") and not scoped.has_custom_strategies_for("crisis")
    assert unscoped.has_custom_strategies_for("crisis")
    assert not cr.Engine(load_entry_points=False).has_custom_strategies_for("lead_grade")
    # the plugin's cadence counts in the lab's workload: lead_grade goes record by record
    values = [1, 3]
    swept = cr.sweep(scoped, "lead_grade", "a_min_asks_details", values, table, as_of=AS_OF)
    assert swept.equals(cr.sweep(scoped, "lead_grade", "a_min_asks_details", values, rows, as_of=AS_OF))
    plain = cr.sweep(cr.Engine(), "lead_grade", "a_min_asks_details", values, table, as_of=AS_OF)
    assert swept["contacts_per_week"].to_list() != plain["contacts_per_week"].to_list()
    # another scheme of the same engine stays column-wise: no record is read from the table
    read = lab._records
    monkeypatch.setattr(lab, "_records", lambda data, model: pytest.fail(f"read {type(data).__name__} as records"))
    shares = label_shares(scoped, "crisis", table, as_of=AS_OF)
    with pytest.raises(pytest.fail.Exception):
        label_shares(unscoped, "crisis", table, as_of=AS_OF)
    monkeypatch.setattr(lab, "_records", read)
    assert shares == label_shares(cr.Engine(), "crisis", rows, as_of=AS_OF)


@pytest.mark.parametrize("given", ["lead_grade", 7, [1]])
def test_strategy_schemes_must_be_scheme_ids(given: object) -> None:
    class Odd(_Cadence):
        @cr.hookimpl
        def strategy_schemes(self) -> object:
            return given

    engine = cr.Engine(plugins=[Odd(named=None)])
    with pytest.raises(cr.PluginError, match="strategy_schemes returned"):
        engine.has_custom_strategies_for("lead_grade")


def test_the_care_plugin_chooses_the_strategies_of_its_own_scheme_only() -> None:
    care = pytest.importorskip("customer_rules_care")
    engine = cr.Engine(plugins=[care])
    assert engine.has_custom_strategies_for("care_level")
    assert not any(engine.has_custom_strategies_for(s) for s in engine.schemes if s != "care_level")


def test_compare_takes_a_table(customers: list[cr.Customer]) -> None:
    table, rows = _table_and_rows(customers)
    wider = cr.Engine().with_params("value_pyramid", vip_top_pct=3)
    from_table = cr.compare(cr.Engine(), wider, table, as_of=AS_OF)
    from_rows = cr.compare(cr.Engine(), wider, rows, as_of=AS_OF)
    assert from_table.rejected == from_rows.rejected == 1
    assert from_table.matrix.equals(from_rows.matrix)
    assert [m.record_id for m in from_table.moves] == [m.record_id for m in from_rows.moves]
    assert from_table.workload_b == from_rows.workload_b


# -- pictures ----------------------------------------------------------------------------


def test_pictures(engine: cr.Engine, customers: list[cr.Customer], tmp_path: os.PathLike[str]) -> None:
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    batch = engine.classify_many(customers[:80], as_of=AS_OF, schemes=["lead_grade", "bird_style"])
    fig = cr.plot_labels(batch, share=True)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    tight = engine.with_params("lead_grade", a_min_asks_details=1)
    comp = cr.compare(engine, tight, customers[:80], as_of=AS_OF)
    heat = comp.plot()
    assert isinstance(heat, Figure)
    sweep = cr.sweep(engine, "lead_grade", "a_min_asks_details", [1, 2, 3], customers[:80], as_of=AS_OF)
    chart = cr.plot_sweep(sweep)
    for i, f in enumerate((fig, heat, chart)):
        path = os.path.join(tmp_path, f"{i}.png")
        f.savefig(path)
        assert os.path.getsize(path) > 1000


def _texts(fig: object) -> list[str]:
    """Every text a figure shows: titles, axis labels, tick labels, annotations, legends."""
    from matplotlib.text import Text

    return [t.get_text() for t in fig.findobj(Text) if t.get_text()]  # type: ignore[attr-defined]


def test_label_shares_picture_names_every_segment(engine: cr.Engine, customers: list[cr.Customer]) -> None:
    pytest.importorskip("matplotlib")
    batch = engine.classify_many(customers[:120], as_of=AS_OF, schemes=["lead_grade", "deal_stage", "nine_types"])
    fig = cr.plot_label_shares(batch)
    shown = " ".join(_texts(fig))
    for sid in ("lead_grade", "deal_stage", "nine_types"):
        present = {p[sid].label for p in batch.profiles}
        assert sid in shown
        for label in present:
            name = "unclassified" if label is None else label
            # a segment's name is a text of its own (in the bar) or an entry of the list right of it
            assert any(
                t == name or any(part.strip().startswith(f"{name} ") for part in t.replace("\n", " ").split(","))
                for t in _texts(fig)
            ), (sid, name)


def test_migration_picture_says_what_a_and_b_are(engine: cr.Engine, customers: list[cr.Customer]) -> None:
    pytest.importorskip("matplotlib")
    tight = engine.with_params("lead_grade", a_min_asks_details=1)
    comp = cr.compare(engine, tight, customers[:80], as_of=AS_OF)
    ax = comp.plot().axes[0]
    assert "a_min_asks_details" in comp.name_a and comp.name_a != comp.name_b

    def flat(text: str) -> str:  # long names wrap onto several lines
        return " ".join(text.split())

    title, xlabel, ylabel = flat(ax.get_title()), flat(ax.get_xlabel()), flat(ax.get_ylabel())
    for text in (title, xlabel, ylabel):
        assert "lead_grade" in text
    assert comp.name_a in title and comp.name_b in title
    assert comp.name_a in ylabel and comp.name_b in xlabel
    named = cr.plot_migration(comp, names=("current policy", "tighter asks")).axes[0]
    assert "current policy" in named.get_title() and "tighter asks" in named.get_title()
    assert "current policy" in named.get_ylabel() and "tighter asks" in named.get_xlabel()
    mine = cr.compare(engine, tight, customers[:20], as_of=AS_OF, names=("now", "next"))
    assert (mine.name_a, mine.name_b) == ("now", "next")
    assert "now" in mine.plot().axes[0].get_ylabel()
    # two policies that differ in many parameters: the names wrap but stay whole
    wide = engine.with_params("retail_license_grade", a_min=95, star5_top=5, star4_top=10, star3_top=15)
    many = cr.compare(engine, wide, customers[:60], as_of=AS_OF)
    heat = many.plot().axes[0]
    assert "star4_top=10" in many.name_b and many.name_b in flat(heat.get_title())
    assert many.name_a in flat(heat.get_ylabel()) and many.name_b in flat(heat.get_xlabel())


def test_a_flat_sweep_says_so_instead_of_a_flat_stack() -> None:
    pytest.importorskip("matplotlib")
    from customer_rules.lab.plots import sweep_spread

    flat = pl.DataFrame({"x": [1, 2, 3], "n": [1000] * 3, "a": [0.300, 0.302, 0.300], "b": [0.700, 0.698, 0.700]})
    assert sweep_spread(flat) == pytest.approx(0.002)
    fig = cr.plot_sweep(flat)
    shown = " ".join(_texts(fig))
    assert "less than 1% of customers" in shown and "barely move" in shown
    assert not fig.axes[0].collections  # no stack drawn
    moving = flat.with_columns(pl.Series("a", [0.3, 0.4, 0.5]), pl.Series("b", [0.7, 0.6, 0.5]))
    assert sweep_spread(moving) == pytest.approx(0.2)
    chart = cr.plot_sweep(moving)
    assert "barely move" not in " ".join(_texts(chart)) and chart.axes[0].collections
    legend = {t.get_text() for t in chart.axes[0].get_legend().get_texts()}
    assert legend == {"a", "b"}
    # the threshold is the caller's
    assert "barely move" in " ".join(_texts(cr.plot_sweep(moving, flat=0.5)))


def test_pictures_name_the_extra_when_matplotlib_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real = builtins.__import__

    def no_matplotlib(name: str, *args: object, **kwargs: object) -> object:
        if name.startswith("matplotlib"):
            raise ImportError("no matplotlib here")
        return real(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    with pytest.raises(ImportError, match=r"customer-rules\[plot\]"):
        cr.plot_sweep(pl.DataFrame({"x": [1], "a": [1.0]}))
