"""The backstop: rooms that are open are polled every `RDV_POLL_INTERVAL` where the provider can
list its participants, so a lost webhook (or a deleted BigBlueButton hook) loses nobody; and
providers that need it get their webhooks registered again every few minutes."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from integrations.base import Participant, ProviderError, Room
from integrations.events import Kind, ProviderEvent, RoomRef, Who

from ..clock import Clock
from ..db import models as m
from ..db.locks import exclusive
from ..providers import ProviderRegistry
from ..settings import PROVIDERS, Settings
from .events import record_events
from .presence import identity

log = logging.getLogger("rdv.attendance")
REGISTER_EVERY = timedelta(minutes=5)
LISTED = "\n"  # between the people a poll lists: a guest's name holds spaces, never a newline


@dataclass(frozen=True, slots=True)
class OpenRoom:
    id: int
    room: Room
    provider: str
    session_id: int


class RoomPoller:
    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        registry: ProviderRegistry,
        clock: Clock,
        settings: Settings,
    ) -> None:
        self.db, self.registry, self.clock, self.settings = db, registry, clock, settings

    async def poll(self) -> int:
        """Polls every open room once; returns how many rooms answered."""
        async with self.db() as db:
            rooms = [
                OpenRoom(
                    row.id,
                    Room(row.room_key, row.provider_data),
                    row.provisioned_with,
                    row.session_id,
                )
                for row in await db.execute(
                    select(
                        m.Room.id,
                        m.Room.room_key,
                        m.Room.provider_data,
                        m.Room.provisioned_with,
                        m.Room.session_id,
                    ).where(
                        m.Room.state.in_(("ready", "live")), m.Room.provisioned_with.is_not(None)
                    )
                )
            ]
            seats = (
                {
                    attendee_id: session_id
                    for attendee_id, session_id in await db.execute(
                        select(m.Attendee.id, m.Attendee.session_id).where(
                            m.Attendee.session_id.in_([room.session_id for room in rooms]),
                            m.Attendee.removed_at.is_(None),
                        )
                    )
                }
                if rooms
                else {}
            )
        answered = 0
        for room in rooms:
            provider = self.registry.get(room.provider)
            if not provider.can_list_participants:
                continue
            try:
                found = await provider.list_participants(room.room)
            except ProviderError as error:
                log.warning("polling room %s failed: %s", room.room.room_key, error)
                continue
            await self._record(room, found, seats, self.clock.now())
            answered += 1
        return answered

    async def _record(
        self, room: OpenRoom, found: Sequence[Participant], seats: dict[int, int], now: datetime
    ) -> None:
        ref = RoomRef(key=room.room.room_key)
        stamp = now.isoformat()
        events: list[ProviderEvent] = []
        listed: list[str] = []
        for participant in found:
            number = seat_number(participant, seats, room.session_id)
            person = (
                f"a{number}"
                if number is not None
                else identity(participant.display_name, None, participant.provider_id)
            )
            listed.append(person)
            who = Who(
                connection=participant.provider_id,
                seat_number=number,
                name=participant.display_name,
            )
            events.append(
                ProviderEvent(
                    room.provider, Kind.PRESENT, f"poll:{room.id}:{person}:{stamp}", now, ref, who
                )
            )
        events.append(
            ProviderEvent(
                room.provider,
                Kind.POLL,
                f"poll:{room.id}:{stamp}",
                now,
                ref,
                details={"people": LISTED.join(listed)},
            )
        )
        async with self.db() as db, db.begin():
            await record_events(db, room.provider, events, now, source="poll", room_id=room.id)

    async def register_webhooks(self) -> None:
        for name in PROVIDERS:
            if self.settings.missing_for(name):
                continue
            try:
                provider = self.registry.get(name)
                await provider.register_webhooks(f"{self.settings.base_url}/webhooks/{name}")
            except ProviderError as error:
                log.warning("registering %s webhooks failed: %s", name, error)

    async def poll_once(self) -> None:
        """Polls every open room, on one instance at a time."""
        async with exclusive(self.db, "poll") as mine:
            if mine:
                await self.poll()

    async def register_once(self) -> None:
        """Registers the webhooks of the providers that need it, on one instance at a time."""
        async with exclusive(self.db, "register") as mine:
            if mine:
                await self.register_webhooks()


def seat_number(participant: Participant, seats: dict[int, Any], session_id: int) -> int | None:
    """Our attendee row for a listed participant: BigBlueButton gives our seat id back, Janus the
    numeric id our page joined with."""
    seat = participant.seat_id or ""
    text = seat.removeprefix("rdv-a") if seat.startswith("rdv-a") else participant.provider_id
    if text.isdigit() and seats.get(int(text)) == session_id:
        return int(text)
    return None
