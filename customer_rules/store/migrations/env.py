"""Alembic environment for the decision store: always run on a connection
the store hands over (``config.attributes["connection"]``); there is no
alembic.ini and no URL in any file."""

from __future__ import annotations

from alembic import context

from customer_rules.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, version_table="cr_alembic_version")
with context.begin_transaction():
    context.run_migrations()
