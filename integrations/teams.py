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
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from datetime import datetime

from .base import JoinRequest, NotConfigured, ProviderRejected, Room, RoomRequest, VideoProvider
from .teams_client import TeamsClient

SUBJECT_LENGTH = 255
OPEN_LOBBY = {
    "lobbyBypassSettings": {"scope": "everyone", "isDialInBypassEnabled": True},
    "allowedPresenters": "everyone",
}
CLOSED_LOBBY = {"lobbyBypassSettings": {"scope": "organizer", "isDialInBypassEnabled": False}}

__all__ = ["TeamsClient", "TeamsProvider"]


class TeamsProvider(VideoProvider):
    name = "teams"
    # An organiser holds one meeting at a time (the pool spreads rooms over the accounts and
    # keeps each under Graph's monthly count of meetings per user), as Zoom's hosts do.
    hosted_by_pool = True

    def __init__(self, client: TeamsClient, organisers: Sequence[str]) -> None:
        if not organisers:
            raise NotConfigured("Teams needs at least one organiser in RDV_TEAMS_ORGANISERS")
        self.client, self.organisers = client, tuple(organisers)

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
        return Room(
            request.room_key,
            {"meeting": meeting.id, "host": organiser, "join_url": meeting.join_url},
            external_id=meeting.id,
        )

    async def close_room(self, room: Room) -> None:
        """Nobody gets in any more (the lobby admits only the organiser, who never comes); the
        meeting stays, for its attendance reports."""
        meeting, organiser = room.data.get("meeting"), room.data.get("host")
        if meeting and organiser:
            await self.client.update_meeting(str(organiser), str(meeting), CLOSED_LOBBY)

    async def join_url(self, join: JoinRequest, *, now: datetime) -> str:
        url = join.room.data.get("join_url")
        if not isinstance(url, str) or not url:
            raise ProviderRejected("this Teams room has no join URL: it was not created")
        return url
