"""A personal join link's visit: the seat its token opens, whether the session's window lets it
in now, and where a finished session's replay is (the click itself goes to `clicks.py`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from integrations.base import Role

from ..db import models as m
from ..db.base import names_nothing
from ..db.replays import Replay
from ..db.states import RoomState
from ..replays.links import followable

MODERATOR_KINDS = ("buyer", "organiser")

# What a visit reads of each of its rows, as plain values (see Visit).


@dataclass(frozen=True, slots=True)
class LinkAttendee:
    id: int
    token: str
    role: str


@dataclass(frozen=True, slots=True)
class LinkPerson:
    name: str
    email: str
    locale: str | None


@dataclass(frozen=True, slots=True)
class LinkSession:
    id: int
    event_id: int
    title: str
    kind: str
    starts_at: datetime
    ends_at: datetime
    cancelled_at: datetime | None
    streamed: bool
    stream_url: str | None

    @property
    def cancelled(self) -> bool:
        return self.cancelled_at is not None


@dataclass(frozen=True, slots=True)
class LinkEvent:
    id: int
    title: str
    timezone: str
    locale: str
    organiser_name: str
    organiser_email: str


@dataclass(frozen=True, slots=True)
class LinkRoom:
    id: int
    state: RoomState
    provider: str
    room_key: str
    provider_data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Visit:
    """Everything a join page needs about the link's owner and their session: plain values read
    in one statement, not ORM objects (loading the five rows through the ORM was about half of a
    click's CPU at a slot's start, measured)."""

    attendee: LinkAttendee
    person: LinkPerson
    session: LinkSession
    event: LinkEvent
    room: LinkRoom
    organisation_kind: str | None

    @property
    def locale(self) -> str:
        return self.person.locale or self.event.locale

    @property
    def role(self) -> Role:
        """Speakers and organisers moderate; in a meeting the buyer does too."""
        kinds = ("organiser",) if self.session.kind == "plenary" else MODERATOR_KINDS
        moderator = self.attendee.role == "speaker" or self.organisation_kind in kinds
        return Role.MODERATOR if moderator else Role.PARTICIPANT


_ATTENDEE = (m.Attendee.id, m.Attendee.token, m.Attendee.role)
_PERSON = (m.Person.name, m.Person.email, m.Person.locale)
_SESSION = (
    m.Session.id,
    m.Session.event_id,
    m.Session.title,
    m.Session.kind,
    m.Session.starts_at,
    m.Session.ends_at,
    m.Session.cancelled_at,
    m.Session.streamed,
    m.Session.stream_url,
)
_EVENT = (
    m.Event.id,
    m.Event.title,
    m.Event.timezone,
    m.Event.locale,
    m.Event.organiser_name,
    m.Event.organiser_email,
)
_ROOM = (m.Room.id, m.Room.state, m.Room.provider, m.Room.room_key, m.Room.provider_data)
_VISIT = (
    select(*_ATTENDEE, *_PERSON, *_SESSION, *_EVENT, *_ROOM, m.Organisation.kind)
    .join(m.Person, m.Person.id == m.Attendee.person_id)
    .join(m.Session, m.Session.id == m.Attendee.session_id)
    .join(m.Event, m.Event.id == m.Session.event_id)
    .join(m.Room, m.Room.session_id == m.Session.id)
    .outerjoin(m.Organisation, m.Organisation.id == m.Person.organisation_id)
    .where(
        m.Attendee.removed_at.is_(None),
        m.Person.removed_at.is_(None),
        m.Attendee.token == bindparam("token"),
    )
)


async def find_visit(db: AsyncSession, token: str) -> Visit | None:
    """The live seat a token opens, or None (unknown token, removed person or attendee)."""
    if names_nothing(token):
        return None
    # Built once, the token bound: SQLAlchemy keys its statement cache by the statement's
    # shape, and working that key out again for a new statement took 0.3 ms of a click's CPU.
    row = (await db.execute(_VISIT, {"token": token})).first()
    if row is None:
        return None
    values = iter(row)

    def take(columns: tuple[Any, ...]) -> list[Any]:
        return [next(values) for _ in columns]

    return Visit(
        LinkAttendee(*take(_ATTENDEE)),
        LinkPerson(*take(_PERSON)),
        LinkSession(*take(_SESSION)),
        LinkEvent(*take(_EVENT)),
        LinkRoom(*take(_ROOM)),
        next(values),
    )


def closed_state(visit: Visit, now: datetime, join_early: timedelta) -> str | None:
    """Why the link cannot open the room now (cancelled, early, ended), or None."""
    session = visit.session
    if session.cancelled:
        return "cancelled"
    if now < session.starts_at - join_early:
        return "early"
    if now >= session.ends_at:
        return "ended"
    return None


async def replay_url(db: AsyncSession, session_id: int, now: datetime) -> str | None:
    """The session's replay to send people to: the newest one still valid that may be followed."""
    found = await db.scalars(
        select(Replay.url)
        .where(
            Replay.session_id == session_id,
            or_(Replay.valid_until.is_(None), Replay.valid_until > now),
        )
        .order_by(Replay.valid_until.is_(None).desc(), Replay.added_at.desc())
    )
    return next((url for url in found if followable(url)), None)
