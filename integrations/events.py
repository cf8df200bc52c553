"""Provider webhooks in one shape: what each provider's verifier turns a delivery into.

A verifier is a pure function `(headers, body, secret, now, ...) -> Delivery`: it checks the
signature over the raw bytes (constant-time comparison, a timestamp window where the provider
signs one) and raises `WebhookRejected` for anything it cannot trust, `WebhookMalformed` for a
trusted delivery it cannot read. Nothing outside `integrations` knows a wire format.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class WebhookRejected(Exception):
    """Missing or bad credentials or signature, or a stale timestamp: answer 401."""


class WebhookMalformed(Exception):
    """Authentic but unreadable (truncated, not JSON, missing fields): answer 400."""


class WebhookUnverifiable(Exception):
    """Cannot be checked yet (signed with a key rdv has not fetched): answer 503, so that the
    provider sends it again once the key is known."""


class Kind(StrEnum):
    ROOM_STARTED = "room_started"
    ROOM_ENDED = "room_ended"
    JOINED = "joined"
    LEFT = "left"
    RECORDING_READY = "recording_ready"
    PRESENT = "present"  # a poll of the room saw this participant
    POLL = "poll"  # a poll of the room; `details["people"]` names everyone it saw, one a line
    OTHER = "other"  # authentic, but nothing we act on (acknowledged so the provider stops)


@dataclass(frozen=True, slots=True)
class RoomRef:
    """How the provider names the room: one of our room key (BigBlueButton meetingID, Jitsi room
    name, LiveKit room name) or the provider's numeric room (Janus)."""

    key: str | None = None
    number: int | None = None


@dataclass(frozen=True, slots=True)
class Who:
    """The participant as the provider saw them. `seat_id` is the identity our join links put in
    (None for someone who came another way); `connection` tells two tabs of one person apart."""

    connection: str
    seat_id: str | None = None
    seat_number: int | None = None
    name: str | None = None
    email: str | None = None


@dataclass(frozen=True, slots=True)
class ProviderEvent:
    """One normalised event. `dedupe_key` is the provider's event id where it has one, else a key
    derived from what makes the event unique; `at` is the event's own time."""

    provider: str
    kind: Kind
    dedupe_key: str
    at: datetime
    room: RoomRef
    who: Who | None = None
    details: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class WebhookRequest:
    """An inbound delivery as it arrived: the raw bytes, never re-serialised. `url` is our public
    URL of the endpoint without the query (what the provider signed, for BigBlueButton), `path`
    what followed `/webhooks/{provider}` (event_sync and recording callbacks use sub-paths)."""

    headers: Mapping[str, str]
    body: bytes
    query: str
    url: str
    path: str
    now: datetime


@dataclass(frozen=True, slots=True)
class Delivery:
    """What one HTTP delivery held: its events, and an answer for providers that want one: a
    JSON object (the Zoom URL-validation challenge) or plain text (Microsoft Graph's
    subscription handshake echoes a token)."""

    events: tuple[ProviderEvent, ...]
    reply: Mapping[str, str] | str | None = None
