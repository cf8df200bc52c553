"""Inserting many rows: the plain table INSERT, and the database's own with its ON CONFLICT
clause (PostgreSQL's or SQLite's), written once."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def table(model: type[Any]) -> Table:
    """A model's table: an INSERT of many rows into it is a plain executemany, where the model
    itself would run them through the ORM's bulk machinery (much slower for thousands)."""
    found = model.__table__
    assert isinstance(found, Table)
    return found


def dialect_insert(db: AsyncSession, model: type[Any]) -> Any:
    """An INSERT into `model`'s table that offers `on_conflict_do_nothing` and
    `on_conflict_do_update`, in the dialect of the database `db` is bound to."""
    dialect = db.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table(model))
