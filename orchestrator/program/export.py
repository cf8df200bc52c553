"""The stored event written back as a program document: the base that PATCH and DELETE edit."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..db import models as m
from . import sections


async def export_document(db: AsyncSession, slug: str) -> dict[str, Any] | None:
    """The live part of an event (no removed people, no cancelled sessions) and its meeting
    requests, times in UTC; None when there is no such event. Locks the event row against other
    changes of the event until the transaction ends (not against rows referring to it)."""
    event = await db.scalar(
        select(m.Event).where(m.Event.slug == slug).with_for_update(key_share=True)
    )
    if event is None:
        return None
    organisations = (
        await db.execute(
            select(m.Organisation.id, m.Organisation.key, m.Organisation.name, m.Organisation.kind)
            .where(m.Organisation.event_id == event.id, m.Organisation.removed_at.is_(None))
            .order_by(m.Organisation.id)
        )
    ).all()
    org_keys = {row.id: row.key for row in organisations}
    people = (
        await db.execute(
            select(
                m.Person.id,
                m.Person.key,
                m.Person.name,
                m.Person.email,
                m.Person.organisation_id,
                m.Person.locale,
            )
            .where(m.Person.event_id == event.id, m.Person.removed_at.is_(None))
            .order_by(m.Person.id)
        )
    ).all()
    person_keys = {row.id: row.key for row in people}
    sessions = (
        (
            await db.execute(
                select(m.Session)
                .where(m.Session.event_id == event.id, m.Session.cancelled_at.is_(None))
                .order_by(m.Session.starts_at, m.Session.id)
            )
        )
        .scalars()
        .all()
    )
    attendance: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for session_id, person_id, role in await db.execute(
        select(m.Attendee.session_id, m.Attendee.person_id, m.Attendee.role)
        .join(m.Session, m.Session.id == m.Attendee.session_id)
        .where(m.Session.event_id == event.id, m.Attendee.removed_at.is_(None))
        .order_by(m.Attendee.id)
    ):
        if person_id in person_keys:
            attendance[session_id].append((person_keys[person_id], role))
    return {
        "event": _drop_none(
            {
                "slug": event.slug,
                "title": event.title,
                "timezone": event.timezone,
                "locale": event.locale,
                "provider": event.provider,
                "organiser": {"name": event.organiser_name, "email": event.organiser_email},
            }
        ),
        "organisations": [
            {"key": row.key, "name": row.name, "kind": row.kind} for row in organisations
        ],
        "people": [
            _drop_none(
                {
                    "key": row.key,
                    "name": row.name,
                    "email": row.email,
                    "organisation": org_keys.get(row.organisation_id)
                    if row.organisation_id
                    else None,
                    "locale": row.locale,
                }
            )
            for row in people
        ],
        "sessions": [
            _drop_none(
                {
                    "key": session.key,
                    "kind": session.kind,
                    "title": session.title,
                    "start": session.starts_at.isoformat(),
                    "end": session.ends_at.isoformat(),
                    "attendees": [key for key, _ in attendance[session.id]],
                    "speakers": [key for key, role in attendance[session.id] if role == "speaker"],
                    "provider": session.provider,
                    "stream_url": session.stream_url,
                    "streamed": session.streamed or None,
                }
            )
            for session in sessions
        ],
        **await sections.stored(db, event.id),
    }


def _drop_none(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}
