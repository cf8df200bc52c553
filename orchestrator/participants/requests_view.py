"""What a participant's requests page (`/me/{token}/requests`) shows, read in one go: the window,
their organisation's profile, the needs (a company's to answer, a buyer's own), the requests
they sent or that reached their directorate with each one's state, and, once placed, the
meeting it became."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from ..db import models as m
from ..db.matchmaking import Need, ParticipantRequest
from ..program.asked import placed_requests, request_session_key
from ..suggestions.rank import Index, Text
from .meeting_requests import Window, state_now, window_of

SUGGESTED = 5  # suggestions on the page


@dataclass(frozen=True, slots=True)
class NeedLine:
    id: int
    organisation_key: str
    organisation: str
    title: str
    description: str
    themes: tuple[str, ...]
    asked: str | None = None  # the state of this person's request to its directorate, if any


@dataclass(frozen=True, slots=True)
class RequestLine:
    id: int
    sender: str
    sender_organisation: str
    to: str
    need: str | None
    message: str
    state: str
    reason: str | None
    at: datetime
    meeting: str | None = None  # the meeting's key, once the scheduler placed it


@dataclass(frozen=True, slots=True)
class Suggestion:
    """A need that fits the company's offer, or a company whose offer fits a buyer's need."""

    need: NeedLine
    company: str  # the company's name (a buyer's suggestion), else ""
    words: tuple[str, ...]
    website: str | None = None  # the company's, checked when it was saved


@dataclass
class RequestsPage:
    kind: str | None  # the person's organisation kind: company, buyer, organiser, or None
    organisation: m.Organisation | None
    window: Window | None
    window_state: str
    needs: list[NeedLine] = field(default_factory=list)  # a company: every directorate's
    own_needs: list[NeedLine] = field(default_factory=list)  # a buyer: their directorate's
    sent: list[RequestLine] = field(default_factory=list)
    received: list[RequestLine] = field(default_factory=list)
    suggestions: list[Suggestion] = field(default_factory=list)


async def requests_page(db: AsyncSession, person: m.Person, now: datetime) -> RequestsPage:
    organisation = (
        await db.get(m.Organisation, person.organisation_id) if person.organisation_id else None
    )
    window = await window_of(db, person.event_id)
    page = RequestsPage(
        organisation.kind if organisation else None,
        organisation,
        window,
        window.state(now) if window else "none",
    )
    lines = await _needs(db, person.event_id)
    if organisation is not None and organisation.kind == "buyer":
        page.own_needs = [line for line in lines if line.organisation_key == organisation.key]
    requests = await _requests(db, person, window, now)
    page.sent = [line for line, mine in requests if mine]
    page.received = [line for line, mine in requests if not mine]
    if organisation is not None and organisation.kind == "company":
        asked = {line.to: line.state for line in page.sent}
        page.needs = [replace(line, asked=asked.get(line.organisation)) for line in lines]
    if organisation is not None and organisation.kind in ("company", "buyer"):
        page.suggestions = await _suggestions(db, organisation, lines)
    return page


async def _suggestions(
    db: AsyncSession, organisation: m.Organisation, needs: list[NeedLine]
) -> list[Suggestion]:
    """For a company, the needs that fit its offer; for a buyer, the companies that fit its
    needs; never a pair of a company and a directorate that already have a request."""
    sender, sender_org, target = aliased(m.Person), aliased(m.Organisation), aliased(m.Organisation)
    companies = {
        row.key: row
        for row in await db.scalars(
            select(m.Organisation).where(
                m.Organisation.event_id == organisation.event_id,
                m.Organisation.kind == "company",
                m.Organisation.removed_at.is_(None),
            )
        )
    }
    requested = set(
        await db.execute(
            select(sender_org.key, target.key)
            .select_from(ParticipantRequest)
            .join(sender, sender.id == ParticipantRequest.from_person_id)
            .join(sender_org, sender_org.id == sender.organisation_id)
            .join(target, target.id == ParticipantRequest.to_organisation_id)
            .where(
                ParticipantRequest.event_id == organisation.event_id,
                ParticipantRequest.state != "withdrawn",
            )
        )
    )
    # Built in a thread: for a large event (2,000 companies, 500 needs) the index takes a few
    # hundred milliseconds, which the loop serving everyone else must not wait for.
    index = await asyncio.to_thread(
        Index,
        [Text(str(need.id), f"{need.title}\n{need.description}", need.themes) for need in needs],
        [
            Text(key, row.description or "", tuple(row.themes or ()))
            for key, row in companies.items()
        ],
    )
    by_id = {str(need.id): need for need in needs}
    taken = {
        (str(need.id), company)
        for need in needs
        for company, directorate in requested
        if directorate == need.organisation_key
    }
    if organisation.kind == "company":
        matches = index.for_offer(organisation.key, limit=SUGGESTED, exclude=taken)
        return [Suggestion(by_id[match.need], "", match.words) for match in matches]
    found = [
        match
        for need in needs
        if need.organisation_key == organisation.key
        for match in index.for_need(str(need.id), limit=SUGGESTED, exclude=taken)
    ]
    found.sort(key=lambda match: (-match.score, match.need, match.offer))
    return [
        Suggestion(
            by_id[match.need],
            companies[match.offer].name,
            match.words,
            companies[match.offer].website,
        )
        for match in found[:SUGGESTED]
    ]


async def _needs(db: AsyncSession, event_id: int) -> list[NeedLine]:
    rows = await db.execute(
        select(Need, m.Organisation.key, m.Organisation.name)
        .join(m.Organisation, m.Organisation.id == Need.organisation_id)
        .where(
            Need.event_id == event_id,
            Need.removed_at.is_(None),
            m.Organisation.removed_at.is_(None),
        )
        .order_by(m.Organisation.name, Need.created_at, Need.id)
    )
    return [
        NeedLine(need.id, key, name, need.title, need.description, tuple(need.themes))
        for need, key, name in rows
    ]


async def _requests(
    db: AsyncSession, person: m.Person, window: Window | None, now: datetime
) -> list[tuple[RequestLine, bool]]:
    """The requests the person sent, and those to their directorate (to them, or to all)."""
    sender, sender_org, target = aliased(m.Person), aliased(m.Organisation), aliased(m.Organisation)
    mine = ParticipantRequest.from_person_id == person.id
    theirs = (ParticipantRequest.to_organisation_id == person.organisation_id) & (
        ParticipantRequest.to_person_id.is_(None) | (ParticipantRequest.to_person_id == person.id)
    )
    rows = await db.execute(
        select(ParticipantRequest, sender.name, sender_org.name, target.name, Need.title)
        .join(sender, sender.id == ParticipantRequest.from_person_id)
        .outerjoin(sender_org, sender_org.id == sender.organisation_id)
        .join(target, target.id == ParticipantRequest.to_organisation_id)
        .outerjoin(Need, Need.id == ParticipantRequest.need_id)
        .where(ParticipantRequest.event_id == person.event_id, mine | theirs)
        .where(ParticipantRequest.state != "withdrawn")
        .order_by(ParticipantRequest.created_at.desc(), ParticipantRequest.id.desc())
    )
    placed = await placed_requests(db, person.event_id)
    found = []
    for request, name, organisation, to, need in rows:
        key = request_session_key(request.id)
        found.append(
            (
                RequestLine(
                    request.id,
                    name,
                    organisation or "",
                    to,
                    need,
                    request.message,
                    state_now(request, window, now),
                    request.reason,
                    request.created_at,
                    key if key in placed else None,
                ),
                request.from_person_id == person.id,
            )
        )
    return found


def by_directorate(needs: list[NeedLine]) -> dict[str, list[NeedLine]]:
    grouped: dict[str, list[NeedLine]] = defaultdict(list)
    for need in needs:
        grouped[need.organisation].append(need)
    return dict(grouped)
