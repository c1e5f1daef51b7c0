"""Event streams without durable_rules, python vs durable on generated
histories, and statecharts registered by plugins (``register_statecharts``).

The scenarios of SCHEMES.md §2 and §9 are in tests/test_events.py, which
runs on both stream backends.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import textwrap
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from stream_support import ev, histories

import customer_rules as cr
from customer_rules.backends import durable as durable_backend
from customer_rules.plugin import CaseChart, Move, PhaseChart, PhaseTransition, StageChart
from customer_rules.streams.events import sample_events

ENGINE = cr.Engine(load_entry_points=False)
needs_durable = pytest.mark.skipif(
    not durable_backend.available(), reason="durable_rules is not installed here"
)


def keys(stream: Any, events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [c.key() for c in stream.post_many(events)]


# ---------------------------------------------------------------------------
# without durable_rules
# ---------------------------------------------------------------------------


def test_streams_run_where_durable_rules_cannot_be_imported(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("durable", "durable.engine", "durable.lang", "durable_rules_engine"):
        monkeypatch.setitem(sys.modules, name, None)  # every import of it fails
    assert not durable_backend.available()
    engine = cr.Engine(load_entry_points=False)
    stream = engine.stream()
    changes = stream.post_many(
        [
            ev("contact", 0),
            ev("trial_started", 2),
            ev("case_opened", 3, case_id="K1", safety_related=True),
            ev("case_closed", 9, case_id="K1"),
        ]
    )
    assert [(c.kind, c.previous, c.current) for c in changes] == [
        ("stage", "potential", "trial"),
        ("crisis", "none", "G"),
        ("phase", None, "latent"),
        ("phase", "latent", "outbreak"),
        ("escalation", None, "outbreak"),
        ("phase", "outbreak", "aftermath"),
        ("escalation", None, "aftermath"),
    ]
    assert stream.snapshot("c1") == {"deal_stage": "trial", "crisis": "G", "satisfaction": None}
    with pytest.raises(cr.BackendUnavailable, match=r"customer-rules\[durable\]"):
        engine.stream(backend="durable")


def test_importing_and_streaming_never_imports_durable_rules() -> None:
    # a fresh interpreter in which durable_rules does not exist at all
    code = textwrap.dedent(
        """
        import sys
        sys.modules["durable"] = None
        sys.modules["durable_rules_engine"] = None
        import customer_rules as cr
        from customer_rules.streams.events import sample_events
        stream = cr.Engine(load_entry_points=False).stream()
        result = stream.post_many(sample_events(30, seed=3))
        assert result.posted > 100 and not result.rejected, result.rejected[:1]
        assert not any(m == "durable" or m.startswith("durable.") for m in sys.modules if sys.modules[m])
        print("ok", result.posted)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ok ")


def test_an_unknown_stream_backend_is_refused() -> None:
    with pytest.raises(ValueError, match="python, durable"):
        ENGINE.stream(backend="frame")


# ---------------------------------------------------------------------------
# python and durable give the same changes
# ---------------------------------------------------------------------------


@needs_durable
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories())
def test_python_and_durable_streams_report_the_same_changes(events: list[dict[str, Any]]) -> None:
    python, durable = ENGINE.stream(), ENGINE.stream(backend="durable")
    assert keys(python, events) == keys(durable, events)
    for cid in python.customers():
        assert python.snapshot(cid) == durable.snapshot(cid)
        assert python.phases(cid) == durable.phases(cid)
    assert python.stats() == durable.stats()


@needs_durable
def test_python_and_durable_agree_on_a_long_sample_stream() -> None:
    events = sample_events(150, seed=5)
    assert keys(ENGINE.stream(), events) == keys(ENGINE.stream(backend="durable"), events)


# ---------------------------------------------------------------------------
# statecharts come from plugins
# ---------------------------------------------------------------------------

LOYALTY = cr.Policy.model_validate(
    {
        "id": "loyalty",
        "hit": "first",
        "labels": [
            {"id": "gold", "zh": "金", "en": "gold"},
            {"id": "silver", "zh": "银", "en": "silver"},
            {"id": "basic", "zh": "普通", "en": "basic"},
        ],
        "rules": [
            {"id": "paid", "when": "deal.first_payment_at is not missing", "then": "gold"},
            {"id": "trial", "when": "deal.trial_started_at is not missing", "then": "silver"},
        ],
        "default": "basic",
    }
)


class LoyaltyCharts:
    """A third-party plugin: a stage chart where only a payment makes gold."""

    @cr.hookimpl
    def register_statecharts(self) -> list[Any]:
        return [
            StageChart(
                "loyalty",
                events=("trial_started", "payment_received", "lost"),
                moves=(Move(events=("payment_received",), target="gold"),),
            ),
        ]


