"""BigBlueButton: the adapter from our rooms to its API (the client is `bigbluebutton_client`).

The meeting is keyed by our room key, so repeating `create` finds the same meeting; joins are
role-based with our seat id as `userID` and the meeting's `createTime`, so a link minted for one
meeting cannot open a later one under the same key. No deprecated passwords are sent.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from .base import (
    JoinRequest,
    Participant,
    Recording,
    Role,
    Room,
    RoomRequest,
    VideoProvider,
)
from .bigbluebutton_client import (
    GENERATED_USER,
    BigBlueButtonClient,
    BigBlueButtonFailed,
    checksum,
    meeting_name,
)
from .bigbluebutton_events import verify_hook, verify_recording_ready
from .events import Delivery, WebhookRequest

OVERRUN = timedelta(minutes=30)  # how long a session may run past its end before BBB cuts it
GONE = frozenset({"notFound", "invalidMeetingIdentifier"})
ROLES = {Role.MODERATOR: "MODERATOR", Role.PARTICIPANT: "VIEWER"}


__all__ = ["BigBlueButtonClient", "BigBlueButtonProvider", "checksum", "meeting_name"]


class BigBlueButtonProvider(VideoProvider):
    name = "bigbluebutton"
    can_list_participants = True
    can_record = True

    can_receive_webhooks = True

    def __init__(self, client: BigBlueButtonClient, *, lead: timedelta = timedelta(0)) -> None:
        self.client = client
        self.lead = lead
        # BBB publishes playback pages on its own server, the one its API answers on.
        own = urlsplit(client.base_url).hostname
        self.recording_hosts = (own,) if own else ()

    def verify_webhook(self, request: WebhookRequest) -> Delivery:
        """bbb-webhooks at `/webhooks/bigbluebutton`; recording-ready callbacks at `…/recording`."""
        secret = self.client.secret
        if request.path == "recording":
            return verify_recording_ready(body=request.body, secret=secret, now=request.now)
        return verify_hook(
            headers=request.headers,
            body=request.body,
            query=request.query,
            callback_url=request.url,
            secret=secret,
            now=request.now,
        )

    async def register_webhooks(self, callback_url: str) -> None:
        """bbb-webhooks drops a hook after its retries run out: registering again is the cure."""
        await self.client.register_hook(callback_url)

    def create_params(self, request: RoomRequest) -> dict[str, str]:
        """The `create` query for a room. BBB counts `duration` and its expiry timers from
        creation, which happens `lead` before the start; the expiry timers (5 and 1 minutes by
        default) would remove a room nobody entered yet, or one whose only guest stepped out, so
        they get the same span: the room lives until `close_room` ends it."""
        span = (request.ends_at - request.starts_at) + self.lead + OVERRUN
        minutes = str(max(math.ceil(span.total_seconds() / 60), 1))
        params = {
            "name": meeting_name(request.title, request.room_key),
            "meetingID": request.room_key,
            "duration": minutes,
            "meetingExpireIfNoUserJoinedInMinutes": minutes,
            "meetingExpireWhenLastUserLeftInMinutes": minutes,
        }
        params.update({f"meta_{key}": value for key, value in request.metadata.items()})
        if request.callback_url:
            params["meta_bbb-recording-ready-url"] = request.callback_url
        return params

    async def create_room(self, request: RoomRequest) -> Room:
        try:
            meeting = await self.client.create(self.create_params(request))
        except BigBlueButtonFailed as error:
            if error.key != "idNotUnique":
                raise
            # Before 2.6 BBB refused a repeated create without passwords; the meeting under our
            # unguessable room key is ours, so take it as it is.
            meeting = await self.client.get_meeting_info(request.room_key)
        meeting_id = meeting.meeting_id or request.room_key
        return Room(
            request.room_key,
            {
                "meetingID": meeting_id,
                "internalMeetingID": meeting.internal_meeting_id,
                "createTime": meeting.create_time,
            },
            external_id=meeting_id,
        )

    async def close_room(self, room: Room) -> None:
        try:
            await self.client.end(_meeting_id(room))
        except BigBlueButtonFailed as error:
            if error.key not in GONE:
                raise

    async def join_url(self, join: JoinRequest, *, now: datetime) -> str:
        """BBB join URLs carry no expiry: `createTime` ties this one to this meeting, and ending
        the meeting at close makes it useless."""
        params = {
            "fullName": join.display_name.strip() or join.seat.seat_id,
            "meetingID": _meeting_id(join.room),
            "role": ROLES[join.role],
            "userID": join.seat.seat_id,
        }
        if join.room.data.get("createTime"):
            params["createTime"] = str(join.room.data["createTime"])
        params["redirect"] = "true"
        return self.client.join_url(params)

    async def recording(
        self, room: Room, details: Mapping[str, str], *, at: datetime
    ) -> Recording | None:
        """The playback page of a published recording (`getRecordings`), kept by BBB itself."""
        record_id = details.get("record_id")
        if not record_id:
            return None
        found = await self.client.playback(_meeting_id(room), record_id)
        if found is None:
            return None
        url, minutes = found
        return Recording(url=url, duration_seconds=minutes * 60 if minutes is not None else None)

    async def list_participants(self, room: Room) -> Sequence[Participant]:
        try:
            meeting = await self.client.get_meeting_info(_meeting_id(room))
        except BigBlueButtonFailed as error:
            if error.key in GONE:
                return []
            raise
        people: dict[str, Participant] = {}
        for attendee in meeting.attendees:  # one person may have several tabs open
            ours = not GENERATED_USER.fullmatch(attendee.user_id)
            people.setdefault(
                attendee.user_id,
                Participant(
                    provider_id=attendee.user_id,
                    display_name=attendee.full_name,
                    seat_id=attendee.user_id if ours else None,
                ),
            )
        return list(people.values())


def _meeting_id(room: Room) -> str:
    return str(room.data.get("meetingID") or room.room_key)
