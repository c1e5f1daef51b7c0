"""The public plugin API: everything a scheme or feature plugin imports.

A plugin (built-in or third-party) imports from here, from the package
root, from :mod:`customer_rules.hookspecs` and from
:mod:`customer_rules.testing` only — never from the internal subpackages —
so the core can be restructured without breaking plugins. A test checks
that the built-in plugins (``customer_rules/schemes/*``,
``customer_rules/builtin/*``) keep to this. See docs/writing-plugins.md.

What is here:

* the hook marker :data:`hookimpl` (the hooks are in
  :mod:`customer_rules.hookspecs`);
* schemes: :class:`Scheme`, :func:`load_scheme`, the policy model
  (:class:`Policy`, :class:`LabelDef`, :class:`RuleDef`, :class:`FlagDef`,
  :class:`Text`) and strategies (:class:`Strategy`, :class:`Cadence`);
* features: :class:`Feature`, :func:`feature`, the record models
  (:class:`Customer`, :class:`Case`, ...) and helpers that read a record as
  of a date (:func:`active_case_list` and its polars twin
  :func:`active_mask`, :func:`open_mask`, :func:`count_cases`, :func:`last_contact_date`,
  :func:`next_anniversary`, :func:`days_before`);
* statecharts for event streams (the ``register_statecharts`` hook):
  :class:`StageChart` with its :class:`Move` entries, :class:`CaseChart`,
  :class:`PhaseChart` with its :class:`PhaseTransition` entries, and the
  event vocabulary (:data:`DEAL_EVENTS`, :data:`CASE_EVENTS`,
  :data:`EVENT_TYPES`);
* population models (the ``register_models`` hook): :class:`PopulationModel`,
  a model fitted on the population by ``Engine.fit`` and saved with the
  cut-offs, which the plugin's features predict with;
* what hooks receive and return: :class:`Engine`, :class:`Decision`,
  :class:`Profile`, :class:`Override`, and the errors a plugin raises or
  is reported with (:class:`PluginError`, :class:`RecordError`, ...).
"""

from __future__ import annotations

from customer_rules.engine.engine import Engine, Override, Scheme, load_scheme
from customer_rules.errors import CustomerRulesError, PluginError, PolicyError, RecordError
from customer_rules.hookspecs import hookimpl
from customer_rules.lang.policy import DisplayName, FlagDef, LabelDef, Policy, RuleDef, Text
from customer_rules.model.decision import Decision, Profile
from customer_rules.model.features import Feature, feature
from customer_rules.model.population_models import PopulationModel
from customer_rules.model.records import (
    Behaviour,
    Case,
    Compliance,
    Customer,
    Deal,
    Deduction,
    Grade,
    Interaction,
    Lead,
    Satisfaction,
    Value,
)
from customer_rules.model.strategy import Cadence, Strategy
from customer_rules.model.timeline import (
    active_case_list,
    active_mask,
    count_cases,
    days_before,
    last_contact_date,
    next_anniversary,
    open_mask,
)
from customer_rules.streams.events import CASE_EVENTS, DEAL_EVENTS, EVENT_TYPES
from customer_rules.streams.statecharts import (
    CaseChart,
    Move,
    PhaseChart,
    PhaseTransition,
    StageChart,
    Statechart,
)

__all__ = [
    "CASE_EVENTS",
    "DEAL_EVENTS",
    "EVENT_TYPES",
    "Behaviour",
    "Cadence",
    "Case",
    "CaseChart",
    "Compliance",
    "Customer",
    "CustomerRulesError",
    "Deal",
    "Decision",
    "Deduction",
    "DisplayName",
    "Engine",
    "Feature",
    "FlagDef",
    "Grade",
    "Interaction",
    "LabelDef",
    "Lead",
    "Move",
    "Override",
    "PhaseChart",
    "PhaseTransition",
    "PluginError",
    "Policy",
    "PolicyError",
    "PopulationModel",
    "Profile",
    "RecordError",
    "RuleDef",
    "Satisfaction",
    "Scheme",
    "StageChart",
    "Statechart",
    "Strategy",
    "Text",
    "Value",
    "active_case_list",
    "active_mask",
    "count_cases",
    "days_before",
    "feature",
    "hookimpl",
    "last_contact_date",
    "load_scheme",
    "next_anniversary",
    "open_mask",
]
