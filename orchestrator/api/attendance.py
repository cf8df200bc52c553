"""`/api/v1/events/{slug}/attendance` (JSON or CSV) and `/report` (the key figures)."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import select

from .. import appkeys
from ..attendance.export import attendance_csv
from ..attendance.figures import key_figures
from ..attendance.log import Outcome, as_dict, attendance
from ..db import models as m
from ..replays.archive import replay_figures
from .auth import require_grant
from .errors import ApiError

routes = web.RouteTableDef()


async def outcomes_of(
    request: web.Request, slug: str, session: str | None = None
) -> tuple[m.Event, list[Outcome]]:
    app = request.app
    settings = app[appkeys.SETTINGS]
    async with app[appkeys.DB]() as db:
        event = await db.scalar(select(m.Event).where(m.Event.slug == slug))
        if event is None:
            raise ApiError(404, f'no event "{slug}"')
        outcomes = await attendance(
            db,
            event,
            now=app[appkeys.CLOCK].now(),
            marks=settings.marks,
            session_key=session,
        )
    return event, outcomes


@routes.get("/api/v1/events/{slug}/attendance")
async def get_attendance(request: web.Request) -> web.Response:
    slug = request.match_info["slug"]
    require_grant(request, slug)
    form = request.query.get("format", "json")
    if form not in ("json", "csv"):
        raise ApiError(400, "format must be json or csv")
    event, outcomes = await outcomes_of(request, slug, request.query.get("session"))
    rows: list[dict[str, Any]] = [
        row for outcome in outcomes for row in as_dict(outcome, ZoneInfo(event.timezone))
    ]
    organisation = request.query.get("organisation")
    if organisation:
        wanted = organisation.casefold()
        rows = [
            row
            for row in rows
            if (row["organisation"] or "").casefold() == wanted
            or (row["person"] and _org_key(outcomes, row["person"]) == organisation)
        ]
    if form == "csv":
        return web.Response(
            body=attendance_csv(rows),
            content_type="text/csv",
            charset="utf-8",
            headers={"Content-Disposition": f'attachment; filename="{slug}-attendance.csv"'},
        )
    return web.json_response({"event": slug, "timezone": event.timezone, "attendance": rows})


def _org_key(outcomes: list[Outcome], person_key: str) -> str | None:
    for outcome in outcomes:
        for line in outcome.lines:
            if line.person and line.person.key == person_key:
                return line.person.organisation_key
    return None


@routes.get("/api/v1/events/{slug}/report")
async def get_report(request: web.Request) -> web.Response:
    slug = request.match_info["slug"]
    require_grant(request, slug)
    event, outcomes = await outcomes_of(request, slug)
    async with request.app[appkeys.DB]() as db:
        replays = await replay_figures(db, event.id)
    return web.json_response(
        {"event": slug, "title": event.title, **key_figures(outcomes), **replays}
    )
