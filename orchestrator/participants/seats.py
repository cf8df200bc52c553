"""Who sits in a session, with what their invite, their agenda and their calendar feed show of
it: the seats of a session's attendee rows, and the calendar entry as one seat sees it."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from calendars.model import Entry, Party
from calendars.text import Writer

from ..db import models as m


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
    answer: str = "needs-action"  # the seat's answer (participants/answers.py)
    answer_reason: str | None = None
    attendee_id: int = 0  # the attendee row (its reply address names it)


def session_uid(event: m.Event, session: m.Session, public_url: str) -> str:
    """Stable for the life of the session, so updates and cancellations replace the entry."""
    host = urlsplit(public_url).hostname or "localhost"
    return f"{event.slug}.{session.key}.{session.id}@{host}"


async def load_seats(db: AsyncSession, session_ids: list[int]) -> dict[int, list[Seat]]:
    """Every attendee row (removed ones too) of the sessions, with the person's details; not
    those of erased people: nothing is sent to them, and nobody's invite lists them."""
    rows = await db.execute(
        select(
            m.Attendee.session_id,
            m.Attendee.role,
            m.Attendee.token,
            m.Attendee.removed_at,
            m.Attendee.answer,
            m.Attendee.answer_reason,
            m.Attendee.id.label("attendee_id"),
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
        .where(m.Attendee.session_id.in_(session_ids), m.Person.erased_at.is_(None))
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
                answer=row.answer,
                answer_reason=row.answer_reason,
                attendee_id=row.attendee_id,
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
    reply_to: str | None = None,
) -> Entry:
    """The session as `seat` sees it; `alone` lists only them (a CANCEL for one person).
    `reply_to` is the organiser address its calendar replies go to (the seat's own, when rdv
    reads replies), else the organiser's."""
    organiser = Party(event.organiser_name, event.organiser_email)
    meeting = session.kind in m.ONE_TO_ONE
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
        organiser=Party(organiser.name, reply_to) if reply_to else organiser,
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
            answer_url=None
            if cancelled or session.cancelled
            else f"{base_url}/me/{seat.feed_token}#session-{session.key}",
        ),
        event_title=event.title,
        speaker=seat.speaker,
        cancelled=cancelled,
        last_modified=session.updated_at,
    )
