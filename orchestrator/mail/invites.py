"""Turns a change set into calendar mail in the outbox, in the transaction of the change.

Who gets what (SPEC "Importing again"): a new session invites its attendees; a change that alters
what an attendee's invite shows updates them; an added attendee is invited, a removed one gets a
CANCEL for themselves only; a cancelled session sends CANCEL to everyone still expected. A plenary's
invite lists only its recipient, so people joining or leaving it concern only themselves.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from calendars import ics, imip
from calendars.model import Entry, Method, Party
from calendars.text import Notice, Writer

from ..db import models as m
from ..program.changes import ChangeSet, SessionChange
from ..settings import Settings
from .outbox import Outgoing, enqueue

QUEUE_CHUNK = 500
# Session changes a plenary invite shows (it lists no other attendee).
PLENARY_SHOWN = frozenset({"start", "end", "title", "kind", "event"})


@dataclass(frozen=True, slots=True)
class Seat:
    """One attendee row with what the invite needs about the person."""

    person_id: int
    key: str
    party: Party
    locale: str | None
    token: str
    feed_token: str
    speaker: bool
    removed: bool


def session_uid(event: m.Event, session: m.Session, public_url: str) -> str:
    """Stable for the life of the session, so updates and cancellations replace the entry."""
    host = urlsplit(public_url).hostname or "localhost"
    return f"{event.slug}.{session.key}.{session.id}@{host}"


async def load_seats(db: AsyncSession, session_ids: list[int]) -> dict[int, list[Seat]]:
    """Every attendee row (removed ones too) of the sessions, with the person's details."""
    rows = await db.execute(
        select(
            m.Attendee.session_id,
            m.Attendee.role,
            m.Attendee.token,
            m.Attendee.removed_at,
            m.Person.id,
            m.Person.key,
            m.Person.name,
            m.Person.email,
            m.Person.locale,
            m.Person.feed_token,
            m.Organisation.name.label("organisation"),
        )
        .join(m.Person, m.Person.id == m.Attendee.person_id)
        .outerjoin(m.Organisation, m.Organisation.id == m.Person.organisation_id)
        .where(m.Attendee.session_id.in_(session_ids))
        .order_by(m.Attendee.id)
    )
    seats: dict[int, list[Seat]] = defaultdict(list)
    for row in rows:
        seats[row.session_id].append(
            Seat(
                person_id=row.id,
                key=row.key,
                party=Party(row.name, row.email, row.organisation),
                locale=row.locale,
                token=row.token,
                feed_token=row.feed_token,
                speaker=row.role == "speaker",
                removed=row.removed_at is not None,
            )
        )
    return seats


def build_entry(
    writer: Writer,
    base_url: str,
    event: m.Event,
    session: m.Session,
    seats: list[Seat],
    seat: Seat,
    *,
    cancelled: bool = False,
    alone: bool = False,
    replay_url: str | None = None,
) -> Entry:
    """The session as `seat` sees it; `alone` lists only them (a CANCEL for one person)."""
    organiser = Party(event.organiser_name, event.organiser_email)
    meeting = session.kind == "meeting"
    # Only a meeting lists who else comes; a plenary's invite names its recipient alone (and
    # listing its thousand seats for each of them would cost a million steps).
    present = tuple(other.party for other in seats if not other.removed) if meeting else ()
    others = tuple(party for party in present if party != seat.party)
    join_url = f"{base_url}/j/{seat.token}"
    return Entry(
        uid=session_uid(event, session, base_url),
        sequence=session.sequence,
        title=session.title,
        kind=session.kind,
        starts_at=session.starts_at,
        ends_at=session.ends_at,
        zone=event.timezone,
        organiser=organiser,
        recipient=seat.party,
        attendees=present if meeting and not alone else (seat.party,),
        others=others,
        join_url=join_url,
        description=writer.describe(
            seat.locale or event.locale,
            title=session.title,
            kind=session.kind,
            starts_at=session.starts_at,
            ends_at=session.ends_at,
            zone=event.timezone,
            others=others,
            join_url=join_url,
            organiser=organiser,
            event_title=event.title,
            speaker=seat.speaker,
            feed_url=f"{base_url}/calendar/{seat.feed_token}.ics",
            replay_url=replay_url,
            agenda_url=f"{base_url}/me/{seat.feed_token}",
        ),
        event_title=event.title,
        speaker=seat.speaker,
        cancelled=cancelled,
        last_modified=session.updated_at,
    )


