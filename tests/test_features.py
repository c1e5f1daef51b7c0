"""Features declared once (customer_rules.model.features): the declaration,
the inputs a feature without polars gets on tables, and the conformance kit's
comparison of its implementations."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

import customer_rules as cr
from customer_rules.backends.table_features import FeatureTable, columns_read, feature_inputs, python_features
from customer_rules.lab.generate import settings
from customer_rules.model.features import Inputs, UndeclaredRead
from customer_rules.model.tables import DISTINCT_DATES, prepare, python_values
from customer_rules.testing import check_feature, check_plugin

pytestmark = pytest.mark.usefixtures("frame_backend")  # the frame backend, also on small tables

AS_OF = dt.date(2026, 11, 22)
BUILTIN = cr.Engine(load_entry_points=False)


def _age(c: Any, as_of: dt.date) -> int | None:
    born = c.birthday
    if born is None or born > as_of:
        return None
    return as_of.year - born.year - ((as_of.month, as_of.day) < (born.month, born.day))


def _age_polars(as_of: dt.date) -> pl.Expr:
    born = pl.col("birthday")
    later = (born.dt.month() > as_of.month) | ((born.dt.month() == as_of.month) & (born.dt.day() > as_of.day))
    return pl.when(born <= as_of).then(pl.lit(as_of.year) - born.dt.year() - later.cast(pl.Int64()))


def age_feature(**kwargs: Any) -> cr.Feature:
    func = kwargs.pop("func", _age)
    declared: dict[str, Any] = {
        "type": "integer",
        "unit": "years",
        "en": "Age",
        "zh": "年龄",
        "description": "Age in whole years at as_of.",
        "reads": ("birthday",),
        "name": "age",
    }
    declared.update(kwargs)
    return cr.feature(**declared)(func)


class Lend:
    def __init__(self, *features: cr.Feature) -> None:
        self.features = list(features)

    @cr.hookimpl
    def register_features(self) -> list[cr.Feature]:
        return self.features


def engine_reading(when: str, *features: cr.Feature) -> cr.Engine:
    e = cr.Engine(plugins=[Lend(*features)], load_entry_points=False)
    e.add_policy(
        cr.Policy.model_validate(
            {
                "id": "t",
                "labels": [{"id": "yes", "zh": "是", "en": "Yes"}, {"id": "no", "zh": "否", "en": "No"}],
                "rules": [{"id": "r", "when": when, "then": "yes"}],
                "default": "no",
            }
        )
    )
    return e


RECORDS = [
    cr.Customer.model_validate(r)
    for r in [
        {"id": "a", "birthday": "1940-01-01", "segment": "x"},
        {"id": "b", "birthday": "1990-12-01"},
        {"id": "c"},
        {
            "id": "d",
            "birthday": "1946-11-22",
            "cases": [{"id": "k1", "opened_at": "2026-11-01", "repair_visits": ["2026-11-02", "2026-11-03"]}],
        },
    ]
]


# -- the declaration -------------------------------------------------------------------


def test_a_declaration_holds_names_unit_reads_and_both_implementations() -> None:
    age = age_feature(polars=_age_polars)
    assert (age.name, age.unit, age.reads) == ("age", "years", ("birthday",))
    assert age.display_name("zh") == "年龄" and age.display_name("en") == "Age"
    assert age.polars is _age_polars and age.frame is _age_polars
    assert age.func(RECORDS[0], AS_OF) == 86


def test_frame_is_the_older_name_of_polars() -> None:
    assert age_feature(frame=_age_polars).polars is _age_polars
    with pytest.raises(ValueError, match="once"):
        age_feature(frame=_age_polars, polars=lambda as_of: pl.lit(1))


def test_reads_is_a_sequence_of_paths_and_display_names_default_to_the_name() -> None:
    with pytest.raises(TypeError, match="not one string"):
        age_feature(reads="birthday")
    bare = cr.feature(type="integer", description="d", name="patient_age")(_age)
    assert bare.reads is None and bare.display_name("zh") == bare.display_name() == "patient age"


def test_every_engine_feature_is_declared_in_full() -> None:
    for feat in BUILTIN.features.values():
        assert feat.reads, feat.name
        assert feat.en and feat.zh, feat.name
        assert feat.polars is not None, feat.name
        assert not feat.unknown_reads(_paths()), feat.name


def _paths() -> set[str]:
    from customer_rules.backends.table_features import record_paths

    return record_paths()


def test_reads_resolve_to_columns_and_item_fields() -> None:
    feat = BUILTIN.features["max_case_damage"]
    assert columns_read(feat) == {"cases": frozenset({"opened_at", "closed_at", "damage_amount"})}
    contact = BUILTIN.features["last_contact"]
    assert columns_read(contact) == {"interactions": frozenset({"at"}), "deal.last_contact_at": None}
    deal = age_feature(reads=("deal",))
    assert "deal.last_contact_at" in columns_read(deal) and "birthday" not in columns_read(deal)
    with pytest.raises(cr.EvaluationError, match="did you mean 'birthday'"):
        columns_read(age_feature(reads=("birthdey",)))


# -- inputs built from the columns a feature reads -------------------------------------


def test_inputs_hold_only_what_is_read() -> None:
    one = Inputs.of(id="x", birthday=dt.date(2000, 1, 1))
    assert one.birthday == dt.date(2000, 1, 1) and one.id == "x"
    assert "birthday=datetime.date(2000, 1, 1)" in repr(one)
    with pytest.raises(UndeclaredRead, match="'segment' was not read"):
        _ = one.segment
    assert isinstance(UndeclaredRead("x"), AttributeError)
    assert getattr(one, "segment", "fallback") == "fallback"


def test_feature_inputs_give_each_row_its_read_paths_as_the_record_has_them() -> None:
    table = prepare(cr.frame_from_records(RECORDS)).valid
    feat = cr.feature(type="integer", description="d", reads=("cases.repair_visits", "deal.last_contact_at"))(
        lambda c, as_of: 0
    )
    rows = feature_inputs(table, feat)
    assert [r.id for r in rows] == ["a", "b", "c", "d"]
    assert rows[0].cases == () and rows[0].deal.last_contact_at is None
    case = rows[3].cases[0]
    assert case.repair_visits == (dt.date(2026, 11, 2), dt.date(2026, 11, 3))
    with pytest.raises(UndeclaredRead):
        _ = case.opened_at
    with pytest.raises(UndeclaredRead):
        _ = rows[0].birthday


@settings(40)
@given(
    st.lists(st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True), min_size=0, max_size=6, unique=True),
    st.data(),
)
def test_inputs_of_any_shape_read_each_name_at_its_position(names: list[str], data: st.DataObject) -> None:
    values = data.draw(
        st.lists(st.integers() | st.none() | st.text(max_size=3), min_size=len(names), max_size=len(names))
    )
    one = Inputs.shape(tuple(names))(values)
    assert tuple(one) == tuple(values) and one._fields == tuple(names)
    for i, name in enumerate(names):
        assert getattr(one, name) == values[i]
    with pytest.raises(UndeclaredRead):
        _ = one.never_declared_


_DATES = st.one_of(st.none(), st.dates(dt.date(1900, 1, 1), dt.date(2100, 1, 1)))


@settings(40)
@given(st.lists(_DATES, max_size=40), st.integers(1, 3 * DISTINCT_DATES))
def test_python_values_give_the_dates_polars_gives(dates: list[dt.date | None], repeats: int) -> None:
    # few distinct dates go through one lookup, many are converted one by one: both as polars converts
    series = pl.Series(dates * repeats, dtype=pl.Date())
    assert python_values(series) == series.to_list()


@settings(30)
@given(st.lists(st.none() | st.lists(st.tuples(_DATES, _DATES), max_size=4), max_size=20))
def test_python_values_of_a_record_list_are_tuples_of_its_items(
    cases: list[list[tuple[Any, Any]] | None],
) -> None:
    item = pl.Struct({"opened_at": pl.Date(), "closed_at": pl.Date()})
    rows = (
        None
        if not cases
        else [None if c is None else [{"opened_at": o, "closed_at": k} for o, k in c] for c in cases]
    )
    series = pl.Series("cases", rows or [], dtype=pl.List(item))
    got = python_values(series, ("closed_at", "opened_at"), Inputs.shape)
    assert all(type(r) is tuple for r in got)
    assert [[(k.opened_at, k.closed_at) for k in r] for r in got] == [list(c or []) for c in cases]


_RETURNS = st.one_of(
    st.none(),
    st.integers(-5, 5),
    st.booleans(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["a", "b", "zz"]),
    st.dates(dt.date(2000, 1, 1), dt.date(2001, 1, 1)),
    st.datetimes(dt.datetime(2000, 1, 1), dt.datetime(2001, 1, 1)),
    st.just([1]),
    st.just("raise"),
    st.just("reject"),
    st.just("stop"),
)


def _outcome(fn: Any) -> Any:
    try:
        return ("values", fn())
    except Exception as exc:  # the kind and the words of the error are what must agree
        return ("error", type(exc), str(exc))


@settings(150)
@given(
    st.lists(_RETURNS, max_size=12),
    st.sampled_from(["number", "integer", "string", "bool", "date"]),
    st.booleans(),
)
def test_compute_all_equals_compute_on_each(returns: list[Any], kind: str, enum: bool) -> None:
    # the values, or the error of the first customer that fails, exactly as compute gives them one by one
    def func(c: Any, as_of: dt.date, shift: int) -> Any:
        out = returns[c.id]
        if out == "raise":
            raise ValueError(f"no value for {c.id}")
        if out == "stop":  # (would end a map over the customers early)
            raise StopIteration
        if out == "reject":
            raise cr.RecordError(str(c.id), [("birthday", "rejected")])
        return out

    declared = cr.feature(
        type=kind,
        description="d",
        args=(("shift", "integer"),),
        enum=("a", "b") if enum and kind == "string" else None,
    )
    feat = dataclasses.replace(declared(func), plugin="p")
    customers = [Inputs.of(id=i) for i in range(len(returns))]
    one_by_one = _outcome(lambda: [feat.compute(c, AS_OF, 2) for c in customers])
    all_at_once = _outcome(lambda: feat.compute_all(customers, AS_OF, 2))
    if one_by_one[0] == "values":
        assert all_at_once[0] == "values"
        assert all(a is b for a, b in zip(all_at_once[1], one_by_one[1], strict=True))
    else:
        assert all_at_once == one_by_one


def test_a_feature_without_polars_never_builds_records(monkeypatch: pytest.MonkeyPatch) -> None:
    import customer_rules.engine.tables as table_runner
    import customer_rules.model.tables as tables

    seen: list[type] = []

    def age(c: Any, as_of: dt.date) -> int | None:
        seen.append(type(c))
        return _age(c, as_of)

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a whole record was built")

    e = engine_reading("age >= 80", age_feature(func=age))
    monkeypatch.setattr(tables, "records_from_canonical", refuse)
    monkeypatch.setattr(table_runner, "records_from_canonical", refuse)
    monkeypatch.setattr(cr.Customer, "model_validate", refuse)
    with pytest.warns(UserWarning, match="age have no frame implementation"):
        out = e.classify_frame(cr.frame_from_records(RECORDS), as_of=AS_OF, schemes=["t"])
    assert out["t"].to_list() == ["yes", "no", "no", "yes"]
    assert seen and all(issubclass(t, Inputs) for t in seen)


@settings(15)
@given(
    st.lists(
        st.one_of(st.none(), st.dates(dt.date(1920, 1, 1), dt.date(2030, 1, 1))), min_size=1, max_size=30
    )
)
def test_python_features_equal_the_feature_on_each_record(birthdays: list[dt.date | None]) -> None:
    # many repeats (few distinct values) and all distinct go different ways; both must agree
    records = [cr.Customer(id=f"r{i}", birthday=b) for i, b in enumerate(birthdays + birthdays[:1] * 30)]
    table = prepare(cr.frame_from_records(records)).valid
    features = FeatureTable()
    features.column(age_feature())
    out, rejected = python_features(table, list(features.uses.values()), AS_OF)
    assert rejected == []
    assert out.get_column("__cr:f:age").to_list() == [_age(r, AS_OF) for r in records]


def test_a_row_whose_feature_raises_is_rejected_as_the_python_backend_rejects_it() -> None:
    def picky(c: Any, as_of: dt.date) -> int | None:
        if c.birthday is not None and c.birthday.year < 1945:
            raise cr.RecordError(c.id, [("birthday", "too old to be true")])
        return _age(c, as_of)

    e = engine_reading("age >= 80", age_feature(func=picky))
    table = cr.frame_from_records([*RECORDS, cr.Customer(id="e", birthday=dt.date(1940, 1, 1))])
    with pytest.warns(UserWarning):
        frame = e.classify_frame_with_rejects(table, as_of=AS_OF, schemes=["t"])
    python = e.classify_frame_with_rejects(table, as_of=AS_OF, schemes=["t"], backend="python")
    assert frame.rejected["id"].to_list() == python.rejected["id"].to_list() == ["a", "e"]
    assert "too old to be true" in frame.rejected["reason"][1]
    assert frame.frame["t"].to_list() == python.frame["t"].to_list() == ["no", "no", "yes"]


def test_reading_an_undeclared_path_on_a_table_names_the_feature_and_the_path() -> None:
    sneaky = age_feature(func=lambda c, as_of: len(c.segment or ""), reads=("birthday",))
    e = engine_reading("age >= 1", sneaky)
    with pytest.warns(UserWarning), pytest.raises(cr.EvaluationError, match="'age' read 'segment'"):
        e.classify_frame(cr.frame_from_records(RECORDS), as_of=AS_OF, schemes=["t"])


# -- the conformance kit compares the implementations ---------------------------------


def test_the_kit_passes_a_feature_whose_implementations_agree() -> None:
    report = check_feature(age_feature(polars=_age_polars), raise_errors=False)
    assert report.ok, str(report)


def test_the_kit_finds_a_polars_implementation_that_disagrees() -> None:
    off_by_one = age_feature(polars=lambda as_of: _age_polars(as_of) + 1)
    report = check_feature(off_by_one, raise_errors=False)
    assert any("by its polars implementation but" in p for p in report.problems), report.problems


def test_the_kit_finds_incomplete_reads() -> None:
    def age_or_zero(c: Any, as_of: dt.date) -> int | None:
        return 0 if c.segment == "care:x" else _age(c, as_of)

    problems = check_feature(age_feature(func=age_or_zero), raise_errors=False).problems
    assert any("reads 'segment', which is not among the paths it declares" in p for p in problems), problems

    hides = age_feature(func=lambda c, as_of: getattr(c, "segment", None) or "-", type="string")
    found = check_feature(hides, records=[cr.Customer(id="s", segment="vip")], raise_errors=False).problems
    assert any("on the inputs built from its reads but" in p for p in found), found


def test_the_kit_finds_a_feature_that_depends_on_the_id() -> None:
    by_id = age_feature(func=lambda c, as_of: len(c.id), type="integer")
    problems = check_feature(by_id, raise_errors=False, generated=5).problems
    assert any("depends on the record's id" in p for p in problems), problems
    assert check_feature(
        age_feature(func=lambda c, as_of: len(c.id), reads=("id", "birthday")), generated=5
    ).ok


def test_the_kit_finds_a_polars_implementation_reading_outside_its_reads() -> None:
    wide = age_feature(polars=lambda as_of: _age_polars(as_of) + pl.col("value.orders_12m").fill_null(0) * 0)
    problems = check_feature(wide, raise_errors=False).problems
    assert any("reads value.orders_12m, not declared in reads" in p for p in problems), problems


def test_the_kit_reports_unknown_reads() -> None:
    problems = check_feature(age_feature(reads=("birthdey",)), raise_errors=False).problems
    assert any("reads unknown record path(s) 'birthdey'" in p for p in problems), problems


def test_the_kit_compares_every_builtin_feature() -> None:
    report = check_plugin(BUILTIN, raise_errors=False, generated=40)
    assert report.ok, str(report)
    assert set(report.features) == set(BUILTIN.features)


def test_the_kit_compares_the_care_plugins_features() -> None:
    care = pytest.importorskip("customer_rules_care")
    report = check_plugin(care, raise_errors=False)
    assert report.ok, str(report)
    # the condition is a record field of the care namespace now; the age is a feature with polars
    assert care.patient_age.polars is not None and care.patient_age.reads == ("birthday",)


def test_fitting_a_table_computes_a_feature_without_polars_from_its_columns(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    records = [cr.Customer(id=f"r{i}", birthday=dt.date(1940 + 5 * i, 3, 1)) for i in range(8)]
    table = cr.frame_from_records(records)
    by_records = engine_reading("top(age, 3)", age_feature()).fit(records, as_of=AS_OF)
    want = [by_records.decide("t", r, as_of=AS_OF).label for r in records]

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a whole record was built")

    monkeypatch.setattr(cr.Customer, "model_validate", refuse)
    by_table = engine_reading("top(age, 3)", age_feature())
    with pytest.warns(UserWarning):
        by_table.fit(table, as_of=AS_OF)
        got = by_table.classify_frame(table, as_of=AS_OF, schemes=["t"])["t"].to_list()
    assert got == want == ["yes"] * 3 + ["no"] * 5
