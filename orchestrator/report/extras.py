"""The report's figures that do not come from the attendance: replays, participants' meeting
requests, and what came of the meetings; read once for the API, the page and `rdv report`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ..participants.request_figures import request_figures
from ..replays.archive import replay_figures
from .outcomes import outcome_answers, outcome_figures


async def extra_figures(db: AsyncSession, event_id: int, now: datetime) -> dict[str, Any]:
    after = outcome_figures(await outcome_answers(db, event_id))["after"]
    return {
        **await replay_figures(db, event_id),
        **await request_figures(db, event_id, now),
        "outcomes_asked": after["asked"],
        "outcomes_answered": after["answered"],
        "outcomes": after["labels"],
    }
