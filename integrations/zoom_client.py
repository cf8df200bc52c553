"""The Zoom API client: Server-to-Server OAuth and the users, meetings and registrants calls
(https://developers.zoom.us/docs/rooms/s2s-oauth/ and, for meetings,
https://github.com/zoom/rivet-javascript/blob/HEAD/meetings/meetings.d.ts), each through
`http.request` (a timeout on every call).

The account token lasts an hour and Zoom issues no refresh token: it is fetched again a minute
before it expires (as Zoom's own SDK does:
https://github.com/zoom/rivet-javascript/blob/HEAD/meetings/meetings.mjs), by one caller at a
time, so twenty concurrent calls cost one token request. A 401 drops the token and tries once more
with a fresh one.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import aiohttp

from .base import ProviderRejected, ProviderUnavailable
from .http import (
    DEFAULT_TIMEOUT,
    CachedToken,
    Reply,
    json_items,
    json_object,
    request,
    retry_after,
    with_bearer,
)

LABEL = "Zoom"
API_URL = "https://api.zoom.us/v2"
OAUTH_URL = "https://zoom.us"
REFRESH_BEFORE = 60.0  # seconds
PAGE_SIZE = 300
MAX_PAGES = 20
_HANDLED = (400, 401, 403, 404, 409, 429)


class ZoomHostBusy(ProviderRejected):
    """Zoom says the host has another meeting in progress: the host pool must pick another."""

    def __init__(self, host: str, message: str) -> None:
        super().__init__(f"{LABEL} host {host} has another meeting in progress ({message})")
        self.host = host


class ZoomQuotaExceeded(ProviderUnavailable):
    """The per-user limit of 100 meeting creates and updates per UTC day is used up; it resets at
    00:00 UTC, which `retry_after` points at when Zoom gives no Retry-After."""

    def __init__(self, host: str, message: str, *, retry_after: float | None) -> None:
        super().__init__(
            f"{LABEL} host {host} reached its daily limit of meeting creates and updates "
            f"({message}); it resets at 00:00 UTC",
            retry_after=retry_after,
        )
        self.host = host


@dataclass(frozen=True, slots=True)
class Meeting:
    id: str  # the numeric id as a decimal string
    uuid: str
    agenda: str


@dataclass(frozen=True, slots=True)
class Registrant:
    id: str
    email: str
    join_url: str


class ZoomClient:
    """One method per API call. Refusals raise `ProviderRejected` (with Zoom's code and message),
    429 and 5xx `ProviderUnavailable` with the Retry-After Zoom sent."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        account_id: str,
        client_id: str,
        client_secret: str,
        api_url: str = API_URL,
        oauth_url: str = OAUTH_URL,
        timeout: float = DEFAULT_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.session, self.timeout, self.clock = session, timeout, clock
        self.account_id, self.client_id, self.client_secret = account_id, client_id, client_secret
        self.api_url, self.oauth_url = api_url.rstrip("/"), oauth_url.rstrip("/")
        self._token = CachedToken(self._fetch_token, clock, refresh_before=REFRESH_BEFORE)

    # -- OAuth -----------------------------------------------------------------------------
    async def token(self) -> str:
        """A valid account token (`CachedToken`: one request for concurrent callers)."""
        return await self._token.get()

    async def _fetch_token(self) -> tuple[str, float]:
        reply = await request(
            self.session,
            "POST",
            f"{self.oauth_url}/oauth/token",
            provider=LABEL,
            timeout=self.timeout,
            accept=(400, 401, 403),
            params={"grant_type": "account_credentials", "account_id": self.account_id},
            headers={"Authorization": self._basic()},
        )
        answer = _object(reply)
        token, lifetime = answer.get("access_token"), answer.get("expires_in")
        if reply.status != 200 or not isinstance(token, str) or not token:
            reason = answer.get("reason") or answer.get("error") or reply.text()[:200]
            raise ProviderRejected(
                f"{LABEL} refused the Server-to-Server OAuth credentials ({reason}): check "
                "RDV_ZOOM_ACCOUNT_ID, RDV_ZOOM_CLIENT_ID and RDV_ZOOM_CLIENT_SECRET"
            )
        return token, float(lifetime) if isinstance(lifetime, int | float) else 3600.0

    def _basic(self) -> str:
        pair = f"{self.client_id}:{self.client_secret}".encode()
        return "Basic " + base64.b64encode(pair).decode("ascii")

    # -- calls -----------------------------------------------------------------------------
    async def meetings(self, host: str) -> list[Meeting]:
        """The host's scheduled meetings (past ones not expired, live and upcoming)."""
        found: list[Meeting] = []
        page = ""
        for _ in range(MAX_PAGES):
            params = {"type": "scheduled", "page_size": str(PAGE_SIZE)}
            if page:
                params["next_page_token"] = page
            answer = _object(
                await self._call("GET", f"/users/{_path(host)}/meetings", host=host, params=params)
            )
            found += [_meeting(item) for item in json_items(answer, "meetings")]
            page = str(answer.get("next_page_token") or "")
            if not page:
                break
        return found

    async def create_meeting(self, host: str, body: Mapping[str, Any]) -> Meeting:
        path = f"/users/{_path(host)}/meetings"
        return _meeting(_object(await self._call("POST", path, host=host, json=body)))

    async def delete_meeting(self, meeting_id: str) -> bool:
        """Deletes the meeting; False when it was already gone (404)."""
        reply = await self._call("DELETE", f"/meetings/{_path(meeting_id)}", gone_ok=True)
        return reply.status != 404

    async def add_registrant(
        self, meeting_id: str, *, email: str, first_name: str, last_name: str
    ) -> Registrant:
        body = {
            "email": email,
            "first_name": first_name,
            "last_name": last_name,
            "auto_approve": True,
        }
        path = f"/meetings/{_path(meeting_id)}/registrants"
        answer = _object(await self._call("POST", path, json=body))
        return _registrant(answer, email)

    async def registrants(self, meeting_id: str) -> list[Registrant]:
        found: list[Registrant] = []
        page = ""
        for _ in range(MAX_PAGES):
            params = {"status": "approved", "page_size": str(PAGE_SIZE)}
            if page:
                params["next_page_token"] = page
            path = f"/meetings/{_path(meeting_id)}/registrants"
            answer = _object(await self._call("GET", path, params=params))
            for item in json_items(answer, "registrants"):
                found.append(_registrant(item, str(item.get("email") or "")))
            page = str(answer.get("next_page_token") or "")
            if not page:
                break
        return found

    async def _call(
        self, method: str, path: str, *, host: str = "", gone_ok: bool = False, **options: Any
    ) -> Reply:
        reply = await with_bearer(
            self.session,
            self._token,
            method,
            self.api_url + path,
            provider=LABEL,
            timeout=self.timeout,
            accept=_HANDLED,
            **options,
        )
        if reply.status < 400 or (gone_ok and reply.status == 404):
            return reply
        raise _refusal(reply, host)


def _refusal(reply: Reply, host: str) -> ProviderRejected | ProviderUnavailable:
    answer = _object(reply, strict=False)
    message = str(answer.get("message") or reply.text()[:200])
    summary = f"{LABEL} answered {reply.status}: {answer.get('code', '')} {message}".strip()
    if reply.status == 429:
        wait = retry_after(reply.headers.get("Retry-After"))
        daily = "daily" in (reply.headers.get("X-RateLimit-Type", "") + message).lower()
        if daily:
            return ZoomQuotaExceeded(host or "?", message, retry_after=wait or _to_midnight())
        return ProviderUnavailable(summary, retry_after=wait)
    if "another meeting in progress" in message.lower():
        return ZoomHostBusy(host or "?", message)
    if reply.status == 404 and host and answer.get("code") == 1001:
        return ProviderRejected(
            f"{LABEL} host {host} does not exist in the account (RDV_ZOOM_HOSTS)"
        )
    return ProviderRejected(summary)


def _to_midnight() -> float:
    now = datetime.now(UTC)
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC)
    return (midnight - now).total_seconds()


def _path(value: str) -> str:
    return quote(value, safe="@")


def _object(reply: Reply, *, strict: bool = True) -> dict[str, Any]:
    return json_object(reply, LABEL, strict=strict)


def _meeting(answer: Mapping[str, Any]) -> Meeting:
    number = answer.get("id")
    if isinstance(number, bool) or not isinstance(number, int | str) or not str(number).strip():
        raise ProviderRejected(f"{LABEL} answered a meeting without an id")
    return Meeting(
        str(number).strip(), str(answer.get("uuid") or ""), str(answer.get("agenda") or "")
    )


def _registrant(answer: Mapping[str, Any], email: str) -> Registrant:
    ident = answer.get("registrant_id") or answer.get("id")
    url = answer.get("join_url")
    if not ident or not isinstance(url, str) or not url:
        raise ProviderRejected(f"{LABEL} answered a registrant without an id or join URL")
    return Registrant(str(ident), email, url)
