"""Outbound webhooks: a subscription as it is asked for, made, and listed with its deliveries."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from .common import DateTime, Model

EventType = Literal[
    "session.changed",
    "session.cancelled",
    "seat.answered",
    "meeting.held",
    "meeting.not-held",
    "attendee.no-show",
    "outcome.recorded",
    "request.changed",
]


class SubscriptionAsked(Model):
    url: Annotated[
        str,
        msgspec.Meta(
            max_length=2000,
            description="the receiver's https address (a public host unless the operator "
            "allows private ones with RDV_WEBHOOK_ALLOW_PRIVATE)",
        ),
    ]
    events: (
        Annotated[
            list[EventType],
            msgspec.Meta(min_length=1, description="the event types to receive; all if omitted"),
        ]
        | None
    ) = None


class DeliveryShown(Model):
    id: int
    webhook_id: str
    type: EventType
    status: Literal["pending", "sending", "delivered", "failed"]
    attempts: int
    last_status: int | None
    last_error: str | None
    created_at: DateTime
    next_attempt_at: DateTime | None
    delivered_at: DateTime | None


class SubscriptionShown(Model):
    id: int
    url: str
    events: list[EventType]
    state: Literal["active", "failing", "ended"]
    created_at: DateTime
    failing_since: DateTime | None
    last_delivered_at: DateTime | None
    waiting: int
    failed: int
    recent: list[DeliveryShown]


class SubscriptionMade(Model):
    id: int
    url: str
    events: list[EventType]
    secret: Annotated[
        str,
        msgspec.Meta(
            description="the signing secret (whsec_…), shown this once: give it to the "
            "receiver's Standard Webhooks verifier"
        ),
    ]
    created_at: DateTime


class Subscriptions(Model):
    event: str
    subscriptions: list[SubscriptionShown]


class Resent(Model):
    delivery: int
    webhook_id: str
