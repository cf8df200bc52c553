"""Sign-in links for the dashboard and report pages, and the dashboard's update log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class LoginLink(Base):
    """A one-time sign-in link (`rdv login-link`); only a hash of its token is kept."""

    __tablename__ = "login_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class DashboardUpdate(Base):
    """Something on an event's dashboard changed (a webhook, a poll, a room state, a clock tick
    that makes someone late). The id is the Server-Sent Events id, so a reconnecting page gets
    exactly what it missed, whichever instance it reconnects to."""

    __tablename__ = "dashboard_updates"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[int | None] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(24))
    at: Mapped[datetime]
