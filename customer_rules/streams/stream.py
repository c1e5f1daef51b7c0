"""Customer event streams: typed events in, what changed out.

``engine.stream()`` returns an :class:`EventStream`. Events (see
:mod:`customer_rules.streams.events`) are posted one at a time or in
batches; each customer has a session built from their events
(:meth:`EventStream.record` is the :class:`~customer_rules.Customer` those
events describe) and the statecharts the engine's plugins register
(``register_statecharts``, see :mod:`customer_rules.streams.statecharts`)
run on it, in event time — every window is computed against the event's
date, never the wall clock:

* a stage chart (the built-in ``deal_stage`` scheme registers one) moves on
  its events only; a move the rules ask for that the event may not cause
  is refused and reported as such;
* case charts (the built-in crisis and satisfaction schemes) are re-decided
  for a customer with cases or a sensitive identity on every case or
  identity event and on every later event while a case is open or was
  active within ``horizon_days``;
* a phase chart per case (the built-in crisis phases: latent, outbreak,
  aftermath, recovery, ended); entering a state with a plan calls the
  ``escalate`` hook with the case, the decision and the plan (its steps in
  English as ``plan``, bilingual as ``steps``).

What changed is returned as :class:`Change` items, each naming the event
that caused it. The stream's :meth:`~EventStream.snapshot` of a customer
equals ``engine.classify(stream.record(id), as_of=<the customer's last
event date>)`` for the charts' schemes.

The charts run on the python backend by default (every CPython, no native
dependency); ``backend="durable"`` runs them on durable_rules rulesets
where it is installed. Both give the same changes.

Events of one customer must come in time order (same-day events in any
order). An event that is malformed, earlier than the customer's last
event, or about a case that does not exist is rejected with an
:class:`~customer_rules.streams.events.EventError` (a
:class:`~customer_rules.RecordError`) naming the event; nothing is applied
and the stream stays usable.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from customer_rules.engine.plugins import call_hook
from customer_rules.errors import PluginError
from customer_rules.lang.policy import Text
from customer_rules.model.records import Customer
from customer_rules.streams.changes import (
    Change,
    EscalationError,
    Explanation,
    RejectedEvent,
    StreamResult,
    because_of,
)
from customer_rules.streams.events import (
    CASE_EVENTS,
    CASE_ID_EVENTS,
    BaseEvent,
    CaseClosed,
    CaseOpened,
    EventError,
    parse_event,
)
from customer_rules.streams.session import Session
from customer_rules.streams.statecharts import (
    CaseChart,
    Labeller,
    PhaseChart,
    PhaseRunner,
    PlanStep,
    PythonRunners,
    StageChart,
    StageRunner,
    plan_steps,
    registered_charts,
)

if TYPE_CHECKING:
    from customer_rules.engine.engine import Engine

__all__ = ["Change", "EscalationError", "EventStream", "RejectedEvent", "StreamResult"]

STREAM_BACKENDS = ("python", "durable")

# ---------------------------------------------------------------------------
# The stream
# ---------------------------------------------------------------------------


def _reject(event: BaseEvent, index: int | None, message: str) -> EventError:
    """The error rejecting a valid event the stream cannot apply."""
    return EventError(message, customer_id=event.customer_id, event=event, index=index)


class _Stage:
    """A stage chart of a stream: its declaration, labeller and runner."""

    __slots__ = ("because", "chart", "deal_only", "events", "labeller", "runner", "scheme")

    def __init__(self, chart: StageChart, labeller: Labeller, runner: StageRunner) -> None:
        self.chart = chart
        self.scheme = chart.scheme
        self.events = frozenset(chart.events)
        self.labeller = labeller
        self.runner = runner
        parts = runner.record_parts
        #: the guards read deal fields only: a light view spares building the whole record
        self.deal_only = parts is not None and parts <= {"deal"}
        #: each rule's reason (a move names it), looked up once rather than per move
        self.because = {r.id: because_of(labeller.checked, r.id) for r in labeller.checked.rules}


class EventStream:
    """Typed customer events in, changes out; see the module documentation.

    Made by :meth:`Engine.stream`. ``backend``: ``"python"`` (default) or
    ``"durable"`` (durable_rules; :class:`~customer_rules.BackendUnavailable`
    where it cannot run). ``charts``: the schemes whose statecharts run
    (default: every registered chart whose scheme the engine has).
    ``horizon_days``: how long after its last event a closed case keeps the
    case charts re-decided at every event; ``idle_days``: release a
    customer whose last event is more than this many days before the latest
    event of the stream (``None``: keep every customer until
    :meth:`release`); ``phase_plans``: replace the phase chart's plans for
    the states named, each step a :class:`~customer_rules.Text`, an
    ``{"en": ..., "zh": ...}`` mapping or a plain (English) string
    (``ValueError`` for a state the chart does not have or a malformed step).
    """

    def __init__(
        self,
        engine: Engine,
        *,
        backend: Literal["python", "durable"] = "python",
        charts: Iterable[str] | None = None,
        horizon_days: int = 90,
        idle_days: int | None = None,
        phase_plans: Mapping[str, Sequence[PlanStep]] | None = None,
    ) -> None:
        if backend not in STREAM_BACKENDS:
            raise ValueError(
                f"unknown stream backend {backend!r}; choose one of {', '.join(STREAM_BACKENDS)}"
            )
        self.engine = engine
        self.backend = backend
        self.horizon_days = horizon_days
        self.idle_days = idle_days
        declared = registered_charts(engine, charts)
        if backend == "durable":
            from customer_rules.streams.durable import DurableRunners

            runners: Any = DurableRunners(engine)
        else:
            runners = PythonRunners(engine)
        self._stages = [_Stage(c, runners.labeller(c.scheme), runners.stage(c)) for c in declared.stages]
        self._cases: list[tuple[CaseChart, Labeller]] = [
            (c, runners.labeller(c.scheme)) for c in declared.cases
        ]
        self._tracked: dict[str, Labeller] = {c.scheme: lab for c, lab in self._cases}
        self.phase: PhaseChart | None = declared.phase
        #: the plan of each phase with one, as bilingual steps
        self.phase_plans: dict[str, tuple[Text, ...]] = {}
        self._phases: PhaseRunner | None = None
        if declared.phase is not None:
            chart = declared.phase
            unknown = sorted(set(phase_plans or {}) - set(chart.states))
            if unknown:
                raise ValueError(
                    f"phase_plans names {unknown}, not phases of the {chart.scheme!r} phase chart"
                    f" ({', '.join(chart.states)})"
                )
            self.phase_plans = {
                **chart.steps,
                **{k: plan_steps(v, f"phase_plans[{k!r}]") for k, v in (phase_plans or {}).items()},
            }
            self._phases = runners.phase(chart)
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._watermark: dt.date | None = None
        self._lock = threading.RLock()  # posts from several threads apply one at a time
        self.posted = 0

    # -- reading ---------------------------------------------------------------
    def __contains__(self, customer_id: object) -> bool:
        return customer_id in self._sessions

    def __len__(self) -> int:
        return len(self._sessions)

    def customers(self) -> list[str]:
        return list(self._sessions)

    def _session(self, customer_id: str) -> Session:
        try:
            return self._sessions[customer_id]
        except KeyError:
            raise KeyError(f"no session for customer {customer_id!r} (never seen, or released)") from None

    def record(self, customer_id: str) -> Customer:
        """The validated :class:`~customer_rules.Customer` the customer's events describe."""
        return Customer.model_validate(self._session(customer_id).record_dict())

    def clock(self, customer_id: str) -> dt.date | None:
        """The date of the customer's last event."""
        return self._session(customer_id).clock

    def snapshot(self, customer_id: str) -> dict[str, str | None]:
        """The customer's labels as of their last event: scheme id -> label.

        Equals ``engine.classify(stream.record(id), as_of=stream.clock(id))``
        for the schemes of the stream's charts.
        """
        s = self._session(customer_id)
        out: dict[str, str | None] = {}
        day = s.clock
        assert day is not None
        for stage in self._stages:
            state = s.stages.get(stage.scheme)
            if state is None:  # no event of the chart yet: decide now
                out[stage.scheme] = stage.labeller.label_of(s.fast_record(), day)[0]
            else:
                out[stage.scheme] = None if state == stage.runner.none_state else state
        for chart, labeller in self._cases:
            if s.evaluated is None:  # never tracked: no case and no sensitive identity yet
                out[chart.scheme] = labeller.label_of(s.fast_record(), day)[0]
            else:
                out[chart.scheme] = s.labels.get(chart.scheme)
        return out

    def stage(self, customer_id: str) -> str | None:
        """The customer's state in the (first) stage chart; ``None`` without one."""
        if not self._stages:
            return None
        return self.snapshot(customer_id).get(self._stages[0].scheme)

    def phases(self, customer_id: str) -> dict[str, str]:
        """The phase of each of the customer's cases."""
        return dict(self._session(customer_id).phases)

    def stats(self) -> dict[str, int]:
        """Sessions held: customers, and statechart instances."""
        return {
            "customers": len(self._sessions),
            "stage_instances": sum(st.runner.instances for st in self._stages),
            "phase_instances": self._phases.instances if self._phases is not None else 0,
        }

    # -- releasing -------------------------------------------------------------
    def release(self, customer_id: str) -> None:
        """Forget a customer: their session and statechart instances."""
        s = self._sessions.pop(customer_id, None)
        if s is None:
            return
        for stage in self._stages:
            stage.runner.forget(s.id)
        if self._phases is not None and self.phase is not None:
            final = self.phase.final
            for case_id, phase in s.phases.items():
                if phase not in final:
                    self._phases.forget((s.id, case_id))

    def release_idle(self, before: dt.date) -> int:
        """Release every customer whose last event is before ``before``; how many."""
        n = 0
        while self._sessions:
            cid, s = next(iter(self._sessions.items()))
            if s.clock is None or s.clock >= before:
                break
            self.release(cid)
            n += 1
        return n

    # -- posting ---------------------------------------------------------------
    def post(self, event: Any) -> list[Change]:
        """Apply one event; the changes it caused (raises :class:`EventError` if rejected)."""
        return self._post(event, None)

    def post_many(self, events: Iterable[Any]) -> StreamResult:
        """Apply events in order; a rejected event does not stop the batch."""
        result = StreamResult([], [])
        for i, event in enumerate(events):
            try:
                result.changes.extend(self._post(event, i))
                result.posted += 1
            except EscalationError as exc:  # applied, but reported once: as rejected
                result.changes.extend(exc.changes)
                result.rejected.append(RejectedEvent(i, event, exc, applied=True))
            except EventError as exc:
                result.rejected.append(RejectedEvent(i, event, exc))
        return result

    def _post(self, raw: Any, index: int | None) -> list[Change]:
        event = parse_event(raw, index)
        with self._lock:
            return self._apply(event, index)

    def _apply(self, event: BaseEvent, index: int | None) -> list[Change]:
        day = event.day
        cid = event.customer_id
        s = self._sessions.get(cid)
        self._check(event, day, s, index)
        if s is None:
            s = self._sessions[cid] = Session(cid)
        else:
            self._sessions.move_to_end(cid)
        s.apply(event, day)
        s.clock = day
        s.events += 1
        self.posted += 1
        changes: list[Change] = []
        hook_errors: list[PluginError] = []
        t = event.type
        for stage in self._stages:
            if t in stage.events:
                self._move_stage(stage, s, event, day, changes)
        if self._cases:
            last = s.evaluated
            # re-decide on case and identity events, and as time passes while a case
            # is live now or was live when last decided (a window may have closed since)
            if t in CASE_EVENTS or (
                last is not None
                and last != day
                and s.cases
                and (s.live_cases(day, self.horizon_days) or s.live_cases(last, self.horizon_days))
            ):
                self._decide_cases(s, event, day, changes, hook_errors)
        if self._watermark is None or day > self._watermark:
            self._watermark = day
            if self.idle_days is not None:
                self.release_idle(day - dt.timedelta(days=self.idle_days))
        if hook_errors:
            first = hook_errors[0]
            raise EscalationError(first.plugin, first.cause, changes)
        return changes

    def _check(self, event: BaseEvent, day: dt.date, s: Session | None, index: int | None) -> None:
        if s is not None and s.clock is not None and day < s.clock:
            raise _reject(
                event,
                index,
                f"out of order: dated {day.isoformat()}, before this customer's last event"
                f" ({s.clock.isoformat()}); events of a customer must come in time order",
            )
        if event.type not in CASE_ID_EVENTS:
            return
        case_id: str = event.case_id  # type: ignore[attr-defined]
        known = s is not None and case_id in s.cases
        if isinstance(event, CaseOpened):
            if known:
                raise _reject(event, index, f"case {case_id!r} is already open")
            return
        if not known:
            raise _reject(event, index, f"unknown case {case_id!r}: open it with a case_opened event first")
        assert s is not None
        if isinstance(event, CaseClosed) and case_id in s.closed:
            raise _reject(event, index, f"case {case_id!r} is already closed")

    # -- stage charts --------------------------------------------------------------
    def _move_stage(
        self, stage: _Stage, s: Session, event: BaseEvent, day: dt.date, changes: list[Change]
    ) -> None:
        runner = stage.runner
        record: Any = s.deal_view() if stage.deal_only else s.fast_record()
        source, target, rule, refused = runner.step(s.id, record, day, event.type)
        s.stages[stage.scheme] = target
        # a policy without a default label: its unclassified state is reported as None
        none = runner.none_state
        before = None if source == none else source
        after = None if target == none else target
        checked = stage.labeller.checked
        if refused:
            proposed = next((r.label for r in checked.rules if r.id == rule), checked.policy.default)
            changes.append(
                Change(
                    "refused",
                    s.id,
                    day,
                    event,
                    stage.scheme,
                    before,
                    proposed,
                    rule,
                    because=stage.because.get(rule, ()) if rule is not None else (),
                )
            )
        elif after != before:
            changes.append(
                Change(
                    "stage",
                    s.id,
                    day,
                    event,
                    stage.scheme,
                    before,
                    after,
                    rule,
                    because=stage.because.get(rule, ()) if rule is not None else (),
                )
            )

    # -- case charts and phases ----------------------------------------------------
    def _decide_cases(
        self,
        s: Session,
        event: BaseEvent,
        day: dt.date,
        changes: list[Change],
        hook_errors: list[PluginError],
    ) -> None:
        first = s.evaluated is None
        s.evaluated = day
        record = s.fast_record()
        explanations: dict[str, Explanation] = {}
        memo: dict[Any, Any] = {}  # feature values shared by the schemes
        for chart, labeller in self._cases:
            scheme = chart.scheme
            label, rule = labeller.label_of(record, day, memo)
            previous = labeller.checked.policy.default if first else s.labels.get(scheme)
            s.labels[scheme] = label
            if label != previous:
                lazy = explanations[scheme] = Explanation(self.engine, scheme, record, day)
                changes.append(
                    Change(
                        chart.change_kind, s.id, day, event, scheme, previous, label, rule, explanation=lazy
                    )
                )
        phase = self.phase
        if phase is None:
            return
        if isinstance(event, CaseOpened):
            s.phases[event.case_id] = phase.start
            changes.append(Change("phase", s.id, day, event, None, None, phase.start, case_id=event.case_id))
        self._move_phases(phase, s, event, day, changes, hook_errors, explanations.get(phase.scheme))

    def _case_at_label(self, phase: PhaseChart, s: Session, case_id: str, day: dt.date) -> bool:
        if s.labels.get(phase.scheme) != phase.label:
            return False
        if len(s.cases) == 1:
            return True
        return self._tracked[phase.scheme].label_of(s.only_case(case_id), day)[0] == phase.label

    def _move_phases(
        self,
        phase: PhaseChart,
        s: Session,
        event: BaseEvent,
        day: dt.date,
        changes: list[Change],
        hook_errors: list[PluginError],
        explanation: Explanation | None,
    ) -> None:
        runner = self._phases
        assert runner is not None
        final = phase.final
        live = [c for c, state in s.phases.items() if state not in final]
        for case_id in live:
            inputs = (self._case_at_label(phase, s, case_id, day), case_id in s.closed)
            if s.phase_inputs.get(case_id) == inputs:
                continue  # nothing the chart looks at changed
            s.phase_inputs[case_id] = inputs
            key = (s.id, case_id)
            for _ in range(len(phase.states)):
                before, after = runner.step(key, *inputs)
                if after == before:
                    break
                s.phases[case_id] = after
                changes.append(Change("phase", s.id, day, event, None, before, after, case_id=case_id))
                if after in self.phase_plans:
                    if explanation is None:
                        explanation = Explanation(self.engine, phase.scheme, s.fast_record(), day)
                    self._escalate(phase, s, event, day, case_id, after, explanation, changes, hook_errors)
                if after in final:
                    runner.forget(key)  # the case's chart is done
                    del s.phase_inputs[case_id]
                    break

    def _escalate(
        self,
        phase: PhaseChart,
        s: Session,
        event: BaseEvent,
        day: dt.date,
        case_id: str,
        state: str,
        explanation: Explanation,
        changes: list[Change],
        hook_errors: list[PluginError],
    ) -> None:
        steps = self.phase_plans.get(state, ())
        if state in phase.strategy_states:
            decision = explanation.decision()
            if decision.strategy is not None and decision.strategy.actions:
                steps = tuple(decision.strategy.actions)  # the strategy's actions, in both languages
        hook = self.engine.plugin_manager.hook.escalate
        changes.append(
            Change(
                "escalation",
                s.id,
                day,
                event,
                None,
                None,
                state,
                case_id=case_id,
                steps=steps,
                explanation=explanation,
            )
        )
        if not hook.get_hookimpls():
            return  # nobody to tell: the decision stays lazy (the change holds it)
        record = s.fast_record()
        case = next(k for k in record.cases if k.id == case_id)
        try:
            call_hook(
                self.engine.plugin_manager,
                "escalate",
                case=case,
                decision=explanation.decision(),
                plan=[step.en for step in steps],
                steps=list(steps),
                customer=record,
                engine=self.engine,
            )
        except PluginError as exc:
            hook_errors.append(exc)
