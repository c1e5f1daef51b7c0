"""The built-in ``terminal_priority`` scheme (SCHEMES.md §5): the weighted
score, counts and percentages, ties, tiny populations, save/load and the
visit cadences."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import customer_rules as cr
from customer_rules.engine.plugins import DEFAULT_PLUGINS

SCHEME = "terminal_priority"
PLUGIN = f"customer_rules.schemes.{SCHEME}"
AS_OF = dt.date(2026, 11, 22)
LABELS = ("key", "secondary", "regular", "unranked")
OTHER_SCHEMES = tuple(p for p in DEFAULT_PLUGINS if p.startswith("customer_rules.schemes.") and p != PLUGIN)


def make_engine(**params: Any) -> cr.Engine:
    """An engine with only this scheme (the other built-in schemes blocked)."""
    return cr.Engine(
        load_entry_points=False, block=OTHER_SCHEMES, params={SCHEME: params} if params else None
    )


def terminal(i: int, turnover: float | None, level: int | None = 2, **value: Any) -> dict[str, Any]:
    levels = {"consumer_resources": level, "economic_strength": level, "operating_level": level}
    return {"id": f"T{i:04d}", "kind": "terminal", "value": {"turnover": turnover, **levels, **value}}


def terminals(turnovers: list[float]) -> list[dict[str, Any]]:
    """Terminals equal in every level: the ranking follows turnover."""
    return [terminal(i, t) for i, t in enumerate(turnovers)]


def labels(engine: cr.Engine, customers: list[dict[str, Any]]) -> list[str | None]:
    return [engine.decide(SCHEME, c, as_of=AS_OF).label for c in customers]


def fitted_counts(customers: list[dict[str, Any]], **params: Any) -> Counter[str | None]:
    engine = make_engine(**params).fit(customers)
    return Counter(labels(engine, customers))


def test_registered_as_a_population_relative_tier() -> None:
    engine = make_engine()
    assert engine.schemes[SCHEME].kind == "tier"
    assert engine.schemes[SCHEME].labels == LABELS
    assert engine.population_schemes() == [SCHEME]


def test_default_counts_are_20_20_30_and_the_rest() -> None:
    customers = terminals([1000.0 * (i + 1) for i in range(100)])
    engine = make_engine().fit(customers)
    got = labels(engine, customers)
    assert Counter(got) == {"key": 20, "secondary": 20, "regular": 30, "unranked": 30}
    # the highest turnovers are the key terminals
    assert got[80:] == ["key"] * 20
    assert got[60:80] == ["secondary"] * 20
    assert got[30:60] == ["regular"] * 30


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        # counts: key = top 20, secondary = top 40, regular = top 70 (cumulative);
        # a group bigger than the population holds everyone
        pytest.param(1, {"key": 1}, id="1 terminal"),
        pytest.param(2, {"key": 2}, id="2 terminals"),
        pytest.param(21, {"key": 20, "secondary": 1}, id="21 terminals"),
        pytest.param(99, {"key": 20, "secondary": 20, "regular": 30, "unranked": 29}, id="99 terminals"),
        pytest.param(100, {"key": 20, "secondary": 20, "regular": 30, "unranked": 30}, id="100 terminals"),
        pytest.param(101, {"key": 20, "secondary": 20, "regular": 30, "unranked": 31}, id="101 terminals"),
    ],
)
def test_small_populations_by_count(n: int, expected: dict[str, int]) -> None:
    assert fitted_counts(terminals([float(i) for i in range(n)])) == expected


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        # percent: key 10 %, key+secondary 20 %, key+secondary+regular 35 %
        # n=1:   0.1→0, 0.2→0, 0.35→0: nobody ranked
        pytest.param(1, {"unranked": 1}, id="1 terminal"),
        # n=2:   0.2→0, 0.4→0, 0.7→1: one regular
        pytest.param(2, {"regular": 1, "unranked": 1}, id="2 terminals"),
        # n=5:   0.5→1 (half up), 1→1, 1.75→2: key 1, secondary 0, regular 1, unranked 3
        pytest.param(5, {"key": 1, "regular": 1, "unranked": 3}, id="5 terminals"),
        # n=99:  9.9→10, 19.8→20, 34.65→35: 10 / 10 / 15 / 64
        pytest.param(99, {"key": 10, "secondary": 10, "regular": 15, "unranked": 64}, id="99 terminals"),
        # n=100: 10, 20, 35: 10 / 10 / 15 / 65
        pytest.param(100, {"key": 10, "secondary": 10, "regular": 15, "unranked": 65}, id="100 terminals"),
        # n=101: 10.1→10, 20.2→20, 35.35→35: 10 / 10 / 15 / 66
        pytest.param(101, {"key": 10, "secondary": 10, "regular": 15, "unranked": 66}, id="101 terminals"),
    ],
)
def test_small_populations_by_percent(n: int, expected: dict[str, int]) -> None:
    assert fitted_counts(terminals([float(i) for i in range(n)]), by="percent") == expected


def test_ties_at_every_cut_off_are_all_in_the_higher_group() -> None:
    # 100 terminals ranked 1..100 by turnover (levels equal), with ties:
    #   #20 = #21           -> key 21 (the cut-off is #20)
    #   #40 = #41           -> secondary 41 - 21 = 20 (the cut-off is #40)
    #   #70 = #71 = #72     -> regular 72 - 41 = 31 (the cut-off is #70)
    #   unranked 100 - 72 = 28
    turnover = {r: 10_000.0 - r for r in range(1, 101)}
    turnover[21] = turnover[20]
    turnover[41] = turnover[40]
    turnover[71] = turnover[72] = turnover[70]
    customers = terminals([turnover[r] for r in range(1, 101)])
    assert fitted_counts(customers) == {"key": 21, "secondary": 20, "regular": 31, "unranked": 28}


def test_only_terminals_are_ranked() -> None:
    customers = terminals([float(i) for i in range(30)])
    others = [
        {"id": "C1", "kind": "company", "value": {"turnover": 1e9, "consumer_resources": 3}},
        {"id": "R1", "kind": "retailer"},
        {"id": "P1", "kind": "person", "value": {"revenue_12m": 5.0}},
    ]
    engine = make_engine().fit([*others, *customers])
    for other in others:
        decision = engine.decide(SCHEME, other, as_of=AS_OF)
        assert decision.label is None
        assert decision.missing == ()
    # the company's turnover moves percentiles but no terminal loses its place
    assert Counter(labels(engine, customers)) == {"key": 20, "secondary": 10}


def test_missing_input_is_unclassified_named_and_not_counted() -> None:
    customers = terminals([float(i) for i in range(100)])
    gaps = [
        terminal(900, 5e6, operating_level=None),
        terminal(901, None),
        terminal(902, 5e6, consumer_resources=None),
    ]
    engine = make_engine().fit([*gaps, *customers])
    assert Counter(labels(engine, customers)) == {"key": 20, "secondary": 20, "regular": 30, "unranked": 30}
    assert engine.decide(SCHEME, gaps[0], as_of=AS_OF).missing == ("value.operating_level",)
    assert engine.decide(SCHEME, gaps[1], as_of=AS_OF).missing == ("value.turnover",)
    decision = engine.decide(SCHEME, gaps[2], as_of=AS_OF)
    assert decision.label is None
    assert decision.missing == ("value.consumer_resources",)
    assert "value.consumer_resources" in decision.explain(detail="full")


def test_turnover_is_normalised_so_amounts_do_not_swamp_the_levels() -> None:
    # a huge shop that is weak on every level against a mid-sized shop that is
    # strong on every level: 0.4 × 3 × 1.0 = 1.2 against 0.4 × 3 × 0.5 + 0.6 × 3 = 2.4
    customers = [terminal(i, 1000.0 + i, level=1) for i in range(100)]
    huge = terminal(500, 1e12, level=0)
    strong = terminal(501, 1049.5, level=3)
    engine = make_engine(key_top=1).fit([*customers, huge, strong])
    assert engine.decide(SCHEME, strong, as_of=AS_OF).label == "key"
    decision = engine.decide(SCHEME, huge, as_of=AS_OF)
    assert decision.scores is not None
    assert decision.scores["turnover_level"] == pytest.approx(3.0)
    assert decision.scores["terminal_score"] == pytest.approx(1.2)


def test_weights_are_parameters() -> None:
    # operating level alone: the 25 level-3 shops (small turnover) are key, all tied
    customers = [terminal(i, 100.0 + i, level=0, operating_level=3) for i in range(25)]
    customers += [terminal(100 + i, 1e6 + i, level=3, operating_level=1) for i in range(75)]
    counts = fitted_counts(
        customers,
        weight_turnover=0,
        weight_consumer_resources=0,
        weight_economic_strength=0,
        weight_operating_level=1,
    )
    assert counts["key"] == 25
    engine = make_engine(weight_turnover=0, weight_consumer_resources=0, weight_economic_strength=0)
    engine.fit(customers)
    assert engine.decide(SCHEME, customers[-1], as_of=AS_OF).label != "key"


def test_count_parameters_override_the_defaults() -> None:
    counts = fitted_counts(
        terminals([float(i) for i in range(100)]), key_top=5, secondary_top=15, regular_top=50
    )
    assert counts == {"key": 5, "secondary": 10, "regular": 35, "unranked": 50}


@pytest.mark.parametrize(
    "params",
    [
        {"by": "share"},
        {"key_top": 50, "secondary_top": 40},
        {"key_top_pct": 30, "secondary_top_pct": 20},
        {"weight_turnover": -1},
        {"key_count": 20},
    ],
)
def test_bad_parameters_are_policy_errors(params: dict[str, Any]) -> None:
    with pytest.raises(cr.PolicyError):
        make_engine(**params)


def test_on_site_session_flag_for_high_turnover_or_high_potential_key_terminals() -> None:
    customers = terminals([float(i) for i in range(100)])
    potential = terminal(500, 50.0, level=3)  # middling turnover, strongest levels: key, high potential
    engine = make_engine().fit([*customers, potential])
    top = engine.decide(SCHEME, customers[99], as_of=AS_OF)
    assert top.label == "key" and "on_site_session" in top.flags
    assert "on_site_session" in engine.decide(SCHEME, potential, as_of=AS_OF).flags
    secondary = engine.decide(SCHEME, customers[70], as_of=AS_OF)
    assert secondary.label == "secondary" and "on_site_session" not in secondary.flags


def test_asking_before_fit_raises_and_classify_skips() -> None:
    engine = make_engine()
    customer = terminal(1, 10.0)
    with pytest.raises(cr.NotFittedError):
        engine.decide(SCHEME, customer, as_of=AS_OF)
    profile = engine.classify(customer, as_of=AS_OF)
    assert SCHEME in profile.skipped and SCHEME not in profile


def test_save_and_load_fitted_gives_the_same_labels(tmp_path: Path) -> None:
    customers = [terminal(i, float((i * 7919) % 1000), level=i % 4) for i in range(150)]
    engine = make_engine().fit(customers)
    path = tmp_path / "terminals.json"
    engine.save_fitted(path)
    saved = engine.fitted_[SCHEME]["cuts"]
    assert "percentile(value.turnover)" in saved
    fresh = make_engine().load_fitted(path)
    assert labels(fresh, customers) == labels(engine, customers)
    with pytest.raises(cr.NotFittedError, match="refit"):
        make_engine(by="percent").load_fitted(path)


def test_every_label_has_a_bilingual_strategy_with_its_cadence() -> None:
    scheme = make_engine().schemes[SCHEME]
    assert set(scheme.strategies) == set(LABELS)
    for label, strategy in scheme.strategies.items():
        for text in strategy.texts():
            assert text.en and text.zh, (label, text)
    cadence = {label: s.cadence for label, s in scheme.strategies.items()}
    assert cadence["key"] is not None and (cadence["key"].min_days, cadence["key"].max_days) == (3, 5)
    assert cadence["secondary"] is not None
    assert (cadence["secondary"].min_days, cadence["secondary"].max_days) == (7, 10)
    assert cadence["regular"] is not None
    assert (cadence["regular"].min_days, cadence["regular"].max_days) == (30, 30)
    assert cadence["unranked"] is None
    key = scheme.strategies["key"]
    assert (key.extra["on_site_hours_min"], key.extra["on_site_hours_max"]) == (1, 2)
    for label in ("key", "secondary", "regular"):
        avoid = " ".join(a.en for a in scheme.strategies[label].avoid)
        assert "Dragonfly" in avoid or "dragonfly" in avoid, label
        assert "蜻蜓点水" in " ".join(a.zh or "" for a in scheme.strategies[label].avoid)


def test_sample_customers_fill_the_default_groups() -> None:
    customers = cr.sample_customers(300)
    engine = make_engine().fit(customers)
    counts = Counter(engine.decide(SCHEME, c, as_of=cr.SAMPLE_AS_OF).label for c in customers)
    assert counts["key"] >= 20 and counts["secondary"] >= 1


def test_gifts_are_bounded_by_the_firms_gift_policy() -> None:
    """Issue 15: no strategy implies gifts are fine; they stay within the gift policy (a parameter)."""
    from customer_rules import Engine

    for scheme_id, label in (("terminal_priority", "key"), ("social_style", "relationship")):
        engine = Engine(load_entry_points=False)
        strategy = engine.schemes[scheme_id].strategies[label]
        gift = [t for t in strategy.texts() if "gift" in t.en]
        assert gift, scheme_id
        for t in gift:
            assert "gift policy" in t.en and "gift_limit_yuan" in t.en and "never cash" in t.en
            assert "礼品政策" in t.zh and "现金" in t.zh
            assert not any(c.isascii() and c.isalpha() for c in t.zh)  # natural Chinese, no identifiers
        assert engine.params(scheme_id)["gift_limit_yuan"] == 200
        stricter = Engine(load_entry_points=False, params={scheme_id: {"gift_limit_yuan": 0}})
        assert stricter.params(scheme_id)["gift_limit_yuan"] == 0
