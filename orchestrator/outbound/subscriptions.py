"""An event's webhook subscriptions, as the API and the workspace manage them: subscribe (the
secret shown once), list with the recent deliveries, end, and resend one delivery. Each change
is recorded in the audit log with who asked for it, in its own transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from webhooks.outbound import BadSubscription, checked_types, checked_url, new_secret

from ..db.audit import record
from ..db.outbound import OutboundDelivery, OutboundMessage, OutboundSubscription
from ..program.audit import Author

MAX_SUBSCRIPTIONS = 20  # per event: each change is stored once per receiver
RECENT = 20  # deliveries shown per subscription


class NoSuchSubscription(LookupError):
    """No live subscription or delivery of that number in this event."""


@dataclass(frozen=True, slots=True)
class DeliveryView:
    id: int
    webhook_id: str
    kind: str
    status: str
    attempts: int
    last_status: int | None
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime | None  # when it is tried again, while it is pending
    delivered_at: datetime | None


@dataclass(frozen=True, slots=True)
class SubscriptionView:
    id: int
    url: str
    events: tuple[str, ...]
    state: str  # active, failing (a delivery gave up after a day), ended
    created_at: datetime
    failing_since: datetime | None
    last_delivered_at: datetime | None
    waiting: int  # deliveries not delivered yet
    failed: int  # deliveries given up on
    recent: tuple[DeliveryView, ...]


async def subscribe(
    db: AsyncSession,
    event_id: int,
    url: object,
    events: object,
    *,
    allow_private: bool,
    now: datetime,
    author: Author,
) -> tuple[OutboundSubscription, str]:
    """A new subscription and its secret (shown to the caller this once), or BadSubscription."""
    address = checked_url(url, allow_private=allow_private)
    kinds = checked_types(events)
    live = await db.scalar(
        select(func.count()).where(
            OutboundSubscription.event_id == event_id, OutboundSubscription.ended_at.is_(None)
        )
    )
    if (live or 0) >= MAX_SUBSCRIPTIONS:
        raise BadSubscription(
            "too-many", f"this event has {MAX_SUBSCRIPTIONS} subscriptions already: end one first"
        )
    secret = new_secret()
    subscription = OutboundSubscription(
        event_id=event_id, url=address, secret=secret, event_types=list(kinds), created_at=now
    )
    db.add(subscription)
    await db.flush()
    await _audit(db, event_id, now, author, "webhook.subscribe", subscription.id, address)
    return subscription, secret


async def subscriptions_of(
    db: AsyncSession, event_id: int, *, ended: bool = False
) -> list[SubscriptionView]:
    """The event's subscriptions (the live ones, or all), newest first, each with its recent
    deliveries, newest first."""
    query = select(OutboundSubscription).where(OutboundSubscription.event_id == event_id)
    if not ended:
        query = query.where(OutboundSubscription.ended_at.is_(None))
    subscriptions = (await db.scalars(query.order_by(OutboundSubscription.id.desc()))).all()
    views = []
    for sub in subscriptions:
        counts = dict(
            (
                await db.execute(
                    select(OutboundDelivery.status, func.count())
                    .where(OutboundDelivery.subscription_id == sub.id)
                    .group_by(OutboundDelivery.status)
                )
            ).all()
        )
        last = await db.scalar(
            select(func.max(OutboundDelivery.delivered_at)).where(
                OutboundDelivery.subscription_id == sub.id
            )
        )
        rows = await db.execute(
            select(OutboundDelivery, OutboundMessage.message_id, OutboundMessage.kind)
            .join(OutboundMessage, OutboundMessage.id == OutboundDelivery.message_id)
            .where(OutboundDelivery.subscription_id == sub.id)
            .order_by(OutboundDelivery.id.desc())
            .limit(RECENT)
        )
        recent = tuple(
            DeliveryView(
                id=delivery.id,
                webhook_id=webhook_id,
                kind=kind,
                status=delivery.status,
                attempts=delivery.attempts,
                last_status=delivery.last_status,
                last_error=delivery.last_error,
                created_at=delivery.first_due_at,
                next_attempt_at=delivery.next_attempt_at
                if delivery.status in ("pending", "sending")
                else None,
                delivered_at=delivery.delivered_at,
            )
            for delivery, webhook_id, kind in rows
        )
        state = "ended" if sub.ended_at else "failing" if sub.failing_since else "active"
        views.append(
            SubscriptionView(
                id=sub.id,
                url=sub.url,
                events=tuple(sub.event_types),
                state=state,
                created_at=sub.created_at,
                failing_since=sub.failing_since,
                last_delivered_at=last,
                waiting=counts.get("pending", 0) + counts.get("sending", 0),
                failed=counts.get("failed", 0),
                recent=recent,
            )
        )
    return views


async def end(
    db: AsyncSession, event_id: int, subscription_id: int, now: datetime, author: Author
) -> None:
    """Ends a live subscription: nothing more is stored for it, and what waits is not sent."""
    ended = await db.execute(
        update(OutboundSubscription)
        .where(
            OutboundSubscription.id == subscription_id,
            OutboundSubscription.event_id == event_id,
            OutboundSubscription.ended_at.is_(None),
        )
        .values(ended_at=now)
        .returning(OutboundSubscription.url)
    )
    url = ended.scalar()
    if url is None:
        raise NoSuchSubscription(f"no live subscription {subscription_id} in this event")
    await _audit(db, event_id, now, author, "webhook.end", subscription_id, url)
    await db.execute(
        update(OutboundDelivery)
        .where(
            OutboundDelivery.subscription_id == subscription_id,
            OutboundDelivery.status.in_(("pending", "sending")),
        )
        .values(status="failed", lease_until=None, last_error="the subscription was ended")
    )


async def resend(
    db: AsyncSession, event_id: int, delivery_id: int, now: datetime, author: Author
) -> str:
    """Makes a delivery of a live subscription due now, with a day of retries again (the
    receiver is back, or lost what it had); returns its `webhook-id`, the same as before."""
    live = select(OutboundSubscription.id).where(
        OutboundSubscription.event_id == event_id, OutboundSubscription.ended_at.is_(None)
    )
    found = (
        await db.execute(
            update(OutboundDelivery)
            .where(
                OutboundDelivery.id == delivery_id,
                OutboundDelivery.subscription_id.in_(live.scalar_subquery()),
                OutboundDelivery.status.in_(("failed", "delivered", "pending")),
            )
            .values(
                status="pending",
                attempts=0,
                next_attempt_at=now,
                first_due_at=now,
                lease_until=None,
                last_error=None,
            )
            .returning(OutboundDelivery.message_id, OutboundDelivery.subscription_id)
        )
    ).first()
    if found is None:
        raise NoSuchSubscription(
            f"no delivery {delivery_id} of a live subscription in this event that can be resent"
        )
    webhook_id: str = (
        await db.execute(select(OutboundMessage.message_id).where(OutboundMessage.id == found[0]))
    ).scalar_one()
    await _audit(db, event_id, now, author, "webhook.resend", found[1], webhook_id)
    return webhook_id


async def _audit(
    db: AsyncSession,
    event_id: int,
    now: datetime,
    author: Author,
    action: str,
    subscription_id: int,
    what: str,
) -> None:
    """The address is left out of the entry: it may hold the receiver's own credentials."""
    await record(
        db,
        event_id=event_id,
        at=now,
        actor=author.actor,
        source=author.source,
        action=action,
        subject=f"subscription {subscription_id}",
        details={"webhook_id": what} if action == "webhook.resend" else None,
    )
