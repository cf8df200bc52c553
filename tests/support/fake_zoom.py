"""A fake Zoom: the Server-to-Server OAuth token endpoint and the users/meetings/registrants API,
answering as Zoom does (https://developers.zoom.us/docs/rooms/s2s-oauth/,
https://github.com/zoom/rivet-javascript/blob/HEAD/meetings/meetings.d.ts), for tests of our
client, adapter and host pool.

It checks what Zoom checks: the Basic client credentials and the account id of a token request,
and the Bearer token of every API call (401, code 124, for a token it did not issue or revoked).
It counts token requests and meeting creates per host and UTC day (429 "daily rate limit" past
a configurable quota, with `X-RateLimit-Type: Daily-limit` and no Retry-After), and answers 429
with a Retry-After when told to throttle. Stricter than Zoom, which refuses people joining a
second meeting of a busy host rather than its creation, it refuses a meeting that overlaps another
of the same host ("The host has another meeting in progress"), so a double-booked host shows at
once. Meeting ids follow from the agenda (`meeting_number`) and registrant ids from the meeting
and the email (`registrant_number`), so a test can know them before the rooms exist.

In-process: `server = await aiohttp_server(create_app(FakeZoom(...)))`; state in `app[STATE]`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

ACCOUNT = "acc-rdv-test"
CLIENT_ID = "client-rdv-test"
CLIENT_SECRET = "client-secret-rdv-test-0123456789"
START_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
DAILY_MESSAGE = (
    "You have exceeded the daily rate limit ({quota}) of Meeting Create/Update API requests "
    "permitted for this particular user. You may resume these requests at GMT 00:00:00."
)
BUSY_MESSAGE = "The host has another meeting in progress."


def meeting_number(agenda: str) -> int:
    """The 11-digit id the fake gives the first meeting with this agenda."""
    return 10**10 + int(hashlib.sha256(agenda.encode()).hexdigest(), 16) % (9 * 10**10)


def registrant_number(meeting_id: int | str, email: str) -> str:
    """The registrant id the fake gives this email in this meeting."""
    digest = hashlib.sha256(f"{meeting_id}:{email.casefold()}".encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()[:22]


@dataclass
class FakeZoom:
    hosts: tuple[str, ...]
    account_id: str = ACCOUNT
    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET
    daily_quota: int = 100
    token_lifetime: int = 3600
    token_delay: float = 0.0  # seconds the token endpoint takes, so concurrent callers pile up
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    token_requests: int = 0
    tokens: set[str] = field(default_factory=set)
    meetings: dict[int, dict[str, Any]] = field(default_factory=dict)
    registrants: dict[int, dict[str, dict[str, Any]]] = field(default_factory=dict)
    creates: Counter[tuple[str, str]] = field(default_factory=Counter)
    throttled: list[int] = field(default_factory=list)  # Retry-After of the next API answers
    calls: list[tuple[str, str]] = field(default_factory=list)

    def revoke_tokens(self) -> None:
        self.tokens.clear()

    def of_host(self, host: str) -> list[dict[str, Any]]:
        return [meeting for meeting in self.meetings.values() if meeting["host_email"] == host]


STATE = web.AppKey("state", FakeZoom)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(status: int, code: int, message: str, **headers: str) -> web.Response:
    return web.json_response({"code": code, "message": message}, status=status, headers=headers)


@web.middleware
async def _api_gate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every API call: a Bearer token the fake issued, and the throttle when one is queued."""
    state = request.app[STATE]
    if not request.path.startswith("/v2/"):
        return await handler(request)
    state.calls.append((request.method, request.path))
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme != "Bearer" or token not in state.tokens:
        return _error(401, 124, "Invalid access token.")
    if state.throttled:
        wait = state.throttled.pop(0)
        return _error(
            429,
            429,
            "You have reached the maximum per-second rate limit for this API. Try again later.",
            **{"Retry-After": str(wait), "X-RateLimit-Type": "QPS"},
        )
    return await handler(request)


async def token(request: web.Request) -> web.Response:
    state = request.app[STATE]
    state.token_requests += 1
    if state.token_delay:
        await asyncio.sleep(state.token_delay)
    expected = base64.b64encode(f"{state.client_id}:{state.client_secret}".encode()).decode()
    if request.headers.get("Authorization") != f"Basic {expected}":
        return web.json_response(
            {"reason": "Invalid client_id or client_secret", "error": "invalid_client"}, status=401
        )
    form = await request.post()
    values = {**request.query, **{k: str(v) for k, v in form.items()}}
    if values.get("grant_type") != "account_credentials":
        return web.json_response(
            {"reason": "Unsupported grant type", "error": "unsupported_grant_type"}, status=400
        )
    if values.get("account_id") != state.account_id:
        return web.json_response(
            {"reason": "Invalid account_id", "error": "invalid_request"}, status=400
        )
    issued = secrets.token_urlsafe(24)
    state.tokens.add(issued)
    return web.json_response(
        {
            "access_token": issued,
            "token_type": "bearer",
            "expires_in": state.token_lifetime,
            "scope": "meeting:write:admin meeting:read:admin user:read:admin",
        }
    )


def _host(request: web.Request) -> str | web.Response:
    host = request.match_info["user"]
    if host not in request.app[STATE].hosts:
        return _error(404, 1001, f"User does not exist: {host}.")
    return host


