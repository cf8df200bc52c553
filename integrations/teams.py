"""Microsoft Teams: the adapter from our rooms to online meetings (the client is
`teams_client`; the facts, with their sources, in reference/teams.md).

A room is an online meeting of one organiser account of `RDV_TEAMS_ORGANISERS` (the one the
pool gives it, kept with the room: `orchestrator/rooms/host_pool.py`), made with
`createOrGet` and the room key as its external id: a create repeated after a crash, or by a
second instance, gets the same meeting (Graph knows a meeting by tenant, organiser and external
id, so a room key always goes to the same organiser). `createOrGet` keeps what it made, so the
lobby is set afterwards with a PATCH: everyone in at once (people join from our links, mostly
from other organisations, and the organiser account never attends) and everyone may present.

A meeting has one join URL for everyone: the personal `/j/` link redirects to it within the
seat's window, so the window, the click log and a forwarded link outside it are ours to check;
who joined is told by the attendance (matched by email, then by display name). At close the
lobby keeps everyone out (nobody is there to admit them) and the meeting is kept: its
attendance reports come after it.

Attendance comes live from a subscription to the meeting's call events (`follow`, made once the
room exists and renewed while it is open; the notifications are read by `teams_events`), and
after the meeting from its attendance reports (`attendance_report`), which are the record: they
name people with their email where they have an account, and no notification can be lost from
them. Without `RDV_TEAMS_CERTIFICATE` there is no live attendance (Graph sends a roster's
content only encrypted), only the reports.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from .base import (
    Attendance,
    JoinRequest,
    NotConfigured,
    ProviderRejected,
    Room,
    RoomRequest,
    VideoProvider,
)
from .events import Delivery, WebhookRequest
from .following import kept, renewal, subscription_of, unsubscribed
from .jwks import KeySet
from .teams_certificate import NotificationKey
from .teams_client import TeamsClient
from .teams_events import client_state, verify

SUBJECT_LENGTH = 255
OPEN_LOBBY = {
    "lobbyBypassSettings": {"scope": "everyone", "isDialInBypassEnabled": True},
    "allowedPresenters": "everyone",
}
CLOSED_LOBBY = {"lobbyBypassSettings": {"scope": "organizer", "isDialInBypassEnabled": False}}
# A subscription lives at most 4,230 minutes (reference/teams.md 7.2); rdv asks for what the
# room needs (`following.renewal`).
LONGEST = timedelta(minutes=4200)

__all__ = ["TeamsClient", "TeamsProvider"]


class TeamsProvider(VideoProvider):
    name = "teams"
    # An organiser holds one meeting at a time (the pool spreads rooms over the accounts and
    # keeps each under Graph's monthly count of meetings per user), as Zoom's hosts do.
    hosted_by_pool = True
    follows_rooms = True
    reports_attendance = True

    def __init__(
        self,
        client: TeamsClient,
        organisers: Sequence[str],
        *,
        secret: bytes,
        key: NotificationKey | None = None,
        signing_keys: KeySet | None = None,
    ) -> None:
        if not organisers:
            raise NotConfigured("Teams needs at least one organiser in RDV_TEAMS_ORGANISERS")
        self.client, self.organisers = client, tuple(organisers)
        self.secret, self.key = secret, key
        self.signing_keys = signing_keys or KeySet(self._fetch_signing_keys)
        self.can_receive_webhooks = key is not None

    async def _fetch_signing_keys(self) -> bytes:
        return await self.client.signing_keys()

    def organiser_for(self, request: RoomRequest) -> str:
        """The caller's choice (`metadata["host"]`), else one that follows from the room key:
        the same key always goes to the same organiser while the list stays the same."""
        chosen = request.metadata.get("host")
        if chosen:
            return chosen
        return self.organisers[zlib.crc32(request.room_key.encode()) % len(self.organisers)]

    async def create_room(self, request: RoomRequest) -> Room:
        organiser = self.organiser_for(request)
        subject = " ".join(request.title.split())[:SUBJECT_LENGTH] or request.room_key
        meeting, _ = await self.client.create_or_get(
            organiser,
            external_id=request.room_key,
            subject=subject,
            starts_at=request.starts_at,
            ends_at=request.ends_at,
        )
        meeting = await self.client.update_meeting(organiser, meeting.id, OPEN_LOBBY)
        # Known in events by our room key: notifications come to the room's own address.
        return Room(
            request.room_key,
            {"meeting": meeting.id, "host": organiser, "join_url": meeting.join_url},
        )

    async def close_room(self, room: Room) -> None:
        """Nobody gets in any more (the lobby admits only the organiser, who never comes); the
        meeting stays, for its attendance reports, and its subscription ends."""
        meeting, organiser = room.data.get("meeting"), room.data.get("host")
        if meeting and organiser:
            await self.client.update_meeting(str(organiser), str(meeting), CLOSED_LOBBY)
        await unsubscribed(room, self.client.unsubscribe)

    async def follow(
        self,
        room: Room,
        callback_url: str,
        *,
        until: datetime,
        now: datetime,
        alarms: Sequence[str] = (),
    ) -> Mapping[str, Any] | None:
        """Subscribes to the meeting's call events once, and renews the subscription before it
        ends while the room needs it (at once after Graph's lifecycle alarms); a subscription
        Graph removed is made again."""
        if self.key is None:
            return None
        await self.signing_keys.ready()
        join_url, organiser = room.data.get("join_url"), str(room.data.get("host") or "")
        if not isinstance(join_url, str) or not join_url:
            return None
        target = renewal(room.data, until=until, now=now, alarms=alarms, longest=LONGEST)
        if target is None:
            return None
        current = subscription_of(room.data)
        found = await self.client.renew(current, target) if current else None
        if found is None:
            found = await self.client.subscribe(
                join_url,
                notification_url=f"{callback_url}/{room.room_key}",
                client_state=client_state(self.secret, room.room_key),
                expires_at=target,
                certificate=self.key.certificate,
                certificate_id=self.key.id,
                organiser=organiser,
            )
        return kept(found.id, found.expires_at)

    async def attendance_report(self, room: Room) -> Sequence[Attendance] | None:
        """Everyone in the meeting's attendance reports; None until there is one (Graph makes
        it when the call ends, some time after)."""
        meeting, organiser = room.data.get("meeting"), room.data.get("host")
        if not meeting or not organiser:
            return None
        records = await self.client.attendance(str(organiser), str(meeting))
        if not records:
            return None
        # A report per time the call ran: one person's spans gathered from all of them.
        people: dict[str, Attendance] = {}
        for record in records:
            key = record.identity or f"name:{record.name}"
            known = people.get(key)
            spans = tuple(sorted({*(known.spans if known else ()), *record.spans}))
            people[key] = Attendance(
                connection=key,
                name=record.name or (known.name if known else None),
                email=record.email or (known.email if known else None),
                spans=spans,
            )
        return [person for person in people.values() if person.spans]

    def verify_webhook(self, request: WebhookRequest) -> Delivery:
        return verify(
            request,
            secret=self.secret,
            key=self.key,
            signing_key=self.signing_keys.key,
            client_id=self.client.client_id,
            tenant_id=self.client.tenant_id,
        )

    async def close(self) -> None:
        await self.signing_keys.close()

    async def join_url(self, join: JoinRequest, *, now: datetime) -> str:
        url = join.room.data.get("join_url")
        if not isinstance(url, str) or not url:
            raise ProviderRejected("this Teams room has no join URL: it was not created")
        return url
