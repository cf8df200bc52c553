"""`/api/v1/events/{slug}`: import a program, read the event, edit and cancel sessions."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
from aiohttp import web
from sqlalchemy.exc import IntegrityError

from .. import appkeys
from ..db.base import names_nothing
from ..program.audit import hooks, recorder
from ..program.changes import ChangeSet
from ..program.load import load_bytes
from ..program.problems import ProgramError
from ..program.service import EDITABLE, NotFound, edit_session, import_program
from .auth import author
from .bodies import read_body, read_struct
from .errors import ApiError
from .operations import Answer, Operations
from .replies import reply
from .schemas.events import Changes, Event, Program, SessionPatch
from .views import event_view

PROGRAM_BODY_LIMIT = 32 * 1024 * 1024
SESSION = "/api/v1/events/{slug}/sessions/{key}"

api = Operations()
routes = api.routes


def _after_change(app: web.Application) -> None:
    """Wakes the senders (mail, webhooks) and the room timers once a change is committed."""
    app[appkeys.OUTBOX].wake()
    app[appkeys.WEBHOOKS_OUT].wake()
    timers = app[appkeys.TIMERS]
    if timers is not None:
        timers.poke()


def _changes(changes: ChangeSet, status: int = 200) -> web.Response:
    return reply(msgspec.convert({"changes": changes.as_dict()}, Changes), status)


@api.route(
    "PUT",
    "/api/v1/events/{slug}/program",
    "Import or update the event from a program file",
    access="write",
    body=Program,
    responses={
        200: Answer(Changes, "the event was updated; the change set"),
        201: Answer(Changes, "the event was created; the change set"),
        400: "the body is not JSON",
        409: "another import of the event ran at the same time",
        413: "the body is too large (32 MiB at most)",
        422: "the program has problems, listed in details, none imported",
    },
)
async def put_program(request: web.Request) -> web.Response:
    slug = request.match_info["slug"]
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
            on_change=hooks(
                app[appkeys.INVITES].queue, recorder(author(request), "program.import")
            ),
        )
    except IntegrityError:
        raise ApiError(409, "another import of this event ran at the same time; retry") from None
    _after_change(app)
    return _changes(changes, 201 if changes.event_created else 200)


@api.route(
    "GET",
    "/api/v1/events/{slug}",
    "The event, its sessions and their rooms",
    responses={200: Answer(Event, "the event"), 404: "no such event"},
)
async def get_event(request: web.Request) -> web.Response:
    slug = request.match_info["slug"]
    async with request.app[appkeys.DB]() as db:
        view = await event_view(db, slug, request.app[appkeys.SETTINGS].default_provider)
    if view is None:
        raise ApiError(404, f'no event "{slug}"')
    return reply(view)


async def _edit(request: web.Request, patch: SessionPatch | None) -> web.Response:
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
            None if patch is None else msgspec.to_builtins(patch),
            now=app[appkeys.CLOCK].now(),
            on_change=hooks(
                app[appkeys.INVITES].queue,
                recorder(
                    author(request), "session.cancel" if patch is None else "session.edit", key
                ),
            ),
        )
    except NotFound as error:
        raise ApiError(404, str(error)) from None
    _after_change(app)
    return _changes(changes)


def _cannot_change(names: Sequence[str]) -> ProgramError:
    return ProgramError.single(
        names[0], f"cannot be changed here (changeable: {', '.join(EDITABLE)})"
    )


@api.route(
    "PATCH",
    SESSION,
    "Change a session's start, end, title, attendees or provider",
    access="write",
    body=SessionPatch,
    responses={
        200: Answer(Changes, "the change set"),
        404: "no such event or live session",
        422: "a field that cannot change, or the change would make the program invalid",
    },
)
async def patch_session(request: web.Request) -> web.Response:
    patch = await read_struct(request, SessionPatch, unknown=_cannot_change)
    if not msgspec.to_builtins(patch):
        raise ApiError(400, "nothing to change: give start, end, title, attendees or provider")
    return await _edit(request, patch)


@api.route(
    "DELETE",
    SESSION,
    "Cancel a session",
    access="write",
    responses={
        200: Answer(Changes, "the change set (empty if it was cancelled already)"),
        404: "no such event or session",
    },
)
async def delete_session(request: web.Request) -> web.Response:
    return await _edit(request, None)
