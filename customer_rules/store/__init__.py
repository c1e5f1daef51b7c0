"""The decision store: an append-only decision log and grade history in
SQLite or PostgreSQL (public: ``cr.DecisionStore``; needs the ``store``
extra). See ``docs/how-to/keep-grade-history.md``."""

from customer_rules.store.store import HEAD, DecisionStore, LoggedDecision, RegradeResult, decision_id

__all__ = ["HEAD", "DecisionStore", "LoggedDecision", "RegradeResult", "decision_id"]
