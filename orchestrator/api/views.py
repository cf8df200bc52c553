"""The event as the API shows it, built from the database into its Structs."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..db import models as m
from .schemas.common import (
    AnswerSource,
    Attendee,
    OrganisationKind,
    Role,
    SeatAnswer,
    SessionKind,
)
from .schemas.events import Event, Locale, Organisation, Organiser, Room, Session


def utc_text(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def stored_as(vocabulary: Any, stored: str) -> Any:
    """Stored text checked against the vocabulary the description promises (a stored value
    outside it fails here, in the tests, instead of in a client)."""
    return msgspec.convert(stored, vocabulary)


async def event_view(db: AsyncSession, slug: str, default_provider: str) -> Event | None:
    """The event, its sessions (cancelled ones included, marked) with attendees and rooms."""
    event = await db.scalar(select(m.Event).where(m.Event.slug == slug))
    if event is None:
        return None
    zone = ZoneInfo(event.timezone)
    people = {
        row.id: row
        for row in await db.execute(
            select(
                m.Person.id,
                m.Person.key,
                m.Person.name,
                m.Person.removed_at,
                m.Organisation.key.label("org"),
            )
            .outerjoin(m.Organisation, m.Organisation.id == m.Person.organisation_id)
            .where(m.Person.event_id == event.id)
        )
    }
    rows = (
        await db.execute(
            select(m.Session, m.Room)
            .join(m.Room, m.Room.session_id == m.Session.id)
            .where(m.Session.event_id == event.id)
            .order_by(m.Session.starts_at, m.Session.key)
        )
    ).all()
    attendees: dict[int, list[Attendee]] = defaultdict(list)
    for session_id, person_id, role, answer, answered_at, source, reason in await db.execute(
        select(
            m.Attendee.session_id,
            m.Attendee.person_id,
            m.Attendee.role,
            m.Attendee.answer,
            m.Attendee.answered_at,
            m.Attendee.answer_source,
            m.Attendee.answer_reason,
        )
        .join(m.Session, m.Session.id == m.Attendee.session_id)
        .where(m.Session.event_id == event.id, m.Attendee.removed_at.is_(None))
        .order_by(m.Attendee.id)
    ):
        person = people[person_id]
        attendees[session_id].append(
            Attendee(
                key=person.key,
                name=person.name,
                organisation=person.org,
                role=stored_as(Role, role),
                answer=stored_as(SeatAnswer, answer),
                answered_at=utc_text(answered_at) if answered_at else None,
                answer_source=stored_as(AnswerSource, source) if source else None,
                answer_reason=reason,
            )
        )
    organisations = (
        await db.execute(
            select(m.Organisation.key, m.Organisation.name, m.Organisation.kind)
            .where(m.Organisation.event_id == event.id, m.Organisation.removed_at.is_(None))
            .order_by(m.Organisation.id)
        )
    ).all()
    return Event(
        slug=event.slug,
        title=event.title,
        timezone=event.timezone,
        locale=stored_as(Locale, event.locale),
        organiser=Organiser(name=event.organiser_name, email=event.organiser_email),
        provider=event.provider or default_provider,
        organisations=[
            Organisation(key=key, name=name, kind=stored_as(OrganisationKind, kind))
            for key, name, kind in organisations
        ],
        people_count=sum(1 for person in people.values() if person.removed_at is None),
        sessions=[
            session_view(session, room, zone, attendees[session.id]) for session, room in rows
        ],
    )


def session_view(
    session: m.Session, room: m.Room, zone: ZoneInfo, attendees: list[Attendee]
) -> Session:
    return Session(
        key=session.key,
        kind=stored_as(SessionKind, session.kind),
        title=session.title,
        start=utc_text(session.starts_at),
        end=utc_text(session.ends_at),
        local_start=session.starts_at.astimezone(zone).isoformat(),
        local_end=session.ends_at.astimezone(zone).isoformat(),
        status="cancelled" if session.cancelled else "scheduled",
        sequence=session.sequence,
        stream_url=session.stream_url,
        attendees=attendees,
        room=Room(provider=room.provider, state=room.state, error=room.error),
    )
