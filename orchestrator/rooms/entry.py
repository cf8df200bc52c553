"""How people get into a room: a seat through its personal link, an organiser as moderator from
the dashboard, and the page of our own for providers whose rooms have no web client (the
provider says what that page needs). Each asks the provider for its own short-lived entry."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from integrations.base import JoinPage, JoinRequest, ProviderError, Role, Room, Seat

from ..db import models as m
from ..db.base import names_nothing
from ..db.states import RoomState
from ..participants.visits import LinkRoom, Visit
from ..providers import ProviderRegistry
from ..settings import Settings
from .lifecycle import RoomLifecycle, ensure_ready, seat_of

OPEN = (RoomState.READY, RoomState.LIVE)  # a room people can be sent into as it stands


class CannotOpen(Exception):
    """The room cannot be opened from the dashboard now; the message says why."""


class NotYet(CannotOpen):
    """The room is not open yet and would open on the organiser's word only (a POST from the
    dashboard): a link followed from elsewhere must not create rooms hours early."""

    def __init__(self, title: str, opens_at: datetime) -> None:
        super().__init__("this room is not open yet: open it from the dashboard")
        self.title, self.opens_at = title, opens_at


def seat_request(visit: Visit, room: m.Room | LinkRoom, settings: Settings) -> JoinRequest:
    """What the provider needs to let this seat in, for as long as its window lasts."""
    session = visit.session
    return JoinRequest(
        room=Room(room.room_key, room.provider_data),
        seat=seat_of(visit.attendee.id, visit.attendee.token),
        display_name=visit.person.name,
        email=visit.person.email,
        role=visit.role,
        not_before=session.starts_at - settings.join_early,
        expires_at=session.ends_at + settings.close_grace,
    )


async def seat_url(
    db: async_sessionmaker[AsyncSession],
    providers: ProviderRegistry,
    visit: Visit,
    settings: Settings,
    now: datetime,
) -> str | None:
    """The provider's URL that puts this seat into its room, or None when the provider fails.
    A room the visit found open is used as read; one opened since is read again, for what its
    provider made."""
    room: m.Room | LinkRoom = visit.room
    if room.state not in OPEN:
        async with db() as session:
            room = await session.get_one(m.Room, visit.room.id)
    try:
        provider = providers.get(room.provider)
        return await provider.join_url(seat_request(visit, room, settings), now=now)
    except ProviderError:
        return None


async def seat_page(
    db: async_sessionmaker[AsyncSession],
    providers: ProviderRegistry,
    visit: Visit,
    settings: Settings,
) -> tuple[JoinPage, m.Room] | None:
    """What our own join page shows this seat, for a room whose provider has no web client of its
    own; None for rooms of other providers (their links never lead here)."""
    try:
        provider = providers.get(visit.room.provider)
    except ProviderError:
        return None
    if provider.has_own_client:
        return None
    async with db() as session:
        room = await session.get_one(m.Room, visit.room.id)
    return provider.join_page_for(seat_request(visit, room, settings)), room


async def organiser_url(
    lifecycle: RoomLifecycle,
    providers: ProviderRegistry,
    slug: str,
    key: str,
    settings: Settings,
    now: datetime,
    *,
    open_now: bool,
) -> str | None:
    """The URL that drops the event's organiser into a session's room as a moderator; None when
    the event has no such session. A room not yet open is opened only `open_now` (the organiser
    asked from the dashboard) or within its lead time (RDV_ROOM_LEAD), when the timers open it
    anyway; `NotYet` otherwise. `CannotOpen` when the room cannot be opened now, and the
    provider's own error when it fails."""
    if names_nothing(key):
        return None
    async with lifecycle.db() as db:
        row = (
            await db.execute(
                select(m.Session, m.Room, m.Event)
                .join(m.Room, m.Room.session_id == m.Session.id)
                .join(m.Event, m.Event.id == m.Session.event_id)
                .where(m.Event.slug == slug, m.Session.key == key)
            )
        ).first()
    if row is None:
        return None
    session, room, event = row
    if session.cancelled or not organisers_can_open(providers, room.provider):
        raise CannotOpen("this room cannot be opened from the dashboard now")
    opens_at = session.starts_at - settings.room_lead
    if not open_now and now < opens_at and room.state not in OPEN:
        raise NotYet(session.title, opens_at)
    if not await ensure_ready(lifecycle, room.id):
        raise CannotOpen("this room cannot be opened from the dashboard now")
    async with lifecycle.db() as db:
        room = await db.get_one(m.Room, room.id)
    return await providers.get(room.provider).join_url(
        JoinRequest(
            room=Room(room.room_key, room.provider_data),
            seat=Seat(seat_id=f"rdv-organiser-{event.id}", number=0, token=""),
            display_name=event.organiser_name,
            email=event.organiser_email,
            role=Role.MODERATOR,
            not_before=now,
            expires_at=session.ends_at + settings.close_grace,
        ),
        now=now,
    )


def organisers_can_open(providers: ProviderRegistry, name: str) -> bool:
    """Whether an organiser can enter this provider's rooms without a seat of their own: not
    where people join through our page, which lets in the seats of the room only."""
    try:
        return providers.get(name).has_own_client
    except ProviderError:
        return False
