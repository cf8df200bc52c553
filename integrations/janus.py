"""Janus VideoRoom, self-hosted: rooms with a pin, a secret and an allowed list of seat tokens.

People join through our own page (`/room/{seat token}`), which talks to Janus from the browser
with the seat's token and numeric id. The server side only manages rooms (VideoRoom requests:
https://janus-gateway.github.io/docs/videoroom), over the Janus HTTP API, with one short-lived
Janus session per operation: sessions expire after 60 s without a keepalive, so keeping one open
would only add a way to fail.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from datetime import datetime
from typing import Any

import aiohttp

from .base import (
    JoinPage,
    JoinRequest,
    Participant,
    ProviderError,
    ProviderRejected,
    ProviderUnavailable,
    Room,
    RoomRequest,
    VideoProvider,
)
from .events import Delivery, WebhookRequest
from .http import DEFAULT_TIMEOUT, request
from .janus_events import verify_event_handler

PLUGIN = "janus.plugin.videoroom"
# Where our page loads janus.js from by default: Debian's libjs-janus-gateway, which the service
# serves under /vendor/janus/ when it is installed.
LIBRARY_URL = "/vendor/janus/janus.js"
PUBLISHERS = 16
ROOM_ID_RANGE = 2**52  # room ids reach the browser as JavaScript numbers: stay well inside 2**53

NO_SUCH_ROOM = 426
ROOM_EXISTS = 427
# Worth retrying: the session vanished under us (458, 459), Janus refuses new sessions for now
# (472), or an unknown core (490) or VideoRoom (499) error.
TRANSIENT = frozenset({458, 459, 472, 490, 499})

Send = Callable[[Mapping[str, Any]], Awaitable[dict[str, Any]]]


class JanusRejected(ProviderRejected):
    """Janus or its VideoRoom plugin refused a request; `code` is the Janus error code."""

    def __init__(self, message: str, *, code: int) -> None:
        super().__init__(message)
        self.code = code


def _failure(code: int, reason: str) -> ProviderError:
    message = f"Janus error {code}: {reason[:200]}"
    return ProviderUnavailable(message) if code in TRANSIENT else JanusRejected(message, code=code)


def _new_id(answer: Mapping[str, Any]) -> str:
    """The id of a session or handle Janus just made."""
    ident = (answer.get("data") or {}).get("id")
    if not isinstance(ident, int):
        raise ProviderUnavailable("Janus answered without a session or handle id")
    return str(ident)


class JanusClient:
    """The Janus HTTP API at `base_url` (for example `http://127.0.0.1:8088/janus`)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    async def post(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Sends one Janus request with a fresh transaction; raises on `{"janus": "error"}`."""
        transaction = secrets.token_urlsafe(12)
        reply = await request(
            self.session,
            "POST",
            self.base_url + path,
            provider="Janus",
            timeout=self.timeout,
            json={**body, "transaction": transaction},
        )
        try:
            answer = json.loads(reply.body)
        except ValueError:
            raise ProviderUnavailable("Janus answered something that is not JSON") from None
        if not isinstance(answer, dict) or answer.get("transaction") != transaction:
            raise ProviderUnavailable("Janus answered another transaction")
        if answer.get("janus") == "error":
            error = answer.get("error") or {}
            raise _failure(int(error.get("code", 490)), str(error.get("reason", "unknown")))
        return answer

    async def _message(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """A synchronous plugin request: the answer's plugin data, or the plugin's error."""
        answer = await self.post(path, {"janus": "message", "body": body})
        data = (answer.get("plugindata") or {}).get("data")
        if answer.get("janus") != "success" or not isinstance(data, dict):
            raise ProviderUnavailable(f"Janus gave no answer to {body.get('request')!r}")
        if "error_code" in data:
            raise _failure(int(data["error_code"]), str(data.get("error", "unknown")))
        return data

    @asynccontextmanager
    async def videoroom(self) -> AsyncIterator[Send]:
        """A Janus session attached to the VideoRoom plugin, destroyed on the way out."""
        session_path = "/" + _new_id(await self.post("", {"janus": "create"}))
        try:
            attached = await self.post(session_path, {"janus": "attach", "plugin": PLUGIN})
            handle_path = f"{session_path}/{_new_id(attached)}"

            async def send(body: Mapping[str, Any]) -> dict[str, Any]:
                return await self._message(handle_path, body)

            yield send
        finally:
            # Destroying the session detaches its handle; if that fails, Janus reaps it in 60 s.
            with suppress(ProviderError):
                await self.post(session_path, {"janus": "destroy"})


class JanusProvider(VideoProvider):
    name = "janus"
    can_list_participants = True
    has_own_client = False  # people join on our page, which runs janus.js in their browser

    def __init__(
        self,
        client: JanusClient,
        *,
        public_url: str,
        secret_key: bytes,
        webhook_user: str | None = None,
        webhook_password: str | None = None,
        library_url: str = LIBRARY_URL,
    ) -> None:
        self.client = client
        self.library_url = library_url
        self.public_url = public_url.rstrip("/")
        self.secret_key = secret_key
        self.webhook_user, self.webhook_password = webhook_user, webhook_password
        self.can_receive_webhooks = bool(webhook_user and webhook_password)

    def verify_webhook(self, request: WebhookRequest) -> Delivery:
        """The sample event handler's deliveries, with their Basic-auth credentials."""
        return verify_event_handler(
            headers=request.headers,
            body=request.body,
            user=self.webhook_user,
            password=self.webhook_password,
            now=request.now,
        )

    @staticmethod
    def room_id(room_key: str) -> int:
        """The same number for the same room key, so a retry after a crash finds the room."""
        digest = hashlib.sha256(f"janus-room:{room_key}".encode()).digest()
        return int.from_bytes(digest[:8], "big") % ROOM_ID_RANGE + 1

    def _derive(self, purpose: str, room_key: str, length: int) -> str:
        # Derived, not random: when the room already exists, Janus will not tell us its pin.
        message = f"{purpose}:{room_key}".encode()
        return hmac.new(self.secret_key, message, hashlib.sha256).hexdigest()[:length]

    def pin(self, room_key: str) -> str:
        return self._derive("pin", room_key, 20)

    def secret(self, room_key: str) -> str:
        return self._derive("secret", room_key, 40)

    def _create_body(self, room_key: str, description: str, tokens: list[str]) -> dict[str, Any]:
        return {
            "request": "create",
            "room": self.room_id(room_key),
            "description": description,
            "secret": self.secret(room_key),
            "pin": self.pin(room_key),
            "publishers": max(PUBLISHERS, len(tokens)),
            "is_private": True,
            # Watching needs the private id of someone who joined with a token, not just the pin.
            "require_pvtid": True,
            # Always sent, even empty: only a room created with a list checks tokens at all
            # (adding tokens to a room created without one leaves it open to every pin holder).
            "allowed": tokens,
        }

    async def _allow(self, send: Send, room_key: str, tokens: list[str]) -> None:
        body = {
            "request": "allowed",
            "room": self.room_id(room_key),
            "secret": self.secret(room_key),
            "action": "add",
            "allowed": tokens,
        }
        await send(body)

    async def create_room(self, request: RoomRequest) -> Room:
        tokens = [seat.token for seat in request.seats]
        room_id = self.room_id(request.room_key)
        async with self.client.videoroom() as send:
            found = await send({"request": "exists", "room": room_id})
            created = False
            if not found.get("exists"):
                try:
                    await send(self._create_body(request.room_key, request.title, tokens))
                    created = True
                except JanusRejected as error:
                    if error.code != ROOM_EXISTS:  # else another worker was faster
                        raise
            if not created and tokens:  # seats may have been added since the first attempt
                await self._allow(send, request.room_key, tokens)
        data = {"room": room_id, "pin": self.pin(request.room_key), "description": request.title}
        return Room(request.room_key, data, external_id=str(room_id))

    async def close_room(self, room: Room) -> None:
        key = room.room_key
        async with self.client.videoroom() as send:
            try:
                await send(
                    {"request": "destroy", "room": self.room_id(key), "secret": self.secret(key)}
                )
            except JanusRejected as error:
                if error.code != NO_SUCH_ROOM:
                    raise

    async def join_url(self, join: JoinRequest, *, now: datetime) -> str:
        key, tokens = join.room.room_key, [join.seat.token]
        async with self.client.videoroom() as send:
            try:
                await self._allow(send, key, tokens)
            except JanusRejected as error:
                if error.code != NO_SUCH_ROOM:
                    raise
                # Janus forgets its rooms when it restarts: bring this one back for this seat.
                description = str(join.room.data.get("description") or key)
                await send(self._create_body(key, description, tokens))
        return f"{self.public_url}/room/{join.seat.token}"

    def join_page_for(self, join: JoinRequest) -> JoinPage:
        """Our page talks to Janus from the browser with the seat's token and number, which the
        room's allowed list and its pin let in (`janus-room.js` reads these values)."""
        data = join.room.data
        return JoinPage(
            library=self.library_url,
            script="janus-room.js",
            connect=(self.client.base_url,),
            values={
                "server": self.client.base_url,
                "room": str(data.get("room", self.room_id(join.room.room_key))),
                "pin": str(data.get("pin", self.pin(join.room.room_key))),
                "token": join.seat.token,
                "seat": str(join.seat.number),
            },
        )

    async def list_participants(self, room: Room) -> Sequence[Participant]:
        """Everyone in the room now; `provider_id` is the numeric id the join page chose (our
        Seat.number), which the caller maps back to a seat. A room that is gone is empty."""
        async with self.client.videoroom() as send:
            try:
                data = await send(
                    {"request": "listparticipants", "room": self.room_id(room.room_key)}
                )
            except JanusRejected as error:
                if error.code != NO_SUCH_ROOM:
                    raise
                return []
        return [
            Participant(provider_id=str(person["id"]), display_name=str(person.get("display", "")))
            for person in data.get("participants", [])
        ]
