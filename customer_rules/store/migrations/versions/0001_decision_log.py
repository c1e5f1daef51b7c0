"""The decision log and its content-addressed policies and cut-offs.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "cr_blobs",
        sa.Column("hash", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("body", sa.Text),
        sa.Column("data", sa.LargeBinary),
    )
    op.create_table(
        "cr_decisions",
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
        sa.Column("evidence", sa.Text),
        sa.Column("missing", sa.Text),
        sa.Column("input_hash", sa.String(64), sa.ForeignKey("cr_blobs.hash")),
        sa.Column("input_row", sa.Integer),
        sa.Column("logged_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("period", "customer_id", "scheme", name="uq_cr_decisions_period_customer_scheme"),
    )
    op.create_index("ix_cr_decisions_customer", "cr_decisions", ["customer_id", "scheme", "as_of"])


def downgrade() -> None:
    op.drop_index("ix_cr_decisions_customer", "cr_decisions")
    op.drop_table("cr_decisions")
    op.drop_table("cr_blobs")
