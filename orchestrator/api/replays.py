"""`/api/v1/events/{slug}/replays` and `/sessions/{key}/replays`: the replay archive."""

from __future__ import annotations

import msgspec
from aiohttp import web
from sqlalchemy import select

from .. import appkeys
from ..db import models as m
from ..db.audit import record
from ..db.base import names_nothing
from ..db.replays import Replay
from ..program.fields import control_character
from ..replays.archive import NewReplay, add_replay, replay_dict
from ..replays.links import ReplayExists, ReplayRefused
from .auth import author
from .bodies import read_struct
from .errors import ApiError
from .operations import Answer, Operations
from .replies import reply
from .schemas.replays import AddedReplay, NewReplayLink, Replays

api = Operations()
routes = api.routes


@api.route(
    "GET",
    "/api/v1/events/{slug}/replays",
    "The replay archive of the event",
    responses={200: Answer(Replays, "every replay, oldest first")},
)
async def list_replays(request: web.Request) -> web.Response:
    slug = request.match_info["slug"]
    async with request.app[appkeys.DB]() as db:
        rows = (
            await db.execute(
                select(Replay, m.Session.key)
                .join(m.Session, m.Session.id == Replay.session_id)
                .join(m.Event, m.Event.id == m.Session.event_id)
                .where(m.Event.slug == slug)
                .order_by(Replay.added_at, Replay.id)
            )
        ).all()
    answer = {"replays": [replay_dict(replay, key) for replay, key in rows]}
    return reply(msgspec.convert(answer, Replays))


@api.route(
    "POST",
    "/api/v1/events/{slug}/sessions/{key}/replays",
    "Archive a replay link (https only; YouTube links made canonical)",
    access="write",
    body=NewReplayLink,
    responses={
        201: Answer(AddedReplay, "archived; the first replay of a plenary queues the replay mail"),
        404: "no such session",
        409: "this replay is already archived",
        422: "the link is refused (not https, not a video, ...)",
    },
)
async def post_replay(request: web.Request) -> web.Response:
    slug, key = request.match_info["slug"], request.match_info["key"]
    link = await read_struct(request, NewReplayLink)
    if link.title is not None and (bad := control_character(link.title)):
        raise ApiError(
            422, f"the title contains a control character ({bad})", code="replay_refused"
        )
    if names_nothing(key):
        raise ApiError(404, f'no session "{key}" in "{slug}"')
    app = request.app
    async with app[appkeys.DB]() as db, db.begin():
        session = await db.scalar(
            select(m.Session)
            .join(m.Event, m.Event.id == m.Session.event_id)
            .where(m.Event.slug == slug, m.Session.key == key)
        )
        if session is None:
            raise ApiError(404, f'no session "{key}" in "{slug}"')
        try:
            replay, mailed = await add_replay(
                db,
                session,
                NewReplay(url=link.url, kind=link.kind, title=link.title),
                now=app[appkeys.CLOCK].now(),
                settings=app[appkeys.SETTINGS],
                writer=app[appkeys.WRITER],
            )
        except ReplayRefused as error:
            status = 409 if isinstance(error, ReplayExists) else 422
            raise ApiError(status, str(error), code="replay_refused") from None
        who = author(request)
        await record(
            db,
            event_id=session.event_id,
            at=app[appkeys.CLOCK].now(),
            actor=who.actor,
            source=who.source,
            action="replay.add",
            subject=key,
            details={"url": replay.url, "mailed": mailed},
        )
        answer = {"replay": replay_dict(replay, key), "replay_mail_queued": mailed}
    app[appkeys.OUTBOX].wake()
    return reply(msgspec.convert(answer, AddedReplay), 201)
