"""The workspace's view of participants' meeting requests: every company against every
directorate with the state of what one asked the other, and the requests themselves, those
waiting for an answer first, so an organiser can answer for a directorate that does not."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from ..db import models as m
from ..db.matchmaking import Need, ParticipantRequest
from ..participants.meeting_requests import Window, state_now, window_of
from ..program.asked import placed_requests, request_session_key

ORDER = {"pending": 0, "accepted": 1, "declined": 2, "expired": 3}


@dataclass(frozen=True, slots=True)
class Row:
    id: int
    sender: str
    company: str
    directorate: str
    need: str | None
    message: str
    state: str
    reason: str | None
    at: datetime
    placed: bool


@dataclass(frozen=True, slots=True)
class Overview:
    window: Window | None
    companies: tuple[str, ...]
    directorates: tuple[str, ...]
    cells: dict[tuple[str, str], tuple[str, ...]]  # (company, directorate) -> states
    rows: tuple[Row, ...]


async def requests_overview(db: AsyncSession, event: m.Event, now: datetime) -> Overview:
    window = await window_of(db, event.id)
    organisations = (
        await db.execute(
            select(m.Organisation.name, m.Organisation.kind).where(
                m.Organisation.event_id == event.id,
                m.Organisation.removed_at.is_(None),
                m.Organisation.kind.in_(("company", "buyer")),
            )
        )
    ).all()
    sender, company, directorate = (
        aliased(m.Person),
        aliased(m.Organisation),
        aliased(m.Organisation),
    )
    found = await db.execute(
        select(ParticipantRequest, sender.name, company.name, directorate.name, Need.title)
        .join(sender, sender.id == ParticipantRequest.from_person_id)
        .outerjoin(company, company.id == sender.organisation_id)
        .join(directorate, directorate.id == ParticipantRequest.to_organisation_id)
        .outerjoin(Need, Need.id == ParticipantRequest.need_id)
        .where(ParticipantRequest.event_id == event.id, ParticipantRequest.state != "withdrawn")
    )
    placed = await placed_requests(db, event.id)
    rows = [
        Row(
            request.id,
            name,
            company_name or "",
            to,
            need,
            request.message,
            state_now(request, window, now),
            request.reason,
            request.created_at,
            request_session_key(request.id) in placed,
        )
        for request, name, company_name, to, need in found
    ]
    rows.sort(key=lambda row: (ORDER.get(row.state, 9), row.at, row.id))
    cells: dict[tuple[str, str], list[str]] = defaultdict(list)
    for row in rows:
        cells[(row.company, row.directorate)].append("placed" if row.placed else row.state)
    return Overview(
        window,
        tuple(sorted(name for name, kind in organisations if kind == "company")),
        tuple(sorted(name for name, kind in organisations if kind == "buyer")),
        {pair: tuple(states) for pair, states in cells.items()},
        tuple(rows),
    )
