"""Names for participants whose provider's events name them only by reference (providers with
`names_later`: Meet's joins and leaves name a participant session).

The door hands each accepted delivery over (`want`), after the events are stored; a background
task asks the provider who each participant is and writes the name into the stored events, then
tells the dashboard. Names are kept per participant, so a rejoin costs no call. What is lost
here (a crash, the provider not answering) is not lost for good: the record read after the
meeting names everyone (`reports.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Mapping

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from integrations.base import NotConfigured, ProviderError
from integrations.events import Delivery, Kind

from ..clock import Clock
from ..db import models as m
from ..db.attendance import ProviderEventRow
from ..db.updates import note
from ..providers import ProviderRegistry

log = logging.getLogger("rdv.attendance")
REMEMBERED = 10_000  # participants whose names are kept
BATCH = 200
QUEUED = 100_000  # beyond this, names wait for the record after the meeting


class ParticipantNamer:
    def __init__(
        self, db: async_sessionmaker[AsyncSession], registry: ProviderRegistry, clock: Clock
    ) -> None:
        self.db, self.registry, self.clock = db, registry, clock
        self._queue: asyncio.Queue[tuple[str, str, Mapping[str, str]]] = asyncio.Queue(QUEUED)
        self._names: OrderedDict[tuple[str, str], str] = OrderedDict()

    def want(self, provider: str, delivery: Delivery) -> None:
        """Queues the unnamed joins and leaves of an accepted delivery."""
        try:
            if not self.registry.get(provider).names_later:
                return
        except NotConfigured:
            return
        for event in delivery.events:
            if event.kind in (Kind.JOINED, Kind.LEFT) and event.who and not event.who.name:
                with contextlib.suppress(asyncio.QueueFull):
                    self._queue.put_nowait((provider, event.dedupe_key, event.details))

    async def run(self) -> None:
        """Names what is queued, as it comes, until cancelled."""
        while True:
            first = await self._queue.get()
            try:
                await self._name([first, *self._waiting()])
            except Exception:  # the database away a moment: these wait for the record
                log.exception("naming participants failed")

    async def drain(self) -> int:
        """Names everything queued now; how many events were named (tests drive it)."""
        return await self._name(self._waiting(10**9))

    def _waiting(self, most: int = BATCH) -> list[tuple[str, str, Mapping[str, str]]]:
        found: list[tuple[str, str, Mapping[str, str]]] = []
        while len(found) < most and not self._queue.empty():
            found.append(self._queue.get_nowait())
        return found

    async def _name(self, batch: list[tuple[str, str, Mapping[str, str]]]) -> int:
        named: dict[tuple[str, str], str] = {}  # (provider, event key) -> name
        for provider, key, details in batch:
            found = await self._lookup(provider, details)
            if found:
                named[(provider, key)] = found
        if not named:
            return 0
        now = self.clock.now()
        async with self.db() as db, db.begin():
            rooms: set[int] = set()
            for (provider, key), name in named.items():
                changed = await db.execute(
                    update(ProviderEventRow)
                    .where(
                        ProviderEventRow.provider == provider,
                        ProviderEventRow.dedupe_key == key[:300],
                        ProviderEventRow.participant_name.is_(None),
                    )
                    .values(participant_name=name[:300])
                    .returning(ProviderEventRow.room_id)
                )
                rooms |= {room for (room,) in changed if room is not None}
            if rooms:
                cards = await db.execute(
                    select(m.Session.event_id, m.Session.id)
                    .join(m.Room, m.Room.session_id == m.Session.id)
                    .where(m.Room.id.in_(rooms))
                )
                await note(db, [(event, session) for event, session in cards], "names", now)
        return len(named)

    async def _lookup(self, provider: str, details: Mapping[str, str]) -> str | None:
        participant = details.get("participant", "")
        known = self._names.get((provider, participant))
        if known is not None:
            self._names.move_to_end((provider, participant))
            return known
        try:
            found = await self.registry.get(provider).who(details)
        except (ProviderError, NotConfigured) as error:
            log.warning("naming a %s participant failed: %s", provider, error)
            return None
        if found is None or not found.display_name:
            return None
        self._names[(provider, participant)] = found.display_name
        if len(self._names) > REMEMBERED:
            self._names.popitem(last=False)
        return found.display_name
