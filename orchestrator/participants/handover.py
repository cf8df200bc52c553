""" "A colleague comes instead": a participant hands their seat in a session to a person of their
own organisation, one already in the event or one they name (name and email).

The colleague gets a seat of their own (their link, their invite), recorded as taking the
participant's seat (`substitute_for_id`), so the attendance log shows them as the substitute and
the organisation counts as present; the participant's seat is removed, so their link for that
session stops working and says where the seat went. The other side gets the updated invite.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..db import models as m
from ..db.audit import record
from ..db.base import names_nothing
from ..db.updates import note
from ..program.announce import announce
from ..program.changes import ChangeSet, SessionChange
from ..program.fields import EMAIL
from ..tokens import new_link_token
from .erasure import erased_among
from .needs import plain

NAME_LIMIT = 200


class Refused(ValueError):
    """Why the seat cannot be handed over; `code` names it for the page."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Colleague:
    """Who comes instead, as the form gives them: a person's key, or a name and an email."""

    key: str = ""
    name: str = ""
    email: str = ""


@dataclass(frozen=True, slots=True)
class Handed:
    """The seat given: to whom, and what the invites must say."""

    person: m.Person
    seat: m.Attendee
    changes: ChangeSet


@dataclass(frozen=True, slots=True)
class Moved:
    """Where a removed seat went: what its old link says."""

    session: m.Session
    event: m.Event
    locale: str
    to_name: str


async def colleagues_of(db: AsyncSession, person: m.Person) -> list[tuple[str, str]]:
    """(key, name) of the other people of the person's organisation, by name."""
    if person.organisation_id is None:
        return []
    rows = await db.execute(
        select(m.Person.key, m.Person.name)
        .where(
            m.Person.event_id == person.event_id,
            m.Person.organisation_id == person.organisation_id,
            m.Person.id != person.id,
            m.Person.removed_at.is_(None),
            m.Person.erased_at.is_(None),
        )
        .order_by(m.Person.name, m.Person.key)
    )
    return [(key, name) for key, name in rows]


async def hand_over(
    db: AsyncSession,
    person: m.Person,
    event: m.Event,
    seat: m.Attendee,
    session: m.Session,
    wanted: Colleague,
    *,
    now: datetime,
    secret: str | None,
) -> Handed:
    """Gives `seat` to the colleague, in the caller's transaction; Refused says why not."""
    if session.cancelled_at is not None or now >= session.ends_at:
        raise Refused("over", "this session is over or cancelled")
    if person.organisation_id is None:
        raise Refused("alone", "you are not in the program as part of an organisation")
    colleague = await _colleague(db, person, event, wanted, secret=secret, now=now)
    taken = await db.scalar(
        select(m.Attendee.id).where(
            m.Attendee.session_id == session.id,
            m.Attendee.person_id == colleague.id,
            m.Attendee.removed_at.is_(None),
        )
    )
    if taken is not None:
        raise Refused("already", f"{colleague.name} is already invited to this session")
    removed = await db.scalar(
        select(m.Attendee).where(
            m.Attendee.session_id == session.id, m.Attendee.person_id == colleague.id
        )
    )
    if removed is not None:  # was in it before: the row comes back, as the colleague's seat
        given = removed
        given.removed_at, given.token = None, new_link_token()
        given.answer, given.answered_at, given.answer_source = "needs-action", None, None
        given.answer_reason = None
    else:
        given = m.Attendee(session_id=session.id, person_id=colleague.id, token=new_link_token())
        db.add(given)
    given.role, given.substitute_for_id = seat.role, person.id
    seat.removed_at = now
    session.sequence += 1
    await db.flush()  # the rows before the dashboard's order lock (see `note`)
    change = SessionChange(
        session.key,
        ("attendees",),
        attendees_added=(colleague.key,),
        attendees_removed=(person.key,),
    )
    changes = ChangeSet(event=event.slug, sessions_changed=(change,))
    await announce(db, event.id, changes, now)  # the outbound webhooks' session.changed
    # The whole event: who is expected changed (the dashboard reads its roster again), and an
    # import that read the program before this must plan again (`PROGRAM_REASONS`).
    await note(db, [(session.event_id, None)], "handover", now)
    await record(
        db,
        event_id=event.id,
        at=now,
        actor="a participant (agenda page)",
        source="agenda",
        action="seat.handover",
        subject=session.key,
        details={"from": person.key, "to": colleague.key},
    )
    return Handed(colleague, given, changes)


