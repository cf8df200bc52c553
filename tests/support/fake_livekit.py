"""A fake livekit-server RoomService (Twirp), checking credentials as the real server does, for
tests of our client and of the room lifecycle.

It follows livekit-server's `pkg/service/auth.go` and `roomservice.go`: an `Authorization` header
that is not `Bearer <token>` is a plain-text 401; a token that does not parse, names an unknown
key (`iss`), has a bad HS256 signature, no `exp`, or is outside `nbf`/`exp` (one minute of leeway)
is a plain-text 401 that quotes the token; a request without the method's grant (CreateRoom and
DeleteRoom `roomCreate`, ListRooms `roomList`, ListParticipants `roomAdmin` for that very room) is
the Twirp error `unauthenticated` / "permissions denied" (401). CreateRoom returns the existing
room of that name; DeleteRoom of a missing room is `not_found` (404). Requests are JSON (snake_case
or camelCase) or protobuf, as the official SDK sends them; answers are protojson, built from the
livekit-protocol messages themselves (camelCase, int64 as strings, zero values left out).

In-process: `server = await aiohttp_server(create_app({KEY: SECRET}))`; state in `app[STATE]`.
"""

from __future__ import annotations

import asyncio
import http
import json
import secrets
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt
from aiohttp import web
from google.protobuf.json_format import MessageToDict, ParseDict, ParseError
from google.protobuf.message import DecodeError, Message
from livekit.protocol import models, room

PREFIX = "/twirp/livekit.RoomService/"
LEEWAY = 60  # seconds, as the server's token verifier
DENIED = "permissions denied"
# method -> (request message, answer message, grant check on the `video` claim and the request)
Grant = Callable[[Mapping[str, Any], Mapping[str, Any]], bool]
METHODS: dict[str, tuple[type[Message], type[Message], Grant]] = {
    "CreateRoom": (room.CreateRoomRequest, models.Room, lambda v, _: v.get("roomCreate") is True),
    "DeleteRoom": (
        room.DeleteRoomRequest,
        room.DeleteRoomResponse,
        lambda v, _: v.get("roomCreate") is True,
    ),
    "ListRooms": (
        room.ListRoomsRequest,
        room.ListRoomsResponse,
        lambda v, _: v.get("roomList") is True,
    ),
    "ListParticipants": (
        room.ListParticipantsRequest,
        room.ListParticipantsResponse,
        lambda v, r: v.get("roomAdmin") is True and v.get("room", "") == r.get("room", ""),
    ),
}
TWIRP_CODES = {429: "resource_exhausted", 500: "internal", 502: "unavailable", 503: "unavailable"}


class TwirpError(Exception):
    def __init__(self, status: int, code: str, msg: str, retry_after: str | None = None) -> None:
        super().__init__(msg)
        self.status, self.code, self.msg, self.retry_after = status, code, msg, retry_after


@dataclass
class Participant:
    sid: str
    identity: str
    name: str
    joined_at: float
    kind: int = models.ParticipantInfo.STANDARD


@dataclass
class Room:
    sid: str
    name: str
    created: float
    settings: dict[str, Any]
    participants: dict[str, Participant] = field(default_factory=dict)


@dataclass
class FakeLiveKit:
    keys: Mapping[str, str]
    now: Callable[[], float] = time.time
    rooms: dict[str, Room] = field(default_factory=dict)
    created: Counter[str] = field(default_factory=Counter)  # rooms made per name
    calls: Counter[str] = field(default_factory=Counter)  # requests per method, refused or not
    grants_seen: list[dict[str, Any]] = field(default_factory=list)
    failures: deque[tuple[int, str | None]] = field(default_factory=deque)
    delay: float = 0.0

    def fail(self, *statuses: int | tuple[int, float]) -> None:
        """The next requests answer these statuses (a (status, Retry-After) pair for 429)."""
        for item in statuses:
            status, wait = item if isinstance(item, tuple) else (item, None)
            self.failures.append((status, None if wait is None else f"{wait:g}"))

    def join(self, name: str, identity: str, display: str = "", kind: int = 0) -> Participant:
        """Someone connects with a token for `name` (a second connection of an identity
        replaces the first, as LiveKit does); the room opens if it has to."""
        found = self.rooms.get(name) or self._create({"name": name})
        person = Participant(f"PA_{secrets.token_hex(6)}", identity, display, self.now(), kind)
        found.participants[identity] = person
        return person

    def _create(self, request: Mapping[str, Any]) -> Room:
        name = request["name"]
        if name not in self.rooms:
            settings = {k: v for k, v in request.items() if k != "name"}
            self.rooms[name] = Room(f"RM_{secrets.token_hex(6)}", name, self.now(), settings)
            self.created[name] += 1
        return self.rooms[name]

    def answer(self, method: str, request: Mapping[str, Any]) -> dict[str, Any]:
        if method == "CreateRoom":
            return self._room(self._create(request))
        if method == "DeleteRoom":
            if self.rooms.pop(request.get("room", ""), None) is None:
                raise TwirpError(404, "not_found", "room not found")
            return {}
        if method == "ListRooms":
            names = request.get("names") or list(self.rooms)
            return {"rooms": [self._room(self.rooms[n]) for n in names if n in self.rooms]}
        found = self.rooms.get(request.get("room", ""))
        people = found.participants.values() if found else ()
        return {"participants": [self._participant(p) for p in people]}

    def _room(self, found: Room) -> dict[str, Any]:
        message = models.Room(
            sid=found.sid,
            name=found.name,
            empty_timeout=found.settings.get("emptyTimeout", 300),
            departure_timeout=found.settings.get("departureTimeout", 20),
            metadata=found.settings.get("metadata", ""),
            creation_time=int(found.created),
            creation_time_ms=int(found.created * 1000),
            num_participants=len(found.participants),
        )
        return MessageToDict(message)

    def _participant(self, person: Participant) -> dict[str, Any]:
        message = models.ParticipantInfo(
            sid=person.sid,
            identity=person.identity,
            name=person.name,
            state=models.ParticipantInfo.ACTIVE,
            joined_at=int(person.joined_at),
            joined_at_ms=int(person.joined_at * 1000),
            kind=person.kind,
        )
        return MessageToDict(message)


