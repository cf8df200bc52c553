"""A seat's answer: whether its person will come (`accepted`, `tentative`) or not (`declined`),
said on their agenda page, by their calendar's reply, or by an organiser for them.

The answer is stored on the seat with when and where it came from, and the dashboard card of the
session is noted as changed: a meeting one side declined shows as an alert before anyone waits in
an empty room. Only a session still to come can be answered for.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..db import models as m
from ..db.base import names_nothing
from ..db.updates import note
from .announce import seat_answered

ANSWERS = ("accepted", "tentative", "declined")
REASON_LIMIT = 500


class Unanswerable(Exception):
    """Why this answer cannot be taken, in words for the person who gave it."""


@dataclass(frozen=True, slots=True)
class Given:
    """An answer as it came in."""

    answer: str
    source: str  # one of m.ANSWER_SOURCES
    reason: str | None = None


def clean_reason(text: str | None) -> str | None:
    """A reason as stored: control characters out, spaces collapsed, at most REASON_LIMIT."""
    if not text:
        return None
    kept = "".join(c if unicodedata.category(c)[0] != "C" else " " for c in text)
    return " ".join(kept.split())[:REASON_LIMIT] or None


async def seat_for(
    db: AsyncSession, person: m.Person, key: str
) -> tuple[m.Attendee, m.Session] | None:
    """The person's own seat in the event's session `key`, unless they were taken out of it."""
    if names_nothing(key):
        return None
    row = (
        await db.execute(
            select(m.Attendee, m.Session)
            .join(m.Session, m.Session.id == m.Attendee.session_id)
            .where(
                m.Attendee.person_id == person.id,
                m.Attendee.removed_at.is_(None),
                m.Session.event_id == person.event_id,
                m.Session.key == key,
            )
        )
    ).first()
    return None if row is None else (row[0], row[1])


async def answer_seat(
    db: AsyncSession, seat: m.Attendee, session: m.Session, given: Given, now: datetime
) -> bool:
    """Records `given` on the seat, in the caller's transaction; False when it changes nothing
    (the same answer again). Raises Unanswerable for a session that is over or cancelled."""
    if given.answer not in ANSWERS:
        raise Unanswerable(f"unknown answer {given.answer!r}: one of {', '.join(ANSWERS)}")
    if given.source not in m.ANSWER_SOURCES:
        raise Unanswerable(f"unknown source {given.source!r}")
    if session.cancelled_at is not None:
        raise Unanswerable("this session is cancelled")
    if now >= session.ends_at:
        raise Unanswerable("this session is over")
    reason = clean_reason(given.reason) if given.answer == "declined" else None
    if seat.answer == given.answer and seat.answer_reason == reason:
        return False
    seat.answer, seat.answer_reason = given.answer, reason
    seat.answered_at, seat.answer_source = now, given.source
    await db.flush()  # the seat's row before the dashboard's order lock (see `note`)
    await seat_answered(db, seat, session, now)
    await note(db, [(session.event_id, session.id)], "answer", now)
    return True
