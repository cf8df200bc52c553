"""The clicks on personal links, written together. At a slot's start thousands of people click
within a minute; a transaction each (its statement and commit, each a trip to SQLite's thread or
a round trip to PostgreSQL, and SQLite's one writer) cost more than the rest of the click. While
one batch is written the next clicks queue, and go in one transaction when it ends, as the
webhook inbox stores deliveries. A click is answered once it is recorded."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ..db import models as m
from ..db.sqlite_driver import quick_writes
from ..db.updates import note
from ..db.upsert import table
from ..senders import GroupCommit
from .visits import Visit

log = logging.getLogger("rdv.clicks")

STREAM = "stream"  # a plenary's audience sent to its stream: the click is the attendance


@dataclass(frozen=True, slots=True)
class Click:
    attendee_id: int
    event_id: int
    session_id: int
    outcome: str
    at: datetime


class ClickLog:
    """Records what personal links did; the app factory makes one, the join routes use it."""

    def __init__(self, db: Callable[[], AsyncSession]) -> None:
        self.db = db
        self._commit = GroupCommit(self._store)

    async def record(self, visit: Visit, outcome: str, now: datetime) -> bool:
        """Records what the link did; True when the click is itself the attendance (sent to a
        plenary's stream), which the dashboard is then told of."""
        session = visit.session
        await self._commit.submit(
            Click(visit.attendee.id, session.event_id, session.id, outcome, now)
        )
        return outcome == STREAM

    async def _store(self, clicks: list[Click]) -> None:
        try:
            await self._write(clicks)
        except Exception:
            if len(clicks) == 1:
                raise
            # One by one: a click whose seat went meanwhile (a foreign key) fails alone.
            written = 0
            for click in clicks:
                try:
                    await self._write([click])
                    written += 1
                except Exception:
                    log.exception("a click could not be recorded (attendee %d)", click.attendee_id)
            if not written:
                raise

    async def _write(self, clicks: list[Click]) -> None:
        async with self.db() as db, db.begin():
            await quick_writes(db)
            await db.execute(
                insert(table(m.LinkClick)),
                [
                    {"attendee_id": c.attendee_id, "clicked_at": c.at, "outcome": c.outcome}
                    for c in clicks
                ],
            )
            streamed = [c for c in clicks if c.outcome == STREAM]
            if streamed:
                cards = [(c.event_id, c.session_id) for c in streamed]
                await note(db, cards, "link", streamed[-1].at)
