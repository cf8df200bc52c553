"""Participants' requests for a meeting, before the day: a company person asks a directorate (or
one of its people) for a meeting, with a message naming the need it answers; the directorate
accepts or declines. Only while the program's `requests_open` .. `requests_close` lets them,
within `max_requests_per_person`; a request still pending at the close has expired.

The rules are the page's: a closed window, a limit reached, a request to oneself or one's own
organisation, a second request to the same directorate, each refused with `Refused` and a code
the page turns into a sentence. Accepted requests are the scheduler's (`accepted_requests`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..db import models as m
from ..db.base import names_nothing
from ..db.matchmaking import Need, ParticipantRequest
from ..db.scheduling import MeetingSchedule
from .announce import request_changed
from .needs import plain

MESSAGE_LIMIT = 1000
REASON_LIMIT = 500
LIVE = ("pending", "accepted")  # what counts against the limit


class Refused(ValueError):
    """Why a request cannot be sent or answered; `code` names it for the page."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Window:
    """When requests may be sent, and how many each person may have going."""

    opens: datetime
    closes: datetime
    most: int | None

    def state(self, now: datetime) -> str:
        return "before" if now < self.opens else "open" if now < self.closes else "closed"


async def window_of(db: AsyncSession, event_id: int) -> Window | None:
    """The event's request window, None when its program opens none."""
    row = await db.scalar(select(MeetingSchedule).where(MeetingSchedule.event_id == event_id))
    if row is None or row.requests_open is None or row.requests_close is None:
        return None
    return Window(
        datetime.fromisoformat(row.requests_open),
        datetime.fromisoformat(row.requests_close),
        row.max_requests_per_person,
    )


def state_now(request: ParticipantRequest, window: Window | None, now: datetime) -> str:
    """A request's state as people read it: one pending past the close has expired."""
    if request.state == "pending" and window is not None and now >= window.closes:
        return "expired"
    return request.state


async def send_request(
    db: AsyncSession,
    person: m.Person,
    *,
    to: str,
    message: str,
    need_id: int | None,
    now: datetime,
) -> ParticipantRequest:
    """A new request from `person` to the directorate (or buyer) whose key is `to`."""
    window = await window_of(db, person.event_id)
    if window is None:
        raise Refused("none", "this event takes no meeting requests")
    if window.state(now) != "open":
        raise Refused(window.state(now), "meeting requests are not open now")
    sender = await db.get(m.Organisation, person.organisation_id or 0)
    if sender is None or sender.kind != "company":
        raise Refused("not-company", "meeting requests are sent by companies")
    organisation, buyer = await _target(db, person, to)
    if organisation.id == sender.id:
        raise Refused("own", "that is your own organisation")
    text = plain(message, MESSAGE_LIMIT)
    if not text:
        raise Refused("message", "say in a few words what you would like to talk about")
    need = await _need_of(db, organisation.id, need_id)
    twice = await db.scalar(
        select(ParticipantRequest.id).where(
            ParticipantRequest.from_person_id == person.id,
            ParticipantRequest.to_organisation_id == organisation.id,
            ParticipantRequest.state != "withdrawn",
        )
    )
    if twice is not None:
        raise Refused("twice", "you have already asked this directorate")
    going = await db.scalar(
        select(func.count()).where(
            ParticipantRequest.from_person_id == person.id, ParticipantRequest.state.in_(LIVE)
        )
    )
    if window.most is not None and (going or 0) >= window.most:
        raise Refused("limit", f"you have {going} requests going, the most this event allows")
    request = ParticipantRequest(
        event_id=person.event_id,
        from_person_id=person.id,
        to_organisation_id=organisation.id,
        to_person_id=buyer.id if buyer else None,
        need_id=need.id if need else None,
        message=text,
        state="pending",
        created_at=now,
    )
    db.add(request)
    await db.flush()
    await request_changed(db, request, now)
    return request


async def answer_request(
    db: AsyncSession,
    person: m.Person | None,
    request_id: int,
    *,
    accept: bool,
    reason: str,
    now: datetime,
    event_id: int,
) -> ParticipantRequest:
    """The directorate's answer; `person` None is an organiser answering on its behalf."""
    request = await db.get(ParticipantRequest, request_id)
    if request is None or request.event_id != event_id:
        raise Refused("unknown", "no such request")
    if person is not None and (
        person.organisation_id != request.to_organisation_id
        or (request.to_person_id not in (None, person.id))
    ):
        raise Refused("unknown", "no such request to you")
    window = await window_of(db, event_id)
    current = state_now(request, window, now)
    if current != "pending":
        raise Refused(current, f"this request is {current} already")
    if accept and person is not None and request.to_person_id is None:
        request.to_person_id = person.id  # the buyer who accepted is the one who comes
    request.state = "accepted" if accept else "declined"
    request.reason = None if accept else (plain(reason, REASON_LIMIT) or None)
    request.answered_at, request.answer_source = now, "page" if person else "organiser"
    await db.flush()
    await request_changed(db, request, now)
    return request


async def withdraw_request(
    db: AsyncSession, person: m.Person, request_id: int, now: datetime
) -> ParticipantRequest:
    """The sender takes back a request not answered yet."""
    request = await db.get(ParticipantRequest, request_id)
    if request is None or request.from_person_id != person.id:
        raise Refused("unknown", "no such request of yours")
    if request.state != "pending":
        raise Refused(request.state, f"this request is {request.state} already")
    request.state = "withdrawn"
    await request_changed(db, request, now)
    return request


async def _target(
    db: AsyncSession, person: m.Person, to: str
) -> tuple[m.Organisation, m.Person | None]:
    """The buyer organisation `to` names, or the buyer person and their organisation."""
    if names_nothing(to):
        raise Refused("unknown-buyer", "no such buyer or directorate in this event")
    organisation = await db.scalar(
        select(m.Organisation).where(
            m.Organisation.event_id == person.event_id,
            m.Organisation.key == to,
            m.Organisation.removed_at.is_(None),
        )
    )
    buyer = None
    if organisation is None:
        buyer = await db.scalar(
            select(m.Person).where(
                m.Person.event_id == person.event_id,
                m.Person.key == to,
                m.Person.removed_at.is_(None),
                m.Person.erased_at.is_(None),
            )
        )
        if buyer is not None and buyer.id == person.id:
            raise Refused("yourself", "you cannot ask yourself for a meeting")
        organisation = await db.get(m.Organisation, buyer.organisation_id or 0) if buyer else None
    if organisation is None or organisation.kind != "buyer":
        raise Refused("unknown-buyer", "no such buyer or directorate in this event")
    return organisation, buyer


async def _need_of(db: AsyncSession, organisation_id: int, need_id: int | None) -> Need | None:
    if need_id is None:
        return None
    need = await db.get(Need, need_id)
    if need is None or need.organisation_id != organisation_id or need.removed_at is not None:
        raise Refused("unknown-need", "that need is not one of this directorate's")
    return need
