"""The one interface every video provider implements, and the plain data it speaks.

The required core is small: create a room idempotently from our own room key, close it, and mint a
join URL for one seat. Optional capabilities are declared as class flags, and a provider that lacks
one raises `CapabilityMissing` rather than pretending.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from .events import Delivery, WebhookRequest


class Role(StrEnum):
    MODERATOR = "moderator"
    PARTICIPANT = "participant"


@dataclass(frozen=True, slots=True)
class Seat:
    """One person's place in one room.

    `seat_id` is the identity our join links put into the provider (BigBlueButton `userID`, Jitsi
    `context.user.id`, LiveKit identity), so that provider events map back to the person; `number`
    is the same seat as a number for providers that need one (Janus); `token` is a secret only
    this seat knows, for providers that check a list of allowed tokens (Janus); `name` and
    `email` are the person's, for providers that register each seat in advance (Zoom).
    """

    seat_id: str
    number: int
    token: str
    name: str | None = None
    email: str | None = None


@dataclass(frozen=True, slots=True)
class RoomRequest:
    """What a provider needs to create the room of one session."""

    room_key: str
    title: str
    starts_at: datetime
    ends_at: datetime
    seats: tuple[Seat, ...] = ()
    callback_url: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Room:
    """A created room: our key and what the provider told us, stored as JSON with the room.
    `external_id` is how the provider names the room in its events (`RoomRef`): its own room
    name or number, as the adapter that created the room knows; None when that is our key."""

    room_key: str
    data: Mapping[str, Any] = field(default_factory=dict)
    external_id: str | None = None


@dataclass(frozen=True, slots=True)
class JoinRequest:
    """One seat asking to enter; the provider's credentials must not outlive `expires_at`."""

    room: Room
    seat: Seat
    display_name: str
    email: str | None
    role: Role
    not_before: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class JoinPage:
    """What our own join page (`/room/{seat token}`) needs for a provider whose rooms have no web
    client of their own: the provider's browser library (`library`), our script that drives it
    (`script`, a file of the service's static folder), the servers the page talks to
    (`connect`), and the values that script reads from the page (`values`)."""

    library: str
    script: str
    connect: tuple[str, ...]
    values: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Participant:
    """Someone a provider says is in a room now; `seat_id` is None for people who did not come
    through our links (guests)."""

    provider_id: str
    display_name: str
    seat_id: str | None = None
    joined_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Recording:
    """Where a provider keeps a session's recording; `valid_until` for links that expire (then
    `download` says the link can be copied before it does)."""

    url: str
    duration_seconds: int | None = None
    valid_until: datetime | None = None
    download: bool = False


@dataclass(frozen=True, slots=True)
class Attendance:
    """One person in a provider's own record of a meeting, read once it is over: how the
    provider knows them (`connection`), their name and email as it has them (no seat: these
    providers have one link for everyone), and each span they were in."""

    connection: str
    name: str | None
    email: str | None
    spans: tuple[tuple[datetime, datetime], ...]


class ProviderError(Exception):
    """A provider call failed; the message is safe to show organisers (no secrets)."""


