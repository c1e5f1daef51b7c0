"""Statecharts of an event stream: what plugins declare, and the python runners.

A scheme plugin declares the event-driven state its scheme keeps per
customer with the ``register_statecharts`` hook; the stream never names a
scheme itself. Three kinds:

* :class:`StageChart` — a statechart whose states are a scheme's labels and
  whose transition guards are the scheme's rules, moved by some event types
  only (the deal stage). :class:`Move` entries say which events may cause
  which move; a move the rules ask for that the event may not cause is
  refused and reported as such.
* :class:`CaseChart` — a scheme re-decided on every case and identity
  event and, while a case is live, on every later event (satisfaction,
  crisis).
* :class:`PhaseChart` — a chart per case whose transitions look at two
  inputs: whether the case holds the chart's ``label`` of its ``scheme``
  (a crisis, G) and whether it is closed. Entering a state with a plan runs
  that plan through the ``escalate`` hook. A plan's steps are bilingual
  :class:`~customer_rules.Text` (see :func:`plan_steps`).

The declarations are backend-neutral. The python runners here are the
reference; ``customer_rules.streams.durable`` compiles the same
declarations to durable_rules rulesets (``engine.stream(backend="durable")``).
"""

from __future__ import annotations

import datetime as dt
import functools
import threading
import weakref
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, cast

from pydantic import ValidationError

from customer_rules.backends.base import record_parts, resolve
from customer_rules.backends.python import Context, Fn, PythonPolicy
from customer_rules.engine.plugins import call_each
from customer_rules.errors import PluginError
from customer_rules.lang.policy import Text
from customer_rules.streams.events import EVENT_TYPES

if TYPE_CHECKING:
    from customer_rules.engine.engine import Engine
    from customer_rules.lang.compile import CheckedPolicy, CheckedRule

#: The state of a stage chart whose policy has no default label, while no rule holds.
NONE_STATE = "__unclassified__"


# ---------------------------------------------------------------------------
# What plugins declare
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Move:
    """Which events may move a :class:`StageChart` between two states.

    A move matches when ``source`` and ``target`` match (``None``: any
    state) and, with ``backward``, when the target is a lower label than
    the source (later in the policy's label order). The first matching
    entry of a chart names the event types that may cause the move; a move
    no entry matches may be caused by any of the chart's events.
    """

    events: tuple[str, ...]
    source: str | None = None
    target: str | None = None
    backward: bool = False

    def matches(self, source: str, target: str, rank: Mapping[str, int]) -> bool:
        if self.source is not None and source != self.source:
            return False
        if self.target is not None and target != self.target:
            return False
        if self.backward:
            return source in rank and target in rank and rank[target] > rank[source]
        return True


@dataclass(frozen=True)
class StageChart:
    """A scheme's labels as a statechart moved by ``events`` (see the module docs).

    The chart is decided only on the event types in ``events``; ``moves``
    restrict which of them may cause which move. The chart's scheme needs
    hit policy ``first`` or ``priority``.
    """

    scheme: str
    events: tuple[str, ...]
    moves: tuple[Move, ...] = ()

    def allowed(self, labels: Sequence[str]) -> Any:
        """``allowed(source, target)``: the event types that may cause that move (``None``: any)."""
        rank = {label: i for i, label in enumerate(labels)}
        moves = self.moves
        answers: dict[tuple[str, str], frozenset[str] | None] = {}

        def allowed(source: str, target: str) -> frozenset[str] | None:
            key = (source, target)
            if key not in answers:
                found = next((m for m in moves if m.matches(source, target, rank)), None)
                answers[key] = None if found is None else frozenset(found.events)
            return answers[key]

        return allowed


@dataclass(frozen=True)
class CaseChart:
    """A scheme the stream re-decides on case and identity events, and on
    every later event while a case is open or was active within the
    stream's ``horizon_days``. Its label changes are reported as changes of
    kind ``kind`` (default: the scheme id)."""

    scheme: str
    kind: str | None = None

    @property
    def change_kind(self) -> str:
        return self.kind or self.scheme


