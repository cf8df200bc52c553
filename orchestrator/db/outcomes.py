"""What came of each meeting, as each side says: asked right after a held meeting (stage
`after`), and months later of those who saw a cooperation coming (stage `later`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base

AFTER = (
    "did-not-take-place",
    "insufficient-interest",
    "informative-no-cooperation",
    "cooperation-possible",
)
LATER = (
    "no-further-contact",
    "knowledge-gained",
    "valuable-contact",
    "negotiation-started",
    "agreement-reached",
)
LABELS = {"after": AFTER, "later": LATER}


class MeetingOutcome(Base):
    """One side's answer (one person of a held meeting) at one stage; `token` is the personal
    link of its question (`/o/{token}`), so one click from the mail records the answer."""

    __tablename__ = "meeting_outcomes"
    __table_args__ = (UniqueConstraint("session_id", "person_id", "stage"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    stage: Mapped[str] = mapped_column(String(8))
    token: Mapped[str] = mapped_column(String(64), unique=True)
    answer: Mapped[str | None] = mapped_column(String(32))
    comment: Mapped[str | None] = mapped_column(String(2000))  # for the organisers only
    asked_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]


class OutcomeCheck(Base):
    """A meeting over whose attendance was looked at for the question: held or not, once."""

    __tablename__ = "outcome_checks"

    session_id: Mapped[int] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True
    )
    held: Mapped[bool]
    checked_at: Mapped[datetime]


class FollowUpProposal(Base):
    """One side of a held meeting proposes a time to meet again; the other confirms (the
    follow-up session `follow_up_key` is then made) or declines."""

    __tablename__ = "follow_up_proposals"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    proposer_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(16))  # pending, confirmed, declined
    created_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    follow_up_key: Mapped[str | None] = mapped_column(String(80))
