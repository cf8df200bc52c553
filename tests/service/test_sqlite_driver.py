"""The SQLite driver that makes a statement one trip to aiosqlite's thread: what is written is
kept, what is rolled back is gone, errors come through as sqlite3's, and a statement really is
one trip (the cost the webhook door and every join link pay on SQLite)."""

from __future__ import annotations

import asyncio
import functools
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from orchestrator.db import sqlite_driver
from orchestrator.db.engine import create_engine, session_factory


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/driver.sqlite3")
    async with engine.begin() as db:
        await db.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT UNIQUE)"))
    yield engine
    await engine.dispose()


async def test_what_is_committed_is_kept_and_what_is_rolled_back_is_gone(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    sessions = session_factory(engine)
    async with sessions() as db, db.begin():
        await db.execute(text("INSERT INTO notes (body) VALUES (:b)"), [{"b": "one"}, {"b": "two"}])
    async with sessions() as db:
        await db.execute(text("INSERT INTO notes (body) VALUES ('three')"))
        await db.rollback()
    other = create_engine(f"sqlite+aiosqlite:///{tmp_path}/driver.sqlite3")
    try:
        async with other.connect() as db:
            bodies = (await db.execute(text("SELECT body FROM notes ORDER BY id"))).scalars()
            assert list(bodies) == ["one", "two"]
    finally:
        await other.dispose()


async def test_rows_counts_and_new_ids_come_back_from_the_one_trip(engine: AsyncEngine) -> None:
    async with engine.begin() as db:
        inserted = await db.execute(text("INSERT INTO notes (body) VALUES ('a') RETURNING id"))
        assert inserted.scalar_one() == 1
        plain = await db.execute(text("INSERT INTO notes (body) VALUES ('b')"))
        assert plain.lastrowid == 2
        changed = await db.execute(text("UPDATE notes SET body = body || '!'"))
        assert changed.rowcount == 2
        streamed = await db.stream(text("SELECT body FROM notes ORDER BY id"))
        assert [row.body async for row in streamed] == ["a!", "b!"]


async def test_a_broken_constraint_is_sqlites_own_error_and_the_session_goes_on(
    engine: AsyncEngine,
) -> None:
    sessions = session_factory(engine)
    async with sessions() as db:
        with pytest.raises(IntegrityError, match="UNIQUE"):
            async with db.begin():
                await db.execute(text("INSERT INTO notes (body) VALUES ('x'), ('x')"))
        async with db.begin():
            await db.execute(text("INSERT INTO notes (body) VALUES ('y')"))
        assert (await db.execute(text("SELECT count(*) FROM notes"))).scalar_one() == 1


async def counting_trips(
    sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> Counter[str]:
    """The trips to aiosqlite's thread from now on, by what they ran (the pool's connection is
    made before counting)."""
    trips: Counter[str] = Counter()
    original = sqlite_driver.Connection._execute

    async def counted(self: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
        trips[fn.__name__] += 1
        return await original(self, fn, *args, **kwargs)

    async with sessions() as db, db.begin():
        await db.execute(text("SELECT 1"))
    monkeypatch.setattr(sqlite_driver.Connection, "_execute", counted)
    return trips


async def test_a_statement_is_one_trip_and_an_empty_rollback_none(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    sessions = session_factory(engine)
    trips = await counting_trips(sessions, monkeypatch)
    async with sessions() as db, db.begin():
        await db.execute(text("INSERT INTO notes (body) VALUES ('z')"))
        assert (await db.execute(text("SELECT body FROM notes"))).scalars().all() == ["z"]
    # Two statements, the commit, and no rollback when the pool takes the connection back.
    assert trips == Counter({"_execute": 2, "commit": 1})
    trips.clear()
    async with sessions() as db:  # a join link's lookup: SQLite opens no transaction to read
        assert (await db.execute(text("SELECT count(*) FROM notes"))).scalar_one() == 1
    assert trips == Counter({"_execute": 1})


async def test_a_write_after_reads_is_still_rolled_back(engine: AsyncEngine) -> None:
    sessions = session_factory(engine)
    async with sessions() as db:
        await db.execute(text("SELECT count(*) FROM notes"))
        await db.execute(text("INSERT INTO notes (body) VALUES ('kept?')"))
        await db.execute(text("SELECT count(*) FROM notes"))
    async with sessions() as db:  # the pool's rollback at the end undid the insert
        assert (await db.execute(text("SELECT count(*) FROM notes"))).scalar_one() == 0


async def test_writers_take_turns_in_the_order_they_came(engine: AsyncEngine) -> None:
    sessions = session_factory(engine)
    order: list[str] = []

    async def write(body: str) -> None:
        async with sessions() as db, db.begin():
            await db.execute(text("INSERT INTO notes (body) VALUES (:b)"), {"b": body})
            order.append(body)

    async with sessions() as first, first.begin():
        await first.execute(text("INSERT INTO notes (body) VALUES ('first')"))
        waiting = []
        for body in ("second", "third", "fourth"):  # each at its insert before the next comes
            waiting.append(asyncio.create_task(write(body)))
            await asyncio.sleep(0.1)  # SQLite's busy handler looks at the lock by then
        assert order == []  # everyone waits for the first to commit
    await asyncio.gather(*waiting)
    assert order == ["second", "third", "fourth"]
    async with sessions() as db:
        bodies = (await db.execute(text("SELECT body FROM notes ORDER BY id"))).scalars().all()
    assert bodies == ["first", "second", "third", "fourth"]


async def test_a_write_that_waits_too_long_fails_as_sqlite_would(tmp_path: Path) -> None:
    turns = sqlite_driver.WriterTurns(timeout=0.2)
    engine = create_async_engine(
        f"sqlite+aiosqlite:///{tmp_path}/short.sqlite3",
        connect_args={
            "timeout": 0.2,
            "async_creator_fn": functools.partial(sqlite_driver.connect, turns=turns),
        },
    )
    try:
        async with engine.begin() as db:
            await db.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"))
        sessions = session_factory(engine)
        async with sessions() as first, first.begin():
            await first.execute(text("INSERT INTO notes (body) VALUES ('held')"))
            async with sessions() as second:
                with pytest.raises(OperationalError, match="database is locked"):
                    await second.execute(text("INSERT INTO notes (body) VALUES ('late')"))
                assert (await second.execute(text("SELECT count(*) FROM notes"))).scalar() == 0
        async with sessions() as db, db.begin():  # the turn came back: writing goes on
            await db.execute(text("INSERT INTO notes (body) VALUES ('after')"))
    finally:
        await engine.dispose()


async def test_a_quick_transaction_runs_on_the_loops_thread_and_is_kept_or_undone_whole(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A click's or a webhook's batch holds the turn to write only while SQLite works for it,
    not while the loop is busy elsewhere; what it writes is kept or undone as any other's."""
    sessions = session_factory(engine)
    trips = await counting_trips(sessions, monkeypatch)
    async with sessions() as db, db.begin():
        await sqlite_driver.quick_writes(db)
        await db.execute(text("INSERT INTO notes (body) VALUES ('first')"))
        await db.execute(text("INSERT INTO notes (body) VALUES ('second')"))
        assert (await db.execute(text("SELECT count(*) FROM notes"))).scalar_one() == 2
    assert trips == Counter()  # statements and commit: none waited for a trip to the thread

    async def broken() -> None:  # its second insert breaks a constraint
        async with sessions() as db, db.begin():
            await sqlite_driver.quick_writes(db)
            await db.execute(text("INSERT INTO notes (body) VALUES ('third')"))
            await db.execute(text("INSERT INTO notes (body) VALUES ('first')"))

    with pytest.raises(IntegrityError, match="UNIQUE"):
        await broken()
    trips.clear()
    async with sessions() as db, db.begin():  # the next transaction is an ordinary one again
        await db.execute(text("INSERT INTO notes (body) VALUES ('fourth')"))
        bodies = (await db.execute(text("SELECT body FROM notes ORDER BY id"))).scalars().all()
    assert bodies == ["first", "second", "fourth"]  # 'third' went with its transaction
    assert trips == Counter({"_execute": 2, "commit": 1})


async def test_a_quick_write_waits_for_another_process_without_stopping_the_loop(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    """`rdv import` may hold SQLite's lock beside `rdv serve`: a quick transaction's first write
    then waits for it in SQLite's thread, while the server goes on answering."""
    other = sqlite3.connect(tmp_path / "driver.sqlite3", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO notes (body) VALUES ('import')")
    beats = 0

    async def heartbeat() -> None:
        nonlocal beats
        while True:
            await asyncio.sleep(0.01)
            beats += 1

    async def write() -> None:
        async with session_factory(engine)() as db, db.begin():
            await sqlite_driver.quick_writes(db)
            await db.execute(text("INSERT INTO notes (body) VALUES ('click')"))
            await db.execute(text("INSERT INTO notes (body) VALUES ('webhook')"))

    beating = asyncio.create_task(heartbeat())
    writing = asyncio.create_task(write())
    await asyncio.sleep(0.3)
    assert not writing.done()  # waiting for the other process's lock,
    assert beats >= 10  # and the loop goes on meanwhile
    other.execute("COMMIT")
    other.close()
    await writing
    beating.cancel()
    async with engine.connect() as db:
        bodies = (await db.execute(text("SELECT body FROM notes ORDER BY id"))).scalars().all()
    assert bodies == ["import", "click", "webhook"]
