"""The organisers' dashboard: sign-in, the page, its live stream, and the organiser's way into a
room. Followup viewers see the same page without the means to act."""

from __future__ import annotations

import re
from datetime import timedelta

from aiohttp import web
from sqlalchemy import select

from integrations.base import ProviderError

from .. import appkeys
from ..dashboard.view import Dashboard, build
from ..db import models as m
from ..db.states import RoomState
from ..rooms.entry import CannotOpen, NotYet, organiser_url
from ..signin import pending, redeem
from .viewers import COOKIE, Viewer, set_cookie, viewer_of

routes = web.RouteTableDef()
KEEPALIVE_SECONDS = 15.0
POLL_SECONDS = 1.0
FILTERS = ("directorate", "company", "state")
_UPDATE_ID = re.compile(r"[0-9]{1,18}")


@routes.get("/login/{token}")
async def login_page(request: web.Request) -> web.StreamResponse:
    """Says what the link signs in to, with a button that uses it: mail scanners fetch the links
    in a mail, and a GET must not use one up (nor sign anyone in from another site)."""
    app = request.app
    async with app[appkeys.DB]() as db:
        found = await pending(db, request.match_info["token"], app[appkeys.CLOCK].now())
    if found is None:
        return _unusable_link(request)
    return app[appkeys.PAGES].render(
        "signin.html", found.locale, title=found.title, state="confirm", link=found
    )


@routes.post("/login/{token}")
async def login(request: web.Request) -> web.StreamResponse:
    app = request.app
    now = app[appkeys.CLOCK].now()
    async with app[appkeys.DB]() as db, db.begin():
        found = await redeem(db, request.match_info["token"], now)
    if found is None:
        return _unusable_link(request)
    slug, role = found.slug, found.role
    target = _next(request.query.get("next", ""), slug) or (
        f"/events/{slug}/report"
        if role == "followup" and _has_report(app)
        else (f"/dashboard/{slug}")
    )
    response = web.HTTPSeeOther(target)
    set_cookie(response, request, Viewer(slug, role, now + timedelta(hours=12), found.subject))
    raise response


def _next(wanted: str, slug: str) -> str | None:
    """Where a link made for one page leads (`?next=/admin/{slug}/sessions`): only to one of
    this event's own pages, never elsewhere."""
    own = (f"/admin/{slug}/", f"/dashboard/{slug}", f"/events/{slug}/")
    if wanted.startswith(own) and "//" not in wanted and "\\" not in wanted:
        return wanted
    return None


def _unusable_link(request: web.Request) -> web.Response:
    return request.app[appkeys.PAGES].render(
        "signin.html", None, status=404, title="rdv", state="invalid"
    )


def _has_report(app: web.Application) -> bool:
    return any(
        getattr(r.resource, "canonical", "") == "/events/{slug}/report" for r in app.router.routes()
    )


@routes.post("/logout")
async def logout(request: web.Request) -> web.StreamResponse:
    return signed_out(request)


def signed_out(request: web.Request) -> web.Response:
    """The page that says so, with the sign-in cookie deleted."""
    response = request.app[appkeys.PAGES].render("signin.html", None, title="rdv", state="out")
    response.del_cookie(COOKIE, path="/")
    return response


async def _event(request: web.Request, slug: str) -> m.Event:
    async with request.app[appkeys.DB]() as db:
        event = await db.scalar(select(m.Event).where(m.Event.slug == slug))
    if event is None:
        raise web.HTTPNotFound(text=f"no event {slug}")
    return event


def _sign_in_first(request: web.Request) -> web.Response:
    return request.app[appkeys.PAGES].render(
        "signin.html", None, status=401, title="rdv", state="needed"
    )


def _shown(dashboard: Dashboard, query: dict[str, str]) -> set[str]:
    """The cards the filters keep (all when there is no filter)."""
    wanted = [f"org:{query[name]}" for name in ("directorate", "company") if query.get(name)]
    if query.get("state"):
        wanted.append(f"state:{query['state']}")
    return {card.key for card in dashboard.cards if all(w in card.filters for w in wanted)}


@routes.get("/dashboard/{slug}")
async def page(request: web.Request) -> web.StreamResponse:
    slug = request.match_info["slug"]
    viewer = viewer_of(request, slug)
    if viewer is None:
        return _sign_in_first(request)
    app = request.app
    event = await _event(request, slug)
    latest = await app[appkeys.FEED].latest(event.id)
    async with app[appkeys.DB]() as db:
        dashboard = await build(db, event, app[appkeys.SETTINGS], app[appkeys.CLOCK].now())
    query = {name: request.query.get(name, "") for name in FILTERS}
    return app[appkeys.PAGES].render(
        "dashboard.html",
        event.locale,
        title=event.title,
        dashboard=dashboard,
        can_act=viewer.can_act,
        openable=app[appkeys.SNAPSHOTS].openable,
        shown=_shown(dashboard, query),
        query=query,
        last=latest,
        states=tuple(RoomState),
    )