@pytest.mark.parametrize("backend", ["python", pytest.param("durable", marks=needs_durable)])
def test_a_plugin_statechart_runs_on_its_events(backend: str) -> None:
    engine = cr.Engine([LOYALTY], load_entry_points=False, plugins=[LoyaltyCharts()])
    stream = engine.stream(backend=backend, charts=["loyalty"])
    changes = stream.post_many(
        [ev("contact", 0), ev("trial_started", 1), ev("contract_sent", 2), ev("payment_received", 3)]
    )
    assert [(c.kind, c.scheme, c.previous, c.current, c.rule) for c in changes] == [
        ("stage", "loyalty", "basic", "silver", "trial"),
        ("stage", "loyalty", "silver", "gold", "paid"),
    ]
    assert stream.snapshot("c1") == {"loyalty": "gold"}


@pytest.mark.parametrize("backend", ["python", pytest.param("durable", marks=needs_durable)])
def test_a_move_its_events_may_not_cause_is_refused(backend: str) -> None:
    policy = cr.Policy.model_validate(
        {
            **LOYALTY.model_dump(mode="json", exclude_none=True),
            "rules": [
                {"id": "lost_is_gold", "when": "deal.lost_at is not missing", "then": "gold"},
                {"id": "trial", "when": "deal.trial_started_at is not missing", "then": "silver"},
            ],
        }
    )
    engine = cr.Engine([policy], load_entry_points=False, plugins=[LoyaltyCharts()])
    stream = engine.stream(backend=backend, charts=["loyalty"])
    (refused,) = stream.post_many([ev("trial_started", 1), ev("lost", 2)]).changes[1:]
    assert (refused.kind, refused.previous, refused.current, refused.rule) == (
        "refused",
        "silver",
        "gold",
        "lost_is_gold",
    )
    assert stream.snapshot("c1")["loyalty"] == "silver"


def test_the_stream_names_no_scheme_of_its_own() -> None:
    # without the built-in statechart plugins a stream runs no chart at all
    blocked = [
        "customer_rules.schemes.deal_stage.statechart",
        "customer_rules.schemes.crisis.statechart",
        "customer_rules.schemes.satisfaction.statechart",
    ]
    stream = cr.Engine(load_entry_points=False, block=blocked).stream()
    result = stream.post_many(sample_events(20, seed=2))
    assert result.posted > 50 and result.changes == [] and not result.rejected
    assert stream.snapshot(stream.customers()[0]) == {}


def test_charts_of_schemes_the_engine_lacks_are_left_out() -> None:
    engine = cr.Engine(load_entry_points=False, block=["customer_rules.schemes.crisis"])
    stream = engine.stream()
    changes = stream.post_many(
        [ev("case_opened", 0, case_id="K1", quality_issue=True, safety_related=True)]
    ).changes
    assert {c.kind for c in changes} == {"satisfaction"}  # no crisis, so no phases either
    assert set(stream.snapshot("c1")) == {"deal_stage", "satisfaction"}


def test_phase_plans_come_from_the_plugin_and_can_be_replaced() -> None:
    calls: list[tuple[str, list[str]]] = []

    class Pager:
        @cr.hookimpl
        def escalate(self, case: Any, plan: list[str]) -> None:
            calls.append((case.id, plan))

    engine = cr.Engine(load_entry_points=False, plugins=[Pager()])
    stream = engine.stream(phase_plans={"aftermath": ["Call the customer back"]})
    stream.post_many(
        [ev("case_opened", 0, case_id="K1", safety_related=True), ev("case_closed", 4, case_id="K1")]
    )
    outbreak, aftermath = calls
    assert outbreak[1] == [a.get("en") for a in engine.schemes["crisis"].strategies["G"].actions]
    assert aftermath == ("K1", ["Call the customer back"])


