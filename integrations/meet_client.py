"""The Google Meet REST API client: a service account's token with domain-wide delegation (a
signed JWT exchanged for an access token, impersonating `RDV_MEET_USER`) and the spaces calls,
each through `http.request` (a timeout on every call). The facts it relies on, with their
sources, are in reference/meet.md.

The token lasts an hour: it is fetched again a minute before it expires, by one caller at a
time; a 401 drops it and tries once more with a fresh one. A 429 comes back as
`ProviderUnavailable` (with Retry-After when Google sends one).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import jwt

from .base import NotConfigured, ProviderRejected, ProviderUnavailable
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

LABEL = "Google Meet"
API_URL = "https://meet.googleapis.com"
EVENTS_URL = "https://workspaceevents.googleapis.com"
CERTS_URL = "https://www.googleapis.com/oauth2/v3/certs"  # what signs Pub/Sub's push tokens
PAGE_SIZE = 250
MAX_PAGES = 40
# Create, read, update and end the spaces the app makes, and read their conference records.
SCOPES = ("https://www.googleapis.com/auth/meetings.space.created",)
REFRESH_BEFORE = 60.0  # seconds
TOKEN_LIFETIME = 3600  # seconds: the longest an assertion may ask for
_HANDLED = (400, 401, 403, 404, 409, 429)


@dataclass(frozen=True, slots=True)
class ServiceAccount:
    """What rdv needs of the service account's JSON key file."""

    client_email: str
    client_id: str
    private_key: str  # PEM; kept out of the repr
    private_key_id: str
    token_uri: str  # where the assertion is exchanged, and its audience

    def __repr__(self) -> str:
        return f"ServiceAccount({self.client_email!r})"


def load_service_account(path: str | Path) -> ServiceAccount:
    """The key file of `RDV_MEET_CREDENTIALS`, or NotConfigured saying what is wrong with it
    (never its contents)."""
    try:
        found = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NotConfigured(f"RDV_MEET_CREDENTIALS: no file at {path}") from None
    except (OSError, UnicodeDecodeError, ValueError):
        raise NotConfigured(
            f"RDV_MEET_CREDENTIALS: {path} is not a service account's JSON key file"
        ) from None
    if not isinstance(found, dict) or found.get("type") != "service_account":
        raise NotConfigured(
            f"RDV_MEET_CREDENTIALS: {path} is not a service account's key "
            '("type": "service_account")'
        )
    missing = [
        name
        for name in ("client_email", "private_key", "private_key_id", "token_uri")
        if not isinstance(found.get(name), str) or not found[name]
    ]
    if missing:
        raise NotConfigured(f"RDV_MEET_CREDENTIALS: {path} lacks {', '.join(missing)}")
    return ServiceAccount(
        client_email=found["client_email"],
        client_id=str(found.get("client_id") or ""),
        private_key=found["private_key"],
        private_key_id=found["private_key_id"],
        token_uri=found["token_uri"],
    )


@dataclass(frozen=True, slots=True)
class Space:
    name: str  # spaces/{id}: kept; the meeting code may be reused for another space one day
    meeting_uri: str
    access: str
    conference: str | None = None  # the conference record running in it now


