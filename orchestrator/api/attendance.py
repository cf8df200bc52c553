"""`/api/v1/events/{slug}/attendance` (JSON or CSV) and `/report` (the key figures)."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import msgspec
from aiohttp import web
from msgspec import UNSET
from sqlalchemy import select

from .. import appkeys
from ..attendance.export import attendance_csv
from ..attendance.figures import key_figures
from ..attendance.log import as_dict, attendance
from ..attendance.outcomes import Outcome
from ..db import models as m
from ..report.extras import extra_figures
from .bodies import read_query
from .errors import ApiError
from .operations import Answer, Operations
from .replies import reply
from .schemas.attendance import Attendance, AttendanceQuery, Report

api = Operations()
routes = api.routes


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


@api.route(
    "GET",
    "/api/v1/events/{slug}/attendance",
    "The attendance log (JSON, or CSV with format=csv)",
    query=AttendanceQuery,
    responses={
        200: Answer(
            Attendance,
            "one row per expected person, substitute or guest",
            media={"text/csv": str},
        ),
        404: "no such event",
    },
)
async def get_attendance(request: web.Request) -> web.Response:
    slug = request.match_info["slug"]
    query = read_query(request, AttendanceQuery)
    session = None if query.session is UNSET else query.session
    organisation = None if query.organisation is UNSET else query.organisation
    event, outcomes = await outcomes_of(request, slug, session)
    rows: list[dict[str, Any]] = [
        row for outcome in outcomes for row in as_dict(outcome, ZoneInfo(event.timezone))
    ]
    if organisation:
        wanted = organisation.casefold()
        rows = [
            row
            for row in rows
            if (row["organisation"] or "").casefold() == wanted
            or (row["person"] and _org_key(outcomes, row["person"]) == organisation)
        ]
    if query.format == "csv":
        return web.Response(
            body=attendance_csv(rows),
            content_type="text/csv",
            charset="utf-8",
            headers={"Content-Disposition": f'attachment; filename="{slug}-attendance.csv"'},
        )
    answer = {"event": slug, "timezone": event.timezone, "attendance": rows}
    return reply(msgspec.convert(answer, Attendance))


def _org_key(outcomes: list[Outcome], person_key: str) -> str | None:
    for outcome in outcomes:
        for line in outcome.lines:
            if line.person and line.person.key == person_key:
                return line.person.organisation_key
    return None


@api.route(
    "GET",
    "/api/v1/events/{slug}/report",
    "The event's key figures, with their definitions",
    responses={200: Answer(Report, "the figures"), 404: "no such event"},
)
async def get_report(request: web.Request) -> web.Response:
    slug = request.match_info["slug"]
    event, outcomes = await outcomes_of(request, slug)
    async with request.app[appkeys.DB]() as db:
        extra = await extra_figures(db, event.id, request.app[appkeys.CLOCK].now())
    figures = {"event": slug, "title": event.title, **key_figures(outcomes), **extra}
    return reply(msgspec.convert(figures, Report))