async def _colleague(
    db: AsyncSession,
    person: m.Person,
    event: m.Event,
    wanted: Colleague,
    *,
    secret: str | None,
    now: datetime,
) -> m.Person:
    """The colleague named: an existing person of the organisation, or a new one."""
    if wanted.key:
        if names_nothing(wanted.key):
            raise Refused("unknown", "choose a colleague from the list")
        found = await db.scalar(
            select(m.Person).where(
                m.Person.event_id == event.id,
                m.Person.key == wanted.key,
                m.Person.organisation_id == person.organisation_id,
                m.Person.removed_at.is_(None),
                m.Person.erased_at.is_(None),
            )
        )
        if found is None or found.id == person.id:
            raise Refused("unknown", "choose a colleague from the list")
        return found
    name = plain(wanted.name, NAME_LIMIT).replace("\n", " ")
    email = wanted.email.strip().lower()
    if not name or not email:
        raise Refused("missing", "give your colleague's name and email")
    if len(email) > 254 or not EMAIL.fullmatch(email):
        raise Refused("email", f'"{email}" is not an email address')
    if email == person.email.strip().lower():
        raise Refused("yourself", "that is your own address")
    same = await db.scalar(
        select(m.Person).where(
            m.Person.event_id == event.id,
            func.lower(m.Person.email) == email,
            m.Person.erased_at.is_(None),
        )
    )
    if same is not None:
        if same.organisation_id != person.organisation_id:
            raise Refused("elsewhere", "that address is someone's of another organisation")
        same.removed_at = None  # taken out of the program once: back, as the colleague
        return same
    if await erased_among(db, event.id, [email], secret=secret):
        raise Refused("erased", "that person asked to be forgotten by this event")
    colleague = m.Person(
        event_id=event.id,
        key=await _free_key(db, event.id, name),
        name=name,
        email=email,
        organisation_id=person.organisation_id,
        locale=person.locale,
        feed_token=new_link_token(),
    )
    db.add(colleague)
    await db.flush()
    return colleague


async def _free_key(db: AsyncSession, event_id: int, name: str) -> str:
    """A person key from the name (`agnes.collomb`), made unique in the event."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    base = ".".join(re.findall(r"[a-z0-9]+", plain))[:70] or "colleague"
    taken = set(
        await db.scalars(
            select(m.Person.key).where(m.Person.event_id == event_id, m.Person.key.like(f"{base}%"))
        )
    )
    key, number = base, 2
    while key in taken:
        key, number = f"{base}-{number}", number + 1
    return key


async def colleague_in(db: AsyncSession, person: m.Person, key: str) -> str | None:
    """The name of the colleague who has the person's seat in the session `key` now."""
    if names_nothing(key):
        return None
    return await db.scalar(
        select(m.Person.name)
        .join(m.Attendee, m.Attendee.person_id == m.Person.id)
        .join(m.Session, m.Session.id == m.Attendee.session_id)
        .where(
            m.Session.event_id == person.event_id,
            m.Session.key == key,
            m.Attendee.substitute_for_id == person.id,
            m.Attendee.removed_at.is_(None),
        )
    )


async def moved_seat(db: AsyncSession, token: str) -> Moved | None:
    """Where the seat of a removed join link went, when it was handed to a colleague."""
    if names_nothing(token):
        return None
    row = (
        await db.execute(
            select(m.Attendee, m.Person, m.Session, m.Event)
            .join(m.Person, m.Person.id == m.Attendee.person_id)
            .join(m.Session, m.Session.id == m.Attendee.session_id)
            .join(m.Event, m.Event.id == m.Session.event_id)
            .where(m.Attendee.token == token, m.Attendee.removed_at.is_not(None))
        )
    ).first()
    if row is None:
        return None
    _, person, session, event = row
    to_name = await db.scalar(
        select(m.Person.name)
        .join(m.Attendee, m.Attendee.person_id == m.Person.id)
        .where(
            m.Attendee.session_id == session.id,
            m.Attendee.substitute_for_id == person.id,
            m.Attendee.removed_at.is_(None),
        )
    )
    if to_name is None:
        return None
    return Moved(session, event, person.locale or event.locale, to_name)
