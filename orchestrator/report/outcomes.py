"""What came of the meetings, for the follow-up teams: every answer with its meeting and its
side, and the counts per label, by directorate and by company, with the share answered.
Comments are the organisers' alone: callers leave them out for anyone else."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from ..db import models as m
from ..db.outcomes import LABELS, MeetingOutcome

COLUMNS = (
    ("session", "session"),
    ("time", "local start"),
    ("title", "title"),
    ("stage", "stage"),
    ("person", "person"),
    ("name", "name"),
    ("organisation", "organisation"),
    ("side", "side"),
    ("answer", "answer"),
    ("answered_at", "answered at"),
    ("comment", "comment"),
)


@dataclass(frozen=True, slots=True)
class Answer:
    session: str
    title: str
    starts_at: datetime
    stage: str
    person: str
    name: str
    organisation: str
    side: str  # company, buyer, organiser, or "" for a person of no organisation
    answer: str | None
    answered_at: datetime | None
    comment: str | None
    email: str = ""


async def outcome_answers(db: AsyncSession, event_id: int) -> list[Answer]:
    organisation = aliased(m.Organisation)
    rows = await db.execute(
        select(MeetingOutcome, m.Session, m.Person, organisation.name, organisation.kind)
        .join(m.Session, m.Session.id == MeetingOutcome.session_id)
        .join(m.Person, m.Person.id == MeetingOutcome.person_id)
        .outerjoin(organisation, organisation.id == m.Person.organisation_id)
        .where(MeetingOutcome.event_id == event_id)
        .order_by(m.Session.starts_at, m.Session.key, MeetingOutcome.stage, m.Person.key)
    )
    return [
        Answer(
            session.key,
            session.title,
            session.starts_at,
            outcome.stage,
            person.key,
            person.name,
            name or "",
            kind or "",
            outcome.answer,
            outcome.answered_at,
            outcome.comment,
            person.email,
        )
        for outcome, session, person, name, kind in rows
    ]


def outcome_figures(answers: list[Answer]) -> dict[str, Any]:
    """Asked and answered at each stage, the answers per label, by directorate and company."""
    figures: dict[str, Any] = {}
    for stage, labels in LABELS.items():
        asked = [answer for answer in answers if answer.stage == stage]
        given = [answer for answer in asked if answer.answer]
        counts = Counter(answer.answer for answer in given)
        sides: dict[str, dict[str, Counter[str]]] = {"buyer": {}, "company": {}}
        for answer in given:
            if answer.side in sides and answer.organisation:
                sides[answer.side].setdefault(answer.organisation, Counter())[
                    answer.answer or ""
                ] += 1
        figures[stage] = {
            "asked": len(asked),
            "answered": len(given),
            "answer_rate": round(len(given) / len(asked), 3) if asked else None,
            "labels": {label: counts[label] for label in labels},
            "by_directorate": _rows(sides["buyer"], labels),
            "by_company": _rows(sides["company"], labels),
        }
    return figures


def _rows(found: dict[str, Counter[str]], labels: tuple[str, ...]) -> list[dict[str, Any]]:
    return [
        {"name": name, **{label: counts[label] for label in labels}}
        for name, counts in sorted(found.items())
    ]


def answer_rows(answers: list[Answer], zone: ZoneInfo, *, comments: bool) -> list[dict[str, Any]]:
    """The answers as the CSV and the API give them; `comments` only for organisers."""
    return [
        {
            "session": answer.session,
            "time": answer.starts_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
            "title": answer.title,
            "stage": answer.stage,
            "person": answer.person,
            "name": answer.name,
            "organisation": answer.organisation,
            "side": answer.side,
            "answer": answer.answer or "",
            "answered_at": answer.answered_at.isoformat().replace("+00:00", "Z")
            if answer.answered_at
            else "",
            "comment": (answer.comment or "") if comments else "",
        }
        for answer in answers
    ]


NEXT_STEPS = frozenset(
    {"cooperation-possible", "valuable-contact", "negotiation-started", "agreement-reached"}
)


@dataclass(frozen=True, slots=True)
class Pair:
    """A held meeting where a side sees a next step, with everyone's answers."""

    session: str
    title: str
    starts_at: datetime
    answers: tuple[Answer, ...]


def next_steps(answers: list[Answer]) -> list[Pair]:
    """The meetings where at least one side answered that something may come of it, in time
    order, each with all of its answers (both stages)."""
    by_session: dict[str, list[Answer]] = {}
    for answer in answers:
        by_session.setdefault(answer.session, []).append(answer)
    pairs = [
        Pair(found[0].session, found[0].title, found[0].starts_at, tuple(found))
        for found in by_session.values()
        if any(answer.answer in NEXT_STEPS for answer in found)
    ]
    return sorted(pairs, key=lambda pair: (pair.starts_at, pair.session))
