"""Participants' accepted meeting requests as the scheduler's requests (`participants/
meeting_requests.py` keeps them): the program file does not list them, so scheduling adds them
to the program's own, and a re-import carries the meetings placed for them as it carries those
of the program's requests. Each one's meeting has the key `request-{id}`."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from ..db import models as m
from ..db.matchmaking import ParticipantRequest
from .model import Request

PRIORITY = 2  # above a plain wish (1), below a must-meet the organisers set (3)


def request_session_key(request_id: int) -> str:
    return f"request-{request_id}"


async def accepted_requests(db: AsyncSession, event_id: int, first: int) -> list[Request]:
    """The event's accepted requests, numbered from `first` (after the program's own): between
    the two people when the buyer who accepted is known, else between the two organisations."""
    sender, buyer = aliased(m.Person), aliased(m.Person)
    company, directorate = aliased(m.Organisation), aliased(m.Organisation)
    rows = await db.execute(
        select(ParticipantRequest.id, sender.key, buyer.key, company.key, directorate.key)
        .join(sender, sender.id == ParticipantRequest.from_person_id)
        .outerjoin(company, company.id == sender.organisation_id)
        .join(directorate, directorate.id == ParticipantRequest.to_organisation_id)
        .outerjoin(buyer, buyer.id == ParticipantRequest.to_person_id)
        .where(
            ParticipantRequest.event_id == event_id,
            ParticipantRequest.state == "accepted",
            sender.removed_at.is_(None),
        )
        .order_by(ParticipantRequest.id)
    )
    found: list[Request] = []
    for request_id, person, accepted_by, organisation, to in rows:
        if accepted_by is None and organisation is None:
            continue  # nobody of a company to meet the directorate
        by_people = accepted_by is not None
        found.append(
            Request(
                index=first + len(found),
                source=person if by_people else organisation,
                target=accepted_by if by_people else to,
                organisations=not by_people,
                priority=PRIORITY,
                session_key=request_session_key(request_id),
                key_given=True,
            )
        )
    return found


async def placed_requests(db: AsyncSession, event_id: int) -> set[str]:
    """The keys of the live meetings placed for participants' requests."""
    keys = await db.scalars(
        select(m.Session.key).where(
            m.Session.event_id == event_id,
            m.Session.cancelled_at.is_(None),
            m.Session.key.like("request-%"),
        )
    )
    return set(keys)
