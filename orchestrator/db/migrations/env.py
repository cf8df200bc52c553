"""Alembic environment: runs on the connection handed in by `orchestrator.db.migrate`."""

from alembic import context

import orchestrator.db  # noqa: F401  (registers every table)
from orchestrator.db.base import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `rdv db upgrade`")
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
