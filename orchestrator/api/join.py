"""`/j/{token}`: a person's own join link. Inside its window it makes sure the room exists, has
the provider mint credentials for this seat, records the click and redirects; otherwise it says
when the link opens, that the session is cancelled or over. Unknown tokens get the same 404 page.
`/room/{token}`: our own join page, for providers whose rooms have no web client of their own."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from yarl import URL

from integrations.base import Role

from .. import appkeys
from ..participants.handover import moved_seat
from ..participants.visits import Visit, closed_state, find_visit, replay_url
from ..rooms.entry import OPEN, seat_page, seat_url
from ..rooms.lifecycle import ensure_ready

routes = web.RouteTableDef()


async def _visit(request: web.Request) -> Visit | None:
    async with request.app[appkeys.READS]() as db:
        return await find_visit(db, request.match_info["token"])


async def _record(request: web.Request, visit: Visit, outcome: str, now: datetime) -> None:
    if await request.app[appkeys.CLICKS].record(visit, outcome, now):
        request.app[appkeys.FEED].wake_soon()


def page(request: web.Request, visit: Visit | None, state: str, **context: Any) -> web.Response:
    pages = request.app[appkeys.PAGES]
    if visit is None:
        return pages.render("join.html", None, status=404, state="unknown", title="rdv")
    language = pages.language(visit.locale)
    session, event = visit.session, visit.event
    status = {"early": 200, "cancelled": 410, "ended": 410, "unavailable": 503}[state]
    headers = {"Retry-After": "30"} if state == "unavailable" else None
    return pages.render(
        "join.html",
        visit.locale,
        status=status,
        headers=headers,
        state=state,
        title=session.title,
        event_title=event.title,
        when=language.when(session.starts_at, session.ends_at, event.timezone),
        organiser_name=event.organiser_name,
        organiser_email=event.organiser_email,
        **context,
    )


async def closed_page(
    request: web.Request, visit: Visit, state: str, now: datetime
) -> web.Response:
    await _record(request, visit, state, now)
    language = request.app[appkeys.PAGES].language(visit.locale)
    zone = visit.event.timezone
    opens = visit.session.starts_at - request.app[appkeys.SETTINGS].join_early
    return page(
        request, visit, state, opens=f"{language.date(opens, zone)} {language.time(opens, zone)}"
    )


@routes.get("/j/{token}")
async def join(request: web.Request) -> web.StreamResponse:
    app = request.app
    settings, now = app[appkeys.SETTINGS], app[appkeys.CLOCK].now()
    visit = await _visit(request)
    if visit is None:
        return await _moved_or_unknown(request)
    state = closed_state(visit, now, settings.join_early)
    session = visit.session
    if state == "ended":
        async with app[appkeys.READS]() as db:
            replay = await replay_url(db, session.id, now)
        if replay:
            await _record(request, visit, "replay", now)
            raise _go(replay)
    if (
        state is None
        and session.streamed
        and session.stream_url
        and visit.role is not Role.MODERATOR
    ):
        # The audience of a streamed plenary watches the stream; speakers and organisers go in.
        await _record(request, visit, "stream", now)
        raise _go(str(session.stream_url))
    # A room already open, as the visit read it, is used as it is: claiming it again would be
    # a write per click that changes nothing, the writes of a slot's start queuing behind it.
    if state is None and (
        visit.room.state in OPEN or await ensure_ready(app[appkeys.LIFECYCLE], visit.room.id)
    ):
        url = await seat_url(app[appkeys.DB], app[appkeys.PROVIDERS], visit, settings, now)
        if url is not None:
            await _record(request, visit, "joined", now)
            raise _go(url)
    return await closed_page(request, visit, state or "unavailable", now)


async def _moved_or_unknown(request: web.Request) -> web.Response:
    """A link whose seat was handed to a colleague says so (410); any other dead link is 404."""
    async with request.app[appkeys.READS]() as db:
        moved = await moved_seat(db, request.match_info["token"])
    if moved is None:
        return page(request, None, "unknown")
    pages = request.app[appkeys.PAGES]
    session, event = moved.session, moved.event
    return pages.render(
        "join.html",
        moved.locale,
        status=410,
        state="moved",
        title=session.title,
        event_title=event.title,
        when=pages.language(moved.locale).when(session.starts_at, session.ends_at, event.timezone),
        organiser_name=event.organiser_name,
        organiser_email=event.organiser_email,
        moved_to=moved.to_name,
    )


def _go(url: str) -> web.HTTPFound:
    """To the provider's own link, byte for byte: a Teams join URL's `%3a` and `%40` must not
    come out as `:` and `@` (aiohttp would normalise a plain string)."""
    return web.HTTPFound(
        URL(url, encoded=True),
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


@routes.get("/room/{token}")
async def room_page(request: web.Request) -> web.StreamResponse:
    """The join page of providers without a web client of their own (Janus)."""
    app = request.app
    settings, now = app[appkeys.SETTINGS], app[appkeys.CLOCK].now()
    visit = await _visit(request)
    found = visit and await seat_page(app[appkeys.DB], app[appkeys.PROVIDERS], visit, settings)
    if visit is None or not found:
        return page(request, None, "unknown")
    join_page, room = found
    state = closed_state(visit, now, settings.join_early)
    if state is None and room.state not in ("ready", "live"):
        state = "unavailable"
    if state is not None:
        return await closed_page(request, visit, state, now)
    csp = (
        f"default-src 'self'; script-src 'self' {_origin(join_page.library)}; style-src 'self'; "
        f"connect-src 'self' {' '.join(_origin(url) for url in join_page.connect)}; "
        "media-src 'self' blob: mediastream:; img-src 'self' data:; object-src 'none'; "
        "base-uri 'none'; frame-ancestors 'none'"
    )
    return app[appkeys.PAGES].render(
        "room.html",
        visit.locale,
        csp=csp,
        title=visit.session.title,
        display_name=visit.person.name,
        page=join_page,
        leave_url=f"{settings.base_url}/j/{visit.attendee.token}",
    )


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""
