"""`POST /api/v1/events/{slug}/schedule`: the event's meeting requests placed and written as
meetings, the same run as `rdv schedule`."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from sqlalchemy.exc import IntegrityError

from .. import appkeys
from ..program.schedule import DEFAULT_TIME_LIMIT, Changed, schedule_event
from ..program.service import NotFound
from .auth import require_grant
from .errors import ApiError, read_body

OPTIONS = ("move", "dry_run", "time_limit")
LONGEST = 600.0  # seconds: a request that waits longer is better run as `rdv schedule`

routes = web.RouteTableDef()


@routes.post("/api/v1/events/{slug}/schedule")
async def post_schedule(request: web.Request) -> web.Response:
    slug = request.match_info["slug"]
    require_grant(request, slug, write=True)
    options = await _options(request)
    app = request.app
    try:
        outcome = await schedule_event(
            app[appkeys.DB],
            app[appkeys.SETTINGS],
            slug,
            now=app[appkeys.CLOCK].now(),
            move=options["move"],
            dry_run=options["dry_run"],
            time_limit=options["time_limit"],
            on_change=app[appkeys.INVITES].queue,
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
    return web.json_response(outcome.as_dict())


async def _options(request: web.Request) -> dict[str, Any]:
    """The optional body: `move`, `dry_run` (booleans) and `time_limit` (seconds)."""
    options: dict[str, Any] = {"move": False, "dry_run": False, "time_limit": DEFAULT_TIME_LIMIT}
    data = await read_body(request)
    if not data.strip():
        return options
    try:
        given = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise ApiError(400, "the body is not a JSON object") from None
    if not isinstance(given, dict):
        raise ApiError(400, "the body is not a JSON object")
    problems = [f'unknown field "{name}"' for name in given if name not in OPTIONS]
    for name in ("move", "dry_run"):
        if name in given and not isinstance(given[name], bool):
            problems.append(f"{name} must be true or false")
    limit = given.get("time_limit", DEFAULT_TIME_LIMIT)
    if isinstance(limit, bool) or not isinstance(limit, int | float) or not 0 < limit <= LONGEST:
        problems.append(f"time_limit must be a number of seconds above 0, at most {LONGEST:.0f}")
    if problems:
        raise ApiError(400, "; ".join(problems))
    options.update(given)
    options["time_limit"] = float(limit)
    return options
