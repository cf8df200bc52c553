"""`/api/v1/events/{slug}/audit`: who changed what in the event, newest first."""

from __future__ import annotations

from aiohttp import web
from msgspec import UNSET
from sqlalchemy import select

from .. import appkeys
from ..db import models as m
from ..db.audit import page
from .bodies import read_query
from .errors import ApiError
from .operations import Answer, Operations
from .replies import reply
from .schemas import audit as shapes
from .views import stored_as, utc_text

api = Operations()
routes = api.routes
PAGE = 200


@api.route(
    "GET",
    "/api/v1/events/{slug}/audit",
    "The audit log: every change to the event, who made it, when and from where",
    query=shapes.AuditQuery,
    responses={
        200: Answer(shapes.Audit, f"{PAGE} entries at most, newest first"),
        404: "no such event",
    },
)
async def get_audit(request: web.Request) -> web.Response:
    slug = request.match_info["slug"]
    before = read_query(request, shapes.AuditQuery).before
    async with request.app[appkeys.DB]() as db:
        event_id = await db.scalar(select(m.Event.id).where(m.Event.slug == slug))
        if event_id is None:
            raise ApiError(404, f'no event "{slug}"')
        found = await page(db, event_id, before=None if before is UNSET else before, limit=PAGE + 1)
    entries = [
        shapes.AuditEntry(
            id=entry.id,
            at=utc_text(entry.at),
            actor=entry.actor,
            source=stored_as(shapes.Source, entry.source),
            action=entry.action,
            subject=entry.subject,
            details=entry.details,
        )
        for entry in found[:PAGE]
    ]
    following = entries[-1].id if len(found) > PAGE else None
    return reply(shapes.Audit(entries=entries, next=following))
