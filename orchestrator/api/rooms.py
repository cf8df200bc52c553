"""`/api/v1/events/{slug}/rooms`: every room's state, provider and failure, and who is expected."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from aiohttp import web
from sqlalchemy import select

from .. import appkeys
from ..db import models as m
from .auth import require_grant
from .errors import ApiError
from .views import utc_text

routes = web.RouteTableDef()


@routes.get("/api/v1/events/{slug}/rooms")
async def list_rooms(request: web.Request) -> web.Response:
    slug = request.match_info["slug"]
    require_grant(request, slug)
    async with request.app[appkeys.DB]() as db:
        event_id = await db.scalar(select(m.Event.id).where(m.Event.slug == slug))
        if event_id is None:
            raise ApiError(404, f'no event "{slug}"')
        rows = (
            await db.execute(
                select(m.Session, m.Room)
                .join(m.Room, m.Room.session_id == m.Session.id)
                .where(m.Session.event_id == event_id)
                .order_by(m.Session.starts_at, m.Session.key)
            )
        ).all()
        expected: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for session_id, key, name, organisation, role in await db.execute(
            select(
                m.Attendee.session_id,
                m.Person.key,
                m.Person.name,
                m.Organisation.name,
                m.Attendee.role,
            )
            .join(m.Person, m.Person.id == m.Attendee.person_id)
            .outerjoin(m.Organisation, m.Organisation.id == m.Person.organisation_id)
            .join(m.Session, m.Session.id == m.Attendee.session_id)
            .where(m.Session.event_id == event_id, m.Attendee.removed_at.is_(None))
            .order_by(m.Attendee.id)
        ):
            expected[session_id].append(
                {"key": key, "name": name, "organisation": organisation, "role": role}
            )
    return web.json_response(
        {
            "rooms": [
                {
                    "session": session.key,
                    "title": session.title,
                    "kind": session.kind,
                    "start": utc_text(session.starts_at),
                    "end": utc_text(session.ends_at),
                    "provider": room.provider,
                    "state": room.state,
                    "error": room.error,
                    "expected": expected[session.id],
                }
                for session, room in rows
            ]
        }
    )
