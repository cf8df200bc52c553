"""`/api/v1/events/{slug}`: import a program, read the event, edit and cancel sessions."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy.exc import IntegrityError

from .. import appkeys
from ..program.changes import ChangeSet
from ..program.load import load_bytes
from ..program.problems import ProgramError
from ..program.service import NotFound, edit_session, import_program
from .auth import require_grant
from .errors import ApiError, names_nothing, read_body, read_json_object
from .views import event_view

PROGRAM_BODY_LIMIT = 32 * 1024 * 1024

routes = web.RouteTableDef()


def _after_change(app: web.Application) -> None:
    """Wakes the mail sender and the room timers once a change is committed."""
    app[appkeys.OUTBOX].wake()
    timers = app[appkeys.TIMERS]
    if timers is not None:
        timers.poke()


def _changes(changes: ChangeSet, status: int = 200) -> web.Response:
    return web.json_response({"changes": changes.as_dict()}, status=status)


@routes.put("/api/v1/events/{slug}/program")
async def put_program(request: web.Request) -> web.Response:
    slug = request.match_info["slug"]
    require_grant(request, slug, write=True)
    try:
        raw = load_bytes(await read_body(request, PROGRAM_BODY_LIMIT), "body")
    except ProgramError as error:  # not JSON at all: a bad request, not a bad program
        raise ApiError(400, str(error.problems[0])) from None
    app = request.app
    try:
        changes = await import_program(
            app[appkeys.DB],
            app[appkeys.SETTINGS],
            raw,
            now=app[appkeys.CLOCK].now(),
            slug=slug,
            on_change=app[appkeys.INVITES].queue,
        )
    except IntegrityError:
        raise ApiError(409, "another import of this event ran at the same time; retry") from None
    _after_change(app)
    return _changes(changes, 201 if changes.event_created else 200)


@routes.get("/api/v1/events/{slug}")
async def get_event(request: web.Request) -> web.Response:
    slug = request.match_info["slug"]
    require_grant(request, slug)
    async with request.app[appkeys.DB]() as db:
        view = await event_view(db, slug, request.app[appkeys.SETTINGS].default_provider)
    if view is None:
        raise ApiError(404, f'no event "{slug}"')
    return web.json_response(view)


async def _edit(request: web.Request, patch: dict[str, Any] | None) -> web.Response:
    app = request.app
    slug, key = request.match_info["slug"], request.match_info["key"]
    if names_nothing(key):
        raise ApiError(404, f'no live session "{key}" in "{slug}"')
    try:
        changes = await edit_session(
            app[appkeys.DB],
            app[appkeys.SETTINGS],
            slug,
            key,
            patch,
            now=app[appkeys.CLOCK].now(),
            on_change=app[appkeys.INVITES].queue,
        )
    except NotFound as error:
        raise ApiError(404, str(error)) from None
    _after_change(app)
    return _changes(changes)


@routes.patch("/api/v1/events/{slug}/sessions/{key}")
async def patch_session(request: web.Request) -> web.Response:
    require_grant(request, request.match_info["slug"], write=True)
    patch = await read_json_object(request)
    if not patch:
        raise ApiError(400, "nothing to change: give start, end, title, attendees or provider")
    return await _edit(request, patch)


@routes.delete("/api/v1/events/{slug}/sessions/{key}")
async def delete_session(request: web.Request) -> web.Response:
    require_grant(request, request.match_info["slug"], write=True)
    return await _edit(request, None)
