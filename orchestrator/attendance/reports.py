"""The provider's own record of who attended, read after the meeting (Teams attendance reports,
Meet conference records) for providers with `reports_attendance`.

Such a room's record is `expected` from the moment it is made; when it closes the lifecycle
marks it `pending`. Passes then ask the provider
for the record, waiting longer after each "not yet" (Graph makes a report some time after the
call ends), for a day at most. The record is stored as events of source `report` (a join and a
leave per span, in the room), in the transaction that marks the report `read`: from then on the
attendance log takes the room's presence from those events alone (`log.py`), so a notification
lost or delayed on the way changes nothing. A room whose record never came keeps what the
notifications said (`none`). The meeting's outcome is checked only once its record is read or
given up (`WAITING`: `mail/outcome_questions.py`).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from integrations.base import Attendance, NotConfigured, ProviderError, Room
from integrations.events import Kind, ProviderEvent, RoomRef, Who

from ..clock import Clock
from ..db import models as m
from ..db.locks import exclusive
from ..providers import ProviderRegistry
from .events import record_events

log = logging.getLogger("rdv.attendance")
REPORT = "report"  # the events' source, and the key in the room's data
EXPECTED, PENDING, READ, NONE = "expected", "pending", "read", "none"
WAITING = (EXPECTED, PENDING)  # a meeting whose outcome waits for its record
PATIENCE = timedelta(hours=24)
FIRST_WAIT = timedelta(minutes=1)
LONGEST_WAIT = timedelta(hours=1)


def report_is(*states: str) -> ColumnElement[bool]:
    """Rooms whose record is in one of `states` (in SQL, on both databases)."""
    found: ColumnElement[bool] = m.Room.provider_data[REPORT].as_string().in_(states)
    return found


def events_of(provider: str, room_key: str, found: Sequence[Attendance]) -> list[ProviderEvent]:
    """A join and a leave for each span of each person of the record (spans may overlap)."""
    events = []
    ref = RoomRef(key=room_key)
    for person in found:
        for joined, left in person.spans:
            # A connection per span: a person's spans overlap when they had two tabs open. Named
            # by a digest, short whatever the provider's names: stored keys are cut at 300.
            span = f"{room_key}\n{person.connection}\n{joined.isoformat()}\n{left.isoformat()}"
            digest = hashlib.sha256(span.encode()).hexdigest()[:40]
            who = Who(connection=f"report:{digest}", name=person.name, email=person.email)
            for kind, at in ((Kind.JOINED, joined), (Kind.LEFT, left)):
                key = f"report:{digest}:{kind.value}"
                events.append(ProviderEvent(provider, kind, key, at, ref, who))
    return events


class ReportReader:
    def __init__(
        self, db: async_sessionmaker[AsyncSession], registry: ProviderRegistry, clock: Clock
    ) -> None:
        self.db, self.registry, self.clock = db, registry, clock

    async def read(self) -> int:
        """Asks for every pending record that is due; returns how many were read."""
        now = self.clock.now()
        async with self.db() as db:
            rows = [
                row
                for row in await db.execute(
                    select(m.Room.id, m.Room.room_key, m.Room.provider_data, m.Session.ends_at)
                    .join(m.Session, m.Session.id == m.Room.session_id)
                    .where(m.Room.state == "ended", report_is(PENDING))
                )
                if _due(row.provider_data, now)
            ]
        read = 0
        for row in rows:
            data: dict[str, Any] = dict(row.provider_data)
            name = str(data.get("provider") or "")
            try:
                provider = self.registry.get(name)
                found = await provider.attendance_report(Room(row.room_key, data))
            except NotConfigured:
                found = None
            except ProviderError as error:
                log.warning("reading the attendance of room %s failed: %s", row.room_key, error)
                found = None
            if found is None:
                await self._wait(row.id, data, now, ended=row.ends_at)
                continue
            async with self.db() as db, db.begin():
                events = events_of(name, row.room_key, found)
                await record_events(db, name, events, now, source=REPORT, room_id=row.id)
                await _set(db, row.id, {**data, REPORT: READ, "report_at": now.isoformat()})
            read += 1
        return read

    async def _wait(
        self, room_id: int, data: dict[str, Any], now: datetime, *, ended: datetime
    ) -> None:
        """Asks again later, waiting twice as long each time; a day after the meeting, no
        more."""
        tries = int(data.get("report_tries") or 0) + 1
        wait = min(FIRST_WAIT * 2 ** (tries - 1), LONGEST_WAIT)
        given_up = now >= ended + PATIENCE
        changes = (
            {REPORT: NONE}
            if given_up
            else {"report_tries": tries, "report_next": (now + wait).isoformat()}
        )
        async with self.db() as db, db.begin():
            await _set(db, room_id, {**data, **changes})

    async def read_once(self) -> None:
        """`read`, on one instance at a time."""
        async with exclusive(self.db, "reports") as mine:
            if mine:
                await self.read()


def _due(data: Any, now: datetime) -> bool:
    if not isinstance(data, dict) or data.get(REPORT) != PENDING:
        return False
    try:
        return datetime.fromisoformat(str(data["report_next"])) <= now
    except (KeyError, ValueError):
        return True


async def _set(db: AsyncSession, room_id: int, data: dict[str, Any]) -> None:
    await db.execute(update(m.Room).where(m.Room.id == room_id).values(provider_data=data))
