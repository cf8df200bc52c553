"""A simulated self-hosted Jitsi: its event_sync component posting room and occupant events to
our real webhook endpoint over HTTP, with the shared secret as bearer token (`api_headers`,
https://github.com/jitsi-contrib/prosody-plugins/blob/HEAD/event_sync/README.md).
An occupant's `id` is the seat id our join links hand to Jitsi, as the component echoes it."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

import aiohttp

from ..rooms.lifecycle import seat_of
from .day import Sitting
from .scenario import Visit


class DeliveryRefused(Exception):
    """The webhook endpoint did not accept a delivery the demo sent."""


class EventSync:
    def __init__(
        self, http: aiohttp.ClientSession, url: str, secret: str, domain: str = "meet.example.org"
    ) -> None:
        self.http, self.url, self.domain = http, url, domain
        self.headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}

    async def room(self, kind: str, sitting: Sitting, at: datetime) -> dict[str, Any]:
        """`kind` is "created" (first occupant in) or "destroyed" (last one out)."""
        body = {
            "event_name": f"muc-room-{kind}",
            "room_name": sitting.room,
            "room_jid": self._room_jid(sitting),
            "is_breakout": False,
            f"{kind}_at": int(at.timestamp()),
        }
        return await self.post(json.dumps(body).encode())

    def occupant(self, kind: str, visit: Visit) -> bytes:
        """The body of one "joined" or "left" event of a visit."""
        assert visit.joined is not None
        assert visit.left is not None
        person = visit.person
        tag = hashlib.sha256(f"{visit.sitting.key}/{person.key}".encode()).hexdigest()[:12]
        occupant: dict[str, Any] = {
            "id": seat_of(visit.seat, "").seat_id if visit.seat is not None else "",
            "name": person.name,
            "email": person.email,
            "occupant_jid": f"{tag}@{self.domain}/web",
            "joined_at": int(visit.joined.timestamp()),
        }
        if kind == "left":
            occupant["left_at"] = int(visit.left.timestamp())
        body = {
            "event_name": f"muc-occupant-{kind}",
            "room_name": visit.sitting.room,
            "room_jid": self._room_jid(visit.sitting),
            "is_breakout": False,
            "occupant": occupant,
        }
        return json.dumps(body, ensure_ascii=False).encode()

    async def post(self, body: bytes) -> dict[str, Any]:
        """Sends one delivery; the door's answer (`accepted`, `duplicates`)."""
        async with self.http.post(self.url, data=body, headers=self.headers) as response:
            if response.status != 200:
                raise DeliveryRefused(
                    f"POST {self.url} answered {response.status}: {await response.text()}"
                )
            answer: dict[str, Any] = await response.json()
            return answer

    def _room_jid(self, sitting: Sitting) -> str:
        return f"{sitting.room}@conference.{self.domain}"
