"""`/me/{token}`: a person's agenda — their sessions in order, each with its state and, when it
is open, the join button; a calendar subscription and a per-session `.ics`. No sign-in: the
person's feed token is the key, as for their calendar feed."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp import web
from sqlalchemy import select

from calendars import ics

from .. import appkeys
from ..db import models as m
from ..db.replays import Replay
from ..mail.invites import Seat, build_entry, load_seats
from .errors import names_nothing

routes = web.RouteTableDef()


@dataclass(frozen=True, slots=True)
class Item:
    key: str
    title: str
    kind: str
    state: str  # upcoming, open, ended, cancelled
    when: str
    starts_at: str
    opens_at: str
    others: tuple[str, ...]
    join_url: str
    replay_url: str | None


async def _person(request: web.Request) -> m.Person | None:
    if names_nothing(request.match_info["token"]):
        return None
    async with request.app[appkeys.DB]() as db:
        return await db.scalar(
            select(m.Person).where(
                m.Person.feed_token == request.match_info["token"], m.Person.removed_at.is_(None)
            )
        )


def _unknown(request: web.Request) -> web.Response:
    return request.app[appkeys.PAGES].render(
        "join.html", None, status=404, state="unknown", title="rdv"
    )


@routes.get("/me/{token}")
async def agenda(request: web.Request) -> web.StreamResponse:
    person = await _person(request)
    if person is None:
        return _unknown(request)
    app = request.app
    settings, now = app[appkeys.SETTINGS], app[appkeys.CLOCK].now()
    async with app[appkeys.DB]() as db:
        event = await db.get_one(m.Event, person.event_id)
        sessions = (
            await db.scalars(
                select(m.Session)
                .join(m.Attendee, m.Attendee.session_id == m.Session.id)
                .where(m.Attendee.person_id == person.id, m.Attendee.removed_at.is_(None))
                .order_by(m.Session.starts_at, m.Session.key)
            )
        ).all()
        seats = await load_seats(db, [session.id for session in sessions])
        replays = dict(
            (
                await db.execute(
                    select(Replay.session_id, Replay.url)
                    .where(
                        Replay.session_id.in_([s.id for s in sessions]),
                        Replay.valid_until.is_(None),
                    )
                    .order_by(Replay.added_at.desc())
                )
            ).all()
        )
    locale = person.locale or event.locale
    language = app[appkeys.PAGES].language(locale)
    items = []
    for session in sessions:
        mine = next(seat for seat in seats[session.id] if seat.person_id == person.id)
        opens = session.starts_at - settings.join_early
        state = (
            "cancelled"
            if session.cancelled
            else "ended"
            if now >= session.ends_at
            else "open"
            if now >= opens
            else "upcoming"
        )
        others = (
            tuple(
                _who(seat)
                for seat in seats[session.id]
                if not seat.removed and seat.person_id != person.id
            )
            if session.kind == "meeting"
            else ()
        )
        items.append(
            Item(
                key=session.key,
                title=session.title,
                kind=session.kind,
                state=state,
                when=language.when(session.starts_at, session.ends_at, event.timezone),
                starts_at=session.starts_at.isoformat(),
                opens_at=opens.isoformat(),
                others=others,
                join_url=f"{settings.base_url}/j/{mine.token}",
                replay_url=replays.get(session.id),
            )
        )
    feed = f"{settings.base_url}/calendar/{person.feed_token}.ics"
    host = urlsplit(settings.base_url)
    return app[appkeys.PAGES].render(
        "agenda.html",
        locale,
        title=event.title,
        person=person,
        event=event,
        items=items,
        feed=feed,
        webcal=f"webcal://{host.netloc}{host.path}/calendar/{person.feed_token}.ics",
        token=person.feed_token,
        now=now.isoformat(),
    )


def _who(seat: Seat) -> str:
    party = seat.party
    return f"{party.name}, {party.organisation}" if party.organisation else party.name


@routes.get("/me/{token}/{key}.ics")
async def one_session(request: web.Request) -> web.StreamResponse:
    person = await _person(request)
    if person is None:
        return _unknown(request)
    if names_nothing(request.match_info["key"]):
        raise web.HTTPNotFound(text="not one of your sessions")
    app = request.app
    async with app[appkeys.DB]() as db:
        event = await db.get_one(m.Event, person.event_id)
        session = await db.scalar(
            select(m.Session)
            .join(m.Attendee, m.Attendee.session_id == m.Session.id)
            .where(
                m.Session.key == request.match_info["key"],
                m.Session.event_id == event.id,
                m.Attendee.person_id == person.id,
                m.Attendee.removed_at.is_(None),
            )
        )
        if session is None:
            raise web.HTTPNotFound(text="not one of your sessions")
        seats = (await load_seats(db, [session.id]))[session.id]
    mine = next(seat for seat in seats if seat.person_id == person.id)
    entry = build_entry(
        app[appkeys.WRITER],
        app[appkeys.SETTINGS].base_url,
        event,
        session,
        seats,
        mine,
        cancelled=session.cancelled,
    )
    return web.Response(
        body=ics.feed([entry], name=session.title),
        content_type="text/calendar",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{session.key}.ics"'},
    )
