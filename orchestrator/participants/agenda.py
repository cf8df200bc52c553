"""A person's own sessions, as their agenda page (`/me/{token}`) and their calendar feed
(`/calendar/{token}.ics`) show them. The person's feed token is the key: no sign-in."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..db import models as m
from ..db.base import names_nothing
from ..db.outcomes import MeetingOutcome
from ..db.replays import Replay
from ..replays.links import followable
from ..settings import Settings
from .seats import Seat, load_seats


@dataclass(frozen=True, slots=True)
class Mine:
    """One of the person's sessions, with every seat in it and the person's own."""

    session: m.Session
    seats: list[Seat]
    seat: Seat
    replay_url: str | None


@dataclass(frozen=True, slots=True)
class Item:
    """A line of the agenda page."""

    key: str
    title: str
    kind: str
    state: str  # upcoming, open, ended, cancelled
    starts_at: datetime
    ends_at: datetime
    opens_at: datetime
    others: tuple[str, ...]
    join_url: str
    replay_url: str | None
    answer: str  # the person's own answer for this session (participants/answers.py)
    outcome: str | None = None  # the link of "what came of it?", once the meeting was held
    outcome_answer: str | None = None

    @property
    def answerable(self) -> bool:
        return self.state in ("upcoming", "open")


@dataclass(frozen=True, slots=True)
class Owner:
    """Whose feed token it is, and their event."""

    person: m.Person
    event: m.Event

    @property
    def locale(self) -> str:
        return self.person.locale or self.event.locale


async def owner_of(db: AsyncSession, token: str) -> Owner | None:
    """The person a feed token names, unless they were removed or erased."""
    if names_nothing(token):
        return None
    row = (
        await db.execute(
            select(m.Person, m.Event)
            .join(m.Event, m.Event.id == m.Person.event_id)
            .where(m.Person.feed_token == token, m.Person.removed_at.is_(None))
        )
    ).first()
    return None if row is None else Owner(*row)


async def sessions_of(
    db: AsyncSession, person: m.Person, *, cancelled: bool, key: str | None = None
) -> list[Mine]:
    """The person's sessions in time order (cancelled ones too when asked), each with its seats
    and its standing replay; only the session with `key`, when given."""
    if key is not None and names_nothing(key):
        return []
    query = (
        select(m.Session)
        .join(m.Attendee, m.Attendee.session_id == m.Session.id)
        .where(m.Attendee.person_id == person.id, m.Attendee.removed_at.is_(None))
        .order_by(m.Session.starts_at, m.Session.key)
    )
    if not cancelled:
        query = query.where(m.Session.cancelled_at.is_(None))
    if key is not None:
        query = query.where(m.Session.event_id == person.event_id, m.Session.key == key)
    sessions = (await db.scalars(query)).all()
    ids = [session.id for session in sessions]
    seats = await load_seats(db, ids)
    replays = {
        session_id: url
        for session_id, url in await db.execute(
            select(Replay.session_id, Replay.url)
            .where(Replay.session_id.in_(ids), Replay.valid_until.is_(None))
            .order_by(Replay.added_at)
        )
        if followable(url)
    }  # the newest replay of a session wins
    return [
        Mine(
            session,
            seats[session.id],
            next(seat for seat in seats[session.id] if seat.person_id == person.id),
            replays.get(session.id),
        )
        for session in sessions
    ]


def agenda_items(
    mine: list[Mine],
    settings: Settings,
    now: datetime,
    questions: Mapping[int, MeetingOutcome] | None = None,
) -> list[Item]:
    """The agenda page's lines: each session's state now, who else comes to a meeting, and the
    question of what came of it (`questions`, by session) once it was held."""
    items = []
    for found in mine:
        session = found.session
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
                for seat in found.seats
                if not seat.removed and seat.person_id != found.seat.person_id
            )
            if session.kind in m.ONE_TO_ONE
            else ()
        )
        items.append(
            Item(
                key=session.key,
                title=session.title,
                kind=session.kind,
                state=state,
                starts_at=session.starts_at,
                ends_at=session.ends_at,
                opens_at=opens,
                others=others,
                join_url=f"{settings.base_url}/j/{found.seat.token}",
                replay_url=found.replay_url,
                answer=found.seat.answer,
                outcome=question.token if (question := (questions or {}).get(session.id)) else None,
                outcome_answer=question.answer if question else None,
            )
        )
    return items


def _who(seat: Seat) -> str:
    party = seat.party
    return f"{party.name}, {party.organisation}" if party.organisation else party.name
