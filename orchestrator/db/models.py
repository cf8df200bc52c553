"""The domain tables: an event, its organisations and people, its sessions, who attends, and rooms.

Rows that people's links or history point at (people, attendees, sessions) are never deleted by an
import: they are marked removed or cancelled, so a revoked link can be recognised and the audit
trail stays whole.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, Index, String, UniqueConstraint, false, func
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base
from .states import RoomState

SESSION_KINDS = ("plenary", "meeting", "follow-up")
# Where two sides meet: a meeting of the day, or one planned after it to follow up.
ONE_TO_ONE = frozenset({"meeting", "follow-up"})
ORGANISATION_KINDS = ("company", "buyer", "organiser")
ATTENDEE_ROLES = ("speaker", "attendee")
SEAT_ANSWERS = ("needs-action", "accepted", "tentative", "declined")
ANSWER_SOURCES = ("calendar", "page", "organiser")


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class Event(Timestamped, Base):
    __tablename__ = "events"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    locale: Mapped[str] = mapped_column(String(8))
    organiser_name: Mapped[str] = mapped_column(String(200))
    organiser_email: Mapped[str] = mapped_column(String(254))
    provider: Mapped[str | None] = mapped_column(String(32))


class Organisation(Timestamped, Base):
    __tablename__ = "organisations"
    __table_args__ = (UniqueConstraint("event_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(80))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    removed_at: Mapped[datetime | None]
    # Its profile (a company's offer, a directorate's presentation), plain text; themes are labels.
    description: Mapped[str | None] = mapped_column(String(2000))
    themes: Mapped[list[str] | None] = mapped_column(JSON)
    website: Mapped[str | None] = mapped_column(String(2000))


class Person(Timestamped, Base):
    __tablename__ = "people"
    __table_args__ = (UniqueConstraint("event_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(80))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT")
    )
    locale: Mapped[str | None] = mapped_column(String(8))
    # The personal calendar feed and agenda token; unguessable, dead once the person is removed.
    feed_token: Mapped[str] = mapped_column(String(64), unique=True)
    removed_at: Mapped[datetime | None]
    # `rdv forget`: name and email replaced, links revoked, no mail; the row stays for the counts.
    erased_at: Mapped[datetime | None]


class Session(Timestamped, Base):
    """A plenary or a one-to-one meeting; `sequence` is the iCalendar SEQUENCE of its invites."""

    __tablename__ = "sessions"
    __table_args__ = (
        UniqueConstraint("event_id", "key"),
        Index("ix_sessions_starts_at", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    provider: Mapped[str | None] = mapped_column(String(32))
    stream_url: Mapped[str | None] = mapped_column(String(2000))
    streamed: Mapped[bool] = mapped_column(default=False, server_default=false())
    sequence: Mapped[int] = mapped_column(default=0)
    cancelled_at: Mapped[datetime | None]

    @property
    def cancelled(self) -> bool:
        return self.cancelled_at is not None


class Attendee(Timestamped, Base):
    """A person expected in a session; `token` is their personal join link (`/j/{token}`)."""

    __tablename__ = "attendees"
    __table_args__ = (UniqueConstraint("session_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    token: Mapped[str] = mapped_column(String(64), unique=True)
    removed_at: Mapped[datetime | None]
    # The seat's answer (SEAT_ANSWERS), when it came, from where (ANSWER_SOURCES), and why, if
    # the person said so: a meeting one side declined is known before anyone waits in it.
    answer: Mapped[str] = mapped_column(String(16), server_default="needs-action")
    answered_at: Mapped[datetime | None]
    answer_source: Mapped[str | None] = mapped_column(String(16))
    answer_reason: Mapped[str | None] = mapped_column(String(500))
    # "A colleague comes instead": the person whose seat this one took (theirs is removed).
    substitute_for_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL")
    )


class Room(Timestamped, Base):
    """The provider-neutral room of a session; what the provider needs lives in `provider_data`."""

    __tablename__ = "rooms"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), unique=True
    )
    provider: Mapped[str] = mapped_column(String(32))
    # The member's text in a VARCHAR(16) without a CHECK (the column the migrations made); a
    # misspelt state is refused before it reaches the database.
    state: Mapped[RoomState] = mapped_column(
        Enum(
            RoomState,
            native_enum=False,
            create_constraint=False,
            length=16,
            validate_strings=True,
            values_callable=lambda states: [state.value for state in states],
        ),
        default=RoomState.SCHEDULED,
    )
    room_key: Mapped[str] = mapped_column(String(120), unique=True)
    provider_data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(String(2000))
    # Who is working on the room: a lifecycle step holds it until then (a crash lets it lapse).
    lease_until: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    # The provider the room exists on now, if any (None before provisioning and after closing).
    provisioned_with: Mapped[str | None] = mapped_column(String(32))
    # How the provider names the room in its events (meetingID, room name, Janus room number).
    external_id: Mapped[str | None] = mapped_column(String(200), index=True)


class LinkClick(Base):
    """A personal join link was opened: who, when, and what they were shown."""

    __tablename__ = "link_clicks"

    id: Mapped[int] = mapped_column(primary_key=True)
    attendee_id: Mapped[int] = mapped_column(
        ForeignKey("attendees.id", ondelete="CASCADE"), index=True
    )
    clicked_at: Mapped[datetime]
    outcome: Mapped[str] = mapped_column(String(16))


class Erasure(Base):
    """That someone was erased from an event (`rdv forget`), kept without naming them: a keyed
    hash of their email, so that an import naming them again is recognised and refused."""

    __tablename__ = "erasures"
    __table_args__ = (UniqueConstraint("event_id", "email_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    email_hash: Mapped[str] = mapped_column(String(64))
    erased_at: Mapped[datetime]
