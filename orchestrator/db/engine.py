"""Engine and session factory for SQLite (embedded default) and PostgreSQL (production)."""

from __future__ import annotations

import functools
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from . import sqlite_driver

SQLITE_BUSY_TIMEOUT = 30.0  # seconds a write waits for SQLite's one writer before it fails


# Connections kept open in the pool, and how many more it may open under load. SQLAlchemy's
# default keeps 5 and closes any other as soon as it comes back: at a slot's start, with a few
# dozen requests in flight, connections were opened and closed all the time (126 new SQLite
# connections in one minute, each a thread and its pragmas; on PostgreSQL a server process each).
# Every connection opened is kept: with 15 kept and 15 more, the 15 more were still opened and
# closed again at each slot's start, when the server has the least time for it. A request past
# the 30th waits for one to come back.
POOL_SIZE = 30
POOL_OVERFLOW = 0


def create_engine(url: str, **options: Any) -> AsyncEngine:
    """An async engine; SQLite gets its folder created, foreign keys on and WAL."""
    parsed = make_url(url)
    database = parsed.database
    if "poolclass" not in options and (database or ":memory:") != ":memory:":
        # (an in-memory SQLite database has one connection, in a pool of its own kind)
        options = {"pool_size": POOL_SIZE, "max_overflow": POOL_OVERFLOW} | options
    if parsed.get_backend_name() == "sqlite":
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        # One trip to aiosqlite's thread per statement instead of four, and the engine's
        # connections taking turns to write (see sqlite_driver).
        turns = sqlite_driver.WriterTurns(timeout=SQLITE_BUSY_TIMEOUT)
        creator = functools.partial(sqlite_driver.connect, turns=turns)
        connect = {"timeout": SQLITE_BUSY_TIMEOUT, "async_creator_fn": creator}
        engine = create_async_engine(url, connect_args=connect, **options)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    engine = create_async_engine(url, **options)
    if not options.get("pool_pre_ping"):
        _ping_when_idle(engine)
    return engine


# A connection back in the pool for longer than this is pinged before it is handed out. SQLAlchemy's
# pool_pre_ping pings every checkout: on asyncpg that is a round trip and ~300 µs of CPU a
# transaction (measured), a webhook batch's or a click's. A connection used a moment ago is
# alive unless the server restarted in between; then its first statement fails, and that
# failure invalidates every connection made before it, as a failed ping would.
IDLE = 2.0  # seconds
_USED = "rdv_used"


def _ping_when_idle(engine: AsyncEngine) -> None:
    dialect = engine.dialect

    def used(_dbapi_connection: Any, record: Any, *_: Any) -> None:
        record.info[_USED] = time.monotonic()

    def checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get(_USED, 0.0) <= IDLE:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            if dialect.is_disconnect(error, dbapi_connection, None):
                raise exc.InvalidatePoolError() from error  # the pool connects again
            raise

    event.listen(engine.sync_engine, "connect", used)
    event.listen(engine.sync_engine, "checkin", used)
    event.listen(engine.sync_engine, "checkout", checkout)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def reads_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that only read, for the paths every person takes (a join link's lookup). On
    PostgreSQL they run outside a transaction: under READ COMMITTED each statement reads its own
    snapshot anyway, and the BEGIN and ROLLBACK around a lone SELECT are two more round trips
    (about 200 µs of CPU, measured). Never write through one: each statement would commit alone.
    SQLite opens no transaction to read (see sqlite_driver), so its sessions are the usual."""
    if is_sqlite(engine):
        return session_factory(engine)
    return session_factory(engine.execution_options(isolation_level="AUTOCOMMIT"))


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"
