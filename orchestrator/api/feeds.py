"""`/calendar/{token}.ics`: a person's subscribable calendar of their live sessions."""

from __future__ import annotations

import hashlib

from aiohttp import web

from calendars import ics

from .. import appkeys
from ..participants.agenda import owner_of, sessions_of
from ..participants.seats import build_entry

routes = web.RouteTableDef()

# Clients poll; tell them an hour is enough (the calendar also says so in REFRESH-INTERVAL).
CACHE_CONTROL = "private, max-age=3600"


@routes.get("/calendar/{token}.ics")
async def calendar_feed(request: web.Request) -> web.Response:
    app = request.app
    async with app[appkeys.DB]() as db:
        owner = await owner_of(db, request.match_info["token"])
        if owner is None:
            raise web.HTTPNotFound(text="No calendar here: the link is unknown or no longer valid.")
        mine = await sessions_of(db, owner.person, cancelled=False)
    base = app[appkeys.SETTINGS].base_url
    writer = app[appkeys.WRITER]
    event = owner.event
    entries = [
        build_entry(
            writer, base, event, found.session, found.seats, found.seat, replay_url=found.replay_url
        )
        for found in mine
    ]
    body = ics.feed(entries, name=f"{event.title} — {owner.person.name}")
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {
        "ETag": etag,
        "Cache-Control": CACHE_CONTROL,
        "Content-Disposition": 'inline; filename="rdv.ics"',
    }
    if etag in request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers=headers)
    return web.Response(body=body, content_type="text/calendar", charset="utf-8", headers=headers)
