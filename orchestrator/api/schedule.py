"""`POST /api/v1/events/{slug}/schedule`: the event's meeting requests placed and written as
meetings, the same run as `rdv schedule`."""

from __future__ import annotations

import msgspec
from aiohttp import web
from sqlalchemy.exc import IntegrityError

from .. import appkeys
from ..mail.request_notices import AgendaReady
from ..program.audit import hooks, recorder
from ..program.schedule import Changed, schedule_event
from ..program.service import NotFound
from .auth import author
from .bodies import read_struct
from .errors import ApiError
from .operations import Answer, Operations
from .replies import reply
from .schemas.schedule import Schedule, ScheduleOptions

api = Operations()
routes = api.routes


@api.route(
    "POST",
    "/api/v1/events/{slug}/schedule",
    "Schedule the open meeting requests and write them as meetings",
    access="write",
    body=ScheduleOptions,
    body_required=False,
    responses={
        200: Answer(Schedule, "what was placed, and why the rest was not"),
        404: "no such event",
        409: "the event changed while scheduling",
        422: "the stored program has problems",
    },
)
async def post_schedule(request: web.Request) -> web.Response:
    slug = request.match_info["slug"]
    options = await read_struct(request, ScheduleOptions, required=False)
    app = request.app
    try:
        outcome = await schedule_event(
            app[appkeys.DB],
            app[appkeys.SETTINGS],
            slug,
            now=app[appkeys.CLOCK].now(),
            move=options.move,
            dry_run=options.dry_run,
            time_limit=options.time_limit,
            on_change=hooks(
                app[appkeys.INVITES].queue,
                AgendaReady(app[appkeys.SETTINGS], app[appkeys.WRITER]),
                recorder(author(request, "scheduler"), "schedule"),
            ),
        )
    except NotFound as error:
        raise ApiError(404, str(error)) from None
    except (Changed, IntegrityError):
        raise ApiError(409, f'the event "{slug}" changed while scheduling; retry') from None
    if outcome.changes is not None and not outcome.changes.empty:
        app[appkeys.OUTBOX].wake()
        timers = app[appkeys.TIMERS]
        if timers is not None:
            timers.poke()
    return reply(msgspec.convert(outcome.as_dict(), Schedule))
