"""The BigBlueButton API client: checksummed GET calls answering XML
(https://docs.bigbluebutton.org/development/api).

Every call is `GET {base}/{call}?{query}&checksum=hex(hash(call + query + secret))`.
"""

from __future__ import annotations

import hashlib
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

import aiohttp
from yarl import URL

from .base import ProviderRejected
from .http import DEFAULT_TIMEOUT, request

LABEL = "BigBlueButton"
ALGORITHMS = ("sha1", "sha256", "sha384", "sha512")
NAME_UNITS = 64  # `name` is 2–64 characters, counted by the server in UTF-16 units
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

    async def playback(self, meeting_id: str, record_id: str) -> tuple[str, int | None] | None:
        """The published playback URL of a recording (the presentation format when there are
        several) and its length in minutes; None until it is published."""
        answer = await self._call("getRecordings", {"meetingID": meeting_id, "recordID": record_id})
        formats = [
            (node.findtext("type", ""), node.findtext("url", ""), node.findtext("length", ""))
            for recording in answer.iterfind("recordings/recording")
            if recording.findtext("published", "true") == "true"
            for node in recording.iterfind("playback/format")
        ]
        formats.sort(key=lambda found: found[0] != "presentation")
        for _, url, length in formats:
            if url:
                return url, int(length) if length.isdigit() else None
        return None

    async def register_hook(self, callback_url: str) -> None:
        await self._call("hooks/create", {"callbackURL": callback_url})

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
