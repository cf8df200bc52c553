"""The dashboard's live feed: the wake-ups that tell open streams to read the change log
(`db/updates.py`), and the clock's own entries in it.

The log's rows are the truth; a wake-up only saves a stream from polling. A clock tick writes a
row when a session passes one of its marks, so "who is late" appears without any provider saying
anything.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from ..clock import Clock
from ..db import models as m
from ..db import updates
from ..db.locks import exclusive
from ..db.sqlite_driver import quick_writes
from ..db.updates import CHANNEL, Update, note
from ..settings import Marks

# A page that reconnects needs the rows since it last heard; after this long a reload is due
# anyway, so older rows only grow the table.
KEEP_UPDATES = timedelta(days=1)
PRUNE_EVERY = timedelta(hours=1)
TICK_EVERY = timedelta(seconds=5)
WAKE_AFTER = 0.010  # seconds: what a stream waits to gather the webhooks of a burst


class Feed:
    """Wakes the streams of this process; the app factory builds one."""

    def __init__(self, db: async_sessionmaker[AsyncSession], clock: Clock, marks: Marks) -> None:
        self.db = db
        self.clock = clock
        self.marks = marks
        # Set (and replaced) at every change: all streams waiting on it wake in the same turn of
        # the loop, where a condition would hand its lock from one to the next, a turn each.
        self._changed = asyncio.Event()
        self._version = 0
        self._ticked_at: datetime | None = None
        self._pending: set[asyncio.Task[None]] = set()
        self._wake_due = False
        self.closed = False

    async def wake(self) -> None:
        self._version += 1
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def close(self) -> None:
        """Ends every open stream (the service is shutting down)."""
        self.closed = True
        await self.wake()

    def wake_soon(self) -> None:
        """Wakes the streams from synchronous code (a webhook was just stored), WAKE_AFTER from
        now: a burst of webhooks then wakes each open stream once, with all of them in one
        message batch, instead of once per webhook."""
        if self._wake_due:
            return
        self._wake_due = True
        asyncio.get_running_loop().call_later(WAKE_AFTER, self._wake_now)

    def _wake_now(self) -> None:
        self._wake_due = False
        task = asyncio.get_running_loop().create_task(self.wake())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def listen(self, engine: AsyncEngine) -> None:
        """PostgreSQL only: wakes this instance's streams when another instance wrote updates,
        until the feed closes; a lost connection raises (the service starts it again)."""
        async with engine.connect() as connection:
            raw = await connection.get_raw_connection()
            driver = raw.driver_connection
            assert driver is not None
            await driver.add_listener(CHANNEL, lambda *_: self.wake_soon())
            while not self.closed:
                await asyncio.sleep(1.0)
                # Straight to the driver: outside any transaction, where PostgreSQL delivers
                # notifications; a lost connection raises here.
                await driver.execute("SELECT 1")

    async def prune(self, keep: timedelta = KEEP_UPDATES) -> int:
        """Deletes update rows older than `keep`; returns how many. The newest row always stays:
        SQLite numbers a new row after the highest one left, and ids must never go back, or a page
        reconnecting with an old Last-Event-ID would skip what comes next."""
        async with self.db() as db, db.begin():
            return await updates.prune(db, now=self.clock.now(), keep=keep)

    async def wait(self, seen: int, seconds: float) -> int:
        """Returns once something changed after `seen`, or after `seconds`."""
        if self._version == seen:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(seconds):
                    await self._changed.wait()
        return self._version

    @property
    def version(self) -> int:
        return self._version

    async def since(self, event_id: int, last: int, limit: int | None = 1000) -> Sequence[Update]:
        async with self.db() as db:
            return await updates.since(db, event_id, last, limit)

    async def latest(self, event_id: int) -> int:
        async with self.db() as db:
            return await updates.latest(db, event_id)

    async def tick(self) -> int:
        """Writes an update for every session that passed one of its marks since the last tick:
        what the clock alone changes on a card (the window open, who is late, whether it runs).
        A stream then refreshes just those cards, and its counters stay true without a webhook.
        An interval is done only once its rows are written: a failed tick is covered by the
        next one, and an instance that did not get the lock covers it when it does."""
        now = self.clock.now()
        since = self._ticked_at or now - timedelta(seconds=30)
        marks = self.marks
        started, ended = m.Session.starts_at, m.Session.ends_at

        def passed(column: Any, offset: timedelta = timedelta(0)) -> Any:
            """`column + offset` fell in (since, now]; the sums are made here, not in SQL."""
            return (column > since - offset) & (column <= now - offset)

        def passed_beyond(column: Any, offset: timedelta) -> Any:
            """The same over [since, now): for a mark that counts once the clock is past it (late
            means after the mark), so a tick right on it leaves it to the next one."""
            return (column >= since - offset) & (column < now - offset)

        crossings = {
            "late": passed_beyond(started, marks.late_after),
            "clock": passed(started, -marks.join_early)
            | passed(started)
            | passed(ended)
            | passed(ended, marks.close_grace),
        }
        async with exclusive(self.db, "tick") as mine:
            if not mine:  # another instance ticks for everyone
                return 0
            async with self.db() as db, db.begin():
                await quick_writes(db)  # a slot's start: thousands of rows, clicks waiting
                crossed = {
                    reason: (
                        await db.execute(
                            select(m.Session.event_id, m.Session.id).where(
                                m.Session.cancelled_at.is_(None), crossing
                            )
                        )
                    ).all()
                    for reason, crossing in crossings.items()
                }
                for reason, changes in crossed.items():
                    await note(db, [(event, session) for event, session in changes], reason, now)
            self._ticked_at = now
        if any(crossed.values()):
            await self.wake()
        return sum(len(changes) for changes in crossed.values())
