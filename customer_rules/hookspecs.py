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
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from ._decision import Decision, Profile
    from ._engine import Engine, Override, Scheme
    from ._features import Feature
    from ._strategy import Strategy

PROJECT = "customer_rules"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_schemes(engine: Engine) -> list[Scheme] | Scheme | None:
    """Contribute classification schemes.

    :param engine: the engine being built (read its ``features`` or
        parameters if a scheme depends on them).
    :returns: a :class:`~customer_rules.Scheme` or a list of them (a policy
        with its labels, parameters and strategies). A scheme id that another
        plugin already registered is a :class:`~customer_rules.PluginError`;
        block the other plugin to replace its scheme.
    """


@hookspec
def register_features(engine: Engine) -> list[Feature] | Feature | None:
    """Contribute features rules can read by name.

    :param engine: the engine being built.
    :returns: a :class:`~customer_rules.Feature` or a list of them (see
        :func:`customer_rules.feature`). A feature name that is already
        taken, by a record field or another feature, is a
        :class:`~customer_rules.PluginError`.
    """


@hookspec(firstresult=True)
def choose_strategy(decision: Decision, scheme: Scheme, customer: Any, engine: Engine) -> Strategy | None:
    """Choose the strategy for a decision.

    Called once per decision. The first implementation that returns a
    :class:`~customer_rules.Strategy` wins (``firstresult``); return
    ``None`` to leave the choice to others. The built-in implementation,
    called last, returns the scheme's own strategy for the label, so a
    plugin can replace the strategy of one label of one scheme and leave
    everything else alone.

    :param decision: the decision (label may be ``None`` = unclassified).
    :param scheme: the scheme that decided it.
    :param customer: the validated customer record.
    :param engine: the engine.
    """


@hookspec(firstresult=True)
def adjust_decision(
    decision: Decision, customer: Any, as_of: dt.date, scheme: Scheme, engine: Engine
) -> Override | None:
    """Override a decision by hand (a manual grade with a reason).

    The first implementation that returns an
    :class:`~customer_rules.Override` wins (``firstresult``). The override
    applies while ``as_of`` is on or before its ``expires`` date; the
    decision then carries the override's label and a note naming the
    author and the reason, and keeps the rule's evidence.

    :param decision: the decision the rules made.
    :param customer: the validated customer record.
    :param as_of: the date of the classification.
    :param scheme: the scheme that decided it.
    :param engine: the engine.
    """


@hookspec
def observe_profile(profile: Profile, engine: Engine) -> None:
    """Observe every classified profile (audit log, CRM sync, metrics).

    Called after all decisions and strategies of one customer are final.
    Return values are ignored; an exception propagates to the caller.

    :param profile: the customer's :class:`~customer_rules.Profile`.
    :param engine: the engine.
    """


@hookspec
def escalate(case: Any, decision: Decision, plan: list[str], customer: Any, engine: Engine) -> None:
    """Escalate a crisis case (notify people, open a task team).

    Called for each customer whose crisis decision requires escalation
    (strategy escalation level above zero), once per open case that caused
    it, with the steps of the procedure.

    :param case: the service case (``None`` when the trigger is not a case,
        e.g. a sensitive identity).
    :param decision: the crisis decision.
    :param plan: the procedure steps to carry out, in order.
    :param customer: the validated customer record.
    :param engine: the engine.
    """
