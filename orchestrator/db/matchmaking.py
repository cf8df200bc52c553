"""What participants write before the day: buyers' needs, and the meeting requests companies send
them (`participants/requests.py`). A company's offer is its organisation's profile (`models`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base

REQUEST_STATES = ("pending", "accepted", "declined", "expired", "withdrawn")


class Need(Base):
    """A buyer's need, published for their directorate (their organisation); `key` when the
    program pre-filled it (a re-import then finds it), none when written on the page."""

    __tablename__ = "needs"
    __table_args__ = (UniqueConstraint("event_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    key: Mapped[str | None] = mapped_column(String(80))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(2000))
    themes: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    removed_at: Mapped[datetime | None]


class ParticipantRequest(Base):
    """A company person asking a directorate (or one of its people) for a meeting, and what came
    of it (REQUEST_STATES). Accepted ones are the scheduler's requests."""

    __tablename__ = "participant_requests"
    __table_args__ = (Index("ix_participant_requests_event_id", "event_id", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    from_person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    to_organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE")
    )
    to_person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    need_id: Mapped[int | None] = mapped_column(ForeignKey("needs.id", ondelete="SET NULL"))
    message: Mapped[str] = mapped_column(String(1000))
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    answer_source: Mapped[str | None] = mapped_column(String(16))  # page or organiser
    reminded_at: Mapped[datetime | None]
