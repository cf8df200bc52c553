"""Google Meet: the adapter from our rooms to Meet spaces (the client is `meet_client`; the
facts, with their sources, in reference/meet.md).

A room is a space made by `RDV_MEET_USER` (the service account acting for them) with `OPEN`
access: people join from our links, mostly from outside the Workspace domain, and nobody is there
to let them in. Google has no way to make a space idempotently (no request id, no list of spaces):
a create whose answer was lost leaves a space nobody has the link of, which is harmless. A space
has one meeting link for everyone: the personal `/j/` link redirects to it within the seat's
window; inside Meet people are known by their name (a Google account's or the one they type). At
close the conference is ended and the space restricted, so a kept link opens nothing.

Attendance: while a room is open, a Workspace Events subscription to its space (`follow`) has
Google publish its events on `RDV_MEET_TOPIC`, pushed to us by Pub/Sub (`meet_events`); a join
names a participant session, whose participant is read afterwards (`who`). Open rooms are also
polled for who is in them now (`list_participants`), and after the meeting its conference
records are the record (`attendance_report`). A recording Meet announces becomes the session's
replay (its Drive link).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from .base import (
    Attendance,
    JoinRequest,
    Participant,
    ProviderRejected,
    Recording,
    Room,
    RoomRequest,
    VideoProvider,
)
from .events import Delivery, WebhookRequest
from .following import kept, renewal, subscription_of, unsubscribed
from .jwks import KeySet
from .meet_client import MeetClient
from .meet_events import verify
from .rfc3339 import utc_time
from .workspace_events import WorkspaceEvents

# Workspace Events keep a Meet subscription at most 7 days; rdv asks for what the room needs
# (`following.renewal`).
LONGEST = timedelta(days=7) - timedelta(hours=1)
GONE = ("expired", "deleted")  # alarms after which the subscription is made again

__all__ = ["MeetClient", "MeetProvider"]


class MeetProvider(VideoProvider):
    name = "meet"
    follows_rooms = True
    reports_attendance = True
    names_later = True
    can_list_participants = True
    can_record = True
    recording_hosts = ("drive.google.com",)

    def __init__(
        self,
        client: MeetClient,
        *,
        topic: str | None = None,
        audience: str | None = None,
        push_account: str | None = None,
        signing_keys: KeySet | None = None,
    ) -> None:
        self.client, self.topic = client, topic
        self.events = WorkspaceEvents(client)
        self.audience, self.push_account = audience, push_account
        self.signing_keys = signing_keys or KeySet(self.client.signing_keys)
        self.can_receive_webhooks = bool(audience and push_account)

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
        await unsubscribed(room, self.events.unsubscribe)

    async def join_url(self, join: JoinRequest, *, now: datetime) -> str:
        url = join.room.data.get("join_url")
        if not isinstance(url, str) or not url:
            raise ProviderRejected("this Meet room has no meeting link: it was not created")
        return url

    async def follow(
        self,
        room: Room,
        callback_url: str,
        *,
        until: datetime,
        now: datetime,
        alarms: Sequence[str] = (),
    ) -> Mapping[str, Any] | None:
        """Subscribes to the space's events once, renews before expiry while the room needs it
        (at once when Google says it is about to expire), reactivates it once suspended, and
        makes it again once expired. The events come through Pub/Sub, not to `callback_url`."""
        space = room.data.get("space")
        if not self.topic or not isinstance(space, str) or not space:
            return None
        if self.audience:
            await self.signing_keys.ready()
        target = renewal(room.data, until=until, now=now, alarms=alarms, longest=LONGEST)
        if target is None:
            return None
        current, found = subscription_of(room.data), None
        if current and not set(alarms) & set(GONE):
            if "suspended" in alarms:  # the operator has mended the topic's permission
                await self.events.reactivate(current)
            found = await self.events.renew(current, target - now)  # None: it is gone
        if found is None:
            found = await self.events.subscribe(space, topic=self.topic, ttl=target - now)
        return kept(found.name, found.expires_at or target)

    async def who(self, details: Mapping[str, str]) -> Participant | None:
        name = details.get("participant")
        if not name:
            return None
        return _participant(await self.client.get(name))

    async def list_participants(self, room: Room) -> Sequence[Participant]:
        """Who is in the space's conference now."""
        space = room.data.get("space")
        found = await self.client.get_space(str(space)) if space else None
        if found is None or not found.conference:
            return []
        people = await self.client.participants(found.conference, present=True)
        return [p for item in people if (p := _participant(item)) is not None]

    async def attendance_report(self, room: Room) -> Sequence[Attendance] | None:
        """Everyone in the space's conference records, each join a span (nobody when no
        conference was held); None while a conference still runs."""
        space = room.data.get("space")
        if not space:
            return None
        records = await self.client.conference_records(str(space))
        if any(not record.get("endTime") for record in records):
            return None  # a conference still runs
        # Asked once the room has closed: no conference at all means nobody came.
        found = []
        for record in records:
            for item in await self.client.participants(str(record.get("name", ""))):
                person = _participant(item)
                if person is None:
                    continue
                spans = [
                    (start, end)
                    for session in await self.client.sessions(person.provider_id)
                    if (start := utc_time(session.get("startTime")))
                    and (end := utc_time(session.get("endTime")))
                ]
                found.append(
                    Attendance(person.provider_id, person.display_name, None, tuple(spans))
                )
        return [person for person in found if person.spans]

    async def recording(
        self, room: Room, details: Mapping[str, str], *, at: datetime
    ) -> Recording | None:
        """The recording's file in Drive, once Meet has made it."""
        name = details.get("recording")
        if not name:
            return None
        found = await self.client.get(name)
        destination = found.get("driveDestination")
        link = destination.get("exportUri") if isinstance(destination, dict) else None
        if found.get("state") != "FILE_GENERATED" or not isinstance(link, str):
            return None
        return Recording(link)

    def verify_webhook(self, request: WebhookRequest) -> Delivery:
        # The door takes no push without both (can_receive_webhooks).
        assert self.audience
        assert self.push_account
        return verify(
            request,
            audience=self.audience,
            account=self.push_account,
            signing_key=self.signing_keys.key,
        )

    async def close(self) -> None:
        await self.signing_keys.close()


def _participant(item: Mapping[str, Any]) -> Participant | None:
    """A Meet participant: a signed-in user, an anonymous one or a phone, by display name."""
    name = item.get("name")
    if not isinstance(name, str) or not name:
        return None
    for kind in ("signedinUser", "anonymousUser", "phoneUser"):
        who = item.get(kind)
        if isinstance(who, dict):
            return Participant(
                name,
                str(who.get("displayName") or ""),
                joined_at=utc_time(item.get("earliestStartTime")),
            )
    return Participant(name, "")
