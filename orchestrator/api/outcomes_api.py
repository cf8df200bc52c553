"""`GET /api/v1/events/{slug}/outcomes`: what came of the meetings, for the follow-up teams'
tools; the comments only with an organiser's token."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import msgspec
from aiohttp import web
from sqlalchemy import select

from .. import appkeys
from ..db import models as m
from ..report.outcomes import answer_rows, outcome_answers, outcome_figures
from .auth import require_grant
from .errors import ApiError
from .operations import Answer, Operations
from .replies import reply
from .schemas.outcomes import Outcomes

api = Operations()
routes = api.routes


@api.route(
    "GET",
    "/api/v1/events/{slug}/outcomes",
    "What each side said came of each held meeting, and the counts per label",
    responses={200: Answer(Outcomes, "the answers and their counts"), 404: "no such event"},
)
async def get_outcomes(request: web.Request) -> web.Response:
    slug = request.match_info["slug"]
    organiser = require_grant(request, slug).can_write
    async with request.app[appkeys.DB]() as db:
        event = await db.scalar(select(m.Event).where(m.Event.slug == slug))
        if event is None:
            raise ApiError(404, f'no event "{slug}"')
        answers = await outcome_answers(db, event.id)
    figures = outcome_figures(answers)
    rows = answer_rows(answers, ZoneInfo(event.timezone), comments=organiser)
    return reply(msgspec.convert({"event": slug, **figures, "answers": rows}, Outcomes))
