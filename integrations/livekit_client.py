"""The LiveKit RoomService client: Twirp over HTTP with JSON
(https://docs.livekit.io/server/room-management).

Every call carries a short-lived Bearer JWT with only the grant its method needs, as
livekit-server checks them: CreateRoom and DeleteRoom `roomCreate`, ListRooms `roomList`,
ListParticipants `roomAdmin` for that one room (the comments of
https://github.com/livekit/protocol/blob/HEAD/protobufs/livekit_room.proto).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import jwt

from .base import NotConfigured, ProviderRejected, ProviderUnavailable
from .http import DEFAULT_TIMEOUT, Reply, request

LABEL = "LiveKit"
SERVICE = "/twirp/livekit.RoomService/"
API_TOKEN_TTL = timedelta(minutes=5)
# 4xx answers are read here (429 aside, which `request` treats as worth retrying): the Twirp
# error code tells "already gone" from a refusal, and a non-Twirp 401 echoes our token.
_REFUSALS = tuple(status for status in range(400, 500) if status != 429)
_SCHEMES = {"https": True, "wss": True, "http": False, "ws": False}


def hs256(claims: Mapping[str, Any], secret: str) -> str:
    with warnings.catch_warnings():
        # The secret is the LiveKit server's API secret, which we do not choose.
        warnings.simplefilter("ignore", jwt.InsecureKeyLengthWarning)
        return jwt.encode(dict(claims), secret, algorithm="HS256")


class LiveKitRejected(ProviderRejected):
    """LiveKit refused a call; `code` is the Twirp error code (`unauthenticated`, ...)."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


class LiveKitClient:
    """The RoomService of one server. `url` may be given as the clients' `wss://` URL or as the
    `https://` one; `clock` is wall time, since the server checks our tokens against its own."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: str,
        api_key: str,
        api_secret: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        parts = urlsplit(url.strip())
        secure = _SCHEMES.get(parts.scheme.lower())
        if secure is None or not parts.netloc:
            raise NotConfigured("RDV_LIVEKIT_URL must be a wss://, ws://, https:// or http:// URL")
        path = parts.path.rstrip("/")
        self.base_url = urlunsplit(("https" if secure else "http", parts.netloc, path, "", ""))
        self.client_url = urlunsplit(("wss" if secure else "ws", parts.netloc, path, "", ""))
        self.session, self.api_key, self.api_secret = session, api_key, api_secret
        self.timeout, self.clock = timeout, clock

    def api_token(self, video: Mapping[str, object]) -> str:
        """A token for one server call, carrying only `video`'s grants."""
        now = self.clock()
        claims = {
            "iss": self.api_key,
            "nbf": int(now.timestamp()),
            "exp": int((now + API_TOKEN_TTL).timestamp()),
            "video": dict(video),
        }
        return hs256(claims, self.api_secret)

    async def call(
        self, method: str, body: Mapping[str, object], video: Mapping[str, object]
    ) -> dict[str, Any]:
        """One RoomService call; a Twirp error raises `LiveKitRejected` with its code."""
        reply = await request(
            self.session,
            "POST",
            self.base_url + SERVICE + method,
            provider=LABEL,
            timeout=self.timeout,
            accept=_REFUSALS,
            json=dict(body),
            headers={"Authorization": f"Bearer {self.api_token(video)}"},
        )
        if reply.status >= 400:
            code, message = _twirp_error(reply)
            raise LiveKitRejected(f"{LABEL} refused {method}: {code} ({message})", code=code)
        try:
            answer = json.loads(reply.body)
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise ProviderUnavailable(f"{LABEL} answered {method} with something not JSON")
        return answer

    async def create_room(self, name: str, **settings: object) -> dict[str, Any]:
        """The room called `name`: made now, or the one that exists (LiveKit returns it)."""
        return await self.call("CreateRoom", {"name": name, **settings}, {"roomCreate": True})

    async def delete_room(self, name: str) -> bool:
        """Ends the room and disconnects everyone; False when it was already gone."""
        try:
            await self.call("DeleteRoom", {"room": name}, {"roomCreate": True})
        except LiveKitRejected as error:
            if error.code == "not_found":
                return False
            raise
        return True

    async def list_participants(self, name: str) -> list[dict[str, Any]]:
        try:
            answer = await self.call(
                "ListParticipants", {"room": name}, {"roomAdmin": True, "room": name}
            )
        except LiveKitRejected as error:
            if error.code == "not_found":
                return []
            raise
        found = answer.get("participants")
        return [item for item in found if isinstance(item, dict)] if isinstance(found, list) else []


def _twirp_error(reply: Reply) -> tuple[str, str]:
    """A Twirp error's code and message. Other bodies are not repeated: livekit-server answers a
    bad token with a plain-text 401 that quotes the token."""
    try:
        error = json.loads(reply.body)
    except ValueError:
        error = None
    if isinstance(error, dict) and isinstance(error.get("code"), str):
        return error["code"], str(error.get("msg", ""))[:200]
    if reply.status == 401:
        return "unauthenticated", "check RDV_LIVEKIT_API_KEY and RDV_LIVEKIT_API_SECRET"
    return f"http_{reply.status}", "not a Twirp error"
