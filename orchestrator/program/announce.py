"""What receivers of the outbound webhooks are told about sessions: `session.changed` for each
session a change created or changed, `session.cancelled` for each it cancelled, stored in the
change's transaction. Sessions are named by their keys, people and organisations by theirs:
never a name or an email, so an erasure has nothing to take back from what was sent."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from webhooks.outbound import moment

from ..db import models as m
from ..db.outbound import Change, emit, listening
from .changes import ChangeSet


async def sessions_data(
    db: AsyncSession, sessions: Sequence[m.Session]
) -> dict[int, dict[str, Any]]:
    """Each session as receivers see it: its key, kind, title, times (UTC) and who attends."""
    seated: dict[int, list[dict[str, Any]]] = {s.id: [] for s in sessions}
    rows = await db.execute(
        select(m.Attendee.session_id, m.Attendee.role, m.Person.key, m.Organisation.key)
        .join(m.Person, m.Person.id == m.Attendee.person_id)
        .outerjoin(m.Organisation, m.Organisation.id == m.Person.organisation_id)
        .where(m.Attendee.session_id.in_(list(seated)), m.Attendee.removed_at.is_(None))
        .order_by(m.Attendee.session_id, m.Person.key)
    )
    for session_id, role, person, organisation in rows:
        seated[session_id].append({"person": person, "organisation": organisation, "role": role})
    return {s.id: summary(s) | {"attendees": seated[s.id]} for s in sessions}


class Summarised(Protocol):
    """What a message names of a session (a stored one, or one the attendance log read)."""

    @property
    def key(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def starts_at(self) -> datetime: ...
    @property
    def ends_at(self) -> datetime: ...


def summary(session: Summarised) -> dict[str, Any]:
    """A session as every message names it: key, kind, title, times in UTC."""
    return {
        "key": session.key,
        "kind": session.kind,
        "title": session.title,
        "start": moment(session.starts_at),
        "end": moment(session.ends_at),
    }


async def announce(db: AsyncSession, event_id: int, changes: ChangeSet, now: datetime) -> int:
    """The change's session messages (only when the event has subscriptions); how many
    deliveries were stored."""
    subscribers = await listening(db, event_id)
    if not subscribers:
        return 0
    changed = {change.key: change.fields for change in changes.sessions_changed}
    keys = [*changes.sessions_created, *changed, *changes.sessions_cancelled]
    if not keys:
        return 0
    sessions = (
        await db.scalars(
            select(m.Session).where(m.Session.event_id == event_id, m.Session.key.in_(keys))
        )
    ).all()
    data = await sessions_data(db, sessions)
    by_key = {s.key: s for s in sessions}
    items: list[Change] = []
    for key in keys:
        session = by_key.get(key)
        if session is None:
            continue
        about = {"event": changes.event, "session": data[session.id]}
        if key in changes.sessions_cancelled:
            items.append(("session.cancelled", about))
        elif key in changed:
            items.append(("session.changed", about | {"change": "changed", "fields": changed[key]}))
        else:
            items.append(("session.changed", about | {"change": "created", "fields": []}))
    return await emit(db, event_id, items, now, subscribers)
