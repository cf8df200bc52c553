"""aiosqlite with one trip to its thread per statement.

aiosqlite runs every call of the sqlite3 API in a thread of its own, and SQLAlchemy's adapter makes
four such calls for a statement that returns rows (open a cursor, execute, fetch, close). Each
trip wakes the thread and then the event loop, and hands the GIL over twice: some 100 µs of CPU,
several times what SQLite itself spends on a small statement. Here a statement is one trip: the
thread executes it, reads its rows and closes its cursor, and the cursor SQLAlchemy holds only
gives back what came with it, and whether the connection is left in a transaction. Everything
else (the connection, its thread, commit, rollback, close) is aiosqlite's own.

SQLite has one writer at a time. A connection that wants to write while another does waits in
SQLite's busy handler, which sleeps 1, 2, 5, 10 … up to 100 ms between looks at the lock: at a
slot's start, a click's one-row insert waited 33 ms on average and up to 1.1 s (measured), most
of it asleep after the lock was free. So the connections of one engine take turns to write here
instead (`WriterTurns`, first come first served, the next one on its way as soon as the last
commits), and SQLite's own lock is left to other processes (`rdv import` beside `rdv serve`).

A turn held while the event loop is busy elsewhere is a turn nobody uses: each statement's trip
comes back only when the loop next looks, and at a slot's start (thousands of dashboard cards,
clicks and webhooks) the click and webhook batches held their turn up to 200 ms that way, most
of it waiting for the loop, while the next batches waited for them (measured). A transaction of
the hot paths (`quick_writes`) runs its writes and its commit on the loop's own thread instead,
and takes only the time SQLite spends on them. Its first write is tried there without waiting
for SQLite's lock: if another process holds it (`rdv import`), that write goes to the thread
and waits there as any other would, so the loop never stalls on a lock; once the transaction
holds the lock, nothing can make the rest wait.
"""

from __future__ import annotations

import asyncio
import sqlite3
import weakref
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

import aiosqlite
from sqlalchemy.ext.asyncio import AsyncSession

# What one trip brings back: description, rowcount, lastrowid, rows, in a transaction after it.
_Outcome = tuple[Any, int, int | None, list[Any], bool]


# A statement that starts with one of these only reads; any other may write (sqlite3 opens a
# transaction before INSERT, UPDATE, DELETE and REPLACE; DDL and a CTE may write too).
_READS = ("SELECT", "PRAGMA", "EXPLAIN")