@dataclass(frozen=True)
class PhaseTransition:
    """A phase chart transition to ``target``: taken when the inputs named hold
    (``label``: the case holds the chart's label; ``closed``: the case is
    closed; ``None``: either). The first transition of a state that holds is taken."""

    target: str
    label: bool | None = None
    closed: bool | None = None

    def holds(self, at_label: bool, closed: bool) -> bool:
        return (self.label is None or self.label is at_label) and (
            self.closed is None or self.closed is closed
        )


#: One step of a phase plan as a plugin or a caller may give it: a
#: :class:`~customer_rules.Text`, an ``{"en": ..., "zh": ...}`` mapping, or a
#: plain string (English only: the Chinese falls back to it).
PlanStep = Text | str | Mapping[str, Any]


def plan_steps(steps: Sequence[PlanStep], where: str) -> tuple[Text, ...]:
    """A plan's steps as bilingual :class:`~customer_rules.Text`.

    ``where`` names the plan in the ``ValueError`` raised for a plan that is
    not a sequence of steps (a lone string is one, by mistake) or a step
    that is neither a string, a ``Text`` nor an ``{en, zh}`` mapping.
    """
    if isinstance(steps, str | Mapping | Text) or not isinstance(steps, Sequence):
        raise ValueError(f"{where}: a plan is a list of steps, not {type(steps).__name__}")
    out = []
    for i, step in enumerate(steps):
        try:
            out.append(Text.model_validate(dict(step) if isinstance(step, Mapping) else step))
        except ValidationError as exc:
            problem = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'step'}: {e['msg']}" for e in exc.errors()
            )
            raise ValueError(
                f"{where}, step {i + 1}: a step is a string or an {{en, zh}} text ({problem})"
            ) from None
    return tuple(out)


@dataclass(frozen=True)
class PhaseChart:
    """Phases of each case of a customer (e.g. a crisis: latent, outbreak, ...).

    A case enters ``start`` when it is opened. ``states`` maps each state
    to its transitions; a state without transitions is final (the case's
    chart is then done). Entering a state in ``plans`` calls the
    ``escalate`` hook with that plan; for a state in ``strategy_states``
    the plan is the actions of the strategy of the ``scheme``'s decision,
    when it has any. A case holds ``label`` when the customer does and,
    with several cases, when a record with that case alone does too.

    A plan's steps may be given as :class:`~customer_rules.Text`,
    ``{"en": ..., "zh": ...}`` mappings or plain (English) strings; the
    chart holds them as ``Text`` (:attr:`steps`).
    """

    scheme: str
    label: str
    start: str
    states: Mapping[str, tuple[PhaseTransition, ...]]
    plans: Mapping[str, Sequence[PlanStep]] = field(default_factory=dict)
    strategy_states: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        unknown = {t.target for trs in self.states.values() for t in trs} | {self.start}
        unknown |= set(self.plans)
        unknown -= set(self.states)
        if unknown:
            raise ValueError(f"phase chart for {self.scheme!r}: unknown states {sorted(unknown)}")
        steps = {
            state: plan_steps(plan, f"phase chart for {self.scheme!r}, plan of {state!r}")
            for state, plan in self.plans.items()
        }
        object.__setattr__(self, "plans", steps)

    @property
    def steps(self) -> Mapping[str, tuple[Text, ...]]:
        """The plan of each state with one, as bilingual steps."""
        return cast("Mapping[str, tuple[Text, ...]]", self.plans)

    @functools.cached_property
    def final(self) -> frozenset[str]:
        """The states without transitions (read for every live case at every re-decision)."""
        return frozenset(s for s, trs in self.states.items() if not trs)


Statechart = StageChart | CaseChart | PhaseChart


@dataclass(frozen=True)
class Charts:
    """The statecharts of an engine whose schemes it has: what a stream runs."""

    stages: tuple[StageChart, ...] = ()
    cases: tuple[CaseChart, ...] = ()
    phase: PhaseChart | None = None


