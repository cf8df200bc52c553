"""`/api/v1/events/{slug}/rooms`: every room's state, provider and failure, and who is expected."""

from __future__ import annotations

from collections import defaultdict

from aiohttp import web
from sqlalchemy import select

from .. import appkeys
from ..db import models as m
from .errors import ApiError
from .operations import Answer, Operations
from .replies import reply
from .schemas.common import Attendee, Role, SessionKind
from .schemas.rooms import Rooms, RoomStatus
from .views import stored_as, utc_text

api = Operations()
routes = api.routes


@api.route(
    "GET",
    "/api/v1/events/{slug}/rooms",
    "Every room: its state, provider, failure if any, and who is expected",
    responses={200: Answer(Rooms, "the rooms, in session order"), 404: "no such event"},
)
async def list_rooms(request: web.Request) -> web.Response:
    slug = request.match_info["slug"]
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
        expected: dict[int, list[Attendee]] = defaultdict(list)
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
                Attendee(key=key, name=name, organisation=organisation, role=stored_as(Role, role))
            )
    return reply(
        Rooms(
            rooms=[
                RoomStatus(
                    session=session.key,
                    title=session.title,
                    kind=stored_as(SessionKind, session.kind),
                    start=utc_text(session.starts_at),
                    end=utc_text(session.ends_at),
                    provider=room.provider,
                    state=room.state,
                    error=room.error,
                    expected=expected[session.id],
                )
                for session, room in rows
            ]
        )
    )
