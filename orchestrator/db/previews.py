"""Uploaded programs waiting for the organiser's "apply": the file as sent and what it would
change, kept in the database so that any instance can apply it, for an hour at most."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, LargeBinary, String, delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base

KEPT = timedelta(hours=1)


class ProgramPreview(Base):
    __tablename__ = "program_previews"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # random: the page's address
    event_slug: Mapped[str] = mapped_column(String(100), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    seen: Mapped[int]  # the event's newest program change when the preview was made
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)  # the change set and the mail
    actor: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime]


async def prune(db: AsyncSession, now: datetime) -> None:
    """Forgets previews older than an hour (a preview that old is rarely still true)."""
    await db.execute(delete(ProgramPreview).where(ProgramPreview.created_at < now - KEPT))
