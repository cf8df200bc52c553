"""The pool of Zoom host users (`RDV_ZOOM_HOSTS`) and their quota.

A Zoom user hosts one meeting at a time (people joining a second meeting of a busy host are told
"the host has another meeting in progress"), and may create or update 100 meetings per UTC day
(reference §3.2). So each Zoom room gets a host that no other live Zoom room holds at an
overlapping time, creates are spread over the pool and counted per day, and an import that needs
more hosts than the pool holds is refused before any room exists. A meeting holds its host from
when our links let people in (`RDV_JOIN_EARLY` before the start) until the room is deleted (the
close grace after the end), so back-to-back meetings need different hosts.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import false, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from integrations.base import ProviderRejected

from ..db import models as m
from ..db.upsert import dialect_insert
from ..db.zoom import ZoomHostDay
from ..program.model import Program
from ..settings import Settings

DAILY_LIMIT = 100
ZOOM = "zoom"
_LOCK = zlib.crc32(b"rdv:zoom-hosts")
Span = tuple[datetime, datetime]


class NoHostFree(ProviderRejected):
    """Every host of the pool is busy at the room's time or used up its creates for today."""


def busy(starts_at: datetime, ends_at: datetime, settings: Settings) -> Span:
    """When a Zoom meeting of this session holds its host."""
    return starts_at - settings.join_early, ends_at + settings.close_grace


def peak(spans: Iterable[Span]) -> tuple[int, datetime | None]:
    """The most spans open at once, and when that was first reached; spans that only touch
    (one ends as the next starts) do not overlap."""
    edges: list[tuple[datetime, int]] = []
    for start, end in spans:
        edges += [(start, 1), (end, -1)]
    edges.sort()  # at one instant, -1 sorts before +1: a meeting ends before the next begins
    best, when, current = 0, None, 0
    for moment, step in edges:
        current += step
        if current > best:
            best, when = current, moment
    return best, when


def pool_problem(
    program: Program, settings: Settings, *, others: Iterable[Span] = ()
) -> str | None:
    """Why the pool cannot host this program's Zoom sessions (with `others`, the spans of other
    events' Zoom meetings), or None. The daily quota is left to `assign`: a host holding one
    meeting at a time, each for 20 minutes beyond its length by default, is not given 100 in a
    day by an import, but retries and other apps on the same users spend it too."""

    def provider(spec_provider: str | None) -> str:
        return spec_provider or program.event.provider or settings.default_provider

    sessions = [s for s in program.sessions if provider(s.provider) == ZOOM]
    if not sessions:
        return None
    pool = len(settings.zoom_hosts)
    needed, when = peak([*(busy(s.starts_at, s.ends_at, settings) for s in sessions), *others])
    if needed > pool and when is not None:
        local = when.astimezone(ZoneInfo(program.event.timezone))
        return (
            f"{needed} Zoom meetings are open at once at {local:%Y-%m-%d %H:%M} (a meeting holds "
            f"its host from {_minutes(settings.join_early)} before its start to "
            f"{_minutes(settings.close_grace)} after its end, and a host holds one meeting at a "
            "time), but "
            f"RDV_ZOOM_HOSTS has {pool} host{'s' if pool != 1 else ''}: "
            f"{needed} hosts are needed"
        )
    return None


async def check_program(db: AsyncSession, program: Program, settings: Settings) -> str | None:
    """`pool_problem` counting the live Zoom meetings of the other events too (the pool is
    shared); the program's own event is replaced by the program, so it is left out."""
    rows = await db.execute(
        select(m.Session.starts_at, m.Session.ends_at)
        .join(m.Room, m.Room.session_id == m.Session.id)
        .join(m.Event, m.Event.id == m.Session.event_id)
        .where(
            m.Event.slug != program.event.slug,
            m.Session.cancelled_at.is_(None),
            or_(m.Room.provider == ZOOM, m.Room.provisioned_with == ZOOM),
            m.Room.state.not_in(("ended", "cancelled")),
        )
    )
    others = [busy(starts_at, ends_at, settings) for starts_at, ends_at in rows]
    return pool_problem(program, settings, others=others)


