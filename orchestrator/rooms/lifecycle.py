"""The room lifecycle: provision rooms `RDV_ROOM_LEAD` before their session, close them after it,
close the rooms of cancelled sessions, and retry what failed.

The database is the truth. A step claims a room with a short lease (a conditional UPDATE), so a
restart or a second instance never works on the same room twice, and a crashed step's lease lapses
and the room is taken up again. Rooms are created from our own room key, so repeating a create
after a crash finds the same room instead of making a second one.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from integrations.base import ProviderError, ProviderUnavailable, Room, RoomRequest, Seat

from ..attendance.reports import EXPECTED, PENDING, REPORT
from ..clock import Clock
from ..db import models as m
from ..db.updates import note
from ..providers import ProviderRegistry
from ..settings import Settings
from . import host_pool

log = logging.getLogger("rdv.rooms")
LEASE = timedelta(seconds=90)
RETRY_FAILED_AFTER = timedelta(minutes=5)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Tally:
    """What one reconcile pass did."""

    provisioned: int = 0
    failed: int = 0
    closed: int = 0


def seat_of(attendee_id: int, token: str) -> Seat:
    """The seat our links put into providers for one attendee row."""
    return Seat(seat_id=f"rdv-a{attendee_id}", number=attendee_id, token=token)


class RoomLifecycle:
    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        registry: ProviderRegistry,
        clock: Clock,
        settings: Settings,
        *,
        attempts: int = 5,
        first_delay: float = 1.0,
        longest_delay: float = 60.0,
        parallel: int = 8,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.db, self.registry, self.clock, self.settings = db, registry, clock, settings
        self.attempts, self.first_delay, self.longest_delay = attempts, first_delay, longest_delay
        self.parallel = parallel
        self.sleep = sleep
        self.rng = rng or random.Random()  # noqa: S311 (jitter, not security)

    async def recover(self) -> int:
        """After a restart of the only instance (SQLite), no step can still be running: rooms
        left mid-provisioning are taken up again at once rather than when their lease lapses."""
        async with self.db() as db, db.begin():
            result = await db.execute(
                update(m.Room)
                .where(m.Room.state == "provisioning")
                .values(state="scheduled", lease_until=None)
                .returning(m.Room.id)
            )
            recovered = result.scalars().all()
            for room_id in recovered:
                await self._note(db, room_id, "room")
            return len(recovered)

    # -- the passes ------------------------------------------------------------------------
    async def reconcile(self) -> Tally:
        """Does every step that is due now; safe to run at any time, any number of times."""
        now = self.clock.now()
        async with self.db() as db:
            to_provision = (await db.scalars(self._due_for_provisioning(now))).all()
            to_close = (await db.scalars(self._due_for_closing(now))).all()
        gate = asyncio.Semaphore(self.parallel)

        async def limited(step: Awaitable[bool]) -> bool:
            async with gate:
                return await step

        provisioned = await asyncio.gather(*(limited(self.provision(r)) for r in to_provision))
        closed = await asyncio.gather(*(limited(self.close(r)) for r in to_close))
        return Tally(
            provisioned=sum(provisioned),
            failed=len(provisioned) - sum(provisioned),
            closed=sum(closed),
        )

    def _due_for_provisioning(self, now: datetime) -> Any:
        window_opens = now + self.settings.room_lead
        return (
            select(m.Room.id)
            .join(m.Session, m.Session.id == m.Room.session_id)
            .where(
                m.Session.cancelled_at.is_(None),
                m.Session.starts_at <= window_opens,
                m.Session.ends_at > now,
                or_(
                    m.Room.state == "scheduled",
                    and_(m.Room.state == "failed", m.Room.updated_at < now - RETRY_FAILED_AFTER),
                    and_(m.Room.state == "provisioning", m.Room.lease_until < now),
                ),
            )
            .order_by(m.Session.starts_at)
        )

    def _due_for_closing(self, now: datetime) -> Any:
        ended = now - self.settings.close_grace
        return (
            select(m.Room.id)
            .join(m.Session, m.Session.id == m.Room.session_id)
            .where(
                m.Room.provisioned_with.is_not(None),
                or_(
                    m.Room.state == "cancelled",
                    m.Session.ends_at <= ended,
                    m.Room.provisioned_with != m.Room.provider,
                ),
                or_(m.Room.lease_until.is_(None), m.Room.lease_until < now),
            )
        )

    async def next_due(self) -> datetime | None:
        """When the next step falls due, for the timer that wakes the lifecycle."""
        now = self.clock.now()
        async with self.db() as db:
            opens = await db.scalar(
                select(m.Session.starts_at)
                .join(m.Room, m.Room.session_id == m.Session.id)
                .where(
                    m.Room.state == "scheduled",
                    m.Session.cancelled_at.is_(None),
                    m.Session.starts_at > now + self.settings.room_lead,
                )
                .order_by(m.Session.starts_at)
                .limit(1)
            )
            closes = await db.scalar(
                select(m.Session.ends_at)
                .join(m.Room, m.Room.session_id == m.Session.id)
                .where(
                    m.Room.provisioned_with.is_not(None),
                    m.Session.ends_at > now - self.settings.close_grace,
                )
                .order_by(m.Session.ends_at)
                .limit(1)
            )
        moments = []
        if opens is not None:
            moments.append(opens - self.settings.room_lead)
        if closes is not None:
            moments.append(closes + self.settings.close_grace)
        return min(moments) if moments else None

    # -- the steps ---------------------------------------------------------------------------
    async def _claim(self, room_id: int, now: datetime, *, states: tuple[str, ...]) -> bool:
        async with self.db() as db, db.begin():
            result = await db.execute(
                update(m.Room)
                .where(
                    m.Room.id == room_id,
                    or_(
                        and_(
                            m.Room.state.in_(states),
                            or_(m.Room.lease_until.is_(None), m.Room.lease_until < now),
                        ),
                        and_(m.Room.state == "provisioning", m.Room.lease_until < now),
                    ),
                )
                .values(state="provisioning", lease_until=now + LEASE, attempts=m.Room.attempts + 1)
                .returning(m.Room.id)
            )
            claimed = result.first() is not None
            if claimed:
                await self._note(db, room_id, "room")
            return claimed

    async def provision(self, room_id: int) -> bool:
        """Creates the room on its provider; True when it is ready. A failed room is tried again
        when asked (the reconcile pass asks only after a pause; a join link asks at once)."""
        now = self.clock.now()
        if not await self._claim(room_id, now, states=("scheduled", "failed")):
            return False
        async with self.db() as db:
            request, provider_name = await self._request(db, room_id)
        try:
            provider = self.registry.get(provider_name)
            if provider.hosted_by_pool:  # a host of the pool that is free for this slot
                host = await host_pool.assign(self.db, room_id, self.settings, now=now)
                request = replace(request, metadata={**request.metadata, "host": host})
            room = await self._with_retries(lambda: provider.create_room(request))
        except ProviderError as error:
            await self._set(room_id, state="failed", error=str(error)[:1900], lease_until=None)
            log.warning("room %s failed on %s: %s", request.room_key, provider_name, error)
            return False
        data = {"provider": provider_name, **dict(room.data)}
        if provider.reports_attendance:  # its outcome waits for the record (attendance/reports)
            data[REPORT] = EXPECTED
        async with self.db() as db, db.begin():
            kept = await db.execute(
                update(m.Room)
                .where(m.Room.id == room_id, m.Room.state == "provisioning")
                .values(
                    state="ready",
                    provider_data=data,
                    error=None,
                    lease_until=None,
                    provisioned_with=provider_name,
                    external_id=(room.external_id or room.room_key).lower(),
                )
                .returning(m.Room.id)
            )
            if kept.first() is None:  # cancelled meanwhile: record it so that it gets closed
                await db.execute(
                    update(m.Room)
                    .where(m.Room.id == room_id)
                    .values(provider_data=data, provisioned_with=provider_name)
                )
            await self._note(db, room_id, "room")
        return True

    async def close(self, room_id: int) -> bool:
        """Ends the room at its provider; the room becomes `ended` unless it was cancelled."""
        now = self.clock.now()
        async with self.db() as db, db.begin():
            row = (
                await db.execute(
                    update(m.Room)
                    .where(
                        m.Room.id == room_id,
                        m.Room.provisioned_with.is_not(None),
                        or_(m.Room.lease_until.is_(None), m.Room.lease_until < now),
                    )
                    .values(lease_until=now + LEASE)
                    .returning(
                        m.Room.provisioned_with,
                        m.Room.room_key,
                        m.Room.provider_data,
                        m.Room.state,
                        m.Room.provider,
                    )
                )
            ).first()
        if row is None:
            return False
        provisioned_with, room_key, data, state, provider_name = row
        try:
            provider = self.registry.get(provisioned_with)
            await self._with_retries(lambda: provider.close_room(Room(room_key, data)))
        except ProviderError as error:
            await self._set(room_id, error=f"closing failed: {error}"[:1900], lease_until=None)
            return False
        moved = provisioned_with != provider_name and state in ("ready", "live")
        async with self.db() as db:
            ended = await db.scalar(
                select(m.Session.ends_at <= now - self.settings.close_grace)
                .join(m.Room, m.Room.session_id == m.Session.id)
                .where(m.Room.id == room_id)
            )
        final = (
            "scheduled"
            if moved and not ended
            else ("cancelled" if state == "cancelled" else "ended")
        )
        kept = {**data, "closed": True}
        if final == "ended" and provider.reports_attendance:  # read after it (attendance/reports)
            kept[REPORT] = PENDING
        await self._set(
            room_id,
            state=final,
            provisioned_with=None,
            lease_until=None,
            provider_data={} if final == "scheduled" else kept,
        )
        return True

    async def _set(self, room_id: int, **values: Any) -> None:
        async with self.db() as db, db.begin():
            await db.execute(update(m.Room).where(m.Room.id == room_id).values(**values))
            if "state" in values or "error" in values:  # what the room's card shows
                await self._note(db, room_id, "room")

    async def _note(self, db: AsyncSession, room_id: int, reason: str) -> None:
        """Tells the dashboard this room's card changed."""
        row = (
            await db.execute(
                select(m.Session.event_id, m.Session.id)
                .join(m.Room, m.Room.session_id == m.Session.id)
                .where(m.Room.id == room_id)
            )
        ).one()
        await note(db, [(row.event_id, row.id)], reason, self.clock.now())

    async def _request(self, db: AsyncSession, room_id: int) -> tuple[RoomRequest, str]:
        room, session, event = (
            await db.execute(
                select(m.Room, m.Session, m.Event)
                .join(m.Session, m.Session.id == m.Room.session_id)
                .join(m.Event, m.Event.id == m.Session.event_id)
                .where(m.Room.id == room_id)
            )
        ).one()
        seats = tuple(
            replace(seat_of(attendee_id, token), name=name, email=email)
            for attendee_id, token, name, email in await db.execute(
                select(m.Attendee.id, m.Attendee.token, m.Person.name, m.Person.email)
                .join(m.Person, m.Person.id == m.Attendee.person_id)
                .where(m.Attendee.session_id == session.id, m.Attendee.removed_at.is_(None))
                .order_by(m.Attendee.id)
            )
        )
        request = RoomRequest(
            room_key=room.room_key,
            title=session.title,
            starts_at=session.starts_at,
            ends_at=session.ends_at,
            seats=seats,
            metadata={"rdv-event": event.slug, "rdv-session": session.key},
        )
        return request, room.provider

    async def _with_retries(self, call: Callable[[], Awaitable[T]]) -> T:
        """Retries what is worth retrying, with exponential backoff, jitter and Retry-After."""
        for attempt in range(1, self.attempts + 1):
            try:
                return await call()
            except ProviderUnavailable as error:
                if attempt == self.attempts:
                    raise
                delay = min(self.first_delay * 2 ** (attempt - 1), self.longest_delay)
                delay *= self.rng.uniform(0.5, 1.5)
                if error.retry_after is not None:
                    delay = max(delay, min(error.retry_after, self.longest_delay * 5))
                await self.sleep(delay)
        raise AssertionError("unreachable")


async def ensure_ready(lifecycle: RoomLifecycle, room_id: int, *, wait: float = 10.0) -> bool:
    """True once the room is ready: provisions it now if it was not (a failed or late room), or
    waits for the step another request or instance is running."""
    if await lifecycle.provision(room_id):
        return True
    for _ in range(int(wait / 0.25)):
        async with lifecycle.db() as db:
            state = await db.scalar(select(m.Room.state).where(m.Room.id == room_id))
        if state in ("ready", "live"):
            return True
        if state != "provisioning":
            return False
        await asyncio.sleep(0.25)
    return False
