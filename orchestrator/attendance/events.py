"""Provider events stored against our rooms and seats: what a participant's identity at the
provider says about which of our seats came, and the set-based insert that records a batch of
events (from webhook deliveries or from polls) with their room, seat and dashboard update."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from integrations.events import Kind, ProviderEvent, Who

from ..db import models as m
from ..db.attendance import ProviderEventRow
from ..db.updates import note
from ..db.upsert import dialect_insert

_SEAT = re.compile(r"rdv-a(\d{1,18})")
_ROW_IDS = 2**31  # attendee ids are 32-bit (PostgreSQL INTEGER refuses anything larger)


def seat_number(event: ProviderEvent, aliases: Mapping[str, str] | None = None) -> int | None:
    """The attendee row a participant came through, as our join links named it; `aliases` are a
    room's provider names for our seats (Zoom registrant ids), for providers that choose them."""
    if event.who is None:
        return None
    if event.who.seat_number is not None:
        number: int | None = event.who.seat_number
    else:
        seat = event.who.seat_id or ""
        found = _SEAT.fullmatch(aliases.get(seat, seat) if aliases else seat)
        number = int(found.group(1)) if found else None
    return number if number is not None and 0 < number < _ROW_IDS else None


async def seat_aliases(
    db: AsyncSession, events: Sequence[ProviderEvent], room_of: Callable[[ProviderEvent], Any]
) -> dict[int, Mapping[str, str]]:
    """Per room, the provider's names for our seats (`provider_data["seat_ids"]`), read only for
    rooms with events naming a seat in a way our links do not."""
    wanted = {
        room[0]
        for event in events
        if event.who
        and event.who.seat_id
        and not _SEAT.fullmatch(event.who.seat_id)
        and (room := room_of(event))
    }
    if not wanted:
        return {}
    rows = await db.execute(select(m.Room.id, m.Room.provider_data).where(m.Room.id.in_(wanted)))
    found: dict[int, Mapping[str, str]] = {}
    for room_id, data in rows:
        names = data.get("seat_ids") if isinstance(data, dict) else None
        if isinstance(names, dict):
            found[room_id] = {str(k): str(v) for k, v in names.items()}
    return found


def _seat_ref(who: Who | None) -> str | None:
    """What the participant came with, as far as the column holds it (our seats are short)."""
    if who is None:
        return None
    seat = who.seat_id or (str(who.seat_number) if who.seat_number else None)
    return seat[:100] if seat else None


def room_ref(event: ProviderEvent) -> str | None:
    if event.room.number is not None:
        return str(event.room.number)
    return event.room.key.lower() if event.room.key else None


async def record_events(
    db: AsyncSession,
    provider: str,
    events: Sequence[ProviderEvent],
    now: datetime,
    *,
    delivery_id: int | None = None,
    source: str = "webhook",
    room_id: int | None = None,
) -> int:
    """Stores events in the caller's transaction, and notes the dashboard cards they change;
    returns how many were new. `room_id` puts every event in that room (a poll knows which room
    it asked); otherwise each event's room is found from how the provider names it."""
    items = [(event, delivery_id) for event in events]
    new, cards = await record_many(db, provider, items, now, source=source, room_id=room_id)
    await note(db, cards, source, now)
    return sum(new.values())


async def record_many(
    db: AsyncSession,
    provider: str,
    items: Sequence[tuple[ProviderEvent, int | None]],
    now: datetime,
    *,
    source: str = "webhook",
    room_id: int | None = None,
) -> tuple[Counter[int | None], set[tuple[int, int | None]]]:
    """`record_events` for events of several deliveries at once (each with its delivery id):
    how many were new per delivery, and the (event, session) cards they change, which the caller
    notes last in its transaction (see `note`)."""
    if not items:
        return Counter(), set()
    events = [event for event, _ in items]
    columns = select(
        m.Room.id, m.Room.external_id, m.Room.session_id, m.Room.state, m.Session.event_id
    ).join(m.Session, m.Session.id == m.Room.session_id)
    if room_id is not None:
        row = (await db.execute(columns.where(m.Room.id == room_id))).one()
        rooms = {
            room_ref(event): (row.id, row.session_id, row.state, row.event_id) for event in events
        }
    else:
        refs = {ref for event in events if (ref := room_ref(event)) is not None}
        rooms = (
            {
                external: (found, session_id, state, event_id)
                for found, external, session_id, state, event_id in await db.execute(
                    columns.where(m.Room.external_id.in_(refs))
                )
            }
            if refs
            else {}
        )

    def room_of(event: ProviderEvent) -> Any:
        ref = room_ref(event)
        return rooms.get(ref) if ref else None

    aliases = await seat_aliases(db, events, room_of)

    def seat_of(event: ProviderEvent) -> int | None:
        room = room_of(event)
        return seat_number(event, aliases.get(room[0]) if room else None)

    numbers = {number for event in events if (number := seat_of(event)) is not None}
    seats: dict[int, int] = (
        {
            attendee_id: session_id
            for attendee_id, session_id in await db.execute(
                select(m.Attendee.id, m.Attendee.session_id).where(m.Attendee.id.in_(numbers))
            )
        }
        if numbers
        else {}
    )
    rows = []
    live: set[int] = set()
    for event, delivery_id in items:
        ref = room_ref(event)
        room = rooms.get(ref) if ref else None
        number = seat_of(event)
        attendee = number if number is not None and room and seats.get(number) == room[1] else None
        if room and event.kind is Kind.JOINED and room[2] == "ready":
            live.add(room[0])
        who = event.who
        rows.append(
            {
                "delivery_id": delivery_id,
                "provider": provider,
                "source": source,
                "dedupe_key": event.dedupe_key[:300],
                "kind": event.kind.value,
                "at": event.at,
                "received_at": now,
                "room_id": room[0] if room else None,
                "room_ref": ref[:200] if ref else None,  # longer names match none of our rooms
                "attendee_id": attendee,
                "connection": who.connection[:300] if who else None,
                "participant_name": (who.name or "")[:300] or None if who else None,
                "participant_email": (who.email or "")[:300] or None if who else None,
                "seat_ref": _seat_ref(who),
                "details": dict(event.details),
            }
        )
    inserted = await db.execute(
        dialect_insert(db, ProviderEventRow)
        .on_conflict_do_nothing(index_elements=["provider", "dedupe_key"])
        .returning(ProviderEventRow.__table__.c.delivery_id),
        rows,
    )
    new = Counter(delivery for (delivery,) in inserted)
    if live:
        await db.execute(
            update(m.Room).where(m.Room.id.in_(live), m.Room.state == "ready").values(state="live")
        )
    return new, {(room[3], room[1]) for room in rooms.values()} if new else set()
