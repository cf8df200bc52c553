"""What receivers of the outbound webhooks are told about participants' doings: a seat answered
(`seat.answered`), an outcome given (`outcome.recorded`), a meeting request sent, answered or
withdrawn (`request.changed`). Each is stored in the transaction of the change, and only when
the event has subscriptions. People and organisations are named by their keys, never by name
or email."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..db import models as m
from ..db.matchmaking import ParticipantRequest
from ..db.outbound import emit, listening
from ..db.outcomes import MeetingOutcome

Keys = dict[int | None, tuple[str, str | None]]


async def _keys(db: AsyncSession, event_id: int, *person_ids: int | None) -> tuple[str, Keys]:
    """The event's slug, and each person's key and organisation key by id."""
    slug = (await db.execute(select(m.Event.slug).where(m.Event.id == event_id))).scalar_one()
    rows = await db.execute(
        select(m.Person.id, m.Person.key, m.Organisation.key)
        .outerjoin(m.Organisation, m.Organisation.id == m.Person.organisation_id)
        .where(m.Person.id.in_([p for p in person_ids if p is not None]))
    )
    return slug, {person: (key, org) for person, key, org in rows}


async def seat_answered(
    db: AsyncSession, seat: m.Attendee, session: m.Session, now: datetime
) -> None:
    subscribers = await listening(db, session.event_id)
    if not subscribers:
        return
    slug, keys = await _keys(db, session.event_id, seat.person_id)
    person, organisation = keys[seat.person_id]
    data = {
        "event": slug,
        "session": session.key,
        "person": person,
        "organisation": organisation,
        "answer": seat.answer,
        "source": seat.answer_source,
        "reason": seat.answer_reason,
    }
    await emit(db, session.event_id, [("seat.answered", data)], now, subscribers)


async def outcome_recorded(
    db: AsyncSession, outcome: MeetingOutcome, session: m.Session, now: datetime
) -> None:
    subscribers = await listening(db, outcome.event_id)
    if not subscribers:
        return
    slug, keys = await _keys(db, outcome.event_id, outcome.person_id)
    person, organisation = keys[outcome.person_id]
    data = {
        "event": slug,
        "session": session.key,
        "kind": session.kind,
        "person": person,
        "organisation": organisation,
        "stage": outcome.stage,
        "answer": outcome.answer,
        "comment": outcome.comment,  # receivers are the organisers' own systems
    }
    await emit(db, outcome.event_id, [("outcome.recorded", data)], now, subscribers)


async def request_changed(db: AsyncSession, request: ParticipantRequest, now: datetime) -> None:
    subscribers = await listening(db, request.event_id)
    if not subscribers:
        return
    slug, keys = await _keys(db, request.event_id, request.from_person_id, request.to_person_id)
    sender, company = keys[request.from_person_id]
    directorate = await db.scalar(
        select(m.Organisation.key).where(m.Organisation.id == request.to_organisation_id)
    )
    data = {
        "event": slug,
        "request": request.id,
        "state": request.state,
        "from": sender,
        "company": company,
        "directorate": directorate,
        "to": keys[request.to_person_id][0] if request.to_person_id in keys else None,
        "need": request.need_id,
        "message": request.message,
        "reason": request.reason,
    }
    await emit(db, request.event_id, [("request.changed", data)], now, subscribers)
