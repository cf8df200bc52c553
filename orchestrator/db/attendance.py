"""What providers told us, kept as it came: raw deliveries (the audit trail, purged after the
retention period) and the normalised events attendance is computed from."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class WebhookDelivery(Base):
    """One accepted HTTP delivery, stored before it is acknowledged."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (UniqueConstraint("provider", "dedupe_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))
    dedupe_key: Mapped[str] = mapped_column(String(200))
    received_at: Mapped[datetime] = mapped_column(index=True)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    events: Mapped[int] = mapped_column(default=0)
    purged_at: Mapped[datetime | None]


class ProviderEventRow(Base):
    """One normalised event, from a webhook or from polling a room. `attendee_id` is set when the
    participant came through one of our seats; `room_id` when the room is one of ours."""

    __tablename__ = "provider_events"
    __table_args__ = (
        UniqueConstraint("provider", "dedupe_key"),
        Index("ix_provider_events_room_at", "room_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int | None] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="SET NULL")
    )
    provider: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(16))
    dedupe_key: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(24))
    at: Mapped[datetime]
    received_at: Mapped[datetime]
    room_id: Mapped[int | None] = mapped_column(ForeignKey("rooms.id", ondelete="SET NULL"))
    room_ref: Mapped[str | None] = mapped_column(String(200))
    attendee_id: Mapped[int | None] = mapped_column(
        ForeignKey("attendees.id", ondelete="SET NULL"), index=True
    )
    connection: Mapped[str | None] = mapped_column(String(300))
    participant_name: Mapped[str | None] = mapped_column(String(300))
    participant_email: Mapped[str | None] = mapped_column(String(300))
    seat_ref: Mapped[str | None] = mapped_column(String(100))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
