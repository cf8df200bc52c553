"""BigBlueButton: a thin client for its checksummed XML API and the adapter to our rooms.

Every call is `GET {base}/{call}?{query}&checksum=hex(hash(call + query + secret))` (reference
§5.1). The meeting is keyed by our room key, so repeating `create` finds the same meeting; joins are
role-based with our seat id as `userID` and the meeting's `createTime`, so a link minted for one
meeting cannot open a later one under the same key. No deprecated passwords are sent.
"""

from __future__ import annotations

import hashlib
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlencode

import aiohttp
from yarl import URL

from .base import (
    JoinRequest,
    NotConfigured,
    Participant,
    ProviderRejected,
    Role,
    Room,
    RoomRequest,
    VideoProvider,
)
from .http import DEFAULT_TIMEOUT, request

if TYPE_CHECKING:
    from orchestrator.settings import Settings

LABEL = "BigBlueButton"
ALGORITHMS = ("sha1", "sha256", "sha384", "sha512")
NAME_UNITS = 64  # `name` is 2–64 characters, counted by the server in UTF-16 units
OVERRUN = timedelta(minutes=30)  # how long a session may run past its end before BBB cuts it
GONE = frozenset({"notFound", "invalidMeetingIdentifier"})
ROLES = {Role.MODERATOR: "MODERATOR", Role.PARTICIPANT: "VIEWER"}
# BBB names users who came without a `userID` `w_` + 12 random characters: guests, not our seats.
GENERATED_USER = re.compile(r"w_[a-z0-9]{12}")


def checksum(call: str, query: str, secret: str, algorithm: str = "sha256") -> str:
    """The checksum BBB expects for `call` with this exact query string (without `checksum`)."""
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unsupported checksum algorithm {algorithm!r}")
    return hashlib.new(algorithm, (call + query + secret).encode()).hexdigest()


class BigBlueButtonFailed(ProviderRejected):
    """BBB answered `<returncode>FAILED</returncode>`; `key` is its stable `messageKey`."""

    def __init__(self, call: str, key: str, message: str) -> None:
        super().__init__(f"{LABEL} refused {call}: {key} ({message})")
        self.call, self.key = call, key


@dataclass(frozen=True, slots=True)
class Attendee:
    user_id: str
    full_name: str
    role: str


@dataclass(frozen=True, slots=True)
class Meeting:
    """What `create` and `getMeetingInfo` say about a meeting."""

    meeting_id: str
    internal_meeting_id: str
    create_time: str
    duplicate: bool = False
    running: bool = False
    attendees: tuple[Attendee, ...] = ()


class BigBlueButtonClient:
    """One method per API call; FAILED answers raise `BigBlueButtonFailed`, transport problems
    `ProviderUnavailable` (through `http.request`, which applies the timeout)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        secret: str,
        algorithm: str = "sha256",
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        if algorithm not in ALGORITHMS:
            raise ValueError(f"unsupported checksum algorithm {algorithm!r}")
        base = base_url.rstrip("/")
        # `bbb-conf --secret` prints the URL without `api`; accept it as printed.
        self.base_url = base + "/api" if base.endswith("/bigbluebutton") else base
        self.session, self.secret = session, secret
        self.algorithm, self.timeout = algorithm, timeout

    def url(self, call: str, params: Mapping[str, str]) -> str:
        """A signed URL. The checksum covers the query as yarl will send it: yarl re-quotes what
        urlencode escaped (`%2F` becomes `/`), and BBB hashes the raw query it receives."""
        endpoint = f"{self.base_url}/{call}"
        query = URL(f"{endpoint}?{urlencode(params)}").raw_query_string
        signature = checksum(call, query, self.secret, self.algorithm)
        return f"{endpoint}?{query}{'&' if query else ''}checksum={signature}"

    async def create(self, params: Mapping[str, str]) -> Meeting:
        answer = await self._call("create", params)
        return Meeting(*_ids(answer), duplicate=answer.findtext("messageKey") == "duplicateWarning")

    async def get_meeting_info(self, meeting_id: str) -> Meeting:
        answer = await self._call("getMeetingInfo", {"meetingID": meeting_id})
        attendees = tuple(
            Attendee(
                user_id=node.findtext("userID", ""),
                full_name=node.findtext("fullName", ""),
                role=node.findtext("role", ""),
            )
            for node in answer.iterfind("attendees/attendee")
        )
        return Meeting(
            *_ids(answer), running=answer.findtext("running") == "true", attendees=attendees
        )

    async def end(self, meeting_id: str) -> None:
        await self._call("end", {"meetingID": meeting_id})

    def join_url(self, params: Mapping[str, str]) -> str:
        """The browser follows this URL itself; BBB then redirects it into the client."""
        return self.url("join", params)

    async def _call(self, call: str, params: Mapping[str, str]) -> ET.Element:
        reply = await request(
            self.session, "GET", self.url(call, params), provider=LABEL, timeout=self.timeout
        )
        try:
            # The XML comes from the configured server; expat (≥ 2.4) refuses entity bombs.
            answer = ET.fromstring(reply.body)  # noqa: S314
        except ET.ParseError:
            raise ProviderRejected(
                f"{LABEL} {call}: the answer is not API XML (RDV_BBB_URL should end in "
                "/bigbluebutton/api)"
            ) from None
        if answer.findtext("returncode") != "SUCCESS":
            # Most errors carry messageKey/message; a few carry <errors><error key message/>.
            error = answer.find("errors/error")
            details = error.attrib if error is not None else {}
            key = answer.findtext("messageKey") or details.get("key", "unknown")
            message = answer.findtext("message") or details.get("message", "no message")
            raise BigBlueButtonFailed(call, key, message)
        return answer


def _ids(answer: ET.Element) -> tuple[str, str, str]:
    """`meetingID`, `internalMeetingID` and `createTime`, as create and getMeetingInfo give them."""
    return (
        answer.findtext("meetingID", ""),
        answer.findtext("internalMeetingID", ""),
        answer.findtext("createTime", ""),
    )


def meeting_name(title: str, fallback: str) -> str:
    """The title on one line within BBB's 2–64 characters (UTF-16 units, as Java counts)."""
    name = " ".join(title.split())
    if _units(name) > NAME_UNITS:
        name = name[: NAME_UNITS - 1]
        while _units(name) > NAME_UNITS - 1:
            name = name[:-1]
        name = name.rstrip() + "…"
    return name if len(name) >= 2 else fallback[:NAME_UNITS]


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class BigBlueButtonProvider(VideoProvider):
    name = "bigbluebutton"
    can_list_participants = True
    can_record = True

    def __init__(self, client: BigBlueButtonClient, *, lead: timedelta = timedelta(0)) -> None:
        self.client = client
        self.lead = lead

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
        return Room(
            request.room_key,
            {
                "meetingID": meeting.meeting_id or request.room_key,
                "internalMeetingID": meeting.internal_meeting_id,
                "createTime": meeting.create_time,
            },
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


def from_settings(settings: Settings, session: aiohttp.ClientSession) -> BigBlueButtonProvider:
    """The provider for `RDV_BBB_URL` / `RDV_BBB_SECRET` / `RDV_BBB_CHECKSUM`."""
    if not settings.bbb_url or not settings.bbb_secret:
        raise NotConfigured("BigBlueButton needs RDV_BBB_URL and RDV_BBB_SECRET")
    client = BigBlueButtonClient(
        session, settings.bbb_url, settings.bbb_secret, settings.bbb_checksum
    )
    return BigBlueButtonProvider(client, lead=settings.room_lead)
