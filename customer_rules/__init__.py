"""customer_rules: classify customers by type, tier and crisis level, and
recommend a strategy for each class.

>>> import customer_rules as cr
>>> engine = cr.Engine()
>>> profile = engine.classify(customer, as_of=date(2026, 11, 22))  # doctest: +SKIP
"""

from __future__ import annotations

from customer_rules._version import __version__ as __version__
from customer_rules.apps.agenda import Agenda, AgendaItem
from customer_rules.apps.allocate import Allocation, allocate
from customer_rules.engine.api import load_policy
from customer_rules.engine.engine import BatchResult, Engine, Override, Rejected, Scheme, load_scheme
from customer_rules.errors import (
    BackendUnavailable,
    CustomerRulesError,
    EvaluationError,
    FittedFileError,
    NotFittedError,
    PluginError,
    PolicyError,
    RecordError,
    StoreError,
)
from customer_rules.hookspecs import hookimpl
from customer_rules.io.transactions import TransactionsResult, customers_from_transactions
from customer_rules.lab.check import (
    CheckReport,
    Property,
    PropertyResult,
    check,
    exactly_one_label,
    implies,
    label_order,
    monotone,
)
from customer_rules.lab.compare import Comparison, Move, compare, sweep
from customer_rules.lab.plots import plot_label_shares, plot_labels, plot_migration, plot_sweep
from customer_rules.lab.sample import SAMPLE_AS_OF, sample_customers, sample_orders
from customer_rules.lab.verify import Finding, Findings, verify
from customer_rules.lang.policy import DisplayName, FlagDef, LabelDef, Policy, RuleDef, Text
from customer_rules.model.change import ChangeExplanation, Crossing, explain_change
from customer_rules.model.decision import Counterfactual, Decision, Need, Profile
from customer_rules.model.features import Feature, feature
from customer_rules.model.frames import (
    FrameResult,
    RejectedRowsWarning,
    frame_from_records,
    records_from_frame,
    tables_from_records,
)
from customer_rules.model.records import (
    INT64_MAX,
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
    record_field,
)
from customer_rules.model.strategy import Cadence, Strategy
from customer_rules.streams.events import EventError
from customer_rules.streams.stream import Change, EventStream


def __getattr__(name: str) -> object:
    # the decision store needs SQLAlchemy and Alembic (extra "store"): import it on first use
    if name in ("DecisionStore", "LoggedDecision", "RegradeResult"):
        try:
            from customer_rules import store
        except ImportError as exc:
            raise ImportError(
                f"cr.{name} needs SQLAlchemy and Alembic: pip install 'customer-rules[store]' ({exc})"
            ) from exc
        return getattr(store, name)
    raise AttributeError(f"module 'customer_rules' has no attribute {name!r}")

__all__ = [
    "INT64_MAX",
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
    "ChangeExplanation",
    "CheckReport",
    "Comparison",
    "Compliance",
    "Counterfactual",
    "Crossing",
    "Customer",
    "CustomerRulesError",
    "Deal",
    "Decision",
    "DecisionStore",
    "Deduction",
    "DisplayName",
    "Engine",
    "EvaluationError",
    "EventError",
    "EventStream",
    "Feature",
    "Finding",
    "Findings",
    "FittedFileError",
    "FlagDef",
    "FrameResult",
    "Grade",
    "Interaction",
    "LabelDef",
    "Lead",
    "LoggedDecision",
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
    "RegradeResult",
    "Rejected",
    "RejectedRowsWarning",
    "RuleDef",
    "Satisfaction",
    "Scheme",
    "StoreError",
    "Strategy",
    "Text",
    "TransactionsResult",
    "Value",
    "allocate",
    "check",
    "compare",
    "customers_from_transactions",
    "exactly_one_label",
    "explain_change",
    "feature",
    "frame_from_records",
    "hookimpl",
    "implies",
    "label_order",
    "load_policy",
    "load_scheme",
    "monotone",
    "plot_label_shares",
    "plot_labels",
    "plot_migration",
    "plot_sweep",
    "record_field",
    "records_from_frame",
    "sample_customers",
    "sample_orders",
    "sweep",
    "tables_from_records",
    "verify",
]