@routes.get("/dashboard/{slug}/stream")
async def stream(request: web.Request) -> web.StreamResponse:
    slug = request.match_info["slug"]
    viewer = viewer_of(request, slug)
    if viewer is None:
        raise web.HTTPUnauthorized(text="sign in first")
    app = request.app
    event = await _event(request, slug)
    feed = app[appkeys.FEED]
    after = request.headers.get("Last-Event-ID") or request.query.get("after") or ""
    last = _resume_after(after, await feed.latest(event.id))
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    await response.write(b"retry: 1000\n\n")
    app[appkeys.METRICS].streams.inc()
    try:
        return await _follow(request, event, viewer, response, last)
    finally:
        app[appkeys.METRICS].streams.dec()


def _resume_after(after: str, latest: int) -> int:
    """The update a reconnecting page saw last: an id this stream can have sent (ASCII digits,
    not past the latest), else the latest, which starts a fresh stream. `str.isdigit` alone takes
    "²" for a digit and lets through numbers no database column holds."""
    if not _UPDATE_ID.fullmatch(after):
        return latest
    return min(int(after), latest)


async def _follow(
    request: web.Request, event: m.Event, viewer: Viewer, response: web.StreamResponse, last: int
) -> web.StreamResponse:
    """Sends what changed until the viewer leaves or the service stops."""
    feed, snapshots = request.app[appkeys.FEED], request.app[appkeys.SNAPSHOTS]
    version, quiet = feed.version, 0.0
    while not feed.closed:
        updates = await snapshots.since(event.id, last)
        if updates:
            batch = await snapshots.messages(event, updates, viewer.can_act)
            await response.write(batch + _clock(request))
            last, quiet = updates[-1].id, 0.0
            continue
        if quiet >= KEEPALIVE_SECONDS:  # keeps the connection and the page's clock alive
            await response.write(_clock(request))
            quiet = 0.0
        version = await feed.wait(version, POLL_SECONDS)
        quiet += POLL_SECONDS
    return response


def _clock(request: web.Request) -> bytes:
    """The service's time, from which the page counts the minutes of running rooms on (the
    demo's clock runs faster than the browser's)."""
    now = request.app[appkeys.CLOCK].now().isoformat(timespec="seconds")
    return f'event: clock\ndata: {{"now": "{now}"}}\n\n'.encode()


@routes.get("/dashboard/{slug}/rooms/{key}/join")
async def join_as_organiser(request: web.Request) -> web.StreamResponse:
    """Drops a signed-in organiser into an open room; a room not open yet is only offered (a
    link followed from another site must not create rooms hours early)."""
    return await enter_room(request, open_now=False)


@routes.post("/dashboard/{slug}/rooms/{key}/join")
async def open_as_organiser(request: web.Request) -> web.StreamResponse:
    """The dashboard's button: opens the room now if it is not, and drops the organiser in."""
    return await enter_room(request, open_now=True)


async def enter_room(request: web.Request, *, open_now: bool) -> web.StreamResponse:
    slug, key = request.match_info["slug"], request.match_info["key"]
    viewer = viewer_of(request, slug)
    if viewer is None:
        return _sign_in_first(request)
    if not viewer.can_act:
        raise web.HTTPForbidden(text="a followup sign-in can only read")
    app = request.app
    try:
        url = await organiser_url(
            app[appkeys.LIFECYCLE],
            app[appkeys.PROVIDERS],
            slug,
            key,
            app[appkeys.SETTINGS],
            app[appkeys.CLOCK].now(),
            open_now=open_now,
        )
    except NotYet as early:
        return await _offer_room(request, slug, key, early)
    except CannotOpen as error:
        raise web.HTTPConflict(text=str(error)) from None
    except ProviderError as error:
        raise web.HTTPBadGateway(text=str(error)) from None
    if url is None:
        raise web.HTTPNotFound(text=f"no session {key}")
    redirect = web.HTTPSeeOther if open_now else web.HTTPFound
    raise redirect(url, headers={"Cache-Control": "no-store"})


async def _offer_room(request: web.Request, slug: str, key: str, early: NotYet) -> web.Response:
    """The page of a room not open yet: when it opens by itself, and a button to open it now."""
    event = await _event(request, slug)
    pages = request.app[appkeys.PAGES]
    language = pages.language(event.locale)
    zone = event.timezone
    return pages.render(
        "open_room.html",
        event.locale,
        title=early.title,
        event_title=event.title,
        action=f"/dashboard/{slug}/rooms/{key}/join",
        back=f"/dashboard/{slug}",
        opens=f"{language.date(early.opens_at, zone)} {language.time(early.opens_at, zone)}",
    )
