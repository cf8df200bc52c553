"""The figures of participants' meeting requests, for the report: how many were sent, accepted,
declined, expired and placed, and each directorate's acceptance rate."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..db import models as m
from ..db.matchmaking import ParticipantRequest
from ..program.asked import placed_requests, request_session_key
from .meeting_requests import state_now, window_of


async def request_figures(db: AsyncSession, event_id: int, now: datetime) -> dict[str, Any]:
    window = await window_of(db, event_id)
    rows = (
        await db.execute(
            select(ParticipantRequest, m.Organisation.name)
            .join(m.Organisation, m.Organisation.id == ParticipantRequest.to_organisation_id)
            .where(
                ParticipantRequest.event_id == event_id,
                ParticipantRequest.state != "withdrawn",
            )
        )
    ).all()
    placed_keys = await placed_requests(db, event_id)
    states: Counter[str] = Counter()
    by_directorate: dict[str, Counter[str]] = defaultdict(Counter)
    placed = 0
    for request, directorate in rows:
        state = state_now(request, window, now)
        states[state] += 1
        by_directorate[directorate][state] += 1
        placed += state == "accepted" and request_session_key(request.id) in placed_keys
    return {
        "requests_sent": len(rows),
        "requests_accepted": states["accepted"],
        "requests_declined": states["declined"],
        "requests_expired": states["expired"],
        "requests_placed": placed,
        "requests_per_directorate": [
            {
                "name": name,
                "received": sum(counts.values()),
                "accepted": counts["accepted"],
                "declined": counts["declined"],
                "acceptance_rate": round(counts["accepted"] / sum(counts.values()), 3),
            }
            for name, counts in sorted(by_directorate.items())
        ],
    }
