"""What `rdv schedule` reads: an event's scheduling rules and its meeting requests, stored by the
import so that scheduling can run later, from the command line or the API, and so that PATCH,
DELETE and a re-import see them as the program gave them."""

from __future__ import annotations

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class MeetingSchedule(Base):
    """The `schedule` and `availability` sections: times as ISO 8601 with their offset."""

    __tablename__ = "meeting_schedules"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), unique=True)
    windows: Mapped[list[list[str]]] = mapped_column(JSON)
    slot_minutes: Mapped[int]
    gap_minutes: Mapped[int] = mapped_column(default=0, server_default="0")
    max_parallel: Mapped[int | None]
    max_per_person: Mapped[int | None]
    refill: Mapped[str | None] = mapped_column(String(16))  # "auto", or None: on demand
    # When participants may ask for meetings, as ISO 8601 with their offset (like the windows).
    requests_open: Mapped[str | None] = mapped_column(String(40))
    requests_close: Mapped[str | None] = mapped_column(String(40))
    max_requests_per_person: Mapped[int | None]
    # Person key to the [start, end] pairs they are available; people not named use the windows.
    availability: Mapped[dict[str, list[list[str]]]] = mapped_column(JSON)


class MeetingRequest(Base):
    """One wanted rendez-vous. `session_key` is the key its meeting gets (given by the program
    when `key_given`, else derived from the two parties); `position` keeps the program's order."""

    __tablename__ = "meeting_requests"
    __table_args__ = (UniqueConstraint("event_id", "session_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    position: Mapped[int]
    source: Mapped[str] = mapped_column(String(80))
    target: Mapped[str] = mapped_column(String(80))
    organisations: Mapped[bool]
    priority: Mapped[int]
    session_key: Mapped[str] = mapped_column(String(80))
    key_given: Mapped[bool]
