"""Statecharts on durable_rules: ``engine.stream(backend="durable")``.

The same declarations as the python runners (:mod:`.statecharts`) compiled
to durable_rules rulesets by :mod:`customer_rules.backends.durable`: each
scheme's label look-up is a ruleset where exactly the winning rule fires, a
stage chart is a ruleset per state whose rules are the scheme's rules
(:class:`~customer_rules.backends.durable.PolicyChart`), and the phase chart
a ruleset per phase. Compiling takes a while (about 0.1 s for the built-in
schemes): it is done once per engine and its later streams share the
rulesets (each stream gets fresh instances).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

from customer_rules.streams.statecharts import PhaseChart, StageChart

if TYPE_CHECKING:
    from customer_rules.backends.durable import Chart, DurablePolicy, PolicyChart, Runtime
    from customer_rules.engine.engine import Engine


class _Compiled:
    """What durable streams compiled for one engine, shared by its streams."""

    __slots__ = ("charts", "phases", "policies", "runtime")

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        #: scheme id -> (the engine's compiled policy it was made from, the durable policy)
        self.policies: dict[str, tuple[Any, DurablePolicy]] = {}
        #: stage scheme id -> (its declaration, its statechart)
        self.charts: dict[str, tuple[StageChart, PolicyChart]] = {}
        self.phases: tuple[PhaseChart, Chart] | None = None


_COMPILED: weakref.WeakKeyDictionary[Engine, _Compiled] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


class DurablePhaseRunner:
    """A :class:`PhaseChart` on a durable Chart (inputs ``g``: at the label, ``closed``)."""

    def __init__(self, chart: Chart) -> None:
        self.chart = chart

    def step(self, key: Hashable, at_label: bool, closed: bool) -> tuple[str, str]:
        before, after, _tag = self.chart.step(key, {"g": int(at_label), "closed": int(closed)})
        return before, after

    def forget(self, key: Hashable) -> None:
        self.chart.forget(key)

    @property
    def instances(self) -> int:
        return self.chart.instances


class DurableStageRunner:
    """A :class:`StageChart` on a durable PolicyChart (events as integer codes)."""

    def __init__(self, chart: PolicyChart, codes: dict[str, int]) -> None:
        self.chart = chart
        self.codes = codes
        self.none_state = chart.none_state
        self.record_parts = chart.record_parts

    def step(self, key: Hashable, record: Any, as_of: Any, event: str) -> tuple[str, str, str | None, bool]:
        return self.chart.step(key, record, as_of, self.codes[event])

    def forget(self, key: Hashable) -> None:
        self.chart.forget(key)

    @property
    def instances(self) -> int:
        return self.chart.chart.instances


class DurableRunners:
    """Makes the durable labellers and chart runners of one stream (see the module docs)."""

    def __init__(self, engine: Engine) -> None:
        from customer_rules.backends.durable import DurablePolicy, Runtime

        self.engine = engine
        with _LOCK:
            cache = _COMPILED.get(engine)
            if cache is None:
                # the engine's own runtime when it decides on durable, else one of the stream's
                runtime = next(
                    (
                        c.runtime
                        for c in (engine.compiled(s) for s in engine.schemes)
                        if isinstance(c, DurablePolicy)
                    ),
                    None,
                )
                cache = _COMPILED[engine] = _Compiled(runtime if runtime is not None else Runtime())
        self.cache = cache
        self.runtime = cache.runtime

    def _shared(self, scheme: str) -> DurablePolicy:
        from customer_rules.backends.durable import DurablePolicy

        compiled = self.engine.compiled(scheme)
        if isinstance(compiled, DurablePolicy) and compiled.runtime is self.runtime:
            return compiled
        held = self.cache.policies.get(scheme)
        if held is None or held[0] is not compiled:  # new, or the engine's policy changed
            made = DurablePolicy(compiled.checked, scheme, cuts=compiled.cuts, runtime=self.runtime)
            held = self.cache.policies[scheme] = (compiled, made)
        return held[1]

    def labeller(self, scheme: str) -> DurablePolicy:
        with _LOCK:
            return self._shared(scheme).fresh()

    def stage(self, chart: StageChart) -> DurableStageRunner:
        from customer_rules.backends.durable import PolicyChart

        codes = {event: i + 1 for i, event in enumerate(chart.events)}
        with _LOCK:
            shared = self._shared(chart.scheme)
            held = self.cache.charts.get(chart.scheme)
            if held is None or held[0] != chart or held[1].policy is not shared:
                allowed = chart.allowed(shared.checked.policy.label_ids)

                def by_code(source: str, target: str) -> frozenset[int] | None:
                    events = allowed(source, target)
                    return None if events is None else frozenset(codes[e] for e in events if e in codes)

                made = PolicyChart(shared, f"{chart.scheme}_chart", by_code, codes.values())
                held = self.cache.charts[chart.scheme] = (chart, made)
            return DurableStageRunner(held[1].fresh(), codes)

    def phase(self, chart: PhaseChart) -> DurablePhaseRunner:
        from customer_rules.backends.durable import Chart, Transition, f_and

        with _LOCK:
            held = self.cache.phases
            if held is None or held[0] != chart:

                def when(t: Any) -> Any:
                    tests = []
                    for name, wanted in (("g", t.label), ("closed", t.closed)):
                        if wanted is not None:
                            tests.append({name: 1} if wanted else {"$neq": {name: 1}})
                    return f_and(*tests)

                states = {
                    state: [Transition(t.target, when(t), pri=i) for i, t in enumerate(trs)]
                    for state, trs in chart.states.items()
                }
                made = Chart(self.runtime, f"{chart.scheme}_phase_chart", states, start=chart.start)
                held = self.cache.phases = (chart, made)
            return DurablePhaseRunner(held[1].fresh())
