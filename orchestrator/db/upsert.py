"""Inserting many rows: the plain table INSERT, and the database's own with its ON CONFLICT
clause (PostgreSQL's or SQLite's), written once."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import CTE, JSON, Result, Table, Text, bindparam, cast, func, select, true
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
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


class ManyRows:
    """An INSERT of many rows into one table (rows: dicts of `columns`), optionally skipping
    those that conflict on `unique` and returning `returning`, written the database's own way.
    On SQLite an executemany. On PostgreSQL one array a column (`INSERT … SELECT … FROM
    unnest(…)`): the statement's text is the same for any number of rows, so the server
    prepares it once, and SQLAlchemy binds a handful of arrays where an executemany binds every
    value of every row in Python (10 to 25 % of the CPU of a webhook batch's inserts, measured).
    Built once, where the module loads: the statements are compiled once too."""

    def __init__(
        self,
        model: type[Any],
        columns: Sequence[str],
        *,
        unique: Sequence[str] = (),
        returning: Sequence[Any] = (),
    ) -> None:
        self.found, self.columns = table(model), tuple(columns)
        self.json = {name for name in self.columns if isinstance(self.found.c[name].type, JSON)}
        params = [
            bindparam(name, type_=ARRAY(Text() if name in self.json else self.found.c[name].type))
            for name in self.columns
        ]
        rows = func.unnest(*params).table_valued(*self.columns).render_derived(name="given")
        values = [
            cast(rows.c[name], self.found.c[name].type) if name in self.json else rows.c[name]
            for name in self.columns
        ]
        self._given, self._values = rows, values
        arrays: Any = postgresql.insert(self.found).from_select(list(self.columns), select(*values))
        plain: Any = sqlite.insert(self.found)
        if unique:
            arrays = arrays.on_conflict_do_nothing(index_elements=list(unique))
            plain = plain.on_conflict_do_nothing(index_elements=list(unique))
        if returning:
            arrays, plain = arrays.returning(*returning), plain.returning(*returning)
        self.arrays, self.plain = arrays, plain

    def arrays_after(self, first: CTE) -> Any:
        """PostgreSQL's INSERT from arrays (no ON CONFLICT, no RETURNING) that takes its rows
        only once `first`, a one-row CTE, has run: what must happen before any row gets its id
        (a lock) is then in the same statement, one round trip less. Bind with `bind`."""
        rows = select(*self._values).select_from(self._given.join(first, true()))
        return postgresql.insert(self.found).from_select(list(self.columns), rows)

    def bind(self, rows: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
        """The arrays, one a column, that PostgreSQL's statements take."""
        return {
            name: [json.dumps(row[name]) for row in rows]
            if name in self.json
            else [row[name] for row in rows]
            for name in self.columns
        }

    async def insert(
        self, db: AsyncSession, rows: Sequence[Mapping[str, Any]]
    ) -> Result[*tuple[Any, ...]]:
        if db.get_bind().dialect.name != "postgresql":
            return await db.execute(self.plain, list(rows))
        return await db.execute(self.arrays, self.bind(rows))
