"""`/api/v1/events/{slug}/replays` and `/sessions/{key}/replays`: the replay archive."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from .. import appkeys
from ..db import models as m
from ..db.replays import Replay
from ..program.fields import control_character
from ..replays.archive import NewReplay, add_replay, replay_dict
from ..replays.links import ReplayExists, ReplayRefused
from .auth import require_grant
from .errors import ApiError, names_nothing, read_json_object

routes = web.RouteTableDef()


@routes.get("/api/v1/events/{slug}/replays")
async def list_replays(request: web.Request) -> web.Response:
    slug = request.match_info["slug"]
    require_grant(request, slug)
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
    return web.json_response({"replays": [replay_dict(replay, key) for replay, key in rows]})


@routes.post("/api/v1/events/{slug}/sessions/{key}/replays")
async def post_replay(request: web.Request) -> web.Response:
    slug, key = request.match_info["slug"], request.match_info["key"]
    require_grant(request, slug, write=True)
    body = await read_json_object(request)
    unknown = sorted(set(body) - {"url", "title", "kind"})
    if unknown:
        raise ApiError(400, f"unknown fields: {', '.join(unknown)} (allowed: url, title, kind)")
    url, title, kind = body.get("url"), body.get("title"), body.get("kind", "stream")
    if not isinstance(url, str) or (title is not None and not isinstance(title, str)):
        raise ApiError(400, "url (and title, when given) must be text")
    if kind not in ("stream", "recording"):
        raise ApiError(400, "kind must be stream or recording")
    if title is not None and (bad := control_character(title)):
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
                NewReplay(url=url, kind=kind, title=title),
                now=app[appkeys.CLOCK].now(),
                settings=app[appkeys.SETTINGS],
                writer=app[appkeys.WRITER],
            )
        except ReplayRefused as error:
            status = 409 if isinstance(error, ReplayExists) else 422
            raise ApiError(status, str(error), code="replay_refused") from None
        answer = replay_dict(replay, key)
    app[appkeys.OUTBOX].wake()
    return web.json_response({"replay": answer, "replay_mail_queued": mailed}, status=201)
