"""Sign-in links for the organisers' and follow-up pages."""

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
    # Who it was made for (`rdv login-link --as`), as the audit log names what they change.
    subject: Mapped[str] = mapped_column(String(120), default="", server_default="")
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
