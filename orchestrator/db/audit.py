"""The audit log: who changed what in an event, when, from where. One row per change (an import,
a move, a cancellation, an erasure, a resent invite), written in the change's own transaction, so
that a change and its record exist together or not at all."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base

SOURCES = ("workspace", "api", "cli", "scheduler", "agenda")


class AuditEntry(Base):
    """One change. `actor` is who asked for it (the name a sign-in link or token was made for, or
    the operating-system user of a command); `subject` is what it was about (a session or person
    key, empty for the whole event); `details` holds what changed, before and after for moves."""

    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_entries_event_id_id", "event_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(120))
    source: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(200), default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


async def record(
    db: AsyncSession,
    *,
    event_id: int,
    at: datetime,
    actor: str,
    source: str,
    action: str,
    subject: str = "",
    details: dict[str, Any] | None = None,
) -> None:
    """Adds one entry in the caller's transaction."""
    assert source in SOURCES, source
    db.add(
        AuditEntry(
            event_id=event_id,
            at=at,
            actor=actor[:120],
            source=source,
            action=action,
            subject=subject[:200],
            details=details or {},
        )
    )


async def page(
    db: AsyncSession, event_id: int, *, before: int | None = None, limit: int = 100
) -> Sequence[AuditEntry]:
    """The event's entries, newest first, older than entry `before` when given."""
    query = select(AuditEntry).where(AuditEntry.event_id == event_id)
    if before is not None:
        query = query.where(AuditEntry.id < before)
    return (await db.scalars(query.order_by(AuditEntry.id.desc()).limit(limit))).all()