class InviteComposer:
    """Builds the outbox rows of one change set."""

    def __init__(self, settings: Settings, writer: Writer) -> None:
        self.settings = settings
        self.writer = writer

    async def queue(self, db: AsyncSession, changes: ChangeSet, now: datetime) -> int:
        """Queues every message the change set calls for; returns how many."""
        wanted = {key: Notice.INVITATION for key in changes.sessions_created}
        wanted.update({key: Notice.CANCELLED for key in changes.sessions_cancelled})
        updates = {
            change.key: change for change in changes.sessions_changed if change.touches_invites
        }
        keys = set(wanted) | set(updates)
        if not keys:
            return 0
        event = await db.scalar(select(m.Event).where(m.Event.slug == changes.event))
        assert event is not None
        sessions = (
            await db.scalars(
                select(m.Session).where(m.Session.event_id == event.id, m.Session.key.in_(keys))
            )
        ).all()
        seats = await load_seats(db, [session.id for session in sessions])
        outgoing: list[Outgoing] = []
        queued = 0
        for session in sessions:
            session_seats = seats[session.id]
            if session.key in updates:
                plan = self._plan_update(session, updates[session.key], session_seats)
            else:
                notice = wanted[session.key]
                plan = [(seat, notice) for seat in session_seats if not seat.removed]
            for seat, notice in plan:
                outgoing.append(self._message(event, session, session_seats, seat, notice, now))
                if len(outgoing) >= QUEUE_CHUNK:  # bounded memory for very large events
                    queued += await enqueue(db, outgoing)
                    outgoing.clear()
        return queued + await enqueue(db, outgoing)

    def _plan_update(
        self, session: m.Session, change: SessionChange, seats: list[Seat]
    ) -> list[tuple[Seat, Notice]]:
        added, removed = set(change.attendees_added), set(change.attendees_removed)
        shown = PLENARY_SHOWN if session.kind == "plenary" else None
        everyone_changed = shown is None or not shown.isdisjoint(change.fields)
        plan: list[tuple[Seat, Notice]] = []
        for seat in seats:
            key = seat.key
            if key in removed:
                plan.append((seat, Notice.UNINVITED))
            elif seat.removed:
                continue
            elif key in added:
                plan.append((seat, Notice.INVITATION))
            elif everyone_changed or (key in change.roles_changed):
                plan.append((seat, Notice.UPDATE))
        return plan

    def _message(
        self,
        event: m.Event,
        session: m.Session,
        seats: list[Seat],
        seat: Seat,
        notice: Notice,
        now: datetime,
    ) -> Outgoing:
        locale = seat.locale or event.locale
        organiser = Party(event.organiser_name, event.organiser_email)
        entry = build_entry(
            self.writer,
            self.settings.base_url,
            event,
            session,
            seats,
            seat,
            cancelled=notice == Notice.CANCELLED,
            alone=notice == Notice.UNINVITED,
        )
        cancelling = notice in (Notice.CANCELLED, Notice.UNINVITED)
        calendar = ics.cancel(entry, now=now) if cancelling else ics.request(entry, now=now)
        text = self.writer.mail(entry, notice, locale)
        sender = Party(event.organiser_name, self.settings.mail_from)
        body = imip.build(
            sender=sender,
            reply_to=organiser,
            recipient=seat.party,
            subject=text.subject,
            text=text.text,
            html=text.html,
            calendar=calendar,
            method=Method.CANCEL if cancelling else Method.REQUEST,
            now=now,
        )
        return Outgoing(
            event_id=event.id,
            session_id=session.id,
            person_id=seat.person_id,
            kind=notice.value,
            dedupe_key=f"{notice.value}:{session.id}:{seat.person_id}:{session.sequence}",
            sender=self.settings.mail_from,
            recipient=seat.party.email,
            subject=text.subject,
            body=body,
            created_at=now,
        )