async def list_meetings(request: web.Request) -> web.Response:
    host = _host(request)
    if isinstance(host, web.Response):
        return host
    found = request.app[STATE].of_host(host)
    size = int(request.query.get("page_size", "30"))
    start = int(request.query.get("next_page_token") or "0")
    page = found[start : start + size]
    following = str(start + size) if start + size < len(found) else ""
    return web.json_response(
        {
            "page_size": size,
            "total_records": len(found),
            "next_page_token": following,
            "meetings": [
                {k: meeting[k] for k in ("uuid", "id", "host_id", "topic", "type", "start_time")}
                | {"duration": meeting["duration"], "agenda": meeting["agenda"]}
                for meeting in page
            ],
        }
    )


async def create_meeting(request: web.Request) -> web.Response:
    state = request.app[STATE]
    host = _host(request)
    if isinstance(host, web.Response):
        return host
    body = await request.json()
    try:
        start = datetime.strptime(body["start_time"], START_FORMAT).replace(tzinfo=UTC)
        duration = int(body["duration"])
        valid = (
            isinstance(body["topic"], str)
            and bool(body["topic"])
            and body["type"] == 2
            and duration > 0
            and body["settings"]["approval_type"] in (0, 1, 2)
        )
    except (KeyError, TypeError, ValueError):
        valid = False
    if not valid:
        return _error(400, 300, "Invalid field.")
    today = (host, state.now().astimezone(UTC).date().isoformat())
    if state.creates[today] >= state.daily_quota:
        message = DAILY_MESSAGE.format(quota=state.daily_quota)
        return _error(429, 429, message, **{"X-RateLimit-Type": "Daily-limit"})
    state.creates[today] += 1
    end = start + timedelta(minutes=duration)
    for other in state.of_host(host):
        other_start = datetime.strptime(other["start_time"], START_FORMAT).replace(tzinfo=UTC)
        if other_start < end and start < other_start + timedelta(minutes=other["duration"]):
            return _error(400, 3000, BUSY_MESSAGE)
    number = meeting_number(str(body.get("agenda", "")))
    while number in state.meetings:
        number += 1
    meeting = {
        "uuid": base64.b64encode(secrets.token_bytes(16)).decode(),
        "id": number,
        "host_id": hashlib.sha1(host.encode()).hexdigest()[:22],  # noqa: S324 (an id, not a secret)
        "host_email": host,
        "topic": body["topic"],
        "type": 2,
        "start_time": body["start_time"],
        "duration": duration,
        "timezone": body.get("timezone", "UTC"),
        "agenda": body.get("agenda", ""),
        "created_at": state.now().strftime(START_FORMAT),
        "join_url": f"https://zoom.example/j/{number}",
        "start_url": f"https://zoom.example/s/{number}?zak={secrets.token_urlsafe(16)}",
        "registration_url": f"https://zoom.example/meeting/register/{number}",
        "password": secrets.token_hex(3),
        "settings": body["settings"],
    }
    state.meetings[number] = meeting
    state.registrants[number] = {}
    return web.json_response(meeting, status=201)


def _meeting(request: web.Request) -> dict[str, Any] | web.Response:
    raw = request.match_info["meeting"]
    meeting = request.app[STATE].meetings.get(int(raw)) if raw.isdigit() else None
    if meeting is None:
        return _error(404, 3001, f"Meeting does not exist: {raw}.")
    return meeting


async def delete_meeting(request: web.Request) -> web.Response:
    meeting = _meeting(request)
    if isinstance(meeting, web.Response):
        return meeting
    state = request.app[STATE]
    del state.meetings[meeting["id"]]
    del state.registrants[meeting["id"]]
    return web.Response(status=204)


async def add_registrant(request: web.Request) -> web.Response:
    meeting = _meeting(request)
    if isinstance(meeting, web.Response):
        return meeting
    if meeting["settings"].get("approval_type") not in (0, 1):
        return _error(400, 3038, "Registration has not been enabled for this meeting.")
    body = await request.json()
    email, first = body.get("email"), body.get("first_name")
    if not isinstance(email, str) or "@" not in email or not isinstance(first, str) or not first:
        return _error(400, 300, "Invalid field.")
    known = request.app[STATE].registrants[meeting["id"]]
    found = known.get(email.casefold())
    if found is None:  # a known email gets its registration back
        ident = registrant_number(meeting["id"], email)
        found = {
            "id": ident,
            "email": email,
            "first_name": first[:64],
            "last_name": str(body.get("last_name", ""))[:64],
            "status": "approved",
            "join_url": f"https://zoom.example/w/{meeting['id']}?tk={ident}",
        }
        known[email.casefold()] = found
    return web.json_response(
        {
            "id": meeting["id"],
            "registrant_id": found["id"],
            "join_url": found["join_url"],
            "topic": meeting["topic"],
            "start_time": meeting["start_time"],
        },
        status=201,
    )


async def list_registrants(request: web.Request) -> web.Response:
    meeting = _meeting(request)
    if isinstance(meeting, web.Response):
        return meeting
    found = list(request.app[STATE].registrants[meeting["id"]].values())
    return web.json_response(
        {
            "page_size": len(found),
            "total_records": len(found),
            "next_page_token": "",
            "registrants": found,
        }
    )


def create_app(state: FakeZoom) -> web.Application:
    app = web.Application(middlewares=[_api_gate])
    app[STATE] = state
    app.router.add_post("/oauth/token", token)
    app.router.add_get("/v2/users/{user}/meetings", list_meetings)
    app.router.add_post("/v2/users/{user}/meetings", create_meeting)
    app.router.add_delete("/v2/meetings/{meeting}", delete_meeting)
    app.router.add_post("/v2/meetings/{meeting}/registrants", add_registrant)
    app.router.add_get("/v2/meetings/{meeting}/registrants", list_registrants)
    return app
