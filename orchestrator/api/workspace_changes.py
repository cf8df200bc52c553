"""The workspace's changes: every POST of `/admin/{slug}`, each behind the sign-in cookie and the
form's CSRF token, done by `orchestrator/workspace/actions.py` and recorded in the audit log;
then back to the page it came from, which says what was done (or shows what was refused)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from aiohttp import web

from .. import appkeys
from ..participants.follow_up import NotPlanned, local_time
from ..program.audit import Author
from ..program.problems import ProgramError
from ..program.service import NotFound
from ..workspace.tables import Filters
from .dashboard import enter_room, signed_out
from .viewers import Viewer, csrf_ok, viewer_of
from .workspace import STALE_FORM, event_of, sessions_view, signed_in

routes = web.RouteTableDef()

# -- changes -----------------------------------------------------------------------------------

Change = Callable[[web.Request, dict[str, str], Author, datetime], Awaitable[str]]


def changing(section: str) -> Callable[[Change], Callable[[web.Request], Awaitable[Any]]]:
    """A POST of the workspace: signed in as an organiser, with the form's CSRF token; the change
    says where to go back; a refused change shows its problems on the section's page."""

    def wrap(change: Change) -> Callable[[web.Request], Awaitable[Any]]:
        async def handler(request: web.Request) -> web.StreamResponse:
            viewer = signed_in(request)
            if isinstance(viewer, web.Response):
                return viewer
            form = {name: str(value) for name, value in (await request.post()).items()}
            if not csrf_ok(request, form.get("csrf")):
                raise web.HTTPForbidden(text=STALE_FORM)
            if not viewer.can_act:
                raise web.HTTPForbidden(text="a followup sign-in can only read")
            author = author_of(viewer)
            now = request.app[appkeys.CLOCK].now()
            slug = request.match_info["slug"]
            back = own_page(form.get("back", ""), slug) or f"/admin/{slug}/{section}"
            try:
                done = await change(request, form, author, now)
            except NotFound as error:
                raise web.HTTPNotFound(text=str(error)) from None
            except ProgramError as error:
                return await _refused(request, viewer, error, back)
            after_change(request.app)
            separator = "&" if "?" in back else "?"
            raise web.HTTPSeeOther(f"{back}{separator}done={done}")

        return handler

    return wrap


def author_of(viewer: Viewer) -> Author:
    """Who changes something from the workspace, as the audit log names them."""
    return Author(viewer.name or f"{viewer.role} sign-in", "workspace")


def own_page(wanted: str, slug: str) -> str | None:
    """A workspace page of this event to go back to (a form's `back`), never another site's."""
    if wanted.startswith(f"/admin/{slug}/") and "//" not in wanted and "\\" not in wanted:
        return wanted
    return None


async def _refused(
    request: web.Request, viewer: Viewer, error: ProgramError, back: str
) -> web.Response:
    """The sessions page, the refused session first, with what was refused on top; its forms go
    back where the refused one would have (not to the address of the refused POST)."""
    event = await event_of(request)
    filters = Filters(q=request.match_info.get("key", ""))
    problems = [str(problem) for problem in error.problems]
    return await sessions_view(request, event, viewer, filters, problems=problems, back=back)


@routes.post("/admin/{slug}/sessions/{key}/open")
async def open_room(request: web.Request) -> web.StreamResponse:
    """The workspace's "Open the room as moderator": the dashboard's way in, behind the form's
    CSRF token."""
    viewer = signed_in(request)
    if isinstance(viewer, web.Response):
        return viewer
    if not csrf_ok(request, (await request.post()).get("csrf")):
        raise web.HTTPForbidden(text=STALE_FORM)
    return await enter_room(request, open_now=True)


@routes.post("/admin/{slug}/signout")
async def sign_out(request: web.Request) -> web.StreamResponse:
    if viewer_of(request, request.match_info["slug"]) is None:
        return signed_out(request)
    if not csrf_ok(request, (await request.post()).get("csrf")):
        raise web.HTTPForbidden(text=STALE_FORM)
    return signed_out(request)


