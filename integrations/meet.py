"""Google Meet: the adapter from our rooms to Meet spaces (the client is `meet_client`; the
facts, with their sources, in reference/meet.md).

A room is a space made by `RDV_MEET_USER` (the service account acting for them) with `OPEN`
access: people join from our links, mostly from outside the Workspace domain, and nobody is there
to let them in. Google has no way to make a space idempotently (no request id, no list of spaces):
a create whose answer was lost leaves a space nobody has the link of, which is harmless. A space
has one meeting link for everyone: the personal `/j/` link redirects to it within the seat's
window; inside Meet people are known by their name (a Google account's or the one they type). At
close the conference is ended and the space restricted, so a kept link opens nothing.
"""

from __future__ import annotations

from datetime import datetime

from .base import JoinRequest, ProviderRejected, Room, RoomRequest, VideoProvider
from .meet_client import MeetClient

__all__ = ["MeetClient", "MeetProvider"]


class MeetProvider(VideoProvider):
    name = "meet"

    def __init__(self, client: MeetClient) -> None:
        self.client = client

    async def create_room(self, request: RoomRequest) -> Room:
        """The room's space: the one it had when it still exists (`metadata["space"]`), else a
        new one."""
        known = request.metadata.get("space")
        space = await self.client.get_space(known) if known else None
        if space is None:
            space = await self.client.create_space("OPEN")
        elif space.access != "OPEN":
            space = await self.client.set_access(space.name, "OPEN")
        return Room(
            request.room_key,
            {"space": space.name, "join_url": space.meeting_uri},
            external_id=space.name,
        )

    async def close_room(self, room: Room) -> None:
        """Ends the conference (everyone still in it leaves) and restricts the space: a kept
        link no longer lets anyone in without an invitation."""
        space = room.data.get("space")
        if space:
            await self.client.end_conference(str(space))
            await self.client.set_access(str(space), "RESTRICTED")

    async def join_url(self, join: JoinRequest, *, now: datetime) -> str:
        url = join.room.data.get("join_url")
        if not isinstance(url, str) or not url:
            raise ProviderRejected("this Meet room has no meeting link: it was not created")
        return url
