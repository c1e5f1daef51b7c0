"""The decision store's tables (SQLAlchemy Core).

The Alembic migrations in ``migrations/versions`` create exactly these
tables; ``tests/test_store.py`` checks that a migrated database and this
metadata agree, so the two cannot drift apart unnoticed.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

# Content-addressed blobs: a policy (with the parameters it ran with) or a
# scheme's fitted cut-offs, stored once and referred to by their sha256.
blobs = sa.Table(
    "cr_blobs",
    metadata,
    sa.Column("hash", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),  # "policy" | "fitted" | "input"
    sa.Column("body", sa.Text),  # canonical JSON (policies, cut-offs, one record's input)
    sa.Column("data", sa.LargeBinary),  # a whole input table, as Parquet (a logged table's rows)
)

# The append-only decision log: one row per customer, scheme and period.
decisions = sa.Table(
    "cr_decisions",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("customer_id", sa.String(200), nullable=False),
    sa.Column("scheme", sa.String(100), nullable=False),
    sa.Column("period", sa.String(64), nullable=False),
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("label", sa.String(100)),
    sa.Column("rule", sa.String(200)),
    sa.Column("policy_id", sa.String(100), nullable=False),
    sa.Column("policy_version", sa.String(64), nullable=False),
    sa.Column("policy_hash", sa.String(64), sa.ForeignKey("cr_blobs.hash"), nullable=False),
    sa.Column("fitted_hash", sa.String(64), sa.ForeignKey("cr_blobs.hash")),
    sa.Column("backend", sa.String(32), nullable=False),
    sa.Column("library_version", sa.String(32), nullable=False),
    sa.Column("note", sa.Text),
    sa.Column("override_author", sa.String(200)),
    sa.Column("override_reason", sa.Text),
    sa.Column("override_expires", sa.Date),
    sa.Column("evidence", sa.Text),  # JSON object, masked
    sa.Column("missing", sa.Text),  # JSON list
    sa.Column("input_hash", sa.String(64), sa.ForeignKey("cr_blobs.hash")),  # the input as decided (masked): what replay re-runs
    sa.Column("input_row", sa.Integer),  # the row of a logged table's input (None: one record's input)
    sa.Column("logged_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("period", "customer_id", "scheme", name="uq_cr_decisions_period_customer_scheme"),
)
sa.Index("ix_cr_decisions_customer", decisions.c.customer_id, decisions.c.scheme, decisions.c.as_of)

# Period jobs (``regrade``): a period is written in one transaction together
# with its row here, so a period is either whole in the store or absent.
periods = sa.Table(
    "cr_periods",
    metadata,
    sa.Column("period", sa.String(64), primary_key=True),
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("decisions", sa.BigInteger, nullable=False),
    sa.Column("rejected", sa.BigInteger, nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
)
