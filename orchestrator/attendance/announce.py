"""What receivers of the outbound webhooks are told once a meeting's room has closed: whether
it was held (`meeting.held`, `meeting.not-held` with why), and each expected person who never
came (`attendee.no-show`, with what they had answered ahead). Stored in the transaction that
records the meeting as checked, so each is told once. People are named by their keys."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ..db.outbound import Change, emit, listening
from ..program.announce import summary
from .outcomes import Line, Outcome


def _line(line: Line) -> dict[str, Any]:
    person = line.person
    return {
        "person": person.key if person else None,  # None: a guest nobody invited
        "organisation": person.organisation_key if person else None,
        "status": line.status,
        "minutes": line.presence.minutes,
        "substitute_for": line.substitute_for.key if line.substitute_for else None,
        "answer": line.answer,
    }


def why_not_held(outcome: Outcome) -> str:
    """`nobody-came`, `one-side-came` or `not-together-long-enough`."""
    there = [line for line in outcome.lines if line.presence.spans]
    if not there:
        return "nobody-came"
    sides = {line.person.organisation_key if line.person else line.name for line in there}
    return "one-side-came" if len(sides) < 2 else "not-together-long-enough"


def changes(slug: str, outcome: Outcome) -> list[Change]:
    session = outcome.session
    about: dict[str, Any] = {
        "event": slug,
        "session": summary(session),
        "together_minutes": round(outcome.together_minutes, 1),
        "attendees": [_line(line) for line in outcome.lines],
    }
    found: list[Change] = []
    if outcome.held:
        found.append(("meeting.held", about))
    else:
        found.append(("meeting.not-held", about | {"reason": why_not_held(outcome)}))
    for line in outcome.missing:
        if line.attendee_id is None or line.person is None:
            continue
        found.append(
            (
                "attendee.no-show",
                {
                    "event": slug,
                    "session": session.key,
                    "person": line.person.key,
                    "organisation": line.person.organisation_key,
                    "answer": line.answer,  # declined ahead, or no notice
                },
            )
        )
    return found


async def meetings_closed(
    db: AsyncSession, event_id: int, slug: str, outcomes: Sequence[Outcome], now: datetime
) -> int:
    subscribers = await listening(db, event_id)
    if not subscribers:
        return 0
    items = [change for outcome in outcomes for change in changes(slug, outcome)]
    return await emit(db, event_id, items, now, subscribers)
