"""`/calendar/{token}.ics`: a person's subscribable calendar of their live sessions."""

from __future__ import annotations

import hashlib

from aiohttp import web
from sqlalchemy import select

from calendars import ics

from .. import appkeys
from ..db import models as m
from ..db.replays import Replay
from ..mail.invites import build_entry, load_seats
from .errors import names_nothing

routes = web.RouteTableDef()

# Clients poll; tell them an hour is enough (the calendar also says so in REFRESH-INTERVAL).
CACHE_CONTROL = "private, max-age=3600"


@routes.get("/calendar/{token}.ics")
async def calendar_feed(request: web.Request) -> web.Response:
    app = request.app
    token = request.match_info["token"]
    async with app[appkeys.DB]() as db:
        person = None
        if not names_nothing(token):
            person = await db.scalar(
                select(m.Person).where(m.Person.feed_token == token, m.Person.removed_at.is_(None))
            )
        if person is None:
            raise web.HTTPNotFound(text="No calendar here: the link is unknown or no longer valid.")
        event = await db.get_one(m.Event, person.event_id)
        sessions = (
            await db.scalars(
                select(m.Session)
                .join(m.Attendee, m.Attendee.session_id == m.Session.id)
                .where(
                    m.Attendee.person_id == person.id,
                    m.Attendee.removed_at.is_(None),
                    m.Session.cancelled_at.is_(None),
                )
                .order_by(m.Session.starts_at, m.Session.id)
            )
        ).all()
        seats = await load_seats(db, [session.id for session in sessions])
        replays = {
            session_id: url
            for session_id, url in await db.execute(
                select(Replay.session_id, Replay.url)
                .where(
                    Replay.session_id.in_([session.id for session in sessions]),
                    Replay.valid_until.is_(None),
                )
                .order_by(Replay.added_at)
            )
        }
    base = app[appkeys.SETTINGS].base_url
    writer = app[appkeys.WRITER]
    entries = [
        build_entry(
            writer,
            base,
            event,
            session,
            seats[session.id],
            next(seat for seat in seats[session.id] if seat.person_id == person.id),
            replay_url=replays.get(session.id),
        )
        for session in sessions
    ]
    body = ics.feed(entries, name=f"{event.title} — {person.name}")
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {
        "ETag": etag,
        "Cache-Control": CACHE_CONTROL,
        "Content-Disposition": 'inline; filename="rdv.ics"',
    }
    if etag in request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers=headers)
    return web.Response(body=body, content_type="text/calendar", charset="utf-8", headers=headers)
