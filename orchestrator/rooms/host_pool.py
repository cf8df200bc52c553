"""Which account of its provider's pool gets a room about to be created: a Zoom host user
(`RDV_ZOOM_HOSTS`) and their quota, or a Teams organiser (`RDV_TEAMS_ORGANISERS`), held the same
way (`program/zoom_hosts.POOLS`).

A Zoom user hosts one meeting at a time and may create or update 100 meetings per UTC day (the
user-level limit beside https://developers.zoom.us/docs/api/rate-limits/, as Zoom's staff state
it on https://devforum.zoom.us/t/rate-limits-which-ones-apply/19474). So each
Zoom room gets a host that no other live Zoom room holds at an overlapping time (the span of
`program/zoom_hosts.busy`), and creates are spread over the pool and counted per day. The import
has already refused a program that needs more hosts at once than the pool holds.
"""

from __future__ import annotations

import zlib
from datetime import UTC, date, datetime

from sqlalchemy import false, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from integrations.base import ProviderRejected

from ..db import models as m
from ..db.upsert import dialect_insert
from ..db.zoom import ZoomHostDay
from ..program.zoom_hosts import POOLS, ZOOM, Pool, busy
from ..settings import Settings

DAILY_LIMIT = POOLS[ZOOM].daily_limit
_LOCK = zlib.crc32(b"rdv:zoom-hosts")


class NoHostFree(ProviderRejected):
    """Every account of the pool is busy at the room's time or used up its creates for today."""


async def assign(
    db: async_sessionmaker[AsyncSession], room_id: int, settings: Settings, *, now: datetime
) -> str:
    """The account for a room about to be created on its provider (a Zoom host, a Teams
    organiser): its own again when that one is still free, else the free one with the fewest
    creates today. The choice is kept in the room's `provider_data["host"]` and counted for
    today, one assignment at a time, so two rooms made at once never get the same account. Rooms
    taken in start order, as the lifecycle provisions them, always find one in a pool that passed
    `check_program`: every room holding an account at this one's start overlaps it, and there
    are fewer of those than the peak."""
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
        kind = POOLS[room.provider if room.provider in POOLS else ZOOM]
        start, end = busy(starts_at, ends_at, settings)
        taken = await _taken(session, room_id, start, end, settings, kind.provider)
        counts = await usage(session, today)
        pool = kind.accounts(settings)
        limit = kind.daily_limit
        free = [h for h in pool if h not in taken and (limit is None or counts.get(h, 0) < limit)]
        if not free:
            raise NoHostFree(_none_free(kind, len(taken), len(pool)))
        held = room.provider_data.get("host")
        host = held if held in free else min(free, key=lambda h: (counts.get(h, 0), pool.index(h)))
        await session.execute(
            update(m.Room)
            .where(m.Room.id == room_id)
            .values(provider_data={**room.provider_data, "host": host})
        )
        await _count(session, host, today)
    return host


def _none_free(pool: Pool, taken: int, size: int) -> str:
    one = pool.account
    busy_now = f"{taken} of {size} hold another meeting at that time"
    if pool.daily_limit is None:
        return (
            f"no {pool.label} {one} is free for this room: {busy_now}; "
            f"add {one}s to {pool.variable}"
        )
    return (
        f"no {pool.label} {one} is free for this room: {busy_now} and {size - taken} used up "
        f"the {pool.daily_limit} meeting creates {pool.label} allows per {one} and UTC day; "
        f"add {one}s to {pool.variable}"
    )


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
    db: AsyncSession,
    room_id: int,
    start: datetime,
    end: datetime,
    settings: Settings,
    provider: str = ZOOM,
) -> set[str]:
    """Accounts of the other live rooms of `provider` whose meetings overlap [start, end]."""
    before, after = settings.join_early, settings.close_grace
    rows = await db.execute(
        select(m.Room.provider_data)
        .join(m.Session, m.Session.id == m.Room.session_id)
        .where(
            m.Room.id != room_id,
            or_(m.Room.provider == provider, m.Room.provisioned_with == provider),
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
