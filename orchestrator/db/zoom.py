"""What the Zoom host pool counts: meeting creates and updates per host user and UTC day, which
Zoom limits to 100 (Zoom staff on https://devforum.zoom.us/t/rate-limits-which-ones-apply/19474;
account-level limits: https://developers.zoom.us/docs/api/rate-limits/)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class ZoomHostDay(Base):
    """How many meeting create/update requests one host user was given on one UTC day."""

    __tablename__ = "zoom_host_days"
    __table_args__ = (UniqueConstraint("host", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    host: Mapped[str] = mapped_column(String(254))
    day: Mapped[date]
    requests: Mapped[int] = mapped_column(default=0, server_default="0")
