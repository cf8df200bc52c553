"""Outbound webhooks: an event's subscriptions, the messages its changes produce, and one delivery
per message and subscription. A change stores its messages with `emit`, in its own transaction,
so a change is never announced without having happened nor happens without being announced; the
sender (`outbound/sender.py`) delivers them as the mail outbox delivers mail."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    UniqueConstraint,
    delete,
    insert,
    or_,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from webhooks.outbound import body, new_message_id

from .base import Base, holds
from .upsert import table

DELIVERY_STATES = ("pending", "sending", "delivered", "failed")


class OutboundSubscription(Base):
    """A receiver of an event's changes. `secret` signs its deliveries (shown once, when it is
    made); `failing_since` is set when a delivery gave up after retrying for a day, and cleared
    by the next one that gets through (written only then: a row every delivery rewrote would be
    every sender's bottleneck)."""

    __tablename__ = "outbound_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(100))
    event_types: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    failing_since: Mapped[datetime | None]


class OutboundMessage(Base):
    """One change, as every receiver gets it: `body` is the exact JSON sent, `message_id` the
    `webhook-id` it carries on every attempt."""

    __tablename__ = "outbound_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    message_id: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]


class OutboundDelivery(Base):
    """A message to one subscription, and how its delivery goes."""

    __tablename__ = "outbound_deliveries"
    __table_args__ = (
        UniqueConstraint("message_id", "subscription_id"),
        # Only what waits is in it: a delivery done leaves it, and its last write touches less.
        Index(
            "ix_outbound_deliveries_due",
            "next_attempt_at",
            postgresql_where=text("status IN ('pending', 'sending')"),
            sqlite_where=text("status IN ('pending', 'sending')"),
        ),
        Index("ix_outbound_deliveries_subscription_id_id", "subscription_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("outbound_messages.id", ondelete="CASCADE"))
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("outbound_subscriptions.id", ondelete="CASCADE")
    )
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    # When the first attempt was due: retries stop a day after it (a resend starts it again).
    first_due_at: Mapped[datetime]
    last_status: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
    delivered_at: Mapped[datetime | None]


Change = tuple[str, Mapping[str, Any]]
"""An event type (`webhooks.outbound.EVENT_TYPES`) and its data."""


async def listening(db: AsyncSession, event_id: int) -> dict[int, frozenset[str]]:
    """The event's live subscriptions and the types each takes (one small read: a change
    builds its messages only when someone listens)."""
    rows = await db.execute(
        select(OutboundSubscription.id, OutboundSubscription.event_types).where(
            OutboundSubscription.event_id == event_id, OutboundSubscription.ended_at.is_(None)
        )
    )
    return {id_: frozenset(kinds) for id_, kinds in rows}


async def emit(
    db: AsyncSession,
    event_id: int,
    changes: Sequence[Change],
    now: datetime,
    subscribers: Mapping[int, frozenset[str]] | None = None,
) -> int:
    """Stores, in the caller's transaction, a message per change some subscription takes and a
    delivery of it to each; returns how many deliveries. `subscribers` as `listening` read them,
    when the caller already did (to skip building data nobody takes)."""
    if subscribers is None:
        subscribers = await listening(db, event_id)
    wanted = [
        (kind, data, [sub for sub, kinds in subscribers.items() if kind in kinds])
        for kind, data in changes
    ]
    wanted = [(kind, data, subs) for kind, data, subs in wanted if subs]
    if not wanted:
        return 0
    ids = (
        await db.execute(
            insert(OutboundMessage).returning(OutboundMessage.id, sort_by_parameter_order=True),
            [
                {
                    "event_id": event_id,
                    "message_id": new_message_id(),
                    "kind": kind,
                    "body": body(kind, now, data),
                    "created_at": now,
                }
                for kind, data, _ in wanted
            ],
        )
    ).scalars()
    deliveries = [
        {
            "message_id": message_id,
            "subscription_id": sub,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "first_due_at": now,
        }
        for message_id, (_, _, subs) in zip(ids, wanted, strict=True)
        for sub in subs
    ]
    await db.execute(insert(table(OutboundDelivery)), deliveries)
    return len(deliveries)


async def forget_sent(db: AsyncSession, before: datetime) -> int:
    """Deletes the messages made before `before` that wait for no delivery any more (each was
    delivered, given up on, or ended with its subscription), with their deliveries; returns how
    many messages."""
    waiting = select(OutboundDelivery.message_id).where(
        OutboundDelivery.status.in_(("pending", "sending"))
    )
    old = select(OutboundMessage.id).where(
        OutboundMessage.created_at < before, OutboundMessage.id.not_in(waiting)
    )
    ids = list((await db.execute(old)).scalars())
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        await db.execute(delete(OutboundDelivery).where(OutboundDelivery.message_id.in_(chunk)))
        await db.execute(delete(OutboundMessage).where(OutboundMessage.id.in_(chunk)))
    return len(ids)


async def forget_mentions(db: AsyncSession, event_id: int, needles: Sequence[bytes]) -> int:
    """Deletes the event's messages whose body holds any of `needles` (an erased person's key,
    as JSON writes it, and name), with their deliveries: what was sent cannot be taken back,
    what was not is never sent, and nothing is left to resend. Returns how many messages."""
    found = list(
        (
            await db.scalars(
                select(OutboundMessage.id).where(
                    OutboundMessage.event_id == event_id,
                    or_(*(holds(OutboundMessage.body, needle) for needle in needles)),
                )
            )
        ).all()
    )
    for start in range(0, len(found), 500):
        chunk = found[start : start + 500]
        await db.execute(delete(OutboundDelivery).where(OutboundDelivery.message_id.in_(chunk)))
        await db.execute(delete(OutboundMessage).where(OutboundMessage.id.in_(chunk)))
    return len(found)
