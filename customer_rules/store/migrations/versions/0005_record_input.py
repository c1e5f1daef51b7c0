"""One record's input is named by its decision, not by its batch.

Logged profiles used to get one batch per decision: the hash of the
customer's record (what ``replay`` re-runs) was a batch column, and it
differs per customer, so no two decisions could share a batch (1.2 ms per
profile, against a few microseconds per decision for a logged table). The
hash now sits on the decision row; a batch keeps an input only when it is
a whole logged table, whose rows the decisions point at (``input_row``).

The stored hashes move: a decision without an input row takes its batch's
input, and that batch then holds none. Batches are not merged.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite adds a column with its reference in place; Alembic's copy of
        # the table (its way to add a constraint there) would lose WITHOUT ROWID
        op.execute("ALTER TABLE cr_decisions ADD COLUMN input_hash VARCHAR(64) REFERENCES cr_blobs (hash)")
    else:
        op.add_column("cr_decisions", sa.Column("input_hash", sa.String(64)))
        op.create_foreign_key(None, "cr_decisions", "cr_blobs", ["input_hash"], ["hash"])
    decisions = sa.table(
        "cr_decisions", sa.column("batch_id"), sa.column("input_row"), sa.column("input_hash")
    )
    batches = sa.table("cr_batches", sa.column("id"), sa.column("input_hash"))
    of_record = decisions.c.input_row.is_(None)
    op.execute(
        decisions.update()
        .where(of_record)
        .values(
            input_hash=sa.select(batches.c.input_hash)
            .where(batches.c.id == decisions.c.batch_id)
            .scalar_subquery()
        )
    )
    op.execute(
        batches.update()
        .where(batches.c.id.in_(sa.select(decisions.c.batch_id).where(of_record)))
        .values(input_hash=None)
    )


def downgrade() -> None:
    raise NotImplementedError("the decision log is append-only: restore a backup to go back to revision 0004")
