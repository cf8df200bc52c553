"""Zoom: the adapter from our rooms to scheduled meetings (the client is `zoom_client`).

A meeting is created on one host user of the pool (`RDV_ZOOM_HOSTS`). The adapter cannot see the
other rooms, so the caller chooses the host (`RoomRequest.metadata["host"]`, from
`orchestrator.hosts`, which keeps a host to one meeting at a time); without one it falls back to
a stable pick from the room key. Meetings require registration with automatic approval, and each
seat is registered in advance: its personal `join_url` is kept in the room
(`data["join_urls"][seat_id]`), and Zoom's registrant id in `data["seat_ids"]`, so that webhooks,
which name the registrant, map back to the seat. Our room key sits in the meeting's agenda, so a
create repeated after a crash finds the meeting it made.
"""

from __future__ import annotations

import asyncio
import math
import zlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from .base import (
    JoinRequest,
    NotConfigured,
    ProviderRejected,
    Recording,
    Room,
    RoomRequest,
    Seat,
    VideoProvider,
)
from .events import Delivery, WebhookRequest
from .zoom_client import Meeting, Registrant, ZoomClient
from .zoom_events import verify

AGENDA = "rdv room "
TOPIC_LENGTH = 200
NAME_LENGTH = 64
PARALLEL = 4  # registrant calls at once; Zoom labels them Light (many per second)

__all__ = ["ZoomClient", "ZoomProvider"]


class ZoomProvider(VideoProvider):
    name = "zoom"
    can_record = True
    hosted_by_pool = True
    # Zoom's own domain: its OAuth (https://zoom.us) and API (https://api.zoom.us/v2) are there,
    # and the share pages of cloud recordings under it.
    recording_hosts = ("zoom.us", "*.zoom.us")

    def __init__(
        self, client: ZoomClient, hosts: Sequence[str], *, webhook_secret: str | None = None
    ) -> None:
        if not hosts:
            raise NotConfigured("Zoom needs at least one host user in RDV_ZOOM_HOSTS")
        self.client, self.hosts = client, tuple(hosts)
        self.webhook_secret = webhook_secret or ""
        self.can_receive_webhooks = bool(webhook_secret)

    def host_for(self, request: RoomRequest) -> str:
        """The caller's choice, else a stable pick (which may double-book a host)."""
        chosen = request.metadata.get("host")
        if chosen:
            return chosen
        return self.hosts[zlib.crc32(request.room_key.encode()) % len(self.hosts)]

    def meeting_body(self, request: RoomRequest) -> dict[str, Any]:
        """A scheduled meeting (type 2) in UTC; registration required, approved automatically,
        no mail from Zoom (our invitations carry the links), join before the host allowed (the
        host user never attends)."""
        minutes = math.ceil((request.ends_at - request.starts_at).total_seconds() / 60)
        return {
            "topic": " ".join(request.title.split())[:TOPIC_LENGTH] or request.room_key,
            "type": 2,
            "start_time": request.starts_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "duration": max(minutes, 1),
            "timezone": "UTC",
            "agenda": AGENDA + request.room_key,
            "settings": {
                "approval_type": 0,
                "registrants_confirmation_email": False,
                "registrants_email_notification": False,
                "join_before_host": True,
                "jbh_time": 0,
                "waiting_room": False,
                "meeting_authentication": False,
            },
        }

    async def create_room(self, request: RoomRequest) -> Room:
        host = self.host_for(request)
        agenda = AGENDA + request.room_key
        existing = next(
            (found for found in await self.client.meetings(host) if found.agenda == agenda), None
        )
        meeting = existing or await self.client.create_meeting(host, self.meeting_body(request))
        known = await self.client.registrants(meeting.id) if existing else []
        registered = await self._register(meeting, request.seats, known)
        return Room(
            request.room_key,
            {
                "room": meeting.id,
                "uuid": meeting.uuid,
                "host": host,
                "join_urls": {seat.seat_id: found.join_url for seat, found in registered},
                "seat_ids": {found.id: seat.seat_id for seat, found in registered},
            },
            external_id=str(meeting.id),
        )

    async def _register(
        self, meeting: Meeting, seats: Iterable[Seat], known: Sequence[Registrant]
    ) -> list[tuple[Seat, Registrant]]:
        """Registers every seat that has an email; a seat without one registers when it joins."""
        by_email = {registrant.email.casefold(): registrant for registrant in known}
        gate = asyncio.Semaphore(PARALLEL)

        async def one(seat: Seat, email: str) -> tuple[Seat, Registrant]:
            found = by_email.get(email.casefold())
            if found is None:
                async with gate:
                    found = await self._add(meeting.id, email, seat.name or "", seat.seat_id)
            return seat, found

        return list(await asyncio.gather(*(one(seat, seat.email) for seat in seats if seat.email)))

    async def _add(self, meeting_id: str, email: str, name: str, fallback: str) -> Registrant:
        first, _, last = " ".join(name.split()).partition(" ")
        return await self.client.add_registrant(
            meeting_id,
            email=email,
            first_name=(first or fallback)[:NAME_LENGTH],
            last_name=last[:NAME_LENGTH],
        )

    async def close_room(self, room: Room) -> None:
        """Deletes the meeting, which ends it for anyone still inside; gone already is fine."""
        meeting_id = room.data.get("room")
        if meeting_id:
            await self.client.delete_meeting(str(meeting_id))

    async def join_url(self, join: JoinRequest, *, now: datetime) -> str:
        """The seat's own registrant link. A seat added after the room was made (or met without
        an email then) registers now; Zoom answers a known email with its registration. The link
        carries no expiry: deleting the meeting at close makes it useless. Zoom registrants are
        all participants; with join before host allowed, nobody needs the host's start URL."""
        urls = join.room.data.get("join_urls")
        if isinstance(urls, Mapping) and isinstance(urls.get(join.seat.seat_id), str):
            return str(urls[join.seat.seat_id])
        meeting_id = join.room.data.get("room")
        email = join.email or join.seat.email
        if not meeting_id or not email:
            raise ProviderRejected("a Zoom seat needs a meeting and an email to register")
        name = join.display_name or join.seat.name or ""
        found = await self._add(str(meeting_id), email, name, join.seat.seat_id)
        return found.join_url

    async def recording(
        self, room: Room, details: Mapping[str, str], *, at: datetime
    ) -> Recording | None:
        """The share page of a `recording.completed`, valid while Zoom keeps the recording. The
        event's download token lasts only 24 h, so no copy is made from it."""
        url = details.get("share_url")
        if not url:
            return None
        minutes = details.get("duration", "")
        return Recording(url=url, duration_seconds=int(minutes) * 60 if minutes.isdigit() else None)

    def verify_webhook(self, request: WebhookRequest) -> Delivery:
        return verify(
            headers=request.headers,
            body=request.body,
            secret=self.webhook_secret,
            now=request.now,
        )
