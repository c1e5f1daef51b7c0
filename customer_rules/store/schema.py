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

# A batch: the decisions of one scheme made together under one policy, its
# parameters and cut-offs, logged at one time (from one input table, when a
# classified table was logged). Everything a batch's decisions share is
# stored here once, so a decision row holds only what differs per customer
# and both tables and profiles log in bulk at the speed of narrow rows.
batches = sa.Table(
    "cr_batches",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("scheme", sa.String(100), nullable=False),
    sa.Column("period", sa.String(64), nullable=False),
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("policy_id", sa.String(100), nullable=False),
    sa.Column("policy_version", sa.String(64), nullable=False),
    sa.Column("policy_hash", sa.String(64), sa.ForeignKey("cr_blobs.hash"), nullable=False),
    sa.Column("fitted_hash", sa.String(64), sa.ForeignKey("cr_blobs.hash")),
    sa.Column("backend", sa.String(32), nullable=False),
    sa.Column("library_version", sa.String(32), nullable=False),
    sa.Column("input_hash", sa.String(64), sa.ForeignKey("cr_blobs.hash")),  # a logged table (masked)
    sa.Column("logged_at", sa.DateTime(timezone=True), nullable=False),
)

# The append-only decision log: one row per customer, scheme and period. The
# key leads with the customer, so it is also the grade-history index; on
# SQLite the table is the key's B-tree itself (WITHOUT ROWID).
decisions = sa.Table(
    "cr_decisions",
    metadata,
    sa.Column("customer_id", sa.String(200), primary_key=True),
    sa.Column("scheme", sa.String(100), primary_key=True),
    sa.Column("period", sa.String(64), primary_key=True),
    sa.Column("batch_id", sa.Integer, sa.ForeignKey("cr_batches.id"), nullable=False),
    sa.Column("label", sa.String(100)),
    sa.Column("rule", sa.String(200)),
    sa.Column("input_row", sa.Integer),  # the row of the batch's input table (None: one record's input)
    sa.Column("note", sa.Text),
    sa.Column("override_author", sa.String(200)),
    sa.Column("override_reason", sa.Text),
    sa.Column("override_expires", sa.Date),
    sa.Column("evidence", sa.Text),  # JSON object, masked
    sa.Column("missing", sa.Text),  # JSON list
    # one record's input, masked (a logged table's is its batch's, and input_row names the row)
    sa.Column("input_hash", sa.String(64), sa.ForeignKey("cr_blobs.hash")),
    # deleting a batch (one whose decisions were all logged already) checks
    # that no decision names it: without this index, a scan of the log each time
    sa.Index("ix_cr_decisions_batch_id", "batch_id"),
    sqlite_with_rowid=False,
)

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
