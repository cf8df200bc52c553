"""The import's side of scheduling: storing an event's requests, giving them back as program
sections, and carrying the meetings placed before through a re-import of a program that only
holds the requests."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..db import models as m
from ..db.scheduling import MeetingRequest, MeetingSchedule
from .asked import accepted_requests
from .model import Program, Requests, SessionSpec
from .problems import Collector
from .raw import RawProgram


async def save(db: AsyncSession, event_id: int, requests: Requests | None) -> None:
    """Replaces what is stored with `requests` (nothing stored when None). Rows are rewritten:
    nothing points at them, and the meetings they produced are matched by session key."""
    await db.execute(delete(MeetingRequest).where(MeetingRequest.event_id == event_id))
    await db.execute(delete(MeetingSchedule).where(MeetingSchedule.event_id == event_id))
    if requests is None:
        return
    sections = requests.document()
    schedule = sections["schedule"]
    db.add(
        MeetingSchedule(
            event_id=event_id,
            windows=schedule["windows"],
            slot_minutes=schedule["slot_minutes"],
            gap_minutes=schedule["gap_minutes"],
            max_parallel=schedule.get("max_parallel"),
            max_per_person=schedule.get("max_per_person"),
            refill=schedule.get("refill"),
            requests_open=schedule.get("requests_open"),
            requests_close=schedule.get("requests_close"),
            max_requests_per_person=schedule.get("max_requests_per_person"),
            availability=sections["availability"],
        )
    )
    rows = [
        {
            "event_id": event_id,
            "position": position,
            "source": request.source,
            "target": request.target,
            "organisations": request.organisations,
            "priority": request.priority,
            "session_key": request.session_key,
            "key_given": request.key_given,
        }
        for position, request in enumerate(requests.requests)
    ]
    if rows:
        await db.execute(insert(MeetingRequest), rows)
    await db.flush()


async def stored(db: AsyncSession, event_id: int) -> dict[str, Any]:
    """The stored `schedule`, `availability` and `requests` as a program gives them; empty when
    the event has none."""
    schedule = await db.scalar(select(MeetingSchedule).where(MeetingSchedule.event_id == event_id))
    if schedule is None:
        return {}
    rules: dict[str, Any] = {
        "windows": schedule.windows,
        "slot_minutes": schedule.slot_minutes,
        "gap_minutes": schedule.gap_minutes,
    }
    for name in (
        "max_parallel",
        "max_per_person",
        "refill",
        "requests_open",
        "requests_close",
        "max_requests_per_person",
    ):
        if getattr(schedule, name) is not None:
            rules[name] = getattr(schedule, name)
    requests = (
        await db.scalars(
            select(MeetingRequest)
            .where(MeetingRequest.event_id == event_id)
            .order_by(MeetingRequest.position)
        )
    ).all()
    listed: list[dict[str, Any]] = []
    for row in requests:
        item: dict[str, Any] = {"from": row.source, "to": row.target, "priority": row.priority}
        if row.key_given:
            item["key"] = row.session_key
        listed.append(item)
    return {"schedule": rules, "availability": schedule.availability, "requests": listed}


async def carry_meetings(db: AsyncSession, program: Program, raw: RawProgram) -> Program:
    """`program` with the meetings placed before for its requests, when the program does not
    give them itself: a re-import of the requests must not cancel what was scheduled.

    A meeting is carried while its two people are still in the program and on the request's
    sides; one that would now overlap another of their sessions is a problem of the import,
    like any overlap, named at its request."""
    if program.requests is None:
        return program
    event_id = await db.scalar(select(m.Event.id).where(m.Event.slug == program.event.slug))
    if event_id is None:
        return program
    asked = await accepted_requests(db, event_id, len(program.requests.requests))
    given = {session.key for session in program.sessions}
    wanted = {
        request.session_key: request
        for request in (*program.requests.requests, *asked)
        if request.session_key not in given
    }
    if not wanted:
        return program
    stored = (
        await db.execute(
            select(m.Session.id, m.Session.key, m.Session.title, m.Session.starts_at)
            .add_columns(m.Session.ends_at, m.Session.provider)
            .where(
                m.Session.event_id == event_id,
                m.Session.kind == "meeting",
                m.Session.cancelled_at.is_(None),
                m.Session.key.in_(wanted),
            )
        )
    ).all()
    if not stored:
        return program
    attendees: dict[int, list[str]] = defaultdict(list)
    for session_id, key in await db.execute(
        select(m.Attendee.session_id, m.Person.key)
        .join(m.Person, m.Person.id == m.Attendee.person_id)
        .where(
            m.Attendee.session_id.in_([row.id for row in stored]),
            m.Attendee.removed_at.is_(None),
        )
        .order_by(m.Attendee.id)
    ):
        attendees[session_id].append(key)
    organisation = {person.key: person.organisation for person in program.people}
    carried: list[SessionSpec] = []
    for row in stored:
        request = wanted[row.key]
        people = attendees[row.id]
        sides = [organisation.get(key) for key in people] if request.organisations else list(people)
        if len(people) != 2 or sorted(map(str, sides)) != sorted((request.source, request.target)):
            continue
        carried.append(
            SessionSpec(
                row.key,
                "meeting",
                row.title,
                row.starts_at,
                row.ends_at,
                tuple(people),
                provider=row.provider,
            )
        )
    _check_overlaps(program, carried, raw)
    return replace(program, sessions=program.sessions + tuple(carried))


def _check_overlaps(program: Program, carried: list[SessionSpec], raw: RawProgram) -> None:
    assert program.requests is not None
    position = {request.session_key: request.index for request in program.requests.requests}
    names = {person.key: person.name for person in program.people}
    tz = ZoneInfo(program.event.timezone)
    problems = Collector()
    others = list(program.sessions)
    for meeting in carried:
        for other in others:
            if not (other.starts_at < meeting.ends_at and meeting.starts_at < other.ends_at):
                continue
            for key in set(meeting.attendees) & set(other.attendees):
                place = (  # a participant's accepted request has no place in the file
                    raw.place("requests", position[meeting.key])
                    if meeting.key in position
                    else raw.section_place("sessions")
                )
                start = meeting.starts_at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
                problems.add(
                    place,
                    f'its meeting "{meeting.key}" at {start} would overlap "{other.key}" for '
                    f"{names.get(key, key)}; move that session, or cancel the meeting and run "
                    "rdv schedule again",
                )
        others.append(meeting)
    problems.raise_if_any()