def registered_charts(engine: Engine, only: Iterable[str] | None = None) -> Charts:
    """Collect the ``register_statecharts`` results of ``engine``'s plugins.

    Charts of schemes the engine does not have are left out (their scheme
    plugin was blocked or not installed); ``only`` keeps the charts of the
    schemes named. Two charts of one kind for the same scheme, or two phase
    charts, are a :class:`~customer_rules.PluginError` naming both plugins.
    """
    keep = None if only is None else set(only)
    stages: dict[str, StageChart] = {}
    cases: dict[str, CaseChart] = {}
    phase: PhaseChart | None = None
    owners: dict[tuple[str, str], str] = {}
    for owner, result in call_each(engine.plugin_manager, "register_statecharts", engine=engine):
        for chart in result if isinstance(result, list | tuple) else [result]:
            if not isinstance(chart, StageChart | CaseChart | PhaseChart):
                raise PluginError(
                    owner, f"register_statecharts returned {type(chart).__name__}, not a statechart"
                )
            kind = type(chart).__name__
            key = (kind, "" if isinstance(chart, PhaseChart) else chart.scheme)
            if key in owners:
                what = "a phase chart" if isinstance(chart, PhaseChart) else f"a {kind} for {chart.scheme!r}"
                raise PluginError(owner, f"{what} is already registered by {owners[key]!r}")
            owners[key] = owner
            if chart.scheme not in engine.schemes or (keep is not None and chart.scheme not in keep):
                continue
            _validate(chart, engine, owner)
            if isinstance(chart, StageChart):
                stages[chart.scheme] = chart
            elif isinstance(chart, CaseChart):
                cases[chart.scheme] = chart
            else:
                phase = chart
    if phase is not None and phase.scheme not in cases:
        cases[phase.scheme] = CaseChart(phase.scheme)  # the phases need the scheme's label
    return Charts(tuple(stages.values()), tuple(cases.values()), phase)


def _validate(chart: Statechart, engine: Engine, owner: str) -> None:
    scheme = engine.schemes[chart.scheme]
    if isinstance(chart, StageChart):
        if scheme.policy.hit not in ("first", "priority"):
            raise PluginError(
                owner,
                f"the stage chart of {chart.scheme!r} needs hit policy first or priority,"
                f" not {scheme.policy.hit!r}",
            )
        named = set(chart.events).union(*(m.events for m in chart.moves))
        unknown = sorted(named - set(EVENT_TYPES))
        if unknown:
            raise PluginError(owner, f"the stage chart of {chart.scheme!r} names unknown events {unknown}")
    elif isinstance(chart, PhaseChart) and chart.label not in scheme.labels:
        raise PluginError(
            owner, f"the phase chart of {chart.scheme!r} watches {chart.label!r}, not a label of that scheme"
        )


# ---------------------------------------------------------------------------
# What a stream runs them with (the python runners; durable ones in streams.durable)
# ---------------------------------------------------------------------------


class Labeller(Protocol):
    """A scheme's label for a record, fast (a stream needs labels, not decisions)."""

    scheme: str
    checked: CheckedPolicy

    def label_of(
        self, record: Any, as_of: dt.date, memo: dict[Any, Any] | None = None
    ) -> tuple[str | None, str | None]: ...


class StageRunner(Protocol):
    none_state: str
    record_parts: frozenset[str] | None

    def step(
        self, key: Hashable, record: Any, as_of: dt.date, event: str
    ) -> tuple[str, str, str | None, bool]: ...

    def forget(self, key: Hashable) -> None: ...

    @property
    def instances(self) -> int: ...


class PhaseRunner(Protocol):
    def step(self, key: Hashable, at_label: bool, closed: bool) -> tuple[str, str]: ...

    def forget(self, key: Hashable) -> None: ...

    @property
    def instances(self) -> int: ...


class PythonLabeller:
    """:class:`Labeller` on the python backend: the rules' closures, in rule order."""

    def __init__(self, policy: PythonPolicy) -> None:
        self.policy = policy
        self.scheme = policy.scheme
        self.checked = policy.checked
        # under ``first`` and ``priority`` the first rule that holds in decision
        # order decides: rule order, or label rank then rule order; no other
        # rule needs evaluating (a label needs no evidence)
        self._ordered: list[tuple[CheckedRule, Fn]] | None = None
        if policy.hit == "first":
            self._ordered = list(policy.rules)
        elif policy.hit == "priority":
            rank = policy.checked.label_rank
            self._ordered = sorted(policy.rules, key=lambda rf: (rank[rf[0].label], rf[0].index))

    def label_of(
        self, record: Any, as_of: dt.date, memo: dict[Any, Any] | None = None
    ) -> tuple[str | None, str | None]:
        """(label, deciding rule id); the same as ``decide`` without building the decision."""
        policy = self.policy
        ctx = Context(record, as_of)
        ordered = self._ordered
        if ordered is not None:  # the first rule that holds in decision order decides
            for rule, fn in ordered:
                if fn(ctx) is True:
                    return rule.label, rule.id
            return self.checked.policy.default, None
        matched = [rule for rule, fn in policy.rules if fn(ctx) is True]
        chosen, label, _ = resolve(self.checked, matched, self.scheme, getattr(record, "id", None))
        return label, chosen.id if chosen is not None else None


