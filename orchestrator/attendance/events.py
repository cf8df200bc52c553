"""Provider events stored against our rooms and seats: what a participant's identity at the
provider says about which of our seats came, and the set-based insert that records a batch of
events (from webhook deliveries or from polls) with their room, seat and dashboard update."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Integer, Select, String, and_, any_, bindparam, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from integrations.events import Kind, ProviderEvent, Who

from ..db import models as m
from ..db.attendance import ProviderEventRow
from ..db.updates import note
from ..db.upsert import ManyRows, table

_SEAT = re.compile(r"rdv-a(\d{1,18})")
_ROOMS = table(m.Room).c
_SESSIONS = table(m.Session).c
_SEATS = table(m.Attendee).c


def _room_columns(postgres: bool) -> Select[Any]:
    """Rooms with their session's event and those of the seats asked for that are theirs. On
    PostgreSQL the seats are one array (`= ANY`), so the statement's text, which the server
    prepares, is the same for any number of them; SQLite gets a list."""
    seats = (
        _SEATS.id == any_(bindparam("seats", type_=ARRAY(Integer())))
        if postgres
        else _SEATS.id.in_(bindparam("seats", expanding=True))
    )
    return (
        select(
            _ROOMS.id,
            _ROOMS.external_id,
            _ROOMS.session_id,
            _ROOMS.state,
            _SESSIONS.event_id,
            _SEATS.id.label("seat"),
        )
        .join(table(m.Session), _SESSIONS.id == _ROOMS.session_id)
        .outerjoin(table(m.Attendee), and_(_SEATS.session_id == _ROOMS.session_id, seats))
    )


# Built once: the statement cache then skips building and compiling them for every batch.
_ROOMS_BY_REF = {
    False: _room_columns(False).where(_ROOMS.external_id.in_(bindparam("refs", expanding=True))),
    True: _room_columns(True).where(
        _ROOMS.external_id == any_(bindparam("refs", type_=ARRAY(String())))
    ),
}
_ROOM_BY_ID = {
    postgres: _room_columns(postgres).where(_ROOMS.id == bindparam("room"))
    for postgres in (False, True)
}
_EVENTS = ManyRows(
    ProviderEventRow,
    (
        "delivery_id",
        "provider",
        "source",
        "dedupe_key",
        "kind",
        "at",
        "received_at",
        "room_id",
        "room_ref",
        "attendee_id",
        "connection",
        "participant_name",
        "participant_email",
        "seat_ref",
        "details",
    ),
    unique=("provider", "dedupe_key"),
    returning=(table(ProviderEventRow).c.delivery_id,),
)


class _RoomRow(NamedTuple):
    id: int
    session_id: int
    state: str
    event_id: int


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
    # The seats our links name are looked up with the rooms: one statement for the batch.
    direct = sorted({n for event in events if (n := seat_number(event)) is not None})
    found: Iterable[Any] = ()
    postgres = db.get_bind().dialect.name == "postgresql"
    if room_id is not None:
        found = await db.execute(_ROOM_BY_ID[postgres], {"room": room_id, "seats": direct})
    else:
        refs = sorted({ref for event in events if (ref := room_ref(event)) is not None})
        if refs:
            found = await db.execute(_ROOMS_BY_REF[postgres], {"refs": refs, "seats": direct})
    rooms: dict[str | None, _RoomRow] = {}
    seated: set[tuple[int, int]] = set()
    for row in found:
        rooms[row.external_id] = _RoomRow(row.id, row.session_id, row.state, row.event_id)
        if row.seat is not None:
            seated.add((row.id, row.seat))
    if room_id is not None:  # every event is in the room that was asked
        rooms = {room_ref(event): room for event in events for room in rooms.values()}

    def room_of(event: ProviderEvent) -> _RoomRow | None:
        ref = room_ref(event)
        return rooms.get(ref) if ref else None

    aliases = await seat_aliases(db, events, room_of)
    if aliases:  # seats named the provider's way (Zoom registrants): checked against their rooms
        named = {
            (room.id, n)
            for event in events
            if (room := room_of(event)) and room.id in aliases
            if (n := seat_number(event, aliases[room.id])) is not None
        }
        if named:
            sessions_of = {room.id: room.session_id for room in rooms.values()}
            checked = await db.execute(
                select(m.Attendee.id, m.Attendee.session_id).where(
                    m.Attendee.id.in_({n for _, n in named})
                )
            )
            session_of_seat = {seat: session for seat, session in checked}
            seated |= {(r, n) for r, n in named if session_of_seat.get(n) == sessions_of[r]}

    def seat_of(event: ProviderEvent) -> int | None:
        room = room_of(event)
        return seat_number(event, aliases.get(room.id) if room else None)

    rows = []
    live: set[int] = set()
    for event, delivery_id in items:
        ref = room_ref(event)
        room = rooms.get(ref) if ref else None
        number = seat_of(event)
        attendee = number if room and (room.id, number) in seated else None
        if room and event.kind is Kind.JOINED and room.state == "ready":
            live.add(room.id)
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
                "room_id": room.id if room else None,
                "room_ref": ref[:200] if ref else None,  # longer names match none of our rooms
                "attendee_id": attendee,
                "connection": who.connection[:300] if who else None,
                "participant_name": (who.name or "")[:300] or None if who else None,
                "participant_email": (who.email or "")[:300] or None if who else None,
                "seat_ref": _seat_ref(who),
                "details": dict(event.details),
            }
        )
    inserted = await _EVENTS.insert(db, rows)
    new = Counter(delivery for (delivery,) in inserted)
    if live:
        await db.execute(
            update(table(m.Room))
            .where(_ROOMS.id.in_(live), _ROOMS.state == "ready")
            .values(state="live")
        )
    return new, {(room.event_id, room.session_id) for room in rooms.values()} if new else set()