async def assign(
    db: async_sessionmaker[AsyncSession], room_id: int, settings: Settings, *, now: datetime
) -> str:
    """The host for a room about to be created on Zoom: its own host again when that one is still
    free, else the free host with the fewest creates today. The choice is kept in the room's
    `provider_data["host"]` and counted for today, one assignment at a time, so two rooms made at
    once never get the same host. Rooms taken in start order, as the lifecycle provisions them,
    always find a host in a pool that passed `check_program`: every room holding a host at this
    one's start overlaps it, and there are fewer of those than the peak."""
    today = now.astimezone(UTC).date()
    async with db() as session, session.begin():
        await _serialise(session)
        room, starts_at, ends_at = (
            await session.execute(
                select(m.Room, m.Session.starts_at, m.Session.ends_at)
                .join(m.Session, m.Session.id == m.Room.session_id)
                .where(m.Room.id == room_id)
            )
        ).one()
        start, end = busy(starts_at, ends_at, settings)
        taken = await _taken(session, room_id, start, end, settings)
        counts = await usage(session, today)
        pool = settings.zoom_hosts
        free = [h for h in pool if h not in taken and counts.get(h, 0) < DAILY_LIMIT]
        if not free:
            spent = [h for h in pool if h not in taken]
            raise NoHostFree(
                f"no Zoom host is free for this room: {len(taken)} of {len(pool)} hold another "
                f"meeting at that time and {len(spent)} used up the {DAILY_LIMIT} meeting creates "
                "Zoom allows per host and UTC day; add hosts to RDV_ZOOM_HOSTS"
            )
        held = room.provider_data.get("host")
        host = held if held in free else min(free, key=lambda h: (counts.get(h, 0), pool.index(h)))
        await session.execute(
            update(m.Room)
            .where(m.Room.id == room_id)
            .values(provider_data={**room.provider_data, "host": host})
        )
        await _count(session, host, today)
    return host


async def usage(db: AsyncSession, day: date) -> dict[str, int]:
    """Meeting creates and updates counted per host on one UTC day."""
    rows = await db.execute(
        select(ZoomHostDay.host, ZoomHostDay.requests).where(ZoomHostDay.day == day)
    )
    return {host: requests for host, requests in rows}


async def _serialise(db: AsyncSession) -> None:
    """One assignment at a time: a transaction-wide advisory lock on PostgreSQL; on SQLite a
    first write takes the database's write lock until the transaction ends."""
    if db.get_bind().dialect.name == "postgresql":
        await db.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK})
    else:
        await db.execute(update(ZoomHostDay).where(false()).values(requests=ZoomHostDay.requests))


async def _taken(
    db: AsyncSession, room_id: int, start: datetime, end: datetime, settings: Settings
) -> set[str]:
    """Hosts of the other live Zoom rooms whose meetings overlap [start, end]."""
    before, after = settings.join_early, settings.close_grace
    rows = await db.execute(
        select(m.Room.provider_data)
        .join(m.Session, m.Session.id == m.Room.session_id)
        .where(
            m.Room.id != room_id,
            or_(m.Room.provider == ZOOM, m.Room.provisioned_with == ZOOM),
            m.Room.state != "ended",
            or_(m.Room.state != "cancelled", m.Room.provisioned_with.is_not(None)),
            m.Session.starts_at < end + before,
            m.Session.ends_at > start - after,
        )
    )
    return {
        data["host"]
        for (data,) in rows
        if isinstance(data.get("host"), str) and not data.get("closed")
    }


async def _count(db: AsyncSession, host: str, day: date) -> None:
    statement = dialect_insert(db, ZoomHostDay).values(host=host, day=day, requests=1)
    await db.execute(
        statement.on_conflict_do_update(
            index_elements=["host", "day"], set_={"requests": ZoomHostDay.requests + 1}
        )
    )


def _minutes(span: timedelta) -> str:
    minutes = round(span.total_seconds() / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"
