"""A personal join link's visit: the seat its token opens, whether the session's window lets it
in now, and where a finished session's replay is (the click itself goes to `clicks.py`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from integrations.base import Role

from ..db import models as m
from ..db.base import names_nothing
from ..db.replays import Replay
from ..replays.links import followable

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


async def find_visit(db: AsyncSession, token: str) -> Visit | None:
    """The live seat a token opens, or None (unknown token, removed person or attendee)."""
    if names_nothing(token):
        return None
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


async def replay_url(db: AsyncSession, session_id: int, now: datetime) -> str | None:
    """The session's replay to send people to: the newest one still valid that may be followed."""
    found = await db.scalars(
        select(Replay.url)
        .where(
            Replay.session_id == session_id,
            or_(Replay.valid_until.is_(None), Replay.valid_until > now),
        )
        .order_by(Replay.valid_until.is_(None).desc(), Replay.added_at.desc())
    )
    return next((url for url in found if followable(url)), None)