class MeetClient:
    """One method per API call. Refusals raise `ProviderRejected` (with Google's status and
    message), 429 and 5xx `ProviderUnavailable`."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        account: ServiceAccount,
        *,
        user: str,
        api_url: str = API_URL,
        events_url: str = EVENTS_URL,
        certs_url: str = CERTS_URL,
        timeout: float = DEFAULT_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.session, self.account, self.user = session, account, user
        self.api_url, self.timeout = api_url.rstrip("/"), timeout
        self.events_url, self.certs_url = events_url.rstrip("/"), certs_url
        # `clock` times the token's life here; `wall` stamps the assertion Google checks.
        self.clock, self.wall = clock, wall
        self._token = CachedToken(self._fetch_token, clock, refresh_before=REFRESH_BEFORE)

    # -- the delegated token -----------------------------------------------------------------
    def assertion(self) -> str:
        """The signed JWT: the service account (`iss`) acting as `RDV_MEET_USER` (`sub`)."""
        issued = int(self.wall())
        claims = {
            "iss": self.account.client_email,
            "sub": self.user,
            "scope": " ".join(SCOPES),
            "aud": self.account.token_uri,
            "iat": issued,
            "exp": issued + TOKEN_LIFETIME,
        }
        try:
            return jwt.encode(
                claims,
                self.account.private_key,
                algorithm="RS256",
                headers={"kid": self.account.private_key_id},
            )
        except (ValueError, TypeError, jwt.PyJWTError):
            raise NotConfigured(
                "RDV_MEET_CREDENTIALS: the key file's private_key is not a usable RSA key"
            ) from None

    async def token(self) -> str:
        """A valid access token (`CachedToken`)."""
        return await self._token.get()

    async def _fetch_token(self) -> tuple[str, float]:
        reply = await request(
            self.session,
            "POST",
            self.account.token_uri,
            provider=LABEL,
            timeout=self.timeout,
            accept=(400, 401, 403),
            data={
                "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                "assertion": self.assertion(),
            },
        )
        answer = json_object(reply, LABEL, strict=False)
        token, lifetime = answer.get("access_token"), answer.get("expires_in")
        if reply.status != 200 or not isinstance(token, str) or not token:
            raise self._token_refusal(answer)
        try:
            return token, float(lifetime) if lifetime is not None else 3600.0
        except (TypeError, ValueError):
            return token, 3600.0

    def _token_refusal(self, answer: Mapping[str, Any]) -> ProviderRejected:
        error = str(answer.get("error") or "")
        said = str(answer.get("error_description") or error)[:200]
        if error == "unauthorized_client":
            return ProviderRejected(
                f"{LABEL} refused to act as {self.user} ({said}): in the Google Workspace admin "
                "console (Security, API controls, Domain-wide delegation) add the service "
                f"account's client id {self.account.client_id or '(see its key file)'} with the "
                f"scope {','.join(SCOPES)}"
            )
        return ProviderRejected(
            f"{LABEL} refused the service account's token ({said}): check RDV_MEET_CREDENTIALS "
            "and RDV_MEET_USER (a user of the Workspace domain)"
        )

    # -- spaces ------------------------------------------------------------------------------
    async def create_space(self, access: str = "OPEN") -> Space:
        """A new space; Google has no way to make one idempotently (no request id)."""
        body = {"config": {"accessType": access, "entryPointAccess": "ALL"}}
        return _space(json_object(await self.call("POST", "/v2/spaces", json=body), LABEL))

    async def get_space(self, name: str) -> Space | None:
        """The space, or None when it is gone."""
        reply = await self.call("GET", f"/v2/{resource_path(name)}", gone_ok=True)
        return None if reply.status == 404 else _space(json_object(reply, LABEL))

    async def set_access(self, name: str, access: str) -> Space:
        reply = await self.call(
            "PATCH",
            f"/v2/{resource_path(name)}",
            params={"updateMask": "config.accessType"},
            json={"config": {"accessType": access}},
        )
        return _space(json_object(reply, LABEL))

    async def end_conference(self, name: str) -> None:
        """Ends the conference running in the space, if one is."""
        await self.call(
            "POST",
            f"/v2/{resource_path(name)}:endActiveConference",
            json={},
            gone_ok=True,
            idle_ok=True,
        )

    async def signing_keys(self) -> bytes:
        """Google's published signing keys (a JWK set): Pub/Sub's push tokens are signed with
        one of them."""
        reply = await request(
            self.session, "GET", self.certs_url, provider=LABEL, timeout=self.timeout
        )
        return reply.body

    # -- what happened in a space ------------------------------------------------------------
    async def get(self, name: str) -> dict[str, Any]:
        """One resource by its name (a participant, a participant session, a recording)."""
        return json_object(await self.call("GET", f"/v2/{resource_path(name)}"), LABEL)

    async def conference_records(self, space: str) -> list[dict[str, Any]]:
        """Every conference held in the space (a record per time it ran)."""
        return await self.pages(
            "/v2/conferenceRecords", "conferenceRecords", f'space.name = "{space}"'
        )

    async def participants(self, record: str, *, present: bool = False) -> list[dict[str, Any]]:
        """Everyone who joined the conference; with `present`, only those still in it."""
        wanted = "latest_end_time IS NULL" if present else None
        return await self.pages(f"/v2/{resource_path(record)}/participants", "participants", wanted)

    async def sessions(self, participant: str) -> list[dict[str, Any]]:
        """Each time the participant joined: one session per join."""
        path = f"/v2/{resource_path(participant)}/participantSessions"
        return await self.pages(path, "participantSessions")

    async def pages(
        self, path: str, key: str, where: str | None = None, *, base: str | None = None
    ) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        params: dict[str, str] = {"pageSize": str(PAGE_SIZE)} | ({"filter": where} if where else {})
        for _ in range(MAX_PAGES):
            reply = await self.call("GET", path, base=base, params=params)
            answer = json_object(reply, LABEL)
            items += json_items(answer, key)
            token = answer.get("nextPageToken")
            if not isinstance(token, str) or not token:
                break
            params = params | {"pageToken": token}
        return items

    async def call(
        self,
        method: str,
        path: str,
        *,
        base: str | None = None,
        gone_ok: bool = False,
        idle_ok: bool = False,
        taken_ok: bool = False,
        **options: Any,
    ) -> Reply:
        reply = await with_bearer(
            self.session,
            self._token,
            method,
            (base or self.api_url) + path,
            provider=LABEL,
            timeout=self.timeout,
            accept=_HANDLED,
            **options,
        )
        status = google_status(reply)
        if (
            reply.status < 400
            or (gone_ok and reply.status == 404)
            or (idle_ok and status == "FAILED_PRECONDITION")
            or (taken_ok and status == "ALREADY_EXISTS")
        ):
            return reply
        raise refusal(reply)


def google_status(reply: Reply) -> str:
    error = json_object(reply, LABEL, strict=False).get("error")
    return str(error.get("status") or "") if isinstance(error, dict) else ""


def refusal(reply: Reply) -> ProviderRejected | ProviderUnavailable:
    error = json_object(reply, LABEL, strict=False).get("error")
    error = error if isinstance(error, dict) else {}
    summary = (
        f"{LABEL} answered {reply.status}: {error.get('status', '')} "
        f"{str(error.get('message') or '')[:200]}"
    ).strip()
    if reply.status == 429:
        wait = retry_after(reply.headers.get("Retry-After"))
        return ProviderUnavailable(summary, retry_after=wait)
    return ProviderRejected(summary)


def resource_path(name: str) -> str:
    return quote(name, safe="/")


def _space(answer: Mapping[str, Any]) -> Space:
    name, uri = answer.get("name"), answer.get("meetingUri")
    if not isinstance(name, str) or not name.startswith("spaces/") or not isinstance(uri, str):
        raise ProviderRejected(f"{LABEL} answered a space without a name or a meeting link")
    config = answer.get("config")
    access = config.get("accessType") if isinstance(config, dict) else None
    active = answer.get("activeConference")
    record = active.get("conferenceRecord") if isinstance(active, dict) else None
    return Space(name, uri, str(access or ""), record if isinstance(record, str) else None)
