"""The hooks a customer_rules plugin can implement.

A plugin is any module or object with functions marked
``@customer_rules.hookimpl`` whose names match the hooks below. An
implementation may accept fewer arguments than the specification lists
(only the ones it needs), so hooks can grow new arguments without breaking
existing plugins. Plugins are found through the ``customer_rules``
entry-point group, or passed to ``Engine(plugins=[...])``.

Built-in plugins are registered first; pluggy calls the most recently
registered implementation first, so for the ``firstresult`` hooks a
third-party plugin's answer wins over the built-in one.

An implementation that raises, returns the wrong type, or does not match a
hook here is reported as a :class:`~customer_rules.PluginError` naming the
plugin and the cause; nothing is skipped silently.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from pydantic import BaseModel

    from customer_rules.engine.engine import Engine, Override, Scheme
    from customer_rules.lang.policy import Text
    from customer_rules.model.decision import Decision, Profile
    from customer_rules.model.features import Feature
    from customer_rules.model.population_models import PopulationModel
    from customer_rules.model.strategy import Strategy
    from customer_rules.streams.statecharts import Statechart

PROJECT = "customer_rules"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_schemes(engine: Engine) -> list[Scheme] | Scheme | None:
    """Contribute classification schemes.

    Called once per engine, in registration order (built-in plugins first),
    after every plugin's features are registered. The usual implementation
    reads a folder with :func:`customer_rules.load_scheme`.

    :param engine: the engine being built (read its ``features`` if a
        scheme depends on them).
    :returns: a :class:`~customer_rules.Scheme` or a list of them (a policy
        with its labels, parameters and strategies), or ``None``. A scheme
        id that another plugin already registered, a policy that does not
        type-check, or an exception raised here is a
        :class:`~customer_rules.PluginError`; block the other plugin to
        replace its scheme.
    """


@hookspec
def register_features(engine: Engine) -> list[Feature] | Feature | None:
    """Contribute features rules can read by name.

    Called once per engine, in registration order, before any scheme is
    registered, so every scheme can read every feature.

    :param engine: the engine being built.
    :returns: a :class:`~customer_rules.Feature` or a list of them (see
        :func:`customer_rules.feature`), or ``None``. A feature name that is
        already taken, by a record field or another plugin's feature, is a
        :class:`~customer_rules.PluginError`.
    """


@hookspec
def register_models(engine: Engine) -> list[PopulationModel] | PopulationModel | None:
    """Contribute models that :meth:`Engine.fit <customer_rules.Engine.fit>` fits on the population.

    Called once per engine, in registration order, after the record fields
    and before any feature is registered, so a plugin's
    ``register_features`` can find its model in ``engine.models`` and give
    it to the features that predict with it. ``Engine.fit`` fits every
    model before the cut-offs (a policy may rank by a model's feature);
    their parameters are saved and loaded with the cut-offs
    (``engine.fitted_["_models"]``).

    :param engine: the engine being built.
    :returns: a :class:`~customer_rules.plugin.PopulationModel` or a list of
        them, or ``None``. A model name another plugin already registered,
        a name that is not an identifier, or any other value is a
        :class:`~customer_rules.PluginError`.
    """


@hookspec(firstresult=True)
def choose_strategy(decision: Decision, scheme: Scheme, customer: Any, engine: Engine) -> Strategy | None:
    """Choose the strategy for a decision.

    Called once per decision, after any override. The built-in
    implementation runs last (``trylast``) and returns the scheme's own
    strategy for the label, so a plugin can replace the strategy of one
    label of one scheme and leave everything else alone: return a strategy
    for the decisions it cares about and ``None`` for the rest.

    Stops at the first non-``None`` result (``firstresult``).

    :param decision: the decision (``decision.label`` may be ``None`` =
        unclassified).
    :param scheme: the :class:`~customer_rules.Scheme` that decided it
        (``scheme.strategies`` holds the scheme's own strategies).
    :param customer: the validated :class:`~customer_rules.Customer` record.
    :param engine: the engine (e.g. ``engine.params(scheme.id)``).
    :returns: a :class:`~customer_rules.Strategy`, or ``None`` to leave the
        choice to the next implementation. Any other value is a
        :class:`~customer_rules.PluginError`.
    """


@hookspec
def strategy_schemes(engine: Engine) -> Iterable[str] | None:
    """Name the schemes whose strategies this plugin's ``choose_strategy`` chooses.

    A plugin that implements ``choose_strategy`` may answer for any scheme,
    so whatever needs every decision's strategy reads a table's rows as
    records, one by one: the policy lab on a table (``cr.sweep``,
    ``label_shares``) does, where the frame backend does not call the hook.
    Implement this hook beside ``choose_strategy`` to say which schemes it
    may answer for; the other schemes keep the column-wise path
    (``Engine.has_custom_strategies_for``). Called at most once per engine.

    :param engine: the engine.
    :returns: the scheme ids (schemes the engine does not have are
        ignored), or ``None`` for every scheme. Anything else, text among
        them (one id is ``["care_level"]``), is a
        :class:`~customer_rules.PluginError`.
    """


@hookspec(firstresult=True)
def adjust_decision(
    decision: Decision, customer: Any, as_of: dt.date, scheme: Scheme, engine: Engine
) -> Override | None:
    """Override a decision by hand (a manual grade with a reason).

    Called once per decision, before the strategy is chosen. While
    ``as_of`` is on or before the override's ``expires`` date (or always,
    without one) the decision carries the override's label and a ``note``
    naming the author, the expiry, the reason and what the rules said; the
    rule's evidence is kept. An expired override counts as no answer, so
    the next implementation is asked.

    Stops at the first non-``None`` result that is in force
    (``firstresult``).

    :param decision: the decision the rules made.
    :param customer: the validated :class:`~customer_rules.Customer` record.
    :param as_of: the date of the classification.
    :param scheme: the :class:`~customer_rules.Scheme` that decided it.
    :param engine: the engine.
    :returns: an :class:`~customer_rules.Override` (label, reason, author,
        expires), or ``None`` to keep the decision. An override whose label
        is not a label of ``scheme``, or any other value, is a
        :class:`~customer_rules.PluginError`.
    """


@hookspec
def observe_profile(profile: Profile, engine: Engine) -> None:
    """Observe every classified profile (audit log, CRM sync, metrics).

    Called once per classified customer (``classify`` and every row of
    ``classify_many``), after all decisions, overrides and strategies of
    that customer are final. Every implementation is called.

    :param profile: the customer's :class:`~customer_rules.Profile`.
    :param engine: the engine.
    :returns: nothing; return values are ignored. An exception is raised to
        the caller as a :class:`~customer_rules.PluginError`.
    """


@hookspec
def escalate(
    case: Any, decision: Decision, plan: list[str], customer: Any, engine: Engine, steps: list[Text]
) -> None:
    """Escalate a crisis case (notify people, open a task team).

    Called for each customer whose crisis decision requires escalation
    (strategy escalation level above zero), once per open case that caused
    it, with the steps of the procedure. Every implementation is called.

    :param case: the service :class:`~customer_rules.Case` (``None`` when
        the trigger is not a case, e.g. a sensitive identity).
    :param decision: the crisis decision.
    :param plan: the procedure steps to carry out, in order, in English.
    :param customer: the validated :class:`~customer_rules.Customer` record.
    :param engine: the engine.
    :param steps: the same steps as bilingual :class:`~customer_rules.Text`
        (``step.get("zh")`` for Chinese; a step its plan gave in English
        only falls back to English). Take ``steps`` instead of ``plan`` to
        notify people in their language.
    :returns: nothing; return values are ignored. An exception is raised to
        the caller as a :class:`~customer_rules.PluginError`.
    """


@hookspec
def register_statecharts(engine: Engine) -> list[Statechart] | Statechart | None:
    """Contribute statecharts that event streams run (``engine.stream()``).

    Called once per stream, in registration order. A statechart belongs to
    one scheme and is left out when the engine does not have that scheme.
    Statecharts are usually registered by a plugin module of their own, next
    to the scheme's, so that a firm replacing the scheme's policy (blocking
    its plugin) keeps the chart.

    :param engine: the engine the stream belongs to.
    :returns: a :class:`~customer_rules.plugin.StageChart` (a scheme's labels
        moved by some event types, each move allowed for some events), a
        :class:`~customer_rules.plugin.CaseChart` (a scheme re-decided on
        case and identity events), a :class:`~customer_rules.plugin.PhaseChart`
        (phases per case, with the plan each phase runs through the
        ``escalate`` hook), a list of them, or ``None``. A second chart of
        the same kind for the same scheme, a second phase chart, a stage
        chart of a scheme whose hit policy is not ``first`` or ``priority``,
        or any other value is a :class:`~customer_rules.PluginError`.
    """


@hookspec
def register_record_fields(engine: Engine) -> Mapping[str, type[BaseModel]] | None:
    """Add fields of your own to the customer record, under a namespace.

    Called once per engine, in registration order, before any feature or
    scheme is registered. The record then accepts ``{"id": ...,
    "<namespace>": {...}}``; rules read ``<namespace>.<field>`` (type-checked,
    with "did you mean"); tables take flat ``<namespace>.<field>`` columns;
    the engine's ``record_model`` (and its JSON Schema) includes them. An
    absent namespace means every field of it is unknown.

    Declare each field with :func:`customer_rules.record_field` (a
    description, ``en`` and ``zh`` display names, a unit where it has one,
    pydantic constraints) and give every field a default; whole numbers are
    bounded within 64 bits (``le=customer_rules.INT64_MAX``).

    :param engine: the engine being built.
    :returns: a mapping of namespace → pydantic model class, or ``None``. A
        namespace that is a core record field or that another plugin
        registered, or a model rules cannot read, is a
        :class:`~customer_rules.PluginError` naming both.
    """
