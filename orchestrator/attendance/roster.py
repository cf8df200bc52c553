"""Who is expected at an event: its people and each session's seats."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..db import models as m
from ..turns import in_turns


@dataclass(frozen=True, slots=True)
class Person:
    id: int
    key: str
    name: str
    email: str
    organisation: str | None
    organisation_key: str | None
    kind: str | None


@dataclass(frozen=True, slots=True)
class Roster:
    """Who is expected: the event's people (by id, email and name) and each session's seats.
    Only a program change alters it, so a caller refreshing a few sessions often (the live
    dashboard) reads it once and passes it in."""

    people: dict[int, Person]
    by_email: dict[str, Person]
    by_name: dict[str, Person]
    seats: dict[int, list[tuple[int, int, str]]]  # session id -> (attendee, person, role)
    # Seats handed to a colleague: attendee id -> the person whose seat it took.
    stands_in: dict[int, int] = field(default_factory=dict)


async def roster(
    db: AsyncSession, event: m.Event, session_ids: Collection[int] | None = None
) -> Roster:
    """The event's roster, with the seats of `session_ids` only when given."""
    people = {
        row.id: Person(row.id, row.key, row.name, row.email, row.org_name, row.org_key, row.kind)
        async for row in in_turns(
            await db.execute(
                select(
                    m.Person.id,
                    m.Person.key,
                    m.Person.name,
                    m.Person.email,
                    m.Organisation.name.label("org_name"),
                    m.Organisation.key.label("org_key"),
                    m.Organisation.kind,
                )
                .outerjoin(m.Organisation, m.Organisation.id == m.Person.organisation_id)
                .where(m.Person.event_id == event.id)
            )
        )
    }
    seats: dict[int, list[tuple[int, int, str]]] = defaultdict(list)
    among = m.Session.event_id == event.id if session_ids is None else m.Session.id.in_(session_ids)
    stands_in: dict[int, int] = {}
    seated = await db.execute(
        select(
            m.Attendee.id,
            m.Attendee.session_id,
            m.Attendee.person_id,
            m.Attendee.role,
            m.Attendee.substitute_for_id,
        )
        .join(m.Session, m.Session.id == m.Attendee.session_id)
        .where(among, m.Attendee.removed_at.is_(None))
        .order_by(m.Attendee.id)
    )
    async for attendee_id, session_id, person_id, role, handed_by in in_turns(seated):
        # A person added by an import that committed between the two reads (PostgreSQL reads
        # each statement afresh) waits for the next read; that import notes a change.
        if person_id in people:
            seats[session_id].append((attendee_id, person_id, role))
            if handed_by is not None and handed_by in people:
                stands_in[attendee_id] = handed_by
    return Roster(
        people,
        {person.email.casefold(): person for person in people.values()},
        {" ".join(person.name.split()).casefold(): person for person in people.values()},
        dict(seats),
        stands_in,
    )
