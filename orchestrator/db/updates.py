"""The change log that live pages follow: a row per card that changed (a webhook, a poll, a room
state, a clock mark, an erasure), written in the same transaction as the change itself.

Everyone who changes something writes here with `note()`; the dashboard reads it. The rows are
the truth: a page that reconnects with `Last-Event-ID` reads what it missed, whichever instance it
reconnects to, and on PostgreSQL a NOTIFY on `CHANNEL` at commit wakes the other instances.
"""

from __future__ import annotations

import zlib
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BindParameter,
    ForeignKey,
    Index,
    Integer,
    String,
    Subquery,
    any_,
    bindparam,
    delete,
    func,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base
from .models import Event, Session
from .upsert import ManyRows

CHANNEL = "rdv_dashboard"
ORDER_LOCK = zlib.crc32(b"rdv:dashboard-updates")


class DashboardUpdate(Base):
    """Something on an event's dashboard changed. The id is the Server-Sent Events id; a row
    without a session names the whole event (a new program, an erasure)."""

    __tablename__ = "dashboard_updates"
    # An import finds the event's newest program change without walking the day's webhooks.
    __table_args__ = (Index("ix_dashboard_updates_event_id_reason_id", "event_id", "reason", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[int | None] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(24))
    at: Mapped[datetime]


@dataclass(frozen=True, slots=True)
class Update:
    id: int
    session_id: int | None
    reason: str


async def note(
    db: AsyncSession, changes: Iterable[tuple[int, int | None]], reason: str, now: datetime
) -> None:
    """Records, in the caller's transaction, that these (event, session) cards changed.

    Streams read the rows after the last id they sent, so ids must become visible in id order. On
    PostgreSQL two transactions could commit ids 11 then 10, and a stream that read 11 would skip
    10: so writers take a lock here that they hold until they commit, one at a time. Call it last
    in the transaction (no other lock taken after it, no slow work): the lock is then held only
    for the commit, and no two writers can wait on each other. SQLite has one writer anyway."""
    cards = sorted(set(changes), key=lambda c: (c[0], c[1] or 0))
    rows = [
        {"event_id": event_id, "session_id": session_id, "reason": reason, "at": now}
        for event_id, session_id in cards
    ]
    if not rows:
        return
    if db.get_bind().dialect.name != "postgresql":
        await _UPDATES.insert(db, rows)
        return
    events = sorted({event_id for event_id, _ in cards})
    sessions = sorted({session_id for _, session_id in cards if session_id is not None})
    await db.execute(
        _ORDERED_INSERT[bool(sessions)],
        _UPDATES.bind(rows) | {"events": events, "sessions": sessions},
    )


_UPDATES = ManyRows(DashboardUpdate, ("event_id", "session_id", "reason", "at"))


def _lock_rows(sessions: bool) -> Subquery:
    """The event and session rows (ids bound as `events` and `sessions`), locked as a foreign
    key check would lock them (every pair of the cross join is one event and one session of the
    cards). PostgreSQL only: the ids are arrays, so the statement's text, which the server
    prepares, is the same for any number."""
    if not sessions:
        return (
            select(Event.id)
            .where(Event.id == any_(_ids("events")))
            .with_for_update(key_share=True, read=True)
            .subquery()
        )
    return (
        select(Event.id, Session.id)
        .join(Session, true())
        .where(Event.id == any_(_ids("events")), Session.id == any_(_ids("sessions")))
        .with_for_update(key_share=True, read=True)
        .subquery()
    )


def _ids(name: str) -> BindParameter[Any]:
    return bindparam(name, type_=ARRAY(Integer()))


def _ordered_insert(sessions: bool) -> Any:
    """PostgreSQL's note, one statement (each is a round trip). The rows the new ones refer to
    are locked (as the foreign key checks would) before the order lock: a writer waiting on one
    of them (an event row an import holds) then waits without holding up every other writer.
    The order lock is asked for over the count of the locked rows, which exists only once every
    row is locked, with the NOTIFY (sent at commit wherever it stands); the rows are inserted,
    and get their ids, only once that has run."""
    locked = select(func.count()).select_from(_lock_rows(sessions)).subquery()
    ordered = (
        select(
            func.pg_advisory_xact_lock(ORDER_LOCK).label("ordered"),
            func.pg_notify(CHANNEL, "").label("notified"),
        )
        .select_from(locked)
        .cte("order_lock")
    )
    return _UPDATES.arrays_after(ordered)


_ORDERED_INSERT = {sessions: _ordered_insert(sessions) for sessions in (False, True)}


# Built once, their values bound: every open dashboard reads these several times a second, and
# SQLAlchemy works out a new statement's cache key each time (0.1 to 0.3 ms of CPU).
_SINCE = (
    select(DashboardUpdate.id, DashboardUpdate.session_id, DashboardUpdate.reason)
    .where(DashboardUpdate.event_id == bindparam("event"), DashboardUpdate.id > bindparam("last"))
    .order_by(DashboardUpdate.id)
)
_SINCE_AT_MOST = _SINCE.limit(bindparam("limit"))
_LATEST = (
    select(DashboardUpdate.id)
    .where(DashboardUpdate.event_id == bindparam("event"))
    .order_by(DashboardUpdate.id.desc())
    .limit(1)
)


async def since(
    db: AsyncSession, event_id: int, last: int, limit: int | None = 1000
) -> Sequence[Update]:
    """The event's updates after id `last`, in order (at most `limit`)."""
    values = {"event": event_id, "last": last}
    if limit is None:
        rows = await db.execute(_SINCE, values)
    else:
        rows = await db.execute(_SINCE_AT_MOST, values | {"limit": limit})
    return [Update(*row) for row in rows]


async def latest(db: AsyncSession, event_id: int, reasons: Collection[str] = ()) -> int:
    """The id of the event's newest update (of one of these reasons, if given), 0 when none."""
    if not reasons:
        return await db.scalar(_LATEST, {"event": event_id}) or 0
    query = select(DashboardUpdate.id).where(
        DashboardUpdate.event_id == event_id, DashboardUpdate.reason.in_(reasons)
    )
    found = await db.scalar(query.order_by(DashboardUpdate.id.desc()).limit(1))
    return found or 0


async def prune(db: AsyncSession, *, now: datetime, keep: timedelta) -> int:
    """Deletes update rows older than `keep`; returns how many. The newest row always stays:
    SQLite numbers a new row after the highest one left, and ids must never go back, or a page
    reconnecting with an old Last-Event-ID would skip what comes next."""
    newest = select(func.max(DashboardUpdate.id)).scalar_subquery()
    result = await db.execute(
        delete(DashboardUpdate)
        .where(DashboardUpdate.at < now - keep, DashboardUpdate.id < newest)
        .returning(DashboardUpdate.id)
    )
    return len(result.all())
