"""The Microsoft Graph client for Teams meetings: the app-only token (OAuth 2.0 client
credentials), online meetings created idempotently per external id (`createOrGet`), updated and
deleted, and their attendance reports; each call through `http.request` (a timeout on every call).
The facts it relies on, with their sources, are in reference/teams.md.

The token is fetched again a minute before it expires, by one caller at a time; a 401 drops it
and tries once more with a fresh one. A 429 (or 503) comes back as `ProviderUnavailable` with
Graph's Retry-After (decimal seconds). Graph's refusal for want of an application access policy
becomes `AccessPolicyMissing`, whose message tells the operator what to run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
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
from .rfc3339 import utc_time

LABEL = "Microsoft Teams"
GRAPH_URL = "https://graph.microsoft.com"
LOGIN_URL = "https://login.microsoftonline.com"
# The scope names Graph as a resource: it stays the same when RDV_GRAPH_URL points elsewhere.
SCOPE = "https://graph.microsoft.com/.default"
REFRESH_BEFORE = 60.0  # seconds
MAX_PAGES = 50
_HANDLED = (400, 401, 403, 404, 409, 429)
_POLICY_WORDS = ("application access policy", "is not authorized to create meeting")


class AccessPolicyMissing(ProviderRejected):
    """Graph refuses to act for the organiser: no application access policy grants this app
    their meetings. The message says what to run; the policy takes up to 30 minutes to apply."""

    def __init__(self, organiser: str, client_id: str) -> None:
        super().__init__(
            f"{LABEL} refused to act for organiser {organiser}: no application access policy "
            "lets this app manage their meetings. In Teams PowerShell run "
            f'New-CsApplicationAccessPolicy -Identity rdv-orchestrator -AppIds "{client_id}" '
            "then Grant-CsApplicationAccessPolicy -PolicyName rdv-orchestrator -Identity "
            f'"{organiser}" (or -Global for every user), and allow up to 30 minutes'
        )
        self.organiser = organiser


@dataclass(frozen=True, slots=True)
class OnlineMeeting:
    id: str
    join_url: str  # joinWebUrl: one for everyone
    external_id: str


@dataclass(frozen=True, slots=True)
class Attended:
    """One person in an attendance report: who, and each span they were in the meeting."""

    email: str  # empty for a guest without an account
    name: str
    identity: str  # Graph's id of the attendee ("" when none)
    role: str
    spans: tuple[tuple[datetime, datetime], ...]


@dataclass(frozen=True, slots=True)
class Subscription:
    id: str
    expires_at: datetime


class TeamsClient:
    """One method per Graph call. Refusals raise `ProviderRejected` (with Graph's code and
    message), 429 and 5xx `ProviderUnavailable` with the Retry-After Graph sent."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        tenant_id: str,
        client_id: str,
        client_secret: str,
        graph_url: str = GRAPH_URL,
        login_url: str = LOGIN_URL,
        timeout: float = DEFAULT_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.session, self.timeout, self.clock = session, timeout, clock
        self.tenant_id, self.client_id, self.client_secret = tenant_id, client_id, client_secret
        self.graph_url, self.login_url = graph_url.rstrip("/"), login_url.rstrip("/")
        self._token = CachedToken(self._fetch_token, clock, refresh_before=REFRESH_BEFORE)

    # -- the app-only token ------------------------------------------------------------------
    async def token(self) -> str:
        """A valid app-only token (`CachedToken`)."""
        return await self._token.get()

    async def _fetch_token(self) -> tuple[str, float]:
        reply = await request(
            self.session,
            "POST",
            f"{self.login_url}/{quote(self.tenant_id, safe='')}/oauth2/v2.0/token",
            provider=LABEL,
            timeout=self.timeout,
            accept=(400, 401, 403),
            data={
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "scope": SCOPE,
                "grant_type": "client_credentials",
            },
        )
        answer = json_object(reply, LABEL, strict=False)
        token, lifetime = answer.get("access_token"), answer.get("expires_in")
        if reply.status != 200 or not isinstance(token, str) or not token:
            reason = str(answer.get("error_description") or answer.get("error") or "")
            raise ProviderRejected(
                f"{LABEL} refused the app's credentials ({reason.splitlines()[0][:200]}): "
                "check RDV_TEAMS_TENANT_ID, RDV_TEAMS_CLIENT_ID and RDV_TEAMS_CLIENT_SECRET"
            )
        return token, float(lifetime) if isinstance(lifetime, int | float) else 3600.0

    async def signing_keys(self) -> bytes:
        """The identity platform's published signing keys (a JWK set): Graph's validation
        tokens are signed with one of them."""
        reply = await request(
            self.session,
            "GET",
            f"{self.login_url}/common/discovery/v2.0/keys",
            provider=LABEL,
            timeout=self.timeout,
        )
        return reply.body

    # -- meetings ----------------------------------------------------------------------------
    async def create_or_get(
        self,
        organiser: str,
        *,
        external_id: str,
        subject: str,
        starts_at: datetime,
        ends_at: datetime,
    ) -> tuple[OnlineMeeting, bool]:
        """The organiser's meeting for `external_id`, made now (True) or found (False): Graph
        answers 201 for a new one and 200 for the one it has, whose other fields it keeps."""
        body = {
            "externalId": external_id,
            "subject": subject,
            "startDateTime": _moment(starts_at),
            "endDateTime": _moment(ends_at),
        }
        path = f"/users/{_path(organiser)}/onlineMeetings/createOrGet"
        reply = await self._call("POST", path, organiser=organiser, json=body)
        return _meeting(json_object(reply, LABEL)), reply.status == 201

    async def update_meeting(
        self, organiser: str, meeting_id: str, changes: Mapping[str, Any]
    ) -> OnlineMeeting:
        path = f"/users/{_path(organiser)}/onlineMeetings/{_path(meeting_id)}"
        reply = await self._call("PATCH", path, organiser=organiser, json=dict(changes))
        return _meeting(json_object(reply, LABEL))

    async def delete_meeting(self, organiser: str, meeting_id: str) -> bool:
        """Deletes the meeting; False when it was already gone (404)."""
        path = f"/users/{_path(organiser)}/onlineMeetings/{_path(meeting_id)}"
        reply = await self._call("DELETE", path, organiser=organiser, gone_ok=True)
        return reply.status != 404

    async def attendance(self, organiser: str, meeting_id: str) -> list[Attended]:
        """Everyone in the meeting's attendance reports (one report per time the meeting ran;
        none until it has ended), their records read with `$expand` and every page."""
        base = f"/users/{_path(organiser)}/onlineMeetings/{_path(meeting_id)}/attendanceReports"
        found: list[Attended] = []
        for report in await self._pages(base, organiser):
            report_id = report.get("id")
            if not isinstance(report_id, str) or not report_id:
                continue
            path = f"{base}/{_path(report_id)}/attendanceRecords"
            found += [_attended(record) for record in await self._pages(path, organiser)]
        return found

    # -- change notifications (beta: the call-events resource is served there only) -----------
    async def subscribe(
        self,
        join_url: str,
        *,
        notification_url: str,
        client_state: str,
        expires_at: datetime,
        certificate: str,
        certificate_id: str,
        organiser: str = "",
    ) -> Subscription:
        """Subscribes to the meeting's call events as rich notifications. Graph first checks both
        URLs with its handshake (the service must be answering at them) and refuses a second
        subscription for the same meeting."""
        resource = (
            f"communications/onlineMeetings(joinWebUrl='{quote(join_url, safe='')}')"
            "/meetingCallEvents"
        )
        body = {
            "changeType": "updated",
            "notificationUrl": notification_url,
            "lifecycleNotificationUrl": notification_url,
            "resource": resource,
            "includeResourceData": True,
            "encryptionCertificate": certificate,
            "encryptionCertificateId": certificate_id,
            "expirationDateTime": _moment(expires_at),
            "clientState": client_state,
        }
        reply = await self._call(
            "POST", "/subscriptions", organiser=organiser, version="beta", allow=(409,), json=body
        )
        if reply.status != 409:
            return _subscription(json_object(reply, LABEL))
        # Ours already (made by a pass whose answer was lost): found by its resource, renewed.
        for item in await self._pages("/subscriptions", organiser, version="beta"):
            if str(item.get("resource", "")).lstrip("/").lower() == resource.lower():
                renewed = await self.renew(str(item.get("id", "")), expires_at)
                if renewed is not None:
                    return renewed
        raise self._refusal(reply, organiser)

    async def renew(self, subscription_id: str, expires_at: datetime) -> Subscription | None:
        """Moves the subscription's expiry (which also reauthorizes it); None when Graph no
        longer has it."""
        reply = await self._call(
            "PATCH",
            f"/subscriptions/{_path(subscription_id)}",
            version="beta",
            gone_ok=True,
            json={"expirationDateTime": _moment(expires_at)},
        )
        return None if reply.status == 404 else _subscription(json_object(reply, LABEL))

    async def unsubscribe(self, subscription_id: str) -> None:
        """Deletes the subscription; one already gone is success."""
        path = f"/subscriptions/{_path(subscription_id)}"
        await self._call("DELETE", path, version="beta", gone_ok=True)

    async def _pages(
        self, path: str, organiser: str, *, version: str = "v1.0"
    ) -> list[dict[str, Any]]:
        """Every item of a collection, following `@odata.nextLink` (on Graph's own host)."""
        items: list[dict[str, Any]] = []
        url: str | None = f"{self.graph_url}/{version}{path}"
        for _ in range(MAX_PAGES):
            if url is None:
                break
            answer = json_object(await self._call("GET", "", organiser=organiser, url=url), LABEL)
            items += json_items(answer, "value")
            link = answer.get("@odata.nextLink")
            url = link if isinstance(link, str) and link.startswith(self.graph_url) else None
        return items

    async def _call(
        self,
        method: str,
        path: str,
        *,
        organiser: str = "",
        version: str = "v1.0",
        url: str | None = None,
        gone_ok: bool = False,
        allow: tuple[int, ...] = (),
        **options: Any,
    ) -> Reply:
        reply = await with_bearer(
            self.session,
            self._token,
            method,
            url or f"{self.graph_url}/{version}{path}",
            provider=LABEL,
            timeout=self.timeout,
            accept=_HANDLED,
            headers={"Prefer": "include-unknown-enum-members"},
            renew=lambda reply: not _policy(reply),  # a missing policy is no token's fault
            **options,
        )
        if reply.status < 400 or (gone_ok and reply.status == 404) or reply.status in allow:
            return reply
        raise self._refusal(reply, organiser)

    def _refusal(self, reply: Reply, organiser: str) -> ProviderRejected | ProviderUnavailable:
        error = json_object(reply, LABEL, strict=False).get("error")
        error = error if isinstance(error, dict) else {}
        code, message = str(error.get("code") or ""), str(error.get("message") or "")
        summary = f"{LABEL} answered {reply.status}: {code} {message[:200]}".strip()
        if reply.status == 429:
            return ProviderUnavailable(
                summary, retry_after=retry_after(reply.headers.get("Retry-After"))
            )
        if reply.status in (401, 403) and _policy(reply):
            return AccessPolicyMissing(organiser or "?", self.client_id)
        if reply.status == 404 and organiser and "user" in message.lower():
            return ProviderRejected(
                f"{LABEL} organiser {organiser} does not exist in the tenant (RDV_TEAMS_ORGANISERS)"
            )
        return ProviderRejected(summary)