STATE = web.AppKey("livekit", FakeLiveKit)


def _claims(request: web.Request, state: FakeLiveKit) -> dict[str, Any] | web.Response:
    """The token's claims, an empty dict without a token, or the middleware's plain 401."""
    value = request.headers.get("Authorization", "")
    if value and not value.startswith("Bearer "):
        return _plain("invalid authorization header. Must start with Bearer ")
    token = value.removeprefix("Bearer ") or request.query.get("access_token", "")
    if not token:
        return {}
    try:
        unverified = jwt.decode(token, options={"verify_signature": False})
        if jwt.get_unverified_header(token).get("alg") != "HS256":
            raise jwt.InvalidAlgorithmError("HS256 only")
    except jwt.PyJWTError:
        return _plain("invalid authorization token")
    secret = state.keys.get(str(unverified.get("iss", "")))
    if not secret:
        return _plain(f"invalid API key: {unverified.get('iss', '')}")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            leeway=LEEWAY,
            options={"require": ["exp"], "verify_iat": False},
        )
    except jwt.PyJWTError as error:
        return _plain(f"invalid token: {token}, error: {error}")
    return claims


async def twirp(request: web.Request) -> web.Response:
    state = request.app[STATE]
    method = request.match_info["method"]
    state.calls[method] += 1
    claims = _claims(request, state)
    if isinstance(claims, web.Response):
        return claims
    if state.delay:
        await asyncio.sleep(state.delay)
    try:
        if state.failures:
            status, wait = state.failures.popleft()
            phrase = http.HTTPStatus(status).phrase
            raise TwirpError(status, TWIRP_CODES.get(status, "internal"), phrase, wait)
        if method not in METHODS:
            raise TwirpError(404, "bad_route", f"no handler for path {request.path!r}")
        asked, answered, allowed = METHODS[method]
        protobuf = request.content_type == "application/protobuf"
        body = await _read(request, asked, protobuf)
        video = claims.get("video") if isinstance(claims.get("video"), dict) else {}
        state.grants_seen.append({"method": method, **video})
        if not allowed(video, body):
            raise TwirpError(401, "unauthenticated", DENIED)
        result = state.answer(method, body)
    except TwirpError as error:
        headers = {"Retry-After": error.retry_after} if error.retry_after else {}
        return web.json_response(
            {"code": error.code, "msg": error.msg}, status=error.status, headers=headers
        )
    if protobuf:
        data = ParseDict(result, answered()).SerializeToString()
        return web.Response(body=data, content_type="application/protobuf")
    return web.json_response(result)


async def _read(request: web.Request, message: type[Message], protobuf: bool) -> dict[str, Any]:
    """The request as camelCase JSON, whichever way it came (Twirp takes both key styles)."""
    data = await request.read()
    try:
        if protobuf:
            parsed = message()
            parsed.ParseFromString(data)
        else:
            if request.content_type != "application/json":
                kind = request.content_type
                raise TwirpError(404, "bad_route", f"unexpected Content-Type: {kind!r}")
            parsed = ParseDict(json.loads(data or b"{}"), message(), ignore_unknown_fields=True)
    except (ValueError, TypeError, ParseError, DecodeError) as error:
        raise TwirpError(400, "malformed", f"the request could not be decoded: {error}") from None
    return MessageToDict(parsed)


def _plain(message: str) -> web.Response:
    return web.Response(status=401, text=message)


def create_app(keys: Mapping[str, str], now: Callable[[], float] = time.time) -> web.Application:
    app = web.Application()
    app[STATE] = FakeLiveKit(keys=keys, now=now)
    app.router.add_post(PREFIX + "{method}", twirp)
    return app
