"""The demo event as the simulated video provider sees it: each session's room name and the seats
in it (our attendee ids, which a join link puts into the provider's participant id)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..db import models as m


@dataclass(frozen=True, slots=True)
class Person:
    key: str
    name: str
    email: str
    organisation: str
    organisation_name: str
    kind: str  # the organisation's: company, buyer or organiser


@dataclass(frozen=True, slots=True)
class Seat:
    attendee_id: int
    person: Person
    role: str


@dataclass(frozen=True, slots=True)
class Sitting:
    """One session and its room."""

    key: str
    kind: str
    title: str
    starts_at: datetime
    ends_at: datetime
    room: str
    seats: tuple[Seat, ...]


@dataclass(frozen=True, slots=True)
class Day:
    slug: str
    title: str
    zone: ZoneInfo
    sittings: tuple[Sitting, ...]
    people: tuple[Person, ...]

    @property
    def plenary(self) -> Sitting:
        return next(s for s in self.sittings if s.kind == "plenary")

    @property
    def meetings(self) -> list[Sitting]:
        return [s for s in self.sittings if s.kind == "meeting"]


async def load_day(db: AsyncSession, slug: str) -> Day:
    """The event once its rooms are provisioned (a room without its name is an error)."""
    event = (await db.execute(select(m.Event).where(m.Event.slug == slug))).scalar_one()
    people: dict[int, Person] = {}
    for person, organisation in await db.execute(
        select(m.Person, m.Organisation)
        .join(m.Organisation, m.Organisation.id == m.Person.organisation_id)
        .where(m.Person.event_id == event.id)
        .order_by(m.Person.id)
    ):
        people[person.id] = Person(
            person.key,
            person.name,
            person.email,
            organisation.key,
            organisation.name,
            organisation.kind,
        )
    seats: dict[int, list[Seat]] = defaultdict(list)
    for attendee in await db.scalars(
        select(m.Attendee)
        .join(m.Session, m.Session.id == m.Attendee.session_id)
        .where(m.Session.event_id == event.id)
        .order_by(m.Attendee.id)
    ):
        seats[attendee.session_id].append(
            Seat(attendee.id, people[attendee.person_id], attendee.role)
        )
    sittings = []
    for session, room in await db.execute(
        select(m.Session, m.Room)
        .join(m.Room, m.Room.session_id == m.Session.id)
        .where(m.Session.event_id == event.id)
        .order_by(m.Session.starts_at, m.Session.key)
    ):
        if room.external_id is None:
            raise RuntimeError(f"the room of {session.key} is not provisioned ({room.state})")
        sittings.append(
            Sitting(
                session.key,
                session.kind,
                session.title,
                session.starts_at,
                session.ends_at,
                room.external_id,
                tuple(seats[session.id]),
            )
        )
    return Day(slug, event.title, ZoneInfo(event.timezone), tuple(sittings), tuple(people.values()))
