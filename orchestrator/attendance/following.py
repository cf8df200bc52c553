"""Subscriptions to rooms' events, for providers that send a room's events only to whoever
subscribed to that room, for a limited time (Microsoft Graph, Google's Workspace Events).

Every open room of such a provider is followed pass after pass, from the moment it exists until
it closes: the provider subscribes the first time and renews before expiry (what it keeps, the
subscription and its expiry, is merged into the room's data). What the provider said of a
subscription (removed, missed, reauthorization needed) arrives as an event of kind `other`
with an `alarm`; the next pass hands the room's new alarms to the provider, which acts at once.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from integrations.base import NotConfigured, ProviderError, Room
from integrations.following import subscription_of

from ..clock import Clock
from ..db import models as m
from ..db.attendance import ProviderEventRow
from ..db.locks import exclusive
from ..providers import ProviderRegistry
from ..settings import Settings

log = logging.getLogger("rdv.attendance")
OPEN = ("ready", "live")
LATE = timedelta(days=1)  # alarms that named no room are looked for this far back


class RoomFollower:
    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        registry: ProviderRegistry,
        clock: Clock,
        settings: Settings,
    ) -> None:
        self.db, self.registry, self.clock, self.settings = db, registry, clock, settings

    def _following(self, name: str) -> bool:
        try:
            return self.registry.get(name).follows_rooms
        except NotConfigured:
            return False

    async def follow(self) -> int:
        """One pass over the open rooms; returns how many subscriptions were made or renewed."""
        now = self.clock.now()
        async with self.db() as db:
            rows = [
                row
                for row in await db.execute(
                    select(
                        m.Room.id,
                        m.Room.room_key,
                        m.Room.provider_data,
                        m.Room.provisioned_with,
                        m.Session.ends_at,
                    )
                    .join(m.Session, m.Session.id == m.Room.session_id)
                    .where(
                        m.Room.state.in_(OPEN),
                        m.Room.provisioned_with.is_not(None),
                        # Not while the lifecycle is closing it: its subscription ends there.
                        or_(m.Room.lease_until.is_(None), m.Room.lease_until < now),
                    )
                )
                if self._following(row.provisioned_with)
            ]
            alarms = await _alarms(db, rows, now)
        changed = 0
        for row in rows:
            data = dict(row.provider_data or {})
            provider = self.registry.get(row.provisioned_with)
            said = alarms.get(row.id, [])
            try:
                kept = await provider.follow(
                    Room(row.room_key, data),
                    f"{self.settings.base_url}/webhooks/{row.provisioned_with}",
                    until=row.ends_at + self.settings.close_grace,
                    now=now,
                    alarms=[alarm for _, alarm in said],
                )
            except ProviderError as error:
                log.warning("following room %s failed: %s", row.room_key, error)
                continue
            if kept is None and not said:
                continue
            heard = max((at for at, _ in said), default=None)
            merged = {**data, **(kept or {})}
            if heard is not None:
                merged["alarms_heard"] = heard.isoformat()
            async with self.db() as db, db.begin():
                await db.execute(
                    update(m.Room)
                    .where(m.Room.id == row.id, m.Room.state.in_(OPEN))
                    .values(provider_data=merged)
                )
            changed += kept is not None
        return changed

    async def follow_once(self) -> None:
        """`follow`, on one instance at a time."""
        async with exclusive(self.db, "follow") as mine:
            if mine:
                await self.follow()


async def _alarms(
    db: AsyncSession, rows: list[Any], now: datetime
) -> dict[int, list[tuple[datetime, str]]]:
    """Each room's alarms received since the last pass that heard its alarms: those stored in
    the room, and those that named no room but the subscription the room keeps."""
    heard = {row.id: _moment((row.provider_data or {}).get("alarms_heard")) for row in rows}
    if not heard:
        return {}
    kept = {name: row.id for row in rows if (name := subscription_of(row.provider_data or {}))}
    found: dict[int, list[tuple[datetime, str]]] = defaultdict(list)
    for room_id, received_at, details in await db.execute(
        select(ProviderEventRow.room_id, ProviderEventRow.received_at, ProviderEventRow.details)
        .where(
            or_(
                ProviderEventRow.room_id.in_(heard),
                and_(ProviderEventRow.room_id.is_(None), ProviderEventRow.received_at > now - LATE),
            ),
            ProviderEventRow.kind == "other",
        )
        .order_by(ProviderEventRow.received_at)
    ):
        said = details if isinstance(details, dict) else {}
        room = room_id if room_id is not None else kept.get(str(said.get("subscription")))
        alarm = said.get("alarm")
        if alarm and room is not None and received_at > heard[room]:
            found[room].append((received_at, str(alarm)))
    return found


def _moment(value: object) -> datetime:
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