class BothLanguages:
    """Records what the escalate hook is given: the English plan and the bilingual steps."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str], list[cr.Text]]] = []

    @cr.hookimpl
    def escalate(self, case: Any, plan: list[str], steps: list[cr.Text]) -> None:
        self.calls.append((case.id, plan, steps))


def test_a_crisis_outbreak_escalates_in_chinese_and_english() -> None:
    from test_explanation import chinese_problems

    hook = BothLanguages()
    engine = cr.Engine(load_entry_points=False, plugins=[hook])
    changes = engine.stream().post_many(
        [ev("case_opened", 0, case_id="K1"), ev("case_updated", 2, case_id="K1", media_involved=True)]
    ).changes
    (escalation,) = [c for c in changes if c.kind == "escalation"]
    g = engine.schemes["crisis"].strategies["G"]
    # the outbreak plan is the G strategy's actions, in both of their languages
    assert escalation.steps == g.actions
    assert escalation.plan_in("zh") == tuple(a.zh for a in g.actions)
    assert escalation.plan == escalation.plan_in("en") == tuple(a.en for a in g.actions)
    assert escalation.plan_in("zh")[0].startswith("预警")
    for step in escalation.plan_in("zh"):
        assert chinese_problems(step) == [], step
    # existing implementers keep the English plan; new ones take the bilingual steps
    (call,) = hook.calls
    assert call == ("K1", list(escalation.plan), list(g.actions))
    assert [s.get("zh") for s in call[2]] == list(escalation.plan_in("zh"))


def test_the_aftermath_and_recovery_plans_are_chinese_too() -> None:
    from customer_rules.schemes.crisis.statechart import phase_plan

    hook = BothLanguages()
    stream = cr.Engine(load_entry_points=False, plugins=[hook]).stream()
    stream.post_many(
        [
            ev("case_opened", 0, case_id="K1", safety_related=True),
            ev("case_closed", 4, case_id="K1"),
            ev("tick", 40),
        ]
    )
    assert [c[0] for c in hook.calls] == ["K1"] * 3
    _, aftermath, recovery = hook.calls
    assert [s.get("zh") for s in aftermath[2]] == list(phase_plan("aftermath", "zh"))
    assert [s.get("zh") for s in recovery[2]] == list(phase_plan("recovery", "zh"))
    assert recovery[2][0].zh == "与专案小组复盘，消除根本原因"
    assert recovery[1][0] == "Review the case with the task team and remove the root cause"


def test_phase_plans_accept_texts_mappings_and_plain_english() -> None:
    hook = BothLanguages()
    engine = cr.Engine(load_entry_points=False, plugins=[hook])
    stream = engine.stream(
        phase_plans={
            "aftermath": [
                {"en": "Call the customer back", "zh": "回访客户"},
                cr.Text(en="Send the repair report", zh="寄送维修报告"),
                "Close the ticket",  # English only: the Chinese falls back to it
            ]
        }
    )
    changes = stream.post_many(
        [ev("case_opened", 0, case_id="K1", safety_related=True), ev("case_closed", 4, case_id="K1")]
    ).changes
    aftermath = [c for c in changes if c.kind == "escalation"][-1]
    assert aftermath.current == "aftermath"
    assert aftermath.plan == ("Call the customer back", "Send the repair report", "Close the ticket")
    assert aftermath.plan_in("zh") == ("回访客户", "寄送维修报告", "Close the ticket")
    assert all(isinstance(s, cr.Text) for s in stream.phase_plans["aftermath"])
    assert hook.calls[-1][1] == list(aftermath.plan)
    assert hook.calls[-1][2] == list(aftermath.steps)


@pytest.mark.parametrize(
    ("plans", "message"),
    [
        ({"afterwards": ["Call back"]}, r"phase_plans names \['afterwards'\], not phases"),
        ({"aftermath": "Call back"}, r"phase_plans\['aftermath'\]: a plan is a list of steps, not str"),
        ({"aftermath": [{"zh": "回访"}]}, r"phase_plans\['aftermath'\], step 1: .*en: Field required"),
        ({"aftermath": [{"en": "Call", "fr": "Appeler"}]}, r"step 1: .*fr: Extra inputs"),
        ({"aftermath": [3]}, r"step 1: a step is a string or an \{en, zh\} text"),
    ],
)
def test_a_malformed_phase_plan_is_refused_by_name(plans: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ENGINE.stream(phase_plans=plans)


def test_a_phase_chart_holds_its_plans_as_bilingual_texts() -> None:
    states = {"open": (PhaseTransition("done", closed=True),), "done": ()}
    chart = PhaseChart(
        scheme="crisis",
        label="G",
        start="open",
        states=states,
        plans={"done": ["File it", {"en": "Thank them", "zh": "致谢"}]},
    )
    assert chart.steps == {"done": (cr.Text(en="File it"), cr.Text(en="Thank them", zh="致谢"))}
    assert [s.get("zh") for s in chart.steps["done"]] == ["File it", "致谢"]
    with pytest.raises(ValueError, match=r"unknown states \['closing'\]"):
        PhaseChart(scheme="crisis", label="G", start="open", states=states, plans={"closing": ["x"]})
    with pytest.raises(ValueError, match="plan of 'done', step 1"):
        PhaseChart(scheme="crisis", label="G", start="open", states=states, plans={"done": [None]})  # type: ignore[list-item]


class Twice:
    @cr.hookimpl
    def register_statecharts(self) -> Any:
        return CaseChart("crisis")


@pytest.mark.parametrize(
    ("plugin", "message"),
    [
        (
            Twice(),
            r"CaseChart for 'crisis' is already registered by 'customer_rules\.schemes\.crisis\.statechart'",
        ),
        (
            type(
                "P",
                (),
                {"register_statecharts": cr.hookimpl(lambda self: StageChart("bird_style", ("contact",)))},
            )(),
            "needs hit policy first or priority",
        ),
        (
            type(
                "P",
                (),
                {"register_statecharts": cr.hookimpl(lambda self: StageChart("lead_grade", ("teleport",)))},
            )(),
            r"unknown events \['teleport'\]",
        ),
        (
            type(
                "P",
                (),
                {
                    "register_statecharts": cr.hookimpl(
                        lambda self: PhaseChart("lead_grade", "Z", "a", {"a": (PhaseTransition("a"),)})
                    )
                },
            )(),
            "'Z', not a label of that scheme",
        ),
        (type("P", (), {"register_statecharts": cr.hookimpl(lambda self: "chart")})(), "not a statechart"),
    ],
)
def test_a_bad_statechart_is_a_plugin_error_naming_the_plugin(plugin: Any, message: str) -> None:
    # the built-in phase chart left out, so a plugin's phase chart is the only one
    block = [] if isinstance(plugin, Twice) else ["customer_rules.schemes.crisis.statechart"]
    engine = cr.Engine(load_entry_points=False, plugins=[plugin], block=block)
    with pytest.raises(cr.PluginError, match=message) as info:
        engine.stream()
    assert info.value.plugin.startswith("test_stream.")


def test_a_phase_chart_naming_an_unknown_state_is_refused() -> None:
    with pytest.raises(ValueError, match=r"unknown states \['b'\]"):
        PhaseChart("crisis", "G", "a", {"a": (PhaseTransition("b"),)})


def test_a_stream_starts_with_the_engine_s_current_policy() -> None:
    engine = cr.Engine(load_entry_points=False)
    before = engine.stream()
    strict = engine.with_params("deal_stage", intent_requires_trial=False).stream()
    events = [ev("contact", 0), ev("terms_agreed", 1)]
    assert [c.current for c in before.post_many(events)] == []
    assert [c.current for c in strict.post_many(events)] == ["intent"]
    assert before.snapshot("c1")["deal_stage"] == "potential"
    assert strict.snapshot("c1")["deal_stage"] == "intent"
    assert dt.date(2026, 3, 2) == strict.clock("c1")


def test_the_stream_labeller_labels_like_decide_under_every_hit_policy() -> None:
    # under first and priority the labeller stops at the first rule that holds in
    # decision order; its (label, rule) must be the decision's all the same
    from customer_rules.backends.python import PythonPolicy
    from customer_rules.streams.statecharts import PythonLabeller

    engine = cr.Engine(load_entry_points=False)
    seen = set()
    for scheme in engine.schemes:
        if not engine.is_fitted(scheme):
            continue
        policy = PythonPolicy(engine.checked(scheme), scheme)
        seen.add(policy.hit)
        labeller = PythonLabeller(policy)
        for c in cr.sample_customers(60):
            try:
                d = policy.decide(c, cr.SAMPLE_AS_OF, c.id)
            except cr.EvaluationError:
                with pytest.raises(cr.EvaluationError):
                    labeller.label_of(c, cr.SAMPLE_AS_OF)
                continue
            assert labeller.label_of(c, cr.SAMPLE_AS_OF) == (d.label, d.rule), (scheme, c.id)
    assert {"first", "priority", "collect", "unique"} <= seen


def test_a_stage_chart_over_deal_fields_reads_the_light_deal_view() -> None:
    from customer_rules.streams.statecharts import PythonRunners, registered_charts

    engine = cr.Engine(load_entry_points=False)
    (chart,) = registered_charts(engine, only=["deal_stage"]).stages
    assert PythonRunners(engine).stage(chart).record_parts == frozenset({"deal"})


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories())
def test_the_light_deal_view_decides_the_stage_as_the_whole_record_does(events: list[dict[str, Any]]) -> None:
    # the stage chart reads a plain-attribute view of the deal instead of a
    # record: on any history, at the customer's date and around it, both give
    # the same label and deciding rule
    from customer_rules.streams.statecharts import PythonRunners

    stream = ENGINE.stream()
    stream.post_many(events)
    labeller = PythonRunners(ENGINE).labeller("deal_stage")
    for cid in stream.customers():
        session = stream._sessions[cid]
        clock = stream.clock(cid)
        assert clock is not None
        record = stream.record(cid)
        for shift in (-30, -1, 0, 1, 400):
            day = clock + dt.timedelta(days=shift)
            assert labeller.label_of(session.deal_view(), day) == labeller.label_of(record, day)
