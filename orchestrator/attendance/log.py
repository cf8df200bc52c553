"""The attendance log of an event: every expected person of every session, plus substitutes and
guests, computed from the stored events (one computation for the API, the CSV, the report and the
dashboard)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import fields
from datetime import datetime
from typing import Any

from sqlalchemy import false, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..db import models as m
from ..db.attendance import ProviderEventRow
from ..db.base import names_nothing
from ..settings import Marks
from ..turns import Turns, in_turns
from .outcomes import Line, Outcome, RoomSeen, SessionSeen
from .presence import Interval, Mark, identity, intervals
from .reports import REPORT
from .roster import Person, Roster, roster
from .rules import Window, held, minutes_between, presence, status

PERSONAL = ("joined", "left", "present", "poll")  # the kinds that say who was there


# The columns SessionSeen and RoomSeen are made of, named by their fields, in their order.
_SESSION = tuple(getattr(m.Session, field.name) for field in fields(SessionSeen))
_ROOM = tuple(getattr(m.Room, field.name) for field in fields(RoomSeen))


async def event_attendance(
    db: AsyncSession, slug: str, *, now: datetime, marks: Marks, session_key: str | None = None
) -> tuple[m.Event, list[Outcome]] | None:
    """The event of `slug` and its `attendance`, or None when there is no such event."""
    event = await db.scalar(select(m.Event).where(m.Event.slug == slug))
    if event is None:
        return None
    return event, await attendance(db, event, now=now, marks=marks, session_key=session_key)


async def attendance(
    db: AsyncSession,
    event: m.Event,
    *,
    now: datetime,
    marks: Marks,
    session_key: str | None = None,
    session_ids: Collection[int] | None = None,
    known: Roster | None = None,
) -> list[Outcome]:
    """Every live session's outcome, in time order; only the session with `session_key`, or
    those of `session_ids`, when given. `known` is the event's roster, when the caller has it."""
    query = (
        select(*_SESSION, *_ROOM)
        .join(m.Room, m.Room.session_id == m.Session.id)
        .where(m.Session.event_id == event.id, m.Session.cancelled_at.is_(None))
        .order_by(m.Session.starts_at, m.Session.key)
    )
    if session_key is not None:
        query = query.where(false() if names_nothing(session_key) else m.Session.key == session_key)
    if session_ids is not None:
        query = query.where(m.Session.id.in_(session_ids))
    width = len(_SESSION)
    result: Any = await db.execute(query)
    sessions = [
        (SessionSeen(*row[:width]), RoomSeen(*row[width:])) async for row in in_turns(result)
    ]
    if not sessions:
        return []
    whole = session_key is None and session_ids is None
    asked = [session.id for session, _ in sessions]
    if known is None:
        known = await roster(db, event, None if whole else asked)
    # The whole event's link clicks, or only those of the few sessions asked for.
    among = m.Session.event_id == event.id if whole else m.Session.id.in_(asked)
    room_ids = [room.id for _, room in sessions]
    traces: dict[int, list[Mark]] = defaultdict(list)
    sources: dict[int, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    guests: dict[int, dict[str, tuple[str | None, str | None]]] = defaultdict(dict)
    rows: Any = await db.execute(
        select(
            ProviderEventRow.room_id,
            ProviderEventRow.kind,
            ProviderEventRow.at,
            ProviderEventRow.attendee_id,
            ProviderEventRow.connection,
            ProviderEventRow.participant_name,
            ProviderEventRow.participant_email,
            ProviderEventRow.source,
            ProviderEventRow.provider,
            ProviderEventRow.details,
        ).where(ProviderEventRow.room_id.in_(room_ids))
    )
    rows = _reported(list(rows))
    turns = Turns()
    joins: dict[tuple[int, str], list[tuple[datetime, str]]] = defaultdict(list)
    for row in rows:
        if row.attendee_id is None and row.kind in ("joined", "present") and row.connection:
            joins[(row.room_id, row.connection)].append((row.at, _named(row)))
    for found in joins.values():
        found.sort()
    for row in rows:
        await turns.give()
        person = _person(row, joins)
        listed = _listed(row.details) if row.kind == "poll" else None
        traces[row.room_id].append(
            Mark(row.at, row.kind, person, row.connection, listed or frozenset())
        )
        if person is not None:
            sources[row.room_id][person].add(
                row.source if row.source != "webhook" else row.provider
            )
            if row.attendee_id is None:  # each event may tell a part: keep what any told
                name, email = guests[row.room_id].get(person, (None, None))
                guests[row.room_id][person] = (
                    name or row.participant_name,
                    email or row.participant_email,
                )
    clicks: dict[int, dict[int, datetime]] = defaultdict(dict)
    for session_id, attendee_id, clicked_at in await db.execute(
        select(m.Attendee.session_id, m.LinkClick.attendee_id, m.LinkClick.clicked_at)
        .join(m.Attendee, m.Attendee.id == m.LinkClick.attendee_id)
        .join(m.Session, m.Session.id == m.Attendee.session_id)
        .where(among, m.LinkClick.outcome == "stream")
        .order_by(m.LinkClick.clicked_at)
    ):
        clicks[session_id].setdefault(attendee_id, clicked_at)
    # Answers are read here, not with the roster a refresh reuses: a decline shows at once.
    answers = {
        attendee_id: (answer, reason)
        for attendee_id, answer, reason in await db.execute(
            select(m.Attendee.id, m.Attendee.answer, m.Attendee.answer_reason)
            .join(m.Session, m.Session.id == m.Attendee.session_id)
            .where(among, m.Attendee.answer != "needs-action")
        )
    }
    outcomes = []
    async for session, room in in_turns(sessions):
        room_id = room.id
        window = Window(
            starts_at=session.starts_at,
            ends_at=session.ends_at,
            opens_at=session.starts_at - marks.join_early,
            closes_at=session.ends_at + marks.close_grace,
            late_after=marks.late_after,
            now=now,
        )
        spans = intervals(traces[room_id], until=min(now, window.closes_at))
        outcomes.append(
            _outcome(
                session,
                room,
                window,
                known.seats.get(session.id, []),
                spans,
                known,
                guests[room_id],
                {person: frozenset(found) for person, found in sources[room_id].items()},
                clicks[session.id],
                answers,
            )
        )
    return outcomes


def _listed(details: dict[str, Any]) -> frozenset[str]:
    """Who a poll listed, one per line (`people`). Polls stored before, which separated them
    by spaces (`listed`), are read so: right for seats, while a guest's name came apart."""
    if "people" in details:
        return frozenset(str(details["people"]).split("\n")) - {""}
    return frozenset(str(details.get("listed", "")).split())


def _reported(rows: list[Any]) -> list[Any]:
    """Where the provider's own record of a room was read (`reports.py`), the room's presence
    is that record's alone: what notifications and polls said of people is set aside."""
    reported = {row.room_id for row in rows if row.source == REPORT}
    if not reported:
        return rows
    return [
        row
        for row in rows
        if row.room_id not in reported or row.source == REPORT or row.kind not in PERSONAL
    ]


def _named(row: Any) -> str:
    return identity(row.participant_name, row.participant_email, row.connection)


def _person(row: Any, joins: dict[tuple[int, str], list[tuple[datetime, str]]]) -> str | None:
    """Whose event a row is: the seat's, or whoever the provider named; None for the room's own
    events. A leave may not say who left (bbb-webhooks' user-left, JaaS's PARTICIPANT_LEFT and
    Janus's leaving carry no email, or no name at all): it is whoever last joined on that
    connection before it (or first, for a leave that arrived with an earlier time)."""
    if row.attendee_id is not None:
        return f"a{row.attendee_id}"
    if row.kind not in ("joined", "left", "present"):
        return None
    found = joins.get((row.room_id, row.connection or ""))
    if row.kind != "left" or not found:
        return _named(row)
    earlier = [who for when, who in found if when <= row.at]
    return earlier[-1] if earlier else found[0][1]


def _outcome(
    session: SessionSeen,
    room: RoomSeen,
    window: Window,
    seats: list[tuple[int, int, str]],
    spans: dict[str, list[Interval]],
    who: Roster,
    guests: dict[str, tuple[str | None, str | None]],
    sources: dict[str, frozenset[str]],
    clicks: dict[int, datetime],
    answers: dict[int, tuple[str, str | None]],
) -> Outcome:
    people = who.people
    expected = {people[person_id].id: (attendee_id, role) for attendee_id, person_id, role in seats}
    own: dict[int, list[Interval]] = defaultdict(list)
    own_sources: dict[int, set[str]] = defaultdict(set)
    for attendee_id, person_id, _ in seats:
        own[person_id] += spans.get(f"a{attendee_id}", [])
        own_sources[person_id] |= sources.get(f"a{attendee_id}", frozenset())
        if not own[person_id] and attendee_id in clicks:
            # Sent to the stream: we cannot see viewers, so the click is the attendance.
            own[person_id] = [(clicks[attendee_id], clicks[attendee_id])]
            own_sources[person_id] = {"link"}
    extra: list[tuple[Person | None, str, str | None, list[Interval], frozenset[str]]] = []
    for someone, (name, email) in guests.items():
        known = (who.by_email.get(email.casefold()) if email else None) or (
            who.by_name.get(" ".join(name.split()).casefold()) if name else None
        )
        if known is not None and known.id in expected:  # came another way: still them
            own[known.id] += spans.get(someone, [])
            own_sources[known.id] |= sources.get(someone, frozenset())
        else:
            extra.append(
                (
                    known,
                    name or email or "guest",
                    email,
                    spans.get(someone, []),
                    sources.get(someone, frozenset()),
                )
            )
    lines = []
    for attendee_id, person_id, role in seats:
        person = people[person_id]
        seen = presence(own[person_id], window, frozenset(own_sources[person_id]))
        handed_by = people.get(who.stands_in.get(attendee_id, 0))  # "a colleague comes instead"
        lines.append(
            Line(
                person,
                person.name,
                person.email,
                "substitute" if handed_by and role == "attendee" else role,
                seen,
                status(seen, window),
                substitute_for=handed_by,
                attendee_id=attendee_id,
                answer=answers.get(attendee_id, ("needs-action", None))[0],
                answer_reason=answers.get(attendee_id, ("needs-action", None))[1],
            )
        )
    for known, name, email, found, found_sources in extra:
        seen = presence(found, window, found_sources)
        if not seen.spans:
            continue
        stands_in = _stands_in_for(known, lines)
        lines.append(
            Line(
                known,
                known.name if known else name,
                known.email if known else email,
                "substitute" if stands_in else "guest",
                seen,
                status(seen, window),
                substitute_for=stands_in,
            )
        )
    together = None
    minutes = 0.0
    if session.kind in m.ONE_TO_ONE:
        sides = [
            [
                span
                for line in lines
                if line.organisation_kind == side
                for span in line.presence.spans
            ]
            for side in ("company", "buyer")
        ]
        together, _ = held(sides)
        # The time together that counts for the figures: within the session, start to end.
        minutes = minutes_between(sides, session.starts_at, session.ends_at)
    return Outcome(session, room, window, tuple(lines), together, minutes)


def _stands_in_for(known: Person | None, lines: Iterable[Line]) -> Person | None:
    """A colleague of an expected person who did not come takes their place."""
    if known is None or known.organisation_key is None:
        return None
    colleagues = [
        line
        for line in lines
        if line.person
        and line.attendee_id
        and line.person.organisation_key == known.organisation_key
    ]
    absent = [line for line in colleagues if not line.presence.spans]
    chosen = (absent or colleagues)[:1]
    return chosen[0].person if chosen else None


def as_dict(outcome: Outcome, zone: Any) -> list[dict[str, Any]]:
    """The log lines of one session, as the API and the CSV show them."""
    session = outcome.session

    def text(moment: datetime | None) -> str | None:
        return moment.astimezone(zone).isoformat() if moment else None

    return [
        {
            "session": session.key,
            "session_title": session.title,
            "local_start": text(session.starts_at),
            "person": line.person.key if line.person else None,
            "name": line.name,
            "email": line.email,
            "organisation": line.person.organisation if line.person else None,
            "organisation_kind": line.organisation_kind,
            "role": line.role,
            "first_join": text(line.presence.first_join),
            "last_leave": text(line.presence.last_leave),
            "minutes_present": line.presence.minutes,
            "status": line.status,
            "substitute_for": line.substitute_for.key if line.substitute_for else None,
            "sources": sorted(line.presence.sources),
            "answer": line.answer,
            "answer_reason": line.answer_reason,
        }
        for line in outcome.lines
    ]
