"""Narrow decision rows: what a batch of decisions shares moves to ``cr_batches``.

A decision row keeps the customer, scheme, period (its key, which also serves
the grade-history lookups), the label, rule and what differs per customer; the
policy, cut-offs, backend, library version, input and time are stored once per
batch. Decision ids are now derived from the key (``period/scheme/customer``)
instead of a hash of it.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"

_SHARED = (
    "scheme",
    "period",
    "as_of",
    "policy_id",
    "policy_version",
    "policy_hash",
    "fitted_hash",
    "backend",
    "library_version",
    "input_hash",
    "logged_at",
)
_OWN = ("label", "rule", "input_row", "note", "override_author", "override_reason", "override_expires", "evidence", "missing")


def upgrade() -> None:
    op.create_table(
        "cr_batches",
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
        sa.Column("input_hash", sa.String(64), sa.ForeignKey("cr_blobs.hash")),
        sa.Column("logged_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "cr_decisions_v3",
        sa.Column("customer_id", sa.String(200), primary_key=True),
        sa.Column("scheme", sa.String(100), primary_key=True),
        sa.Column("period", sa.String(64), primary_key=True),
        sa.Column("batch_id", sa.Integer, sa.ForeignKey("cr_batches.id"), nullable=False),
        sa.Column("label", sa.String(100)),
        sa.Column("rule", sa.String(200)),
        sa.Column("input_row", sa.Integer),
        sa.Column("note", sa.Text),
        sa.Column("override_author", sa.String(200)),
        sa.Column("override_reason", sa.Text),
        sa.Column("override_expires", sa.Date),
        sa.Column("evidence", sa.Text),
        sa.Column("missing", sa.Text),
        sqlite_with_rowid=False,
    )
    old = sa.table("cr_decisions", *(sa.column(c) for c in ("customer_id", *_SHARED, *_OWN)))
    batches = sa.table("cr_batches", sa.column("id"), *(sa.column(c) for c in _SHARED))
    new = sa.table("cr_decisions_v3", *(sa.column(c) for c in ("customer_id", "scheme", "period", "batch_id", *_OWN)))
    shared = [old.c[c] for c in _SHARED]
    op.execute(batches.insert().from_select(list(_SHARED), sa.select(*shared).distinct()))
    same_batch = sa.and_(*(batches.c[c].is_not_distinct_from(old.c[c]) for c in _SHARED))
    op.execute(
        new.insert().from_select(
            ["customer_id", "scheme", "period", "batch_id", *_OWN],
            sa.select(old.c.customer_id, old.c.scheme, old.c.period, batches.c.id, *(old.c[c] for c in _OWN)).select_from(
                old.join(batches, same_batch)
            ),
        )
    )
    op.drop_index("ix_cr_decisions_customer", "cr_decisions")
    op.drop_table("cr_decisions")
    op.rename_table("cr_decisions_v3", "cr_decisions")


def downgrade() -> None:
    raise NotImplementedError("the decision log is append-only: restore a backup to go back to revision 0002")
