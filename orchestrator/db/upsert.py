"""The database's own INSERT with its ON CONFLICT clause, PostgreSQL's or SQLite's, written once."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def dialect_insert(db: AsyncSession, model: type[Any]) -> Any:
    """An INSERT into `model`'s table that offers `on_conflict_do_nothing` and
    `on_conflict_do_update`, in the dialect of the database `db` is bound to."""
    table = model.__table__
    assert isinstance(table, Table)
    dialect = db.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
