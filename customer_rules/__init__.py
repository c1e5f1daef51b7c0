"""customer_rules: classify customers by type, tier and crisis level, and
recommend a strategy for each class.

>>> import customer_rules as cr
>>> engine = cr.Engine()
>>> profile = engine.classify(customer, as_of=date(2026, 11, 22))  # doctest: +SKIP
"""

from __future__ import annotations

from ._agenda import Agenda, AgendaItem
from ._allocate import Allocation, allocate
from ._api import load_policy
from ._check_props import (
    CheckReport,
    Property,
    PropertyResult,
    check,
    exactly_one_label,
    implies,
    label_order,
    monotone,
)
from ._compare import Comparison, Move, compare, sweep
from ._decision import Counterfactual, Decision, Need, Profile
from ._engine import BatchResult, Engine, Override, Rejected, Scheme, load_scheme
from ._errors import (
    BackendUnavailable,
    CustomerRulesError,
    EvaluationError,
    NotFittedError,
    PluginError,
    PolicyError,
    RecordError,
)
from ._events import Change, EventError, EventStream
from ._features import Feature, feature
from ._plots import plot_labels, plot_migration, plot_sweep
from ._policy import FlagDef, LabelDef, Policy, RuleDef, Text
from ._records import (
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
from ._sample import SAMPLE_AS_OF, sample_customers
from ._strategy import Cadence, Strategy
from ._tables import (
    FrameResult,
    RejectedRowsWarning,
    frame_from_records,
    records_from_frame,
    tables_from_records,
)
from ._verify import Finding, Findings, verify
from .hookspecs import hookimpl

__version__ = "0.1.0"

__all__ = [
    "SAMPLE_AS_OF",
    "Agenda",
    "AgendaItem",
    "Allocation",
    "BackendUnavailable",
    "BatchResult",
    "Behaviour",
    "Cadence",
    "Case",
    "Change",
    "CheckReport",
    "Comparison",
    "Compliance",
    "Counterfactual",
    "Customer",
    "CustomerRulesError",
    "Deal",
    "Decision",
    "Deduction",
    "Engine",
    "EvaluationError",
    "EventError",
    "EventStream",
    "Feature",
    "Finding",
    "Findings",
    "FlagDef",
    "FrameResult",
    "Grade",
    "Interaction",
    "LabelDef",
    "Lead",
    "Move",
    "Need",
    "NotFittedError",
    "Override",
    "PluginError",
    "Policy",
    "PolicyError",
    "Profile",
    "Property",
    "PropertyResult",
    "RecordError",
    "Rejected",
    "RejectedRowsWarning",
    "RuleDef",
    "Satisfaction",
    "Scheme",
    "Strategy",
    "Text",
    "Value",
    "allocate",
    "check",
    "compare",
    "exactly_one_label",
    "feature",
    "frame_from_records",
    "hookimpl",
    "implies",
    "label_order",
    "load_policy",
    "load_scheme",
    "monotone",
    "plot_labels",
    "plot_migration",
    "plot_sweep",
    "records_from_frame",
    "sample_customers",
    "sweep",
    "tables_from_records",
    "verify",
]