def _policy(reply: Reply) -> bool:
    text = reply.text().lower()
    return any(words in text for words in _POLICY_WORDS)


def _moment(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _path(value: str) -> str:
    return quote(value, safe="@")


def _meeting(answer: Mapping[str, Any]) -> OnlineMeeting:
    ident, url = answer.get("id"), answer.get("joinWebUrl")
    if not isinstance(ident, str) or not ident or not isinstance(url, str) or not url:
        raise ProviderRejected(f"{LABEL} answered a meeting without an id or a join URL")
    return OnlineMeeting(ident, url, str(answer.get("externalId") or ""))


def _subscription(answer: Mapping[str, Any]) -> Subscription:
    ident, expires = answer.get("id"), utc_time(answer.get("expirationDateTime"))
    if not isinstance(ident, str) or not ident or expires is None:
        raise ProviderRejected(f"{LABEL} answered a subscription without an id or an expiry")
    return Subscription(ident, expires)


def _attended(record: Mapping[str, Any]) -> Attended:
    identity = record.get("identity")
    identity = identity if isinstance(identity, dict) else {}
    spans = []
    for interval in json_items(record, "attendanceIntervals"):
        joined = utc_time(interval.get("joinDateTime"))
        left = utc_time(interval.get("leaveDateTime"))
        if joined is not None and left is not None and left >= joined:
            spans.append((joined, left))
    return Attended(
        email=str(record.get("emailAddress") or ""),
        name=str(identity.get("displayName") or ""),
        identity=str(identity.get("id") or ""),
        role=str(record.get("role") or ""),
        spans=tuple(sorted(spans)),
    )
