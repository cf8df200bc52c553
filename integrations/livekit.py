"""LiveKit: the adapter from our rooms to LiveKit rooms (the client is `livekit_client`).

The LiveKit room is named by our room key, so repeating CreateRoom returns the same room. A
seat's access token names exactly one room, our seat id as identity, and lives for the seat's
window; the join URL hands the server and that token to a configurable page (LiveKit Meet's
custom-connection page by default, which reads `liveKitUrl` and `token`).

Sources: https://docs.livekit.io/server/room-management and, for the token's claims,
https://github.com/livekit/protocol/blob/HEAD/auth/accesstoken.go.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from .base import (
    JoinRequest,
    Participant,
    Recording,
    Role,
    Room,
    RoomRequest,
    VideoProvider,
)
from .events import Delivery, WebhookRequest
from .livekit_client import LiveKitClient, LiveKitRejected, hs256
from .livekit_events import NOT_PEOPLE, enum, int64, verify

SKEW = timedelta(seconds=10)
OVERRUN = timedelta(minutes=30)  # how long a session may run past its end before the room goes

__all__ = ["LiveKitClient", "LiveKitProvider", "LiveKitRejected"]


class LiveKitProvider(VideoProvider):
    name = "livekit"
    can_list_participants = True
    can_record = True
    can_receive_webhooks = True  # signed with the API secret we already have

    def __init__(
        self,
        client: LiveKitClient,
        *,
        join_page: str,
        lead: timedelta = timedelta(0),
        recording_hosts: Sequence[str] = (),
    ) -> None:
        self.client, self.join_page, self.lead = client, join_page, lead
        # An egress uploads to the storage its operator chose (S3, GCP, Azure, Ali OSS): LiveKit
        # has none of its own, so the operator names it.
        self.recording_hosts = tuple(recording_hosts)

    async def create_room(self, request: RoomRequest) -> Room:
        """The room lives until `close_room`: LiveKit would close an empty room after
        `emptyTimeout` (5 min by default) and a left one after `departureTimeout` (20 s), and a
        later join would open a new room with default settings, so both get the whole span."""
        span = (request.ends_at - request.starts_at) + self.lead + OVERRUN
        seconds = max(math.ceil(span.total_seconds()), 60)
        found = await self.client.create_room(
            request.room_key,
            emptyTimeout=seconds,
            departureTimeout=seconds,
            metadata=json.dumps({"title": request.title, **request.metadata}, ensure_ascii=False),
        )
        name = str(found.get("name") or request.room_key)
        return Room(
            request.room_key, {"room": name, "sid": str(found.get("sid", ""))}, external_id=name
        )

    async def close_room(self, room: Room) -> None:
        await self.client.delete_room(_room_name(room))

    def token(self, join: JoinRequest) -> str:
        """The seat's access token: this room only, publish and subscribe, and the room's admin
        rights for moderators; valid from the window's start (less clock skew) to its end."""
        room = _room_name(join.room)
        video: dict[str, object] = {
            "roomJoin": True,
            "room": room,
            "canPublish": True,
            "canSubscribe": True,
            "canPublishData": True,
        }
        if join.role is Role.MODERATOR:
            video["roomAdmin"] = True
        claims = {
            "iss": self.client.api_key,
            "sub": join.seat.seat_id,
            "name": join.display_name.strip() or join.seat.seat_id,
            "nbf": int((join.not_before - SKEW).timestamp()),
            "exp": int(join.expires_at.timestamp()),
            "video": video,
        }
        return hs256(claims, self.client.api_secret)

    async def join_url(self, join: JoinRequest, *, now: datetime) -> str:
        """The join page with the server and the token: LiveKit Meet's custom page reads
        `liveKitUrl` and `token`."""
        query = urlencode({"liveKitUrl": self.client.client_url, "token": self.token(join)})
        return f"{self.join_page}{'&' if '?' in self.join_page else '?'}{query}"

    async def list_participants(self, room: Room) -> Sequence[Participant]:
        people = []
        for item in await self.client.list_participants(_room_name(room)):
            if enum(item.get("kind")) in NOT_PEOPLE or item.get("state") == "DISCONNECTED":
                continue
            identity = str(item.get("identity") or "")
            people.append(
                Participant(
                    provider_id=str(item.get("sid") or identity),
                    display_name=str(item.get("name") or identity),
                    seat_id=identity if identity.startswith("rdv-") else None,
                    joined_at=_joined(item),
                )
            )
        return people

    async def recording(
        self, room: Room, details: Mapping[str, str], *, at: datetime
    ) -> Recording | None:
        """The file an egress uploaded (`egress_ended`). A location that is not an https URL (a
        path on the egress host) cannot be linked from a replay, so there is none."""
        url = details.get("url", "")
        if not url.lower().startswith("https://"):
            return None
        duration = details.get("duration", "")
        return Recording(url=url, duration_seconds=int(duration) if duration.isdigit() else None)

    def verify_webhook(self, request: WebhookRequest) -> Delivery:
        return verify(
            headers=request.headers,
            body=request.body,
            api_key=self.client.api_key,
            api_secret=self.client.api_secret,
            now=request.now,
        )


def _joined(participant: Mapping[str, Any]) -> datetime | None:
    for field, per_second in (("joinedAtMs", 1000), ("joinedAt", 1)):
        value = int64(participant.get(field))
        if value:
            try:
                return datetime.fromtimestamp(value / per_second, UTC)
            except (OverflowError, OSError, ValueError):
                return None
    return None


def _room_name(room: Room) -> str:
    return str(room.data.get("room") or room.room_key)
