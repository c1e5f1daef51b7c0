"""The built-in ``rfm`` scheme: quintile scores fitted on the population
(ties at the edges), the segment grid, customers without purchase data,
the three backends, parameters and strategies."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scheme_support import assert_bilingual_strategies

import customer_rules as cr
from customer_rules.engine.plugins import DEFAULT_PLUGINS
from customer_rules.testing import check_plugin

pytestmark = pytest.mark.usefixtures("frame_backend")  # the frame backend, also on small tables

SCHEME = "rfm"
PLUGIN = f"customer_rules.schemes.{SCHEME}"
AS_OF = dt.date(2026, 11, 22)
LABELS = (
    "champions",
    "loyal",
    "potential_loyalist",
    "new",
    "promising",
    "need_attention",
    "about_to_sleep",
    "at_risk",
    "cannot_lose",
    "hibernating",
    "lost",
)
OTHER_SCHEMES = tuple(p for p in DEFAULT_PLUGINS if p.startswith("customer_rules.schemes.") and p != PLUGIN)


def make_engine(backend: str = "python", **params: Any) -> cr.Engine:
    """An engine with only this scheme (the other built-in schemes blocked)."""
    return cr.Engine(
        load_entry_points=False,
        block=OTHER_SCHEMES,
        backend=backend,
        params={SCHEME: params} if params else None,
    )


def buyer(cid: str, days: int | None, orders: int | None, revenue: float | None) -> dict[str, Any]:
    """A customer whose last purchase was ``days`` before AS_OF."""
    last = None if days is None else AS_OF - dt.timedelta(days=days)
    return {"id": cid, "value": {"last_purchase_at": last, "orders_12m": orders, "revenue_12m": revenue}}


# Ten customers, scores worked out by hand. Group sizes (round-half-up of
# p % of 10): score 5 = best 2, score >= 4 = best 4, >= 3 = best 6,
# >= 2 = best 8; everyone tied with the last of a group is in it.
#
# recency (days, fewer is better):
#   sorted A1 B3 C3 D10 E10 F30 G40 H60 I60 J200
#   best 2 -> cut-off 3: A B C (C tied with B at the edge)       -> R5
#   best 4 -> cut-off 10: D E (E tied with D at the edge)         -> R4
#   best 6 -> cut-off 30: F                                       -> R3
#   best 8 -> cut-off 60: G H I (I tied with H at the edge)       -> R2
#   J                                                             -> R1
# frequency (orders_12m): A12 G10 D8 C6 H6 F4 I2 E1 B0 J0
#   best 2 -> cut-off 10: A G                                     -> F5
#   best 4 -> cut-off 6: D C H (H tied with C at the edge)        -> F4
#   best 6 -> cut-off 4: F                                        -> F3
#   best 8 -> cut-off 1: I E                                      -> F2
#   B J (0 orders in the last 12 months is known, and lowest)    -> F1
# monetary (revenue_12m): G5000 A3000 D3000 H2000 C1500 F800 I300 B200 E100 J50
#   best 2 -> cut-off 3000: G A D (D tied with A at the edge)     -> M5
#   best 4 -> cut-off 2000: H                                     -> M4
#   best 6 -> cut-off 800: C F                                    -> M3
#   best 8 -> cut-off 200: I B                                    -> M2
#   E J                                                           -> M1
POPULATION = [
    buyer("A", 1, 12, 3000.0),
    buyer("B", 3, 0, 200.0),
    buyer("C", 3, 6, 1500.0),
    buyer("D", 10, 8, 3000.0),
    buyer("E", 10, 1, 100.0),
    buyer("F", 30, 4, 800.0),
    buyer("G", 40, 10, 5000.0),
    buyer("H", 60, 6, 2000.0),
    buyer("I", 60, 2, 300.0),
    buyer("J", 200, 0, 50.0),
]
#        id: (R, F, M, fm_score = (F + M) / 2, segment from the grid)
EXPECTED = {
    "A": (5, 5, 5, 5.0, "champions"),  # R5, FM >= 4
    "B": (5, 1, 2, 1.5, "new"),  # R5, FM < 2
    "C": (5, 4, 3, 3.5, "potential_loyalist"),  # R4-5, FM 2-3.5
    "D": (4, 4, 5, 4.5, "loyal"),  # R3-4, FM >= 4
    "E": (4, 2, 1, 1.5, "promising"),  # R4, FM < 2
    "F": (3, 3, 3, 3.0, "need_attention"),  # R3, FM 2.5-3.5
    "G": (2, 5, 5, 5.0, "cannot_lose"),  # R1-2, FM >= 4.5
    "H": (2, 4, 4, 4.0, "at_risk"),  # R1-2, FM 2.5-4
    "I": (2, 2, 2, 2.0, "hibernating"),  # R2, FM <= 2
    "J": (1, 1, 1, 1.0, "lost"),  # R1, FM < 2
}


def grid(r: int, fm: float) -> str:
    """The segment grid of docs/schemes/rfm.md, written out independently of the policy."""
    if r == 5:
        return "champions" if fm >= 4 else "potential_loyalist" if fm >= 2 else "new"
    if r == 4:
        return "loyal" if fm >= 4 else "potential_loyalist" if fm >= 2 else "promising"
    if r == 3:
        return "loyal" if fm >= 4 else "need_attention" if fm >= 2.5 else "about_to_sleep"
    if fm >= 4.5:
        return "cannot_lose"
    if fm >= 2.5:
        return "at_risk"
    return "lost" if r == 1 and fm < 2 else "hibernating"


@pytest.fixture(scope="module")
def fitted() -> cr.Engine:
    return make_engine().fit(POPULATION, as_of=AS_OF)


def test_registered_as_a_population_relative_tier() -> None:
    engine = make_engine()
    scheme = engine.schemes[SCHEME]
    assert scheme.kind == "tier"
    assert scheme.labels == LABELS
    assert engine.population_schemes() == [SCHEME]
    assert PLUGIN in DEFAULT_PLUGINS
    names = {lab.id: (lab.zh, lab.en) for lab in scheme.policy.labels}
    assert names["champions"] == ("重要价值客户", "champions")
    assert all(zh and en for zh, en in names.values())


def test_the_plugin_passes_the_conformance_kit() -> None:
    report = check_plugin(PLUGIN)
    assert report.ok, str(report)
    assert report.schemes == (SCHEME,)


@pytest.mark.parametrize("cid", sorted(EXPECTED))
def test_hand_computed_scores_and_segments(fitted: cr.Engine, cid: str) -> None:
    r, f, m, fm, segment = EXPECTED[cid]
    customer = next(c for c in POPULATION if c["id"] == cid)
    decision = fitted.decide(SCHEME, customer, as_of=AS_OF)
    assert decision.scores == {"r_score": r, "f_score": f, "m_score": m, "fm_score": fm}
    assert decision.label == segment
    assert decision.rule == segment
    assert segment == grid(r, fm)


def test_the_fitted_cut_offs_are_the_hand_computed_ones(fitted: cr.Engine) -> None:
    cuts = fitted.fitted_[SCHEME]["cuts"]

    def cutoff(measure: str, share: int, end: str = "top") -> float:
        return float(cuts[f"{end}_pct({measure}, params.score_{share}_top_pct)"]["cutoff"])

    # recency is ranked from the low end: the cut-offs are days, not negated days
    assert [cutoff("days_since_purchase", k, "bottom") for k in (5, 4, 3, 2)] == [3, 10, 30, 60]
    assert [cutoff("value.orders_12m", k) for k in (5, 4, 3, 2)] == [10, 6, 4, 1]
    assert [cutoff("value.revenue_12m", k) for k in (5, 4, 3, 2)] == [3000, 2000, 800, 200]


def test_input_order_does_not_change_a_label() -> None:
    forward = make_engine().fit(POPULATION, as_of=AS_OF)
    backward = make_engine().fit(list(reversed(POPULATION)), as_of=AS_OF)
    assert forward.fitted_[SCHEME]["cuts"] == backward.fitted_[SCHEME]["cuts"]


def test_every_cell_of_the_grid_is_one_segment() -> None:
    # 125 customers, one per (R, F, M); each measure takes five values held by
    # 25 customers each, so every quintile is exactly one value
    customers = [
        buyer(f"C{r}{f}{m}", (5 - r) * 10, f, float(100 * m))
        for r, f, m in itertools.product(range(1, 6), repeat=3)
    ]
    engine = make_engine().fit(customers, as_of=AS_OF)
    seen = Counter()
    for c, (r, f, m) in zip(customers, itertools.product(range(1, 6), repeat=3), strict=True):
        decision = engine.decide(SCHEME, c, as_of=AS_OF)
        assert decision.scores == {"r_score": r, "f_score": f, "m_score": m, "fm_score": (f + m) / 2}
        assert decision.label == grid(r, (f + m) / 2), (r, f, m)
        assert not decision.also_matched  # the cells of the grid do not overlap
        seen[decision.label] += 1
    assert set(seen) == set(LABELS)


def test_customers_without_purchase_data_are_unclassified_and_named() -> None:
    nobody = {"id": "K"}  # no purchase history at all
    no_12m = buyer("L", 400, None, None)  # bought once, long ago; the 12-month figures were not given
    future = buyer("M", -5, 3, 900.0)  # the only purchase on record is after as_of
    engine = make_engine().fit([*POPULATION, nobody, no_12m, future], as_of=AS_OF)
    # the customers with an unknown measure do not count for it, so the
    # recency groups are still those of the ten (L adds one recency value)
    d = engine.decide(SCHEME, nobody, as_of=AS_OF)
    assert d.label is None and d.rule is None
    assert set(d.missing) == {"days_since_purchase", "value.orders_12m", "value.revenue_12m"}
    d = engine.decide(SCHEME, no_12m, as_of=AS_OF)
    assert d.label is None
    assert set(d.missing) == {"value.orders_12m", "value.revenue_12m"}
    assert d.scores["r_score"] == 1
    d = engine.decide(SCHEME, future, as_of=AS_OF)
    assert d.label is None
    assert d.missing == ("days_since_purchase",)
    assert "Days since last purchase" in d.explain()  # named for people; the key is in the full detail
    assert "days_since_purchase" in d.explain(detail="full")


def test_zero_orders_in_twelve_months_is_known_not_missing(fitted: cr.Engine) -> None:
    # bought 18 months ago and not since: ranked at the bottom, not left out
    decision = fitted.decide(SCHEME, buyer("Z", 540, 0, 0.0), as_of=AS_OF)
    assert decision.scores == {"r_score": 1, "f_score": 1, "m_score": 1, "fm_score": 1.0}
    assert decision.label == "lost"


def test_the_frame_and_durable_backends_agree_with_python(fitted: cr.Engine) -> None:
    expected = [EXPECTED[c["id"]][4] for c in POPULATION]
    frame = cr.frame_from_records([cr.Customer.model_validate(c) for c in POPULATION])
    table = make_engine().fit(frame, as_of=AS_OF)
    assert table.fitted_[SCHEME]["cuts"] == fitted.fitted_[SCHEME]["cuts"]
    out = table.classify_frame(frame, as_of=AS_OF)
    assert out[SCHEME].to_list() == expected
    pytest.importorskip("durable", reason="durable_rules is not installed (CPython >= 3.13)")
    durable = make_engine(backend="durable").load_fitted(fitted.fitted_)
    assert [durable.decide(SCHEME, c, as_of=AS_OF).label for c in POPULATION] == expected


def test_save_and_load_fitted(fitted: cr.Engine, tmp_path: Path) -> None:
    path = tmp_path / "rfm.json"
    fitted.save_fitted(path)
    fresh = make_engine().load_fitted(path)
    assert [fresh.decide(SCHEME, c, as_of=AS_OF).label for c in POPULATION] == [
        EXPECTED[c["id"]][4] for c in POPULATION
    ]
    with pytest.raises(cr.NotFittedError, match="refit"):
        make_engine(score_5_top_pct=10).load_fitted(path)


def test_the_score_shares_are_parameters() -> None:
    # terciles-like shares on 10 distinct values: 1 / 3 / 5 / 9 best
    customers = [buyer(f"C{i}", i, 10 - i, float(1000 - 100 * i)) for i in range(10)]
    engine = make_engine(score_5_top_pct=10, score_4_top_pct=30, score_3_top_pct=50, score_2_top_pct=90)
    engine.fit(customers, as_of=AS_OF)
    r_scores = [engine.decide(SCHEME, c, as_of=AS_OF).scores["r_score"] for c in customers]
    assert r_scores == [5, 4, 4, 3, 3, 2, 2, 2, 2, 1]


@pytest.mark.parametrize(
    "params",
    [
        {"score_5_top_pct": 50, "score_4_top_pct": 40},
        {"score_2_top_pct": 120},
        {"score_5_top_pct": -1},
        {"quintiles": 5},
    ],
)
def test_bad_parameters_are_policy_errors(params: dict[str, Any]) -> None:
    with pytest.raises(cr.PolicyError):
        make_engine(**params)


def test_asking_before_fit_raises_not_fitted() -> None:
    with pytest.raises(cr.NotFittedError, match=r"engine\.fit"):
        make_engine().decide(SCHEME, POPULATION[0], as_of=AS_OF)


def test_explanations_name_the_segment_in_both_languages(fitted: cr.Engine) -> None:
    decision = fitted.decide(SCHEME, POPULATION[6], as_of=AS_OF)
    assert "cannot lose them" in decision.explain()
    zh = decision.explain(lang="zh")
    assert "重要挽留客户" in zh
    assert "曾是购买最频繁、金额最高的客户之一" in zh


def test_every_segment_has_a_bilingual_strategy() -> None:
    engine = make_engine()
    assert_bilingual_strategies(engine, SCHEME)
    strategies = engine.schemes[SCHEME].strategies
    for label, strategy in strategies.items():
        assert strategy.cadence is not None, label
    # the valuable customers who drift away are escalated, the long-gone ones are not chased
    assert strategies["cannot_lose"].escalation > 0
    assert strategies["lost"].escalation == 0
    champions, lost = strategies["champions"].cadence, strategies["lost"].cadence
    assert champions is not None and lost is not None and champions.max_days < lost.min_days


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 400), st.integers(0, 20), st.integers(0, 50).map(lambda v: 100.0 * v)),
        min_size=1,
        max_size=30,
    )
)
def test_scores_follow_the_measures_and_the_group_sizes(rows: list[tuple[int, int, float]]) -> None:
    customers = [buyer(f"C{i}", *row) for i, row in enumerate(rows)]
    engine = make_engine().fit(customers, as_of=AS_OF)
    scored = [(row, engine.decide(SCHEME, c, as_of=AS_OF)) for row, c in zip(rows, customers, strict=True)]
    n = len(rows)
    for (days, orders, revenue), d in scored:
        assert d.label is not None
        assert d.label == grid(d.scores["r_score"], d.scores["fm_score"])
        for (days2, orders2, revenue2), d2 in scored:
            # a better (or equal) measure never scores lower: equal values share a score
            if days <= days2:
                assert d.scores["r_score"] >= d2.scores["r_score"]
            if orders >= orders2:
                assert d.scores["f_score"] >= d2.scores["f_score"]
            if revenue >= revenue2:
                assert d.scores["m_score"] >= d2.scores["m_score"]
    measures = {
        "r_score": [-days for days, _, _ in rows],
        "f_score": [float(orders) for _, orders, _ in rows],
        "m_score": [revenue for _, _, revenue in rows],
    }
    for score, share in ((5, 20), (4, 40), (3, 60), (2, 80)):
        size = int(share / 100 * n + 0.5)
        for name, values in measures.items():
            group = [v for v, (_, d) in zip(values, scored, strict=True) if d.scores[name] >= score]
            if size == 0:
                assert not group
                continue
            # the group holds the best `size` values, and more only through ties with its last one
            assert len(group) >= min(size, n)
            assert sum(1 for v in group if v > min(group)) < size
            assert sorted(values, reverse=True)[min(size, n) - 1] == min(group)


def test_frame_of_transactions_style_columns() -> None:
    # flat columns as customers_from_transactions writes them
    frame = pl.DataFrame(
        {
            "id": [c["id"] for c in POPULATION],
            "value.last_purchase_at": [c["value"]["last_purchase_at"] for c in POPULATION],
            "value.orders_12m": [c["value"]["orders_12m"] for c in POPULATION],
            "value.revenue_12m": [c["value"]["revenue_12m"] for c in POPULATION],
        }
    )
    engine = make_engine().fit(frame, as_of=AS_OF)
    out = engine.classify_frame(frame, as_of=AS_OF, scores=True)
    assert out[SCHEME].to_list() == [EXPECTED[c["id"]][4] for c in POPULATION]


def test_recency_is_explained_in_days_for_a_recent_and_a_lapsed_customer(fitted: cr.Engine) -> None:
    """Recency ranks from the low end (``bottom_pct``): every value and cut-off
    an explanation shows is days since the last purchase, never negated days.
    The cut-offs are the hand-computed 3 / 10 / 30 / 60 days above."""
    import re

    from test_explanation import chinese_problems

    recent = fitted.decide(SCHEME, POPULATION[0], as_of=AS_OF)  # A: 1 day ago
    lapsed = fitted.decide(SCHEME, POPULATION[9], as_of=AS_OF)  # J: 200 days ago
    assert (recent.label, lapsed.label) == ("champions", "lost")
    # the summary names the customer's own days beside the scores; the cut-offs
    # (3 / 10 / 30 / 60 days) are in the full explanation
    zh = recent.explain(lang="zh")
    assert "依据：最近购买得分 5 分，频次与金额平均得分 5 分，距上次购买天数 1 天" in zh
    en = recent.explain(lang="en")
    assert "recency score 5 points; frequency and monetary score 5 points; Days since last purchase 1 day" in en
    full = recent.explain(lang="zh", detail="full")
    assert "距上次购买天数 = 1 天" in full and "距上次购买天数位列最低 20% = 是" in full
    assert "距上次购买天数最低 20% 的门槛 = 3 天" in full
    zh_lapsed = lapsed.explain(lang="zh")
    assert "依据：最近购买得分 1 分，频次与金额平均得分 1 分，距上次购买天数 200 天" in zh_lapsed
    en_lapsed = lapsed.explain(lang="en")
    assert "recency score 1 point; frequency and monetary score 1 point; Days since last purchase 200 days" in en_lapsed
    full_lapsed = lapsed.explain(lang="zh", detail="full")
    assert "距上次购买天数 = 200 天" in full_lapsed
    assert "距上次购买天数最低 80% 的门槛 = 60 天，距上次购买天数位列最低 80% = 否" in full_lapsed
    texts = [zh, en, full, zh_lapsed, en_lapsed, full_lapsed, lapsed.explain(detail="full")]
    assert not any(re.search(r"(?<![\w.])-\d", t) for t in texts)  # no negated days
    assert "recency_rank" not in "".join(texts)
    for text in (zh, full, zh_lapsed, full_lapsed):
        assert chinese_problems(text) == []
    # the same customer in two periods: recency moved in days, both ways round
    before = fitted.decide(SCHEME, buyer("X", 5, 12, 3000.0), as_of=AS_OF)
    after = fitted.decide(SCHEME, buyer("X", 100, 12, 3000.0), as_of=AS_OF)
    assert (before.label, after.label) == ("loyal", "cannot_lose")
    change_zh = cr.explain_change(before, after, lang="zh")
    assert "距上次购买天数 5 天 → 100 天" in change_zh
    assert chinese_problems(change_zh) == []
    assert "Days since last purchase 5 days → 100 days" in cr.explain_change(before, after, lang="en")
