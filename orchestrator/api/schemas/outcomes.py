"""What came of the meetings: each side's answers and their counts."""

from __future__ import annotations

from .common import Model


class StageFigures(Model):
    """One stage: `after` (right after the meeting) or `later` (months on)."""

    asked: int
    answered: int
    answer_rate: float | None
    labels: dict[str, int]
    by_directorate: list[dict[str, str | int]]
    by_company: list[dict[str, str | int]]


class OutcomeAnswer(Model):
    session: str
    time: str
    title: str
    stage: str
    person: str
    name: str
    organisation: str
    side: str
    answer: str
    answered_at: str
    comment: str  # empty unless the token is an organiser's


class Outcomes(Model):
    event: str
    after: StageFigures
    later: StageFigures
    answers: list[OutcomeAnswer]