class ProviderUnavailable(ProviderError):
    """Worth retrying: timeouts, connection errors, 5xx, 429. `retry_after` in seconds when the
    provider said how long to wait."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ProviderRejected(ProviderError):
    """Not worth retrying as is: the provider refused the request (bad credentials, bad input)."""


class NotConfigured(ProviderError):
    """A session asks for a provider this service has no settings for."""


class CapabilityMissing(ProviderError):
    """The provider cannot do this (for example list participants); callers check the flags."""


class VideoProvider(ABC):
    """A video provider. Subclasses that miss a required method fail when built, not mid-request."""

    name: ClassVar[str]
    can_list_participants: ClassVar[bool] = False
    can_record: ClassVar[bool] = False
    # Rooms are made under one of a pool of host accounts (Zoom users): the lifecycle gives each
    # room a host that is free for its slot, in `RoomRequest.metadata["host"]`.
    hosted_by_pool: ClassVar[bool] = False
    # People join in the provider's own web client, where `join_url` sends them. A provider
    # without one sends them to our page instead, built from `join_page_for`, which lets in the
    # seats of the room only (so organisers cannot open such a room from the dashboard).
    has_own_client: ClassVar[bool] = True
    # The provider sends a room's events only to whoever subscribed to that room, for a while
    # (Microsoft Graph, Workspace Events): `follow` is called for every open room, pass after pass.
    follows_rooms: ClassVar[bool] = False
    # The provider keeps its own record of who attended, ready after the meeting (Teams
    # attendance reports, Meet conference records): once read, it is the room's attendance.
    reports_attendance: ClassVar[bool] = False
    # The provider's events name a participant only by reference (Meet's participant sessions):
    # `who` reads who it is, once the event is stored.
    names_later: ClassVar[bool] = False
    # Set by a provider once it has what it needs to check deliveries (a secret).
    can_receive_webhooks: bool = False
    # Where a provider with `can_record` keeps its recordings: the only hosts whose links rdv
    # stores as replays and downloads from. Each is a name, or `*.name` for the names under it.
    recording_hosts: tuple[str, ...] = ()

    @abstractmethod
    async def create_room(self, request: RoomRequest) -> Room:
        """Creates the room, or returns the existing one for the same `room_key`."""

    @abstractmethod
    async def close_room(self, room: Room) -> None:
        """Ends the room; a room that is already gone is success."""

    @abstractmethod
    async def join_url(self, join: JoinRequest, *, now: datetime) -> str:
        """A URL that puts this seat, and only this seat, into the room with its role."""

    def join_page_for(self, join: JoinRequest) -> JoinPage:
        """What our join page needs to let this seat in (providers without `has_own_client`)."""
        raise CapabilityMissing(f"{self.name} rooms open in its own web client")

    async def list_participants(self, room: Room) -> Sequence[Participant]:
        """Who is in the room now (providers with `can_list_participants`)."""
        raise CapabilityMissing(f"{self.name} cannot list participants")

    async def recording(
        self, room: Room, details: Mapping[str, str], *, at: datetime
    ) -> Recording | None:
        """The recording a recording-ready event announced (providers with `can_record`);
        None while it is not published yet."""
        raise CapabilityMissing(f"{self.name} keeps no recordings that rdv reads")

    async def follow(
        self,
        room: Room,
        callback_url: str,
        *,
        until: datetime,
        now: datetime,
        alarms: Sequence[str] = (),
    ) -> Mapping[str, Any] | None:
        """Makes sure the provider sends the room's events to `callback_url` until `until`
        (providers with `follows_rooms`); `alarms` are what the provider said of the
        subscription since the last call (removed, missed). Returns what to keep with the room
        (merged into its data), or None when nothing changed."""
        raise CapabilityMissing(f"{self.name} rooms need no subscription")

    async def attendance_report(self, room: Room) -> Sequence[Attendance] | None:
        """Who attended the room's meeting, from the provider's own record (providers with
        `reports_attendance`); None while that record is not ready."""
        raise CapabilityMissing(f"{self.name} keeps no attendance record that rdv reads")

    async def who(self, details: Mapping[str, str]) -> Participant | None:
        """Who an event of the provider names by reference (its `details`), for providers with
        `names_later`; None when the provider no longer knows."""
        raise CapabilityMissing(f"{self.name} events name their participants")

    def verify_webhook(self, request: WebhookRequest) -> Delivery:
        """Checks a delivery's credentials and reads its events (`WebhookRejected`,
        `WebhookMalformed` otherwise). Providers without webhooks say so."""
        raise CapabilityMissing(f"{self.name} sends no webhooks that rdv reads")

    async def close(self) -> None:  # noqa: B027 (optional)
        """Stops what the provider runs in the background (a fetch of signing keys)."""

    async def register_webhooks(self, callback_url: str) -> None:  # noqa: B027 (optional)
        """Asks the provider to send its events to `callback_url`, for providers where the
        application registers them (BigBlueButton); re-registering is harmless. Providers
        configured on their own side (Jitsi, Janus) need nothing."""
