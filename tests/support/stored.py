"""What an import stored for one event, read back from the database: what tests compare when two
forms of a program must give the same event."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from orchestrator.db import models as m


async def event_content(db: async_sessionmaker[AsyncSession], slug: str) -> dict[str, Any]:
    """What an import stored for one event, without ids, tokens and the slug itself."""
    async with db() as session:
        event = await session.scalar(select(m.Event).where(m.Event.slug == slug))
        assert event is not None, f"no event {slug}"
        organisations = await session.execute(
            select(m.Organisation.key, m.Organisation.name, m.Organisation.kind).where(
                m.Organisation.event_id == event.id, m.Organisation.removed_at.is_(None)
            )
        )
        people = await session.execute(
            select(m.Person.key, m.Person.name, m.Person.email, m.Organisation.key, m.Person.locale)
            .outerjoin(m.Organisation, m.Organisation.id == m.Person.organisation_id)
            .where(m.Person.event_id == event.id, m.Person.removed_at.is_(None))
        )
        sessions = await session.execute(
            select(
                m.Session.key,
                m.Session.kind,
                m.Session.title,
                m.Session.starts_at,
                m.Session.ends_at,
                m.Session.provider,
                m.Session.stream_url,
                m.Session.sequence,
                m.Session.cancelled_at.is_(None),
                m.Room.provider,
                m.Room.state,
            )
            .outerjoin(m.Room, m.Room.session_id == m.Session.id)
            .where(m.Session.event_id == event.id)
        )
        attendee = aliased(m.Person)
        attendees = await session.execute(
            select(m.Session.key, attendee.key, m.Attendee.role)
            .join(m.Attendee, m.Attendee.session_id == m.Session.id)
            .join(attendee, attendee.id == m.Attendee.person_id)
            .where(m.Session.event_id == event.id, m.Attendee.removed_at.is_(None))
        )
        expected: dict[str, set[tuple[str, str]]] = {}
        for session_key, person_key, role in attendees:
            expected.setdefault(session_key, set()).add((person_key, role))
        return {
            "event": (
                event.title,
                event.timezone,
                event.locale,
                event.organiser_name,
                event.organiser_email,
                event.provider,
            ),
            "organisations": sorted(tuple(row) for row in organisations),
            "people": sorted(tuple(row) for row in people),
            "sessions": sorted(tuple(row) for row in sessions),
            "attendees": expected,
        }
