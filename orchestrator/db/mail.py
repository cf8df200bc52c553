"""The mail outbox: every message is a row, queued in the transaction of the change that causes
it (`enqueue`); the sender (`mail/outbox.py`) delivers them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String, case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base
from .models import Session
from .upsert import dialect_insert

MAIL_STATES = ("pending", "sending", "sent", "failed")


class MailPlan(Base):
    """What a change must tell people, recorded in the change's own transaction (a few rows,
    whatever the size of the change): which sessions were created, changed or cancelled. The
    sender turns it into messages afterwards, a part at a time (`done` sessions so far)."""

    __tablename__ = "mail_plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    plan: Mapped[dict[str, Any]] = mapped_column(JSON)
    done: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime]


class MailMessage(Base):
    """One message to one recipient. `body` is the complete message as sent, None until the
    sender composes it (a change only records what must be sent); `dedupe_key` makes
    queuing the same notice twice a no-op (a retried step, a second instance)."""

    __tablename__ = "mail_messages"
    __table_args__ = (
        Index("ix_mail_messages_due", "status", "next_attempt_at"),
        # The dashboard counts an event's failed mail at every refresh: by event alone that read
        # every message of the event (41 ms each for 9,000 invites, measured at a slot's start).
        Index("ix_mail_messages_event_status", "event_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    session_id: Mapped[int | None] = mapped_column(ForeignKey("sessions.id", ondelete="SET NULL"))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(24))
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    sender: Mapped[str] = mapped_column(String(254))
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(500))
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message to queue: composed already (`body`), or to be composed when it is sent, from
    what is true then (`body` None, `subject` empty)."""

    event_id: int
    session_id: int | None
    person_id: int | None
    kind: str
    dedupe_key: str
    sender: str
    recipient: str
    subject: str
    body: bytes | None
    created_at: datetime


async def enqueue(db: AsyncSession, messages: Sequence[Outgoing]) -> int:
    """Inserts the messages; one whose dedupe key is already queued is skipped."""
    if not messages:
        return 0
    rows = [
        {
            **{name: getattr(message, name) for name in _OUTGOING},
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": message.created_at,
        }
        for message in messages
    ]
    statement = (
        dialect_insert(db, MailMessage)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(MailMessage.__table__.c.id)
    )
    result = await db.execute(statement, rows)
    return len(result.all())


_OUTGOING = tuple(f.name for f in fields(Outgoing))  # asdict would deep-copy every body


ERASED = "the recipient was erased"


COMPOSED_WHEN_SENT = ("invitation", "update", "cancelled", "uninvited", "reminder")


async def retry_failed(
    db: AsyncSession, event_id: int, now: datetime, message_id: int | None = None
) -> int:
    """Failed messages of the event (or the one given) due again now, from a fresh count of
    attempts and a fresh time to give up (the server is back, or an organiser fixed an
    address); returns how many. Invites and reminders are composed again when sent, from what
    is true then (the new address, the session as it stands). Left failed: mail for someone
    erased, a message the erasure emptied that nobody composes again, and mail about a session
    that is over or, but for its cancellation, cancelled."""
    composed = MailMessage.kind.in_(COMPOSED_WHEN_SENT)
    live = select(Session.id).where(
        Session.event_id == event_id,
        Session.ends_at > now,
        or_(Session.cancelled_at.is_(None), MailMessage.kind.in_(("cancelled", "uninvited"))),
    )
    query = (
        update(MailMessage)
        .where(
            MailMessage.event_id == event_id,
            MailMessage.status == "failed",
            MailMessage.last_error.is_distinct_from(ERASED),
            or_(composed, MailMessage.body != b""),
            or_(MailMessage.session_id.is_(None), MailMessage.session_id.in_(live)),
        )
        .values(
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
            lease_until=None,
            body=case((composed, None), else_=MailMessage.body),
            subject=case((composed, ""), else_=MailMessage.subject),
        )
        .returning(MailMessage.id)
    )
    if message_id is not None:
        query = query.where(MailMessage.id == message_id)
    return len((await db.execute(query)).all())