class PythonStageRunner:
    """A :class:`StageChart` on the python backend: decide, then move if the event may."""

    none_state = NONE_STATE
    record_parts: frozenset[str] | None = None

    def __init__(self, chart: StageChart, labeller: Labeller) -> None:
        checked = labeller.checked
        policy = checked.policy
        self.labeller = labeller
        # what the rules read: a chart over deal fields only is given a light view
        self.record_parts = record_parts(checked, [r.node for r in checked.rules])
        self.allowed = chart.allowed(policy.label_ids)
        self.start = policy.default or NONE_STATE
        self.state: dict[Hashable, str] = {}

    def step(
        self, key: Hashable, record: Any, as_of: dt.date, event: str
    ) -> tuple[str, str, str | None, bool]:
        """Decide ``record`` and move instance ``key``: (before, after, deciding rule id, refused)."""
        before = self.state.get(key, self.start)
        label, rule = self.labeller.label_of(record, as_of)
        target = label if label is not None else NONE_STATE
        refused = False
        if target != before:
            events = self.allowed(before, target)
            if events is not None and event not in events:
                target, refused = before, True
        if target != self.start or key in self.state:
            self.state[key] = target
        return before, target, rule, refused

    def forget(self, key: Hashable) -> None:
        self.state.pop(key, None)

    @property
    def instances(self) -> int:
        return len(self.state)


class PythonPhaseRunner:
    """A :class:`PhaseChart` on the python backend: one step takes the first transition that holds."""

    def __init__(self, chart: PhaseChart) -> None:
        self.chart = chart
        self.state: dict[Hashable, str] = {}

    def step(self, key: Hashable, at_label: bool, closed: bool) -> tuple[str, str]:
        chart = self.chart
        before = self.state.get(key, chart.start)
        after = next((t.target for t in chart.states[before] if t.holds(at_label, closed)), before)
        if after != chart.start or key in self.state:
            self.state[key] = after
        return before, after

    def forget(self, key: Hashable) -> None:
        self.state.pop(key, None)

    @property
    def instances(self) -> int:
        return len(self.state)


def python_policy(compiled: Any, scheme: str) -> PythonPolicy:
    """The python backend's compilation of an engine's compiled policy (itself when it is one)."""
    if type(compiled) is PythonPolicy:
        return compiled
    return PythonPolicy(compiled.checked, scheme, cuts=compiled.cuts)


class PythonRunners:
    """Makes the python labellers and chart runners of one stream.

    A labeller reuses the engine's compiled policy when it is the python
    backend's, else compiles the same checked policy and cut-offs to closures
    (once per engine and policy version).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        with _LOCK:
            self.cache = _PYTHON.setdefault(engine, {})

    def labeller(self, scheme: str) -> PythonLabeller:
        compiled = self.engine.compiled(scheme)
        with _LOCK:
            held = self.cache.get(scheme)
            if held is None or held[0] is not compiled:  # new, or the engine's policy changed
                held = self.cache[scheme] = (compiled, PythonLabeller(python_policy(compiled, scheme)))
            return held[1]

    def stage(self, chart: StageChart) -> PythonStageRunner:
        return PythonStageRunner(chart, self.labeller(chart.scheme))

    def phase(self, chart: PhaseChart) -> PythonPhaseRunner:
        return PythonPhaseRunner(chart)


_PYTHON: weakref.WeakKeyDictionary[Engine, dict[str, tuple[Any, PythonLabeller]]] = (
    weakref.WeakKeyDictionary()
)
_LOCK = threading.Lock()
