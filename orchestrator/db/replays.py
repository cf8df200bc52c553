"""The replay archive: links to a session's replay, kept with the event."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base

REPLAY_KINDS = ("stream", "recording")


class Replay(Base):
    """A replay of a session: a stream's replay added by hand, or a provider's recording.
    `valid_until` is set for temporary provider links; `archived_path` once a copy is kept."""

    __tablename__ = "replays"
    __table_args__ = (UniqueConstraint("session_id", "url"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(2000))
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(300))
    duration_seconds: Mapped[int | None]
    source: Mapped[str] = mapped_column(String(200))
    added_at: Mapped[datetime]
    valid_until: Mapped[datetime | None]
    archived_path: Mapped[str | None] = mapped_column(String(1000))
