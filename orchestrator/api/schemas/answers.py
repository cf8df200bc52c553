"""An organiser recording a seat's answer (a participant who phoned or wrote to say so)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from .common import AnswerSource, DateTime, Model, SeatAnswer


class AnswerGiven(Model):
    answer: Annotated[
        Literal["accepted", "tentative", "declined"],
        msgspec.Meta(description="what the person said: they come, maybe, or they cannot"),
    ]
    reason: (
        Annotated[
            str,
            msgspec.Meta(max_length=2000, description="why they cannot come (kept for a decline)"),
        ]
        | None
    ) = None


class SeatAnswered(Model):
    session: str
    person: str
    answer: SeatAnswer
    answered_at: DateTime | None
    answer_source: AnswerSource | None
    answer_reason: str | None
    changed: Annotated[bool, msgspec.Meta(description="false: the seat had this answer already")]
