"""`/j/{token}`: a person's own join link. Inside its window it makes sure the room exists, mints
the provider's credentials for this seat, records the click and redirects; otherwise it says when
the link opens, that the session is cancelled or over. Unknown tokens get the same 404 page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from sqlalchemy import insert, or_, select

from integrations.base import JoinRequest, ProviderError, Role, Room

from .. import appkeys
from ..db import models as m
from ..db.replays import Replay
from ..db.updates import note
from ..rooms.lifecycle import ensure_ready, seat_of
from .errors import names_nothing

routes = web.RouteTableDef()
MODERATOR_KINDS = ("buyer", "organiser")


@dataclass(frozen=True, slots=True)
class Visit:
    """Everything a join page needs about the link's owner and their session."""

    attendee: m.Attendee
    person: m.Person
    session: m.Session
    event: m.Event
    room: m.Room
    organisation_kind: str | None

    @property
    def locale(self) -> str:
        return self.person.locale or self.event.locale

    @property
    def role(self) -> Role:
        """Speakers and organisers moderate; in a meeting the buyer does too."""
        kinds = ("organiser",) if self.session.kind == "plenary" else MODERATOR_KINDS
        moderator = self.attendee.role == "speaker" or self.organisation_kind in kinds
        return Role.MODERATOR if moderator else Role.PARTICIPANT


async def find_visit(request: web.Request, token: str) -> Visit | None:
    """The live seat a token opens, or None (unknown, removed person or removed attendee)."""
    if names_nothing(token):
        return None
    async with request.app[appkeys.DB]() as db:
        row = (
            await db.execute(
                select(m.Attendee, m.Person, m.Session, m.Event, m.Room, m.Organisation.kind)
                .join(m.Person, m.Person.id == m.Attendee.person_id)
                .join(m.Session, m.Session.id == m.Attendee.session_id)
                .join(m.Event, m.Event.id == m.Session.event_id)
                .join(m.Room, m.Room.session_id == m.Session.id)
                .outerjoin(m.Organisation, m.Organisation.id == m.Person.organisation_id)
                .where(m.Attendee.token == token)
            )
        ).first()
    if row is None:
        return None
    visit = Visit(*row)
    if visit.attendee.removed_at is not None or visit.person.removed_at is not None:
        return None
    return visit


async def record(request: web.Request, visit: Visit, outcome: str, now: datetime) -> None:
    async with request.app[appkeys.DB]() as db, db.begin():
        await db.execute(
            insert(m.LinkClick).values(
                attendee_id=visit.attendee.id, clicked_at=now, outcome=outcome
            )
        )
        if outcome == "stream":  # sent to the plenary's stream, the click is the attendance
            await note(db, [(visit.event.id, visit.session.id)], "link", now)
    if outcome == "stream":
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


def closed_state(visit: Visit, now: datetime, join_early: timedelta) -> str | None:
    """Why the link cannot open the room now (cancelled, early, ended), or None."""
    session = visit.session
    if session.cancelled:
        return "cancelled"
    if now < session.starts_at - join_early:
        return "early"
    if now >= session.ends_at:
        return "ended"
    return None


async def closed_page(
    request: web.Request, visit: Visit, state: str, now: datetime
) -> web.Response:
    await record(request, visit, state, now)
    language = request.app[appkeys.PAGES].language(visit.locale)
    zone = visit.event.timezone
    opens = visit.session.starts_at - request.app[appkeys.SETTINGS].join_early
    return page(
        request, visit, state, opens=f"{language.date(opens, zone)} {language.time(opens, zone)}"
    )


@routes.get("/j/{token}")
async def join(request: web.Request) -> web.StreamResponse:
    app = request.app
    now = app[appkeys.CLOCK].now()
    visit = await find_visit(request, request.match_info["token"])
    if visit is None:
        return page(request, None, "unknown")
    state = closed_state(visit, now, app[appkeys.SETTINGS].join_early)
    session = visit.session
    if state == "ended" and (replay := await replay_url(request, session.id, now)):
        await record(request, visit, "replay", now)
        raise _go(replay)
    if (
        state is None
        and session.streamed
        and session.stream_url
        and visit.role is not Role.MODERATOR
    ):
        # The audience of a streamed plenary watches the stream; speakers and organisers go in.
        await record(request, visit, "stream", now)
        raise _go(session.stream_url)
    if state is None and await ensure_ready(app[appkeys.LIFECYCLE], visit.room.id):
        opens = session.starts_at - app[appkeys.SETTINGS].join_early
        url = await _provider_url(request, visit, opens, now)
        if url is not None:
            await record(request, visit, "joined", now)
            raise _go(url)
    return await closed_page(request, visit, state or "unavailable", now)


def _go(url: str) -> web.HTTPFound:
    return web.HTTPFound(
        url, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    )


async def replay_url(request: web.Request, session_id: int, now: datetime) -> str | None:
    """The session's replay to send people to: the newest one still valid."""
    async with request.app[appkeys.DB]() as db:
        found = await db.scalar(
            select(Replay.url)
            .where(
                Replay.session_id == session_id,
                or_(Replay.valid_until.is_(None), Replay.valid_until > now),
            )
            .order_by(Replay.valid_until.is_(None).desc(), Replay.added_at.desc())
            .limit(1)
        )
    return found


@routes.get("/room/{token}")
async def room_page(request: web.Request) -> web.StreamResponse:
    """The join page of providers without a web client of their own (Janus)."""
    app = request.app
    settings = app[appkeys.SETTINGS]
    now = app[appkeys.CLOCK].now()
    visit = await find_visit(request, request.match_info["token"])
    if visit is None or visit.room.provider != "janus" or not settings.janus_url:
        return page(request, None, "unknown")
    state = closed_state(visit, now, settings.join_early)
    async with app[appkeys.DB]() as db:
        room = await db.get_one(m.Room, visit.room.id)
    if state is None and room.state not in ("ready", "live"):
        state = "unavailable"
    if state is not None:
        return await closed_page(request, visit, state, now)
    janus_js = settings.janus_js_url or "/vendor/janus/janus.js"
    csp = (
        f"default-src 'self'; script-src 'self' {_origin(janus_js)}; style-src 'self'; "
        f"connect-src 'self' {_origin(settings.janus_url)}; media-src 'self' blob: mediastream:; "
        "img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    )
    return app[appkeys.PAGES].render(
        "room.html",
        visit.locale,
        csp=csp,
        title=visit.session.title,
        display_name=visit.person.name,
        janus_server=settings.janus_url,
        janus_js=janus_js,
        room=room.provider_data["room"],
        pin=room.provider_data["pin"],
        token=visit.attendee.token,
        seat_number=seat_of(visit.attendee.id, "").number,
        leave_url=f"{settings.base_url}/j/{visit.attendee.token}",
    )


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


async def _provider_url(
    request: web.Request, visit: Visit, opens: datetime, now: datetime
) -> str | None:
    app = request.app
    async with app[appkeys.DB]() as db:
        room = await db.get_one(m.Room, visit.room.id)
    try:
        provider = app[appkeys.PROVIDERS].get(room.provider)
        return await provider.join_url(
            JoinRequest(
                room=Room(room.room_key, room.provider_data),
                seat=seat_of(visit.attendee.id, visit.attendee.token),
                display_name=visit.person.name,
                email=visit.person.email,
                role=visit.role,
                not_before=opens,
                expires_at=visit.session.ends_at + app[appkeys.SETTINGS].close_grace,
            ),
            now=now,
        )
    except ProviderError:
        return None