class WriterTurns:
    """The turns to write of one engine's connections: first come, first served; waiting longer
    than SQLite's own busy timeout fails as SQLite would ("database is locked"). A lock per event
    loop: an engine outlives the loop of a test or of a command that used it."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    def _lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            lock = self._locks[loop] = asyncio.Lock()
        return lock

    async def take(self) -> asyncio.Lock:
        lock = self._lock()
        try:
            async with asyncio.timeout(self.timeout):
                await lock.acquire()
        except TimeoutError:
            raise sqlite3.OperationalError("database is locked") from None
        return lock


def connect(
    database: str,
    *,
    turns: WriterTurns | None = None,
    iter_chunk_size: int = 64,
    **options: Any,
) -> Connection:
    """What `aiosqlite.connect` returns, with the cursors below; SQLAlchemy awaits it (given as
    `connect_args={"async_creator_fn": partial(connect, turns=…)}`, it gets the arguments
    aiosqlite would). Connections given the same `turns` write one at a time."""

    def connector() -> sqlite3.Connection:
        # Used from the loop's thread too, never at the same time as from its own (`quick`).
        made: sqlite3.Connection = sqlite3.connect(
            database, **(options | {"check_same_thread": False})
        )
        return made

    timeout = float(options.get("timeout", 5.0))
    connection = Connection(connector, iter_chunk_size)
    connection._thread.daemon = True  # as SQLAlchemy sets it for aiosqlite's own connections
    connection.busy_ms = int(timeout * 1000)
    connection.turns = turns or WriterTurns(timeout)
    return connection


class Connection(aiosqlite.Connection):
    """Also skips the trip of a commit or a rollback when no transaction is open, which sqlite3
    would do nothing for: the pool rolls back every connection it takes back, most of them just
    committed or used only to read (sqlite3 opens a transaction for a write, not for a SELECT)."""

    turns: WriterTurns
    _open = False  # a transaction is open, as the last trip left it
    _turn: asyncio.Lock | None = None  # this connection's turn to write, while it has it
    quick = False  # this transaction's writes run on the loop's thread (`quick_writes`)
    busy_ms = 5000  # how long SQLite waits for another's lock (sqlite3's `timeout`)

    def cursor(self) -> _Opening:  # type: ignore[override]
        return _Opening(Cursor(self))

    def _holds_lock(self) -> bool:
        """Whether this quick transaction holds SQLite's lock, so nothing can make it wait."""
        return self.quick and self._turn is not None and self._conn.in_transaction

    async def run(self, sql: str, *args: Any, **kwargs: Any) -> _Outcome:
        if self._turn is None and not sql.lstrip()[:7].upper().startswith(_READS):
            self._turn = await self.turns.take()
        here = self._holds_lock()
        self._open = True  # until the trip says otherwise: a failed statement may leave one open
        outcome = None
        if here:
            outcome = _execute(self._conn, sql, *args, **kwargs)
        elif self.quick and self._turn is not None:
            outcome = self._without_waiting(sql, *args, **kwargs)
        if outcome is None:
            outcome = await self._execute(_execute, self._conn, sql, *args, **kwargs)  # type: ignore[no-untyped-call]
        self._open = outcome[4]
        if not self._open:
            self._end_turn()
        return outcome

    def _without_waiting(self, sql: str, *args: Any, **kwargs: Any) -> _Outcome | None:
        """A quick transaction's first write, here, unless SQLite's lock is another's (None:
        nothing was written, and the write goes to the thread to wait for it there)."""
        self._conn.execute("PRAGMA busy_timeout = 0")
        try:
            return _execute(self._conn, sql, *args, **kwargs)
        except sqlite3.OperationalError as error:
            if error.sqlite_errorcode != sqlite3.SQLITE_BUSY:
                raise
            return None
        finally:
            self._conn.execute(f"PRAGMA busy_timeout = {self.busy_ms}")

    def _end_turn(self) -> None:
        self.quick = False
        if self._turn is not None:
            self._turn.release()
            self._turn = None

    async def commit(self) -> None:
        await self._end(_here(self._conn.commit) if self._holds_lock() else super().commit)

    async def rollback(self) -> None:
        await self._end(_here(self._conn.rollback) if self._holds_lock() else super().rollback)

    async def _end(self, ending: Callable[[], Awaitable[None]]) -> None:
        """Commits or rolls back when a transaction is open; the turn to write is given back
        once none is (a commit that failed leaves it open, for the rollback that follows)."""
        try:
            if self._open:
                await ending()
                self._open = False
        finally:
            if not self._open:
                self._end_turn()

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            self._open = False
            self._end_turn()


def _here(call: Callable[[], None]) -> Callable[[], Awaitable[None]]:
    async def now() -> None:
        call()

    return now


async def quick_writes(db: AsyncSession) -> None:
    """Makes the rest of `db`'s transaction quick on SQLite (see above), nothing elsewhere: for
    short transactions on the paths people wait on (a click, a webhook), never for long work
    (an import), whose statements would stop the loop while they run."""
    connection = await db.connection()
    driver = (await connection.get_raw_connection()).driver_connection
    if isinstance(driver, Connection):
        driver.quick = True


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
        self._take(await self._connection.run(sql, parameters))
        return self

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> Cursor:
        self._take(await self._connection.run(sql, parameters, many=True))
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