def after_change(app: web.Application) -> None:
    """The senders and the room timers look again now, as after an API change."""
    app[appkeys.OUTBOX].wake()
    app[appkeys.WEBHOOKS_OUT].wake()
    timers = app[appkeys.TIMERS]
    if timers is not None:
        timers.poke()


@routes.post("/admin/{slug}/sessions/{key}/move")
@changing("sessions")
async def move(request: web.Request, form: dict[str, str], author: Author, now: datetime) -> str:
    day, start, end = form.get("day", ""), form.get("start", ""), form.get("end", "")
    patch = {"start": f"{day}T{start}", "end": f"{day}T{end}"}
    await request.app[appkeys.WORKSPACE].edit(
        request.match_info["slug"], request.match_info["key"], patch, author, now
    )
    return "moved"


@routes.post("/admin/{slug}/sessions/{key}/follow-up")
@changing("sessions")
async def follow_up(
    request: web.Request, form: dict[str, str], author: Author, now: datetime
) -> str:
    """The organisers set a follow-up meeting of this meeting's pair (times in the event's zone)."""
    event = await event_of(request)
    day = form.get("day", "")
    try:
        starts_at = local_time(day, form.get("start", ""), event.timezone)
        ends_at = local_time(day, form.get("end", ""), event.timezone)
    except NotPlanned:
        raise ProgramError.single("follow-up", "give a day, a start and an end") from None
    await request.app[appkeys.WORKSPACE].follow_up(
        event.slug, request.match_info["key"], starts_at, ends_at, author, now
    )
    return "follow-up"


@routes.post("/admin/{slug}/sessions/{key}/cancel")
@changing("sessions")
async def cancel(request: web.Request, form: dict[str, str], author: Author, now: datetime) -> str:
    await request.app[appkeys.WORKSPACE].edit(
        request.match_info["slug"], request.match_info["key"], None, author, now
    )
    return "cancelled"


@routes.post("/admin/{slug}/sessions/{key}/provider")
@changing("sessions")
async def provider(
    request: web.Request, form: dict[str, str], author: Author, now: datetime
) -> str:
    chosen = form.get("provider", "") or None
    await request.app[appkeys.WORKSPACE].edit(
        request.match_info["slug"], request.match_info["key"], {"provider": chosen}, author, now
    )
    return "provider"


@routes.post("/admin/{slug}/sessions/{key}/resend")
@changing("sessions")
async def resend_invite(
    request: web.Request, form: dict[str, str], author: Author, now: datetime
) -> str:
    await request.app[appkeys.WORKSPACE].resend(
        request.match_info["slug"],
        author,
        now,
        person=form.get("person", ""),
        session=request.match_info["key"],
    )
    return "resent"


@routes.post("/admin/{slug}/people/{key}/resend")
@changing("people")
async def resend_links(
    request: web.Request, form: dict[str, str], author: Author, now: datetime
) -> str:
    await request.app[appkeys.WORKSPACE].resend(
        request.match_info["slug"], author, now, person=request.match_info["key"]
    )
    return "resent"


@routes.post("/admin/{slug}/people/{key}/erase")
@changing("people")
async def erase(request: web.Request, form: dict[str, str], author: Author, now: datetime) -> str:
    await request.app[appkeys.WORKSPACE].erase(
        request.match_info["slug"], request.match_info["key"], author, now
    )
    return "erased"


@routes.post("/admin/{slug}/mail/retry")
@changing("mail")
async def retry(request: web.Request, form: dict[str, str], author: Author, now: datetime) -> str:
    message = form.get("message", "")
    await request.app[appkeys.WORKSPACE].retry(
        request.match_info["slug"], author, now, int(message) if message.isdigit() else None
    )
    return "retried"
