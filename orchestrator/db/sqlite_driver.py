"""aiosqlite with one trip to its thread per statement.

aiosqlite runs every call of the sqlite3 API in a thread of its own, and SQLAlchemy's adapter makes
four such calls for a statement that returns rows (open a cursor, execute, fetch, close). Each
trip wakes the thread and then the event loop, and hands the GIL over twice: some 100 µs of CPU,
several times what SQLite itself spends on a small statement. Here a statement is one trip: the
thread executes it, reads its rows and closes its cursor, and the cursor SQLAlchemy holds only
gives back what came with it, and whether the connection is left in a transaction. Everything
else (the connection, its thread, commit, rollback, close) is aiosqlite's own.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

import aiosqlite

# What one trip brings back: description, rowcount, lastrowid, rows, in a transaction after it.
_Outcome = tuple[Any, int, int | None, list[Any], bool]


def connect(database: str, *, iter_chunk_size: int = 64, **options: Any) -> Connection:
    """What `aiosqlite.connect` returns, with the cursors below; SQLAlchemy awaits it (given as
    `connect_args={"async_creator_fn": connect}`, it gets the arguments aiosqlite would)."""

    def connector() -> sqlite3.Connection:
        made: sqlite3.Connection = sqlite3.connect(database, **options)
        return made

    connection = Connection(connector, iter_chunk_size)
    connection._thread.daemon = True  # as SQLAlchemy sets it for aiosqlite's own connections
    return connection


class Connection(aiosqlite.Connection):
    """Also skips the trip of a commit or a rollback when no transaction is open, which sqlite3
    would do nothing for: the pool rolls back every connection it takes back, most of them just
    committed or used only to read (sqlite3 opens a transaction for a write, not for a SELECT)."""

    _open = False  # a transaction is open, as the last trip left it

    def cursor(self) -> _Opening:  # type: ignore[override]
        return _Opening(Cursor(self))

    async def run(self, fn: Any, *args: Any, **kwargs: Any) -> _Outcome:
        self._open = True  # until the trip says otherwise: a failed statement may leave one open
        outcome: _Outcome = await self._execute(fn, *args, **kwargs)  # type: ignore[no-untyped-call]
        self._open = outcome[4]
        return outcome

    async def commit(self) -> None:
        if self._open:
            await super().commit()
            self._open = False

    async def rollback(self) -> None:
        if self._open:
            await super().rollback()
            self._open = False


class _Opening:
    """`connection.cursor()`: SQLAlchemy enters it (`async with`); a plain `await` works too."""

    def __init__(self, cursor: Cursor) -> None:
        self.cursor = cursor

    async def _open(self) -> Cursor:
        return self.cursor

    def __await__(self) -> Any:
        return self._open().__await__()

    async def __aenter__(self) -> Cursor:
        return self.cursor

    async def __aexit__(self, *_: object) -> None:
        await self.cursor.close()


class Cursor:
    """A cursor whose statement runs, reads and closes in one trip to the thread."""

    arraysize = 1

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self._rows: list[Any] = []

    async def execute(self, sql: str, parameters: Any = ()) -> Cursor:
        self._take(await self._connection.run(_execute, self._connection._conn, sql, parameters))
        return self

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> Cursor:
        connection = self._connection
        self._take(await connection.run(_execute, connection._conn, sql, parameters, many=True))
        return self

    def _take(self, outcome: _Outcome) -> None:
        self.description, self.rowcount, self.lastrowid, rows, _ = outcome
        self._rows = rows

    async def fetchall(self) -> list[Any]:
        rows, self._rows = self._rows, []
        return rows

    async def fetchone(self) -> Any:
        return self._rows.pop(0) if self._rows else None

    async def fetchmany(self, size: int | None = None) -> Sequence[Any]:
        count = self.arraysize if size is None else size
        rows, self._rows = self._rows[:count], self._rows[count:]
        return rows

    async def close(self) -> None:
        self._rows = []


def _execute(
    connection: sqlite3.Connection, sql: str, parameters: Any, *, many: bool = False
) -> _Outcome:
    """In the connection's thread: the statement (once, or once per parameter set), its rows,
    its cursor closed."""
    cursor = connection.cursor()
    try:
        (cursor.executemany if many else cursor.execute)(sql, parameters)
        rows = cursor.fetchall() if cursor.description else []
        open_after = connection.in_transaction
        return cursor.description, cursor.rowcount, cursor.lastrowid, rows, open_after
    finally:
        cursor.close()
