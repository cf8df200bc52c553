"""One side's answer to "what came of your meeting?": the question a personal link opens
(`/o/{token}`), the answer it records, the comment only organisers read, and the questions a
person's agenda shows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..db import models as m
from ..db.base import names_nothing
from ..db.outcomes import LABELS, MeetingOutcome
from .announce import outcome_recorded
from .needs import plain

COMMENT_LIMIT = 2000


@dataclass(frozen=True, slots=True)
class Question:
    outcome: MeetingOutcome
    session: m.Session
    event: m.Event
    person: m.Person

    @property
    def labels(self) -> tuple[str, ...]:
        return LABELS[self.outcome.stage]

    @property
    def locale(self) -> str:
        return self.person.locale or self.event.locale


async def question_of(db: AsyncSession, token: str) -> Question | None:
    """The question a link opens; None for an unknown link or a person since erased."""
    if names_nothing(token):
        return None
    row = (
        await db.execute(
            select(MeetingOutcome, m.Session, m.Event, m.Person)
            .join(m.Session, m.Session.id == MeetingOutcome.session_id)
            .join(m.Event, m.Event.id == MeetingOutcome.event_id)
            .join(m.Person, m.Person.id == MeetingOutcome.person_id)
            .where(MeetingOutcome.token == token, m.Person.erased_at.is_(None))
        )
    ).first()
    return None if row is None else Question(*row)


async def record_answer(
    db: AsyncSession, question: Question, label: str, comment: str | None, now: datetime
) -> bool:
    """The answer (and the comment, when one is given), in the caller's transaction; False for
    a label of another stage. Answering again replaces the answer: people change their minds."""
    if label not in question.labels:
        return False
    outcome = question.outcome
    said = (outcome.answer, outcome.comment)
    outcome.answer, outcome.answered_at = label, now
    if comment is not None:
        outcome.comment = plain(comment, COMMENT_LIMIT) or None
    if (outcome.answer, outcome.comment) != said:
        await outcome_recorded(db, outcome, question.session, now)
    return True


async def questions_of(db: AsyncSession, person: m.Person) -> dict[int, MeetingOutcome]:
    """The person's questions by session (the latest stage when there are two)."""
    found = await db.scalars(
        select(MeetingOutcome)
        .where(MeetingOutcome.person_id == person.id)
        .order_by(MeetingOutcome.asked_at)
    )
    return {outcome.session_id: outcome for outcome in found}
