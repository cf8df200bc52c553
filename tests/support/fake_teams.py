"""A fake Microsoft identity platform token endpoint and the parts of Microsoft Graph the `teams`
provider uses, answering as reference/teams.md records the real services, for tests of our client,
adapter and webhook door.

It checks what Microsoft checks. The token endpoint (`POST /{tenant}/oauth2/v2.0/token`, form
fields only) refuses an unknown tenant (AADSTS90002), a missing parameter (AADSTS900144), a grant
other than client_credentials (AADSTS70003), an unknown client (AADSTS700016), a scope other than
`https://graph.microsoft.com/.default` (AADSTS1002012 or AADSTS500011) and a wrong secret
(AADSTS7000215, 401), with the platform's error body. Graph (`/v1.0`, `/beta`) wants a Bearer token
the fake issued and that has not expired by `now` (401 InvalidAuthenticationToken otherwise), puts
`request-id` and `client-request-id` on every answer, and answers 429 with a decimal Retry-After
when `throttle` is queued. Online meetings answer the documented 403 for an organiser outside
`granted` (the application access policy). createOrGet keys a meeting on (organiser, externalId):
201 the first time, then 200 with the stored meeting whatever else the request says, lobby
settings included. Attendance reports appear only after `end_meeting` (plus `report_delay`) and
page with `@odata.nextLink`. `POST /beta/subscriptions` for
`communications/onlineMeetings(joinWebUrl='…')/meetingCallEvents` checks the twice-encoded join
URL, the lifetime (at most 4,230 minutes; under 45 is raised to 45), the lifecycle URL beyond one
hour, clientState (at most 128 characters) and the certificate of rich subscriptions, then runs the
validation handshake on both URLs before answering 201. `notify` and `notify_lifecycle` deliver
change notifications, encrypted as documented (RSA-OAEP-SHA1 key, HMAC-SHA256 signature, AES-CBC
with the key's first 16 bytes as IV) and with validation tokens signed by the key published at
`/common/discovery/v2.0/keys`; they need the `cryptography` package, imported when first used.

Stricter than Graph: meetings are served under `/v1.0` only and call-event subscriptions under
`/beta` only; an organiser is named by object id (a UPN is refused like an organiser without the
policy); a second subscription for a meeting is
refused even while the first is still being validated; changeType must be `updated`; the
certificate must be base64 DER; the handshake answer must be `text/plain`. Looser: notification
URLs may be plain http. Where Microsoft documents no body (bad createOrGet times, unknown ids,
other subscription refusals) the status follows the docs and issues, the wording is ours.

In-process: `server = await aiohttp_server(create_app(FakeTeams()))`; state in `app[STATE]`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import quote, quote_plus, unquote

import aiohttp
import jwt
from aiohttp import web
from yarl import URL

TENANT = "5f1c2c1e-8d5b-4c1e-9a53-2b7d2f0e4a11"
TENANT_DOMAIN = "rdvtest.onmicrosoft.com"
CLIENT_ID = "0d6a7b52-3c8e-4f0a-b9a4-6e1d2c3b4a50"
CLIENT_SECRET = "Xq8~rdv.fake-teams-secret_0123456789abcdefABCD"
SERVICE_PRINCIPAL = "9a3e6f10-7b2c-4d8e-a1f0-3c5b7d9e1f22"  # the app's object id: creatorId
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
ORGANISERS = (
    "748d2cbb-3b55-40ed-8c34-2eae5932b22a",
    "1f35f2e6-9cab-44ad-8d5a-b74c14720001",
    "dc17674c-81d9-4adb-bfb2-8f6a442e4623",
)
GRAPH_PUBLISHER = "0bf30f3b-4a52-48df-9a82-234910c4a086"  # appid claim of validation tokens
POLICY_MESSAGE = "No Application Access Policy found for this app"
OLD_POLICY_MESSAGE = "App {app} is not authorized to Create meeting on behalf of user {user}"
LIFECYCLE_MESSAGE = (
    "lifecycleNotificationUrl is a required property for subscription creation on this resource "
    "when the expirationDateTime value is set to greater than 1 hour."
)
VALIDATION_FAILED = (
    "Subscription validation request failed. "
    "Notification endpoint must respond with 200 OK to validation request."
)
VALIDATION_MISMATCH = (
    "Subscription validation request failed. "
    "Response must exactly match validationToken query parameter."
)
VALIDATION_TIMEOUT = "Subscription validation request timed out."
BAD_JOIN_URL = (
    "Operation: Create; Exception: [Status Code: BadRequest; "
    "Reason: The meeting join url in subscription is not valid.]"
)
DUPLICATE = (
    "Operation: Create; Exception: [Status Code: Conflict; "
    "Reason: A subscripton already exists. It must be deleted before a another can be made]"
)
LOBBY_SCOPES = (
    "organizer",
    "organization",
    "organizationAndFederated",
    "everyone",
    "unknownFutureValue",
    "invited",
    "organizationExcludingGuests",
)
PRESENTERS = ("everyone", "organization", "roleIsPresenter", "organizer", "unknownFutureValue")
LIFECYCLE_EVENTS = ("reauthorizationRequired", "subscriptionRemoved", "missed")
WWW_AUTHENTICATE = (
    'Bearer realm="", '
    'authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", '
    'client_id="00000003-0000-0000-c000-000000000000"'
)
RESOURCE = re.compile(
    r"/?communications/onlineMeetings\(joinWebUrl='(?P<url>[^']*)'\)/meetingCallEvents"
)


def graph_time(moment: datetime) -> str:
    """A UTC instant as Graph writes it: seven fractional digits and Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def parse_time(raw: object) -> datetime | None:
    """A Graph DateTimeOffset from a request; no offset means UTC."""
    if not isinstance(raw, str):
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def subscription_resource(join_web_url: str) -> str:
    """The call-events resource for a meeting: its join URL encoded once more, as documented."""
    encoded = quote(join_web_url, safe="")
    return f"communications/onlineMeetings(joinWebUrl='{encoded}')/meetingCallEvents"


def attendance_record(
    name: str,
    intervals: Sequence[tuple[datetime, datetime]],
    *,
    email: str | None = "",
    user_id: str | None = None,
    role: str = "Attendee",
) -> dict[str, Any]:
    """One attendanceRecord; a guest has `email` "" or None and no tenant."""
    spans = [
        {
            "joinDateTime": graph_time(joined),
            "leaveDateTime": graph_time(left),
            "durationInSeconds": int((left - joined).total_seconds()),
        }
        for joined, left in intervals
    ]
    ident = user_id or str(uuid.uuid5(uuid.NAMESPACE_URL, f"guest:{name}"))
    return {
        "id": ident,
        "emailAddress": email,
        "totalAttendanceInSeconds": sum(span["durationInSeconds"] for span in spans),
        "role": role,
        "identity": {
            "id": ident,
            "displayName": name,
            "tenantId": None,  # as the documented examples show, members included
        },
        "attendanceIntervals": spans,
    }


def roster_entry(
    user_id: str,
    name: str,
    *,
    left: bool = False,
    in_lobby: bool = False,
    participant_id: str | None = None,
) -> dict[str, Any]:
    """One element of `participants@delta`: a join has no removedState."""
    entry: dict[str, Any] = {
        "info": {"identity": {"user": {"id": user_id, "displayName": name, "tenantId": TENANT}}},
        "isInLobby": in_lobby,
        "id": participant_id or str(uuid.uuid5(uuid.NAMESPACE_URL, f"leg:{user_id}")),
    }
    if left:
        entry["removedState"] = {"reason": "Participant has left the meeting call."}
    return entry


def call_event(
    event_type: Literal["callStarted", "callEnded", "rosterUpdated"],
    at: datetime,
    join_web_url: str,
    participants: Iterable[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """A decrypted callEvent, as the documented examples show it."""
    event: dict[str, Any] = {
        "@odata.type": "#microsoft.graph.callevent",
        "@odata.id": subscription_resource(join_web_url),
        "id": str(uuid.uuid4()),
        "eventType": event_type,
        "eventDateTime": graph_time(at),
    }
    if event_type == "rosterUpdated":
        event["participants@delta"] = [dict(item) for item in participants]
    return event


@dataclass
class Delivery:
    url: str
    body: dict[str, Any]
    status: int | None  # None: no answer within the deadline
    seconds: float


@dataclass
class FakeTeams:
    tenant_id: str = TENANT
    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET
    granted: set[str] = field(default_factory=lambda: set(ORGANISERS))  # the access policy
    policy_error: Literal["forbidden", "unauthorized"] = "forbidden"  # current or older body
    policy_status: int = 403
    expires_in: int = 3599
    token_delay: float = 0.0  # seconds the token endpoint takes, so concurrent callers pile up
    page_size: int = 100
    report_delay: timedelta = timedelta(0)  # from end_meeting to the report's appearance
    report_pending: Literal["empty", "404"] = "empty"  # how "no report yet" answers
    max_subscription_minutes: int = 4230
    policy_gates_subscriptions: bool = True
    validation_timeout: float = 10.0
    delivery_timeout: float = 3.0
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    token_requests: int = 0
    tokens: dict[str, datetime] = field(default_factory=dict)  # token -> expiry
    meetings: dict[str, dict[str, Any]] = field(default_factory=dict)
    by_external: dict[tuple[str, str], str] = field(default_factory=dict)
    reports: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # by meeting id
    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    throttled: list[str] = field(default_factory=list)  # Retry-After of the next Graph answers
    calls: list[tuple[str, str]] = field(default_factory=list)
    validations: list[str] = field(default_factory=list)  # URLs the handshake POSTed to
    deliveries: list[Delivery] = field(default_factory=list)
    client: aiohttp.ClientSession | None = field(default=None, init=False, repr=False)
    _hmac_key: bytes = field(default_factory=lambda: secrets.token_bytes(32), init=False)
    _signer: Any = field(default=None, init=False, repr=False)
    _pending: set[str] = field(default_factory=set, init=False)  # meetings being subscribed
    _created: int = field(default=0, init=False)

    def revoke_tokens(self) -> None:
        self.tokens.clear()

    def throttle(self, n: int, retry_after: str = "2.128") -> None:
        self.throttled.extend([retry_after] * n)

    def meeting_for(self, organiser: str, external_id: str) -> dict[str, Any] | None:
        known = self.by_external.get((organiser, external_id))
        return None if known is None else self.meetings[known]

    def end_meeting(
        self,
        meeting_id: str,
        records: Sequence[Mapping[str, Any]],
        *,
        started: datetime | None = None,
        ended: datetime | None = None,
    ) -> str:
        """The call ends: one more attendance report (one per session); returns its id."""
        if meeting_id not in self.meetings:
            raise LookupError(f"no meeting {meeting_id}")
        kept = [dict(record) for record in records]
        for record in kept:
            record.setdefault("id", record["identity"]["id"])
            record.setdefault("role", "Attendee")
            record.setdefault(
                "totalAttendanceInSeconds",
                sum(span["durationInSeconds"] for span in record["attendanceIntervals"]),
            )
        spans = [span for record in kept for span in record["attendanceIntervals"]]
        now = self.now()
        first = min((span["joinDateTime"] for span in spans), default=graph_time(now))
        last = max((span["leaveDateTime"] for span in spans), default=graph_time(now))
        report_id = str(uuid.uuid4())
        self.reports.setdefault(meeting_id, []).append(
            {
                "id": report_id,
                "totalParticipantCount": len(kept),
                "meetingStartDateTime": graph_time(started) if started else first,
                "meetingEndDateTime": graph_time(ended) if ended else last,
                "_records": kept,
                "_visible": now + self.report_delay,
            }
        )
        return report_id

    def subscription_for(self, meeting_id: str) -> dict[str, Any] | None:
        self._prune()
        found = [s for s in self.subscriptions.values() if s["_meeting"] == meeting_id]
        return found[0] if found else None

    def expire(self, subscription_id: str) -> None:
        """Graph deletes a subscription that was not renewed in time."""
        del self.subscriptions[subscription_id]

    async def notify(self, subscription_id: str, events: Sequence[Mapping[str, Any]]) -> int | None:
        """Deliver call events to the subscription's notificationUrl; the receiver's status."""
        self._prune()
        sub = self.subscriptions[subscription_id]
        items = []
        for event in events:
            item: dict[str, Any] = {
                "subscriptionId": sub["id"],
                "clientState": sub["clientState"],
                "changeType": sub["changeType"],
                "tenantId": self.tenant_id,
                "resource": sub["resource"].lstrip("/"),
                "subscriptionExpirationDateTime": sub["expirationDateTime"],
                "resourceData": {
                    "@odata.id": sub["resource"].lstrip("/"),
                    "@odata.type": "#microsoft.graph.callevent",
                    "id": str(event.get("id") or uuid.uuid4()),
                },
                "organizationId": self.tenant_id,
            }
            if sub["includeResourceData"]:
                item["encryptedContent"] = encrypt_for(
                    sub["encryptionCertificate"], sub["encryptionCertificateId"], event
                )
            items.append(item)
        body: dict[str, Any] = {"value": items}
        if sub["includeResourceData"]:
            body["validationTokens"] = [self.validation_token()]
        return await self._deliver(sub["notificationUrl"], body)

    async def notify_lifecycle(
        self,
        subscription_id: str,
        event: Literal["reauthorizationRequired", "subscriptionRemoved", "missed"],
    ) -> int | None:
        """Deliver a lifecycle notification; after subscriptionRemoved the subscription is gone."""
        self._prune()
        sub = self.subscriptions[subscription_id]
        if event not in LIFECYCLE_EVENTS or not sub["lifecycleNotificationUrl"]:
            raise ValueError(f"Graph sends no {event!r} to subscription {subscription_id}")
        item = {
            "subscriptionId": sub["id"],
            "subscriptionExpirationDateTime": sub["expirationDateTime"],
            "tenantId": self.tenant_id,
            "clientState": sub["clientState"],
            "lifecycleEvent": event,
        }
        if event == "subscriptionRemoved":
            del self.subscriptions[subscription_id]
        return await self._deliver(sub["lifecycleNotificationUrl"], {"value": [item]})

    async def _deliver(self, url: str, body: dict[str, Any]) -> int | None:
        if self.client is None:
            raise RuntimeError("start the fake's app before it delivers notifications")
        started = time.monotonic()
        status: int | None = None
        try:
            async with self.client.post(
                URL(url, encoded=True),
                data=json.dumps(body),
                headers={"Content-Type": "application/json; charset=utf-8"},
                timeout=aiohttp.ClientTimeout(total=self.delivery_timeout),
            ) as answer:
                status = answer.status
        except (TimeoutError, aiohttp.ClientError):
            status = None
        self.deliveries.append(Delivery(url, body, status, time.monotonic() - started))
        return status

    def _prune(self) -> None:
        now = self.now()
        for sub_id in [k for k, s in self.subscriptions.items() if s["_expires"] <= now]:
            del self.subscriptions[sub_id]

    def _signing(self) -> tuple[Any, str, str]:
        """The key that signs validation tokens: (private key, kid, base64 DER certificate)."""
        if self._signer is None:
            from cryptography.hazmat.primitives.serialization import load_pem_private_key

            certificate, private_pem = self_signed_certificate("CN=login.fake-teams.test")
            der = base64.b64decode(certificate)
            kid = base64.urlsafe_b64encode(hashlib.sha1(der, usedforsecurity=False).digest())
            self._signer = (
                load_pem_private_key(private_pem, None),
                kid.decode().rstrip("="),
                certificate,
            )
        key, kid, certificate = self._signer
        return key, kid, certificate

    def validation_token(self, at: datetime | None = None) -> str:
        """A JWT as Graph puts in `validationTokens`, signed by the key in the fake's JWKS and
        issued at `at` (now by default)."""
        key, kid, _ = self._signing()
        issued = int((at or self.now()).timestamp())
        issuer = f"https://sts.windows.net/{self.tenant_id}/"
        claims = {
            "aud": self.client_id,
            "iss": issuer,
            "iat": issued,
            "nbf": issued,
            "exp": issued + 3600,
            "aio": secrets.token_urlsafe(24),
            "appid": GRAPH_PUBLISHER,
            "appidacr": "2",
            "idp": issuer,
            "tid": self.tenant_id,
            "uti": secrets.token_urlsafe(16),
            "ver": "1.0",
        }
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid, "x5t": kid})

    def jwks(self) -> dict[str, Any]:
        key, kid, certificate = self._signing()
        numbers = key.public_key().public_numbers()
        return {
            "keys": [
                {
                    "kty": "RSA",
                    "use": "sig",
                    "kid": kid,
                    "x5t": kid,
                    "n": _b64url_int(numbers.n),
                    "e": _b64url_int(numbers.e),
                    "x5c": [certificate],
                    "issuer": f"https://login.microsoftonline.com/{self.tenant_id}/v2.0",
                }
            ]
        }


STATE = web.AppKey("fake_teams", FakeTeams)
REQUEST_ID = web.RequestKey("request_id", str)
CLIENT_REQUEST_ID = web.RequestKey("client_request_id", str)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# Rich notifications need `cryptography`, which the project does not depend on (yet): the three
# helpers below import it when called, so the rest of the fake runs without it.


def self_signed_certificate(
    subject: str = "CN=rdv-orchestrator teams notifications",
) -> tuple[str, bytes]:
    """An RSA-2048 certificate for `encryptionCertificate`: (base64 DER, PEM private key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name.from_rfc4514_string(subject)
    start = datetime.now(UTC) - timedelta(days=1)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=366))
        .sign(key, hashes.SHA256())
    )
    der = certificate.public_bytes(serialization.Encoding.DER)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return base64.b64encode(der).decode(), pem


def certificate_problem(certificate: object) -> str | None:
    """Why Graph would refuse this `encryptionCertificate`, or None."""
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import rsa

    try:
        loaded = x509.load_der_x509_certificate(base64.b64decode(str(certificate), validate=True))
    except ValueError:
        return "Certificate validation error: Cannot find the requested object."
    key = loaded.public_key()
    if not isinstance(key, rsa.RSAPublicKey) or not 2048 <= key.key_size <= 4096:
        return "The encryption certificate must hold an RSA key of 2048 to 4096 bits."
    return None


def encrypt_for(
    certificate: str, certificate_id: str, payload: Mapping[str, Any]
) -> dict[str, str]:
    """`encryptedContent` for one item, as change-notifications-with-resource-data.md describes."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives import padding as block_padding
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    loaded = x509.load_der_x509_certificate(base64.b64decode(certificate))
    public = loaded.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    key = secrets.token_bytes(32)  # a new symmetric key for every item
    padder = block_padding.PKCS7(128).padder()
    plain = padder.update(json.dumps(payload).encode()) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    data = encryptor.update(plain) + encryptor.finalize()
    sha1 = hashes.SHA1()  # noqa: S303 (the OAEP digest Graph uses, per the documented Java sample)
    oaep = padding.OAEP(mgf=padding.MGF1(sha1), algorithm=sha1, label=None)
    return {
        "data": base64.b64encode(data).decode(),
        "dataSignature": base64.b64encode(hmac.digest(key, data, "sha256")).decode(),
        "dataKey": base64.b64encode(public.encrypt(key, oaep)).decode(),
        "encryptionCertificateId": certificate_id,
        "encryptionCertificateThumbprint": hashlib.sha1(
            base64.b64decode(certificate), usedforsecurity=False
        )
        .hexdigest()
        .upper(),
    }


def _b64url_int(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# The identity platform


def _aad_error(state: FakeTeams, status: int, error: str, code: int, message: str) -> web.Response:
    stamp = state.now().astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
    description = (
        f"AADSTS{code}: {message}\r\nTrace ID: {trace}\r\n"
        f"Correlation ID: {correlation}\r\nTimestamp: {stamp}"
    )
    return web.json_response(
        {
            "error": error,
            "error_description": description,
            "error_codes": [code],
            "timestamp": stamp,
            "trace_id": trace,
            "correlation_id": correlation,
            "error_uri": f"https://login.microsoftonline.com/error?code={code}",
        },
        status=status,
    )


def _missing(state: FakeTeams, name: str) -> web.Response:
    message = f"The request body must contain the following parameter: '{name}'."
    return _aad_error(state, 400, "invalid_request", 900144, message)


async def token(request: web.Request) -> web.Response:
    state = request.app[STATE]
    state.token_requests += 1
    if state.token_delay:
        await asyncio.sleep(state.token_delay)
    tenant = request.match_info["tenant"]
    if tenant not in (state.tenant_id, TENANT_DOMAIN):
        message = (
            f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and "
            "are signing into the correct cloud. Check with your subscription administrator, this "
            "may happen if there are no active subscriptions for the tenant."
        )
        return _aad_error(state, 400, "invalid_request", 90002, message)
    form = (
        await request.post() if request.content_type == "application/x-www-form-urlencoded" else {}
    )
    values = {key: str(value) for key, value in form.items()}
    grant = values.get("grant_type")
    if not grant:
        return _missing(state, "grant_type")
    if grant != "client_credentials":
        message = f"The app requested an unsupported grant type '{grant}'."
        return _aad_error(state, 400, "unsupported_grant_type", 70003, message)
    client = values.get("client_id")
    if not client:
        return _missing(state, "client_id")
    if client != state.client_id:
        message = (
            f"Application with identifier '{client}' was not found in the directory "
            f"'{TENANT_DOMAIN}'. This can happen if the application has not been installed by the "
            "administrator of the tenant or consented to by any user in the tenant. You may have "
            "sent your authentication request to the wrong tenant."
        )
        return _aad_error(state, 400, "unauthorized_client", 700016, message)
    scope = values.get("scope")
    if not scope:
        return _missing(state, "scope")
    if scope != GRAPH_SCOPE:
        if scope.endswith("/.default"):
            message = (
                f"The resource principal named {scope.removesuffix('/.default')} was not found "
                f"in the tenant named {TENANT_DOMAIN}. This can happen if the application has not "
                "been installed by the administrator of the tenant or consented to by any user in "
                "the tenant. You might have sent your authentication request to the wrong tenant."
            )
            return _aad_error(state, 400, "invalid_resource", 500011, message)
        message = (
            f"The provided value for scope {scope} is not valid. Client credential flows must have "
            "a scope value with /.default suffixed to the resource identifier (application ID URI)."
        )
        return _aad_error(state, 400, "invalid_scope", 1002012, message)
    secret = values.get("client_secret", "")
    if not secret:
        message = (
            "The request body must contain the following parameter: "
            "'client_assertion' or 'client_secret'."
        )
        return _aad_error(state, 401, "invalid_client", 7000218, message)
    if not hmac.compare_digest(secret.encode(), state.client_secret.encode()):
        message = (
            "Invalid client secret provided. Ensure the secret being sent in the request is the "
            f"client secret value, not the client secret ID, for a secret added to app '{client}'."
        )
        return _aad_error(state, 401, "invalid_client", 7000215, message)
    issued = state.now()
    expires = issued + timedelta(seconds=state.expires_in)
    claims = {
        "aud": "https://graph.microsoft.com",
        "iss": f"https://sts.windows.net/{state.tenant_id}/",
        "iat": int(issued.timestamp()),
        "nbf": int(issued.timestamp()),
        "exp": int(expires.timestamp()),
        "appid": state.client_id,
        "oid": SERVICE_PRINCIPAL,
        "roles": ["OnlineMeetings.ReadWrite.All", "OnlineMeetingArtifact.Read.All"],
        "tid": state.tenant_id,
        "uti": secrets.token_urlsafe(16),
        "ver": "1.0",
    }
    access = jwt.encode(claims, state._hmac_key, algorithm="HS256", headers={"typ": "JWT"})
    state.tokens[access] = expires
    return web.json_response(
        {
            "token_type": "Bearer",
            "expires_in": state.expires_in,
            "ext_expires_in": state.expires_in,
            "access_token": access,
        },
        headers={"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"},
    )


async def keys(request: web.Request) -> web.Response:
    return web.json_response(request.app[STATE].jwks())


# Graph: the gate every call passes


def _graph_error(
    request: web.Request, status: int, code: str, message: str, **headers: str
) -> web.Response:
    inner = {
        "date": request.app[STATE].now().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
        "request-id": request[REQUEST_ID],
        "client-request-id": request[CLIENT_REQUEST_ID],
    }
    body = {"error": {"code": code, "message": message, "innerError": inner}}
    return web.json_response(body, status=status, headers=headers)


def _bearer_refusal(request: web.Request) -> str | None:
    state = request.app[STATE]
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if not presented or scheme.lower() != "bearer":
        return "Access token is empty."
    if presented.count(".") != 2:
        return (
            "IDX14100: JWT is not well formed, there are no dots (.).\nThe token needs to be in "
            "JWS or JWE Compact Serialization Format."
        )
    expiry = state.tokens.get(presented)
    if expiry is None:
        return "Access token validation failure."
    if expiry <= state.now():
        return "Lifetime validation failed, the token is expired."
    return None


@web.middleware
async def _graph_gate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every Graph call: ids on the answer, a live Bearer token, the throttle when queued."""
    if not request.path.startswith(("/v1.0/", "/beta/")):
        return await handler(request)
    state = request.app[STATE]
    request[REQUEST_ID] = str(uuid.uuid4())
    request[CLIENT_REQUEST_ID] = request.headers.get("client-request-id", request[REQUEST_ID])
    state.calls.append((request.method, request.path))
    response = await _graph_answer(request, handler)
    response.headers["request-id"] = request[REQUEST_ID]
    response.headers["client-request-id"] = request[CLIENT_REQUEST_ID]
    return response


async def _graph_answer(request: web.Request, handler: Handler) -> web.StreamResponse:
    state = request.app[STATE]
    refusal = _bearer_refusal(request)
    if refusal is not None:
        return _graph_error(
            request,
            401,
            "InvalidAuthenticationToken",
            refusal,
            **{"WWW-Authenticate": WWW_AUTHENTICATE},
        )
    if state.throttled:
        wait = state.throttled.pop(0)
        inner = {
            "code": "429",
            "date": state.now().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
            "message": "Please retry after",
            "request-id": request[REQUEST_ID],
            "status": "429",
        }
        body = {
            "error": {
                "code": "TooManyRequests",
                "innerError": inner,
                "message": "Please retry again later.",
            }
        }
        return web.json_response(body, status=429, headers={"Retry-After": wait})
    try:
        return await handler(request)
    except web.HTTPNotFound:
        segment = request.path.rstrip("/").rsplit("/", 1)[-1]
        return _graph_error(
            request, 400, "BadRequest", f"Resource not found for the segment '{segment}'."
        )
    except web.HTTPMethodNotAllowed:
        message = "Specified HTTP method is not allowed for the request target."
        return _graph_error(request, 405, "BadRequest", message)


async def _json_body(request: web.Request) -> dict[str, Any] | web.Response:
    unreadable = (
        "Unable to read JSON request payload. Please ensure Content-Type header is set and "
        "payload is of valid JSON format."
    )
    if request.content_type != "application/json":
        return _graph_error(request, 400, "BadRequest", unreadable)
    try:
        body = json.loads(await request.read())
    except ValueError:
        return _graph_error(request, 400, "BadRequest", unreadable)
    return body if isinstance(body, dict) else _graph_error(request, 400, "BadRequest", unreadable)


def _policy_refusal(request: web.Request, user: str) -> web.Response | None:
    state = request.app[STATE]
    if user in state.granted:
        return None
    if state.policy_error == "unauthorized":
        message = OLD_POLICY_MESSAGE.format(app=state.client_id, user=user)
        return _graph_error(request, state.policy_status, "Unauthorized", message)
    return _graph_error(request, state.policy_status, "Forbidden", POLICY_MESSAGE)


# Online meetings


def _meeting_keys(organiser: str, tenant: str, seed: str) -> tuple[str, str, str]:
    """(meeting id, thread id, join URL) shaped as Teams makes them, free of '+', '/' and '='."""
    salt = 0
    while True:
        guid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{seed}:{salt}"))
        thread_key = base64.b64encode(guid.encode()).decode()
        thread = f"19:meeting_{thread_key}@thread.v2"
        meeting_id = base64.b64encode(f"1*{organiser}*0**{thread}".encode()).decode()
        if not re.search(r"[+/=]", thread_key + meeting_id):
            break
        salt += 1
    context = f"%7b%22Tid%22%3a%22{tenant}%22%2c%22Oid%22%3a%22{organiser}%22%7d"
    join = f"https://teams.microsoft.com/l/meetup-join/19%3ameeting_{thread_key}%40thread.v2/0?context={context}"
    return meeting_id, thread, join


def _meeting_times(body: Mapping[str, Any], now: datetime) -> tuple[datetime, datetime] | str:
    start_raw, end_raw = body.get("startDateTime"), body.get("endDateTime")
    if start_raw is None and end_raw is not None:
        return "startDateTime must be provided when endDateTime is."
    start = now if start_raw is None else parse_time(start_raw)
    if start is None:
        return "Invalid value for startDateTime."
    end = start + timedelta(hours=1) if end_raw is None else parse_time(end_raw)
    if end is None:
        return "Invalid value for endDateTime."
    if end < start:
        return "endDateTime must be later than startDateTime."
    return start, end


def _meeting_json(request: web.Request, meeting: Mapping[str, Any]) -> dict[str, Any]:
    body = {k: v for k, v in meeting.items() if not k.startswith("_")}
    body["lobbyBypassSettings"] = dict(meeting["lobbyBypassSettings"])
    # Members after unknownFutureValue come back only to a caller who asks for them.
    wants_all = "include-unknown-enum-members" in request.headers.get("Prefer", "")
    if not wants_all and body["lobbyBypassSettings"]["scope"] in LOBBY_SCOPES[5:]:
        body["lobbyBypassSettings"]["scope"] = "unknownFutureValue"
    user = meeting["_organiser"]
    context = f"https://graph.microsoft.com/v1.0/$metadata#users('{user}')/onlineMeetings/$entity"
    return {"@odata.context": context, **body}


async def create_or_get(request: web.Request) -> web.Response:
    state = request.app[STATE]
    user = request.match_info["user"]
    refused = _policy_refusal(request, user)
    if refused is not None:
        return refused
    body = await _json_body(request)
    if isinstance(body, web.Response):
        return body
    external = body.get("externalId")
    if not isinstance(external, str) or not external:
        return _graph_error(request, 400, "BadRequest", "externalId is a required property.")
    known = state.meeting_for(user, external)
    if known is not None:  # the stored meeting, whatever else this request says
        return web.json_response(_meeting_json(request, known), status=200)
    times = _meeting_times(body, state.now())
    if isinstance(times, str):
        return _graph_error(request, 400, "BadRequest", times)
    state._created += 1
    meeting_id, thread, join = _meeting_keys(
        user, state.tenant_id, f"{user}:{external}:{state._created}"
    )
    digits = int(hashlib.sha256(meeting_id.encode()).hexdigest(), 16)
    participants = body.get("participants") or {}
    if not isinstance(participants, dict) or not isinstance(
        participants.get("attendees", []), list
    ):
        return _graph_error(request, 400, "BadRequest", "Invalid value for participants.")
    attendees = [
        {"role": "attendee", **attendee} for attendee in participants.get("attendees") or []
    ]
    meeting = {
        "id": meeting_id,
        "creationDateTime": graph_time(state.now()),
        "startDateTime": graph_time(times[0]),
        "endDateTime": graph_time(times[1]),
        "joinWebUrl": join,
        "subject": body.get("subject"),
        "externalId": external,
        "isBroadcast": False,
        "autoAdmittedUsers": "EveryoneInCompany",
        "isEntryExitAnnounced": True,
        "allowedPresenters": "everyone",
        "allowMeetingChat": "enabled",
        "allowTeamworkReactions": True,
        "allowAttendeeToEnableCamera": True,
        "allowAttendeeToEnableMic": True,
        "allowParticipantsToChangeName": False,
        "allowRecording": True,
        "allowTranscription": True,
        "recordAutomatically": False,
        "videoTeleconferenceId": None,
        "audioConferencing": None,
        "broadcastSettings": None,
        "meetingTemplateId": None,
        "watermarkProtection": None,
        "participants": {
            "organizer": {
                "upn": f"organiser-{user[:8]}@{TENANT_DOMAIN}",
                "role": "presenter",
                "identity": {
                    "user": {
                        "id": user,
                        "displayName": None,
                        "tenantId": state.tenant_id,
                        "identityProvider": "AAD",
                    }
                },
            },
            "attendees": attendees,
            "producers": [],
            "contributors": [],
        },
        "lobbyBypassSettings": {"scope": "organization", "isDialInBypassEnabled": False},
        "joinMeetingIdSettings": {
            "isPasscodeRequired": True,
            "joinMeetingId": str(digits % 10**12).zfill(12),
            "passcode": base64.b32encode(meeting_id.encode()).decode()[:6],
        },
        "joinInformation": {
            "content": "data:text/html," + quote(f'<a href="{join}">Join the meeting now</a>'),
            "contentType": "html",
        },
        "chatInfo": {"threadId": thread, "messageId": "0", "replyChainMessageId": None},
        "_organiser": user,
    }
    state.meetings[meeting_id] = meeting
    state.by_external[(user, external)] = meeting_id
    return web.json_response(_meeting_json(request, meeting), status=201)


def _meeting(request: web.Request) -> dict[str, Any] | web.Response:
    user = request.match_info["user"]
    refused = _policy_refusal(request, user)
    if refused is not None:
        return refused
    found = request.app[STATE].meetings.get(request.match_info["meeting"])
    if found is None or found["_organiser"] != user:
        return _graph_error(request, 404, "NotFound", "The requested online meeting was not found.")
    return found


async def get_meeting(request: web.Request) -> web.Response:
    meeting = _meeting(request)
    if isinstance(meeting, web.Response):
        return meeting
    return web.json_response(_meeting_json(request, meeting))


async def update_meeting(request: web.Request) -> web.Response:
    meeting = _meeting(request)
    if isinstance(meeting, web.Response):
        return meeting
    body = await _json_body(request)
    if isinstance(body, web.Response):
        return body
    if ("startDateTime" in body) != ("endDateTime" in body):
        message = "Both startDateTime and endDateTime must be provided to change the meeting time."
        return _graph_error(request, 400, "BadRequest", message)
    changes: dict[str, Any] = {}
    if "startDateTime" in body:
        times = _meeting_times(body, request.app[STATE].now())
        if isinstance(times, str):
            return _graph_error(request, 400, "BadRequest", times)
        changes |= {"startDateTime": graph_time(times[0]), "endDateTime": graph_time(times[1])}
    if "lobbyBypassSettings" in body:
        lobby = {**meeting["lobbyBypassSettings"], **(body["lobbyBypassSettings"] or {})}
        if lobby["scope"] not in LOBBY_SCOPES or not isinstance(
            lobby["isDialInBypassEnabled"], bool
        ):
            return _graph_error(
                request, 400, "BadRequest", f"Requested value '{lobby['scope']}' was not found."
            )
        changes["lobbyBypassSettings"] = lobby
    if "allowedPresenters" in body:
        if body["allowedPresenters"] not in PRESENTERS:
            message = f"Requested value '{body['allowedPresenters']}' was not found."
            return _graph_error(request, 400, "BadRequest", message)
        changes["allowedPresenters"] = body["allowedPresenters"]
    if "subject" in body:
        changes["subject"] = body["subject"]
    if "participants" in body:  # the attendee list is replaced whole; the organizer stays
        attendees = (body["participants"] or {}).get("attendees") or []
        changes["participants"] = {**meeting["participants"], "attendees": attendees}
    meeting.update(changes)
    return web.json_response(_meeting_json(request, meeting))


async def delete_meeting(request: web.Request) -> web.Response:
    meeting = _meeting(request)
    if isinstance(meeting, web.Response):
        return meeting
    state = request.app[STATE]
    del state.meetings[meeting["id"]]
    del state.by_external[(meeting["_organiser"], meeting["externalId"])]
    state.reports.pop(meeting["id"], None)
    return web.Response(status=204)


# Attendance reports


def _page(
    request: web.Request, items: list[dict[str, Any]], context: str
) -> dict[str, Any] | web.Response:
    size = request.app[STATE].page_size
    raw = request.query.get("$skiptoken", "")
    try:
        start = int(base64.urlsafe_b64decode(raw.encode()).decode()) if raw else 0
    except ValueError:
        return _graph_error(request, 400, "BadRequest", f"Invalid $skiptoken '{raw}'.")
    body: dict[str, Any] = {"@odata.context": context, "value": items[start : start + size]}
    if start + size < len(items):
        following = base64.urlsafe_b64encode(str(start + size).encode()).decode()
        body["@odata.nextLink"] = str(request.url.with_query({"$skiptoken": following}))
    return body


def _paged(request: web.Request, items: list[dict[str, Any]], context: str) -> web.Response:
    page = _page(request, items, context)
    return page if isinstance(page, web.Response) else web.json_response(page)


def _report_json(report: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in report.items() if not k.startswith("_")} | {"attendanceRecords": []}


def _visible_reports(request: web.Request, meeting: Mapping[str, Any]) -> list[dict[str, Any]]:
    state = request.app[STATE]
    return [r for r in state.reports.get(meeting["id"], []) if r["_visible"] <= state.now()]


def _context(request: web.Request, tail: str) -> str:
    user, meeting = request.match_info["user"], request.match_info["meeting"]
    return f"https://graph.microsoft.com/v1.0/$metadata#users('{user}')/onlineMeetings('{meeting}')/{tail}"


async def list_reports(request: web.Request) -> web.Response:
    meeting = _meeting(request)
    if isinstance(meeting, web.Response):
        return meeting
    reports = _visible_reports(request, meeting)
    if not reports and request.app[STATE].report_pending == "404":
        return _graph_error(
            request, 404, "NotFound", "No attendance report found for this meeting."
        )
    items = [_report_json(report) for report in reports]
    return _paged(request, items, _context(request, "attendanceReports"))


def _report(request: web.Request) -> dict[str, Any] | web.Response:
    meeting = _meeting(request)
    if isinstance(meeting, web.Response):
        return meeting
    for report in _visible_reports(request, meeting):
        if report["id"] == request.match_info["report"]:
            return report
    return _graph_error(request, 404, "NotFound", "The requested attendance report was not found.")


async def get_report(request: web.Request) -> web.Response:
    report = _report(request)
    if isinstance(report, web.Response):
        return report
    body = {
        "@odata.context": _context(request, "attendanceReports/$entity"),
        **_report_json(report),
    }
    if "attendanceRecords" in request.query.get("$expand", ""):
        size = request.app[STATE].page_size
        body["attendanceRecords"] = report["_records"][:size]
        if size < len(report["_records"]):
            following = base64.urlsafe_b64encode(str(size).encode()).decode()
            records_url = request.url.with_path(request.path + "/attendanceRecords")
            body["attendanceRecords@odata.nextLink"] = str(
                records_url.with_query({"$skiptoken": following})
            )
    return web.json_response(body)


async def list_records(request: web.Request) -> web.Response:
    report = _report(request)
    if isinstance(report, web.Response):
        return report
    tail = f"attendanceReports('{report['id']}')/attendanceRecords"
    return _paged(request, report["_records"], _context(request, tail))


# Subscriptions to meeting call events


def _subscription_json(sub: Mapping[str, Any], version: str) -> dict[str, Any]:
    context = f"https://graph.microsoft.com/{version}/$metadata#subscriptions/$entity"
    return {"@odata.context": context} | {k: v for k, v in sub.items() if not k.startswith("_")}


def _lifetime(
    request: web.Request, body: Mapping[str, Any], lifecycle_url: object
) -> datetime | web.Response:
    state = request.app[STATE]
    now = state.now()
    wanted = parse_time(body.get("expirationDateTime"))
    if wanted is None:
        return _graph_error(
            request, 400, "InvalidRequest", "expirationDateTime is a required property."
        )
    if wanted > now + timedelta(minutes=state.max_subscription_minutes):
        limit = state.max_subscription_minutes
        message = f"Subscription expiration can only be {limit} minutes in the future."
        return _graph_error(request, 400, "InvalidRequest", message)
    wanted = max(wanted, now + timedelta(minutes=45))
    if wanted > now + timedelta(hours=1) and not lifecycle_url:
        return _graph_error(request, 400, "InvalidRequest", LIFECYCLE_MESSAGE)
    return wanted


async def _handshake(request: web.Request, url: str) -> web.Response | None:
    """POST ?validationToken= as Graph does; None when the endpoint echoed it in time."""
    state = request.app[STATE]
    if state.client is None:
        raise RuntimeError("the fake's client session is not open")
    opaque = (
        "Validation: Testing client application reachability for subscription "
        f"Request-Id: {uuid.uuid4()}"
    )
    encoded = re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), quote_plus(opaque, safe=""))
    target = f"{url}{'&' if '?' in url else '?'}validationToken={encoded}"
    state.validations.append(url)
    try:
        async with state.client.post(
            URL(target, encoded=True),
            data=b"",
            headers={"Content-Type": "text/plain; charset=utf-8"},
            timeout=aiohttp.ClientTimeout(total=state.validation_timeout),
        ) as answer:
            echoed = await answer.text()
            plain = answer.content_type == "text/plain"
            status = answer.status
    except TimeoutError:
        return _graph_error(request, 400, "InvalidRequest", VALIDATION_TIMEOUT)
    except aiohttp.ClientError:
        return _graph_error(request, 400, "InvalidRequest", VALIDATION_FAILED)
    if status != 200 or not plain:
        return _graph_error(request, 400, "InvalidRequest", VALIDATION_FAILED)
    if echoed != opaque:
        return _graph_error(request, 400, "InvalidRequest", VALIDATION_MISMATCH)
    return None


def _url_refusal(request: web.Request, value: object, name: str) -> web.Response | None:
    try:
        parsed = URL(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is not None and parsed.scheme in ("http", "https") and parsed.host:
        return None
    return _graph_error(request, 400, "InvalidRequest", f"Invalid {name}: '{value}'.")


def _certificate_refusal(request: web.Request, body: Mapping[str, Any]) -> web.Response | None:
    if not body.get("encryptionCertificate") or not body.get("encryptionCertificateId"):
        message = (
            "encryptionCertificate and encryptionCertificateId are required when "
            "includeResourceData is true."
        )
        return _graph_error(request, 400, "InvalidRequest", message)
    if len(str(body["encryptionCertificateId"])) > 128:
        message = "encryptionCertificateId can be at most 128 characters."
        return _graph_error(request, 400, "InvalidRequest", message)
    problem = certificate_problem(body["encryptionCertificate"])
    return None if problem is None else _graph_error(request, 400, "InvalidRequest", problem)


async def create_subscription(request: web.Request) -> web.Response:
    state = request.app[STATE]
    body = await _json_body(request)
    if isinstance(body, web.Response):
        return body
    for name in ("changeType", "notificationUrl", "resource"):
        if not body.get(name):
            return _graph_error(request, 400, "InvalidRequest", f"{name} is a required property.")
    matched = RESOURCE.fullmatch(str(body["resource"]))
    if matched is None:
        message = f"Resource '{body['resource']}' is not supported by this fake."
        return _graph_error(request, 400, "InvalidRequest", message)
    if request.path.startswith("/v1.0/"):
        message = "The meetingCallEvents resource is only available on the beta endpoint."
        return _graph_error(request, 400, "InvalidRequest", message)
    meeting = next(
        (m for m in state.meetings.values() if m["joinWebUrl"] == unquote(matched["url"])), None
    )
    if meeting is None:
        return _graph_error(request, 400, "ExtensionError", BAD_JOIN_URL)
    if body["changeType"] != "updated":
        message = f"changeType '{body['changeType']}' is not supported for this resource."
        return _graph_error(request, 400, "InvalidRequest", message)
    for name in ("notificationUrl", "lifecycleNotificationUrl"):
        if name in body and body[name] is not None:
            refused = _url_refusal(request, body[name], name)
            if refused is not None:
                return refused
    if len(str(body.get("clientState") or "")) > 128:
        message = "clientState can be at most 128 characters."
        return _graph_error(request, 400, "InvalidRequest", message)
    if body.get("includeResourceData"):
        refused = _certificate_refusal(request, body)
        if refused is not None:
            return refused
    expires = _lifetime(request, body, body.get("lifecycleNotificationUrl"))
    if isinstance(expires, web.Response):
        return expires
    if state.policy_gates_subscriptions:
        refused = _policy_refusal(request, meeting["_organiser"])
        if refused is not None:
            return refused
    if state.subscription_for(meeting["id"]) is not None or meeting["id"] in state._pending:
        return _graph_error(request, 409, "ExtensionError", DUPLICATE)
    state._pending.add(meeting["id"])
    try:
        for url in (body["notificationUrl"], body.get("lifecycleNotificationUrl")):
            if url:
                failed = await _handshake(request, url)
                if failed is not None:
                    return failed
    finally:
        state._pending.discard(meeting["id"])
    sub = {
        "id": str(uuid.uuid4()),
        "resource": body["resource"],
        "applicationId": state.client_id,
        "changeType": body["changeType"],
        "clientState": body.get("clientState"),
        "notificationUrl": body["notificationUrl"],
        "notificationQueryOptions": None,
        "notificationContentType": None,
        "lifecycleNotificationUrl": body.get("lifecycleNotificationUrl"),
        "expirationDateTime": graph_time(expires),
        "creatorId": SERVICE_PRINCIPAL,
        "includeResourceData": bool(body.get("includeResourceData")),
        "latestSupportedTlsVersion": body.get("latestSupportedTlsVersion") or "v1_2",
        "encryptionCertificate": body.get("encryptionCertificate"),
        "encryptionCertificateId": body.get("encryptionCertificateId"),
        "notificationUrlAppId": None,
        "_meeting": meeting["id"],
        "_expires": expires,
    }
    state.subscriptions[sub["id"]] = sub
    return web.json_response(_subscription_json(sub, "beta"), status=201)


def _subscription(request: web.Request) -> dict[str, Any] | web.Response:
    state = request.app[STATE]
    state._prune()
    found = state.subscriptions.get(request.match_info["subscription"])
    if found is None:
        return _graph_error(request, 404, "ResourceNotFound", "The object was not found.")
    return found


async def list_subscriptions(request: web.Request) -> web.Response:
    state = request.app[STATE]
    state._prune()
    version = request.match_info["version"]
    items = [_subscription_json(sub, version) for sub in state.subscriptions.values()]
    for item in items:
        item.pop("@odata.context")
    context = f"https://graph.microsoft.com/{version}/$metadata#subscriptions"
    return web.json_response({"@odata.context": context, "value": items})


async def get_subscription(request: web.Request) -> web.Response:
    sub = _subscription(request)
    if isinstance(sub, web.Response):
        return sub
    return web.json_response(_subscription_json(sub, request.match_info["version"]))


async def renew_subscription(request: web.Request) -> web.Response:
    sub = _subscription(request)
    if isinstance(sub, web.Response):
        return sub
    body = await _json_body(request)
    if isinstance(body, web.Response):
        return body
    if not body.get("expirationDateTime") and not body.get("notificationUrl"):
        message = (
            "Subscription must contain either the 'expirationDateTime' or 'notificationUrl' "
            "property and its value."
        )
        return _graph_error(request, 400, "InvalidRequest", message)
    changes: dict[str, Any] = {}
    if body.get("expirationDateTime"):
        expires = _lifetime(request, body, sub["lifecycleNotificationUrl"])
        if isinstance(expires, web.Response):
            return expires
        changes |= {"expirationDateTime": graph_time(expires), "_expires": expires}
    if body.get("encryptionCertificate") or body.get("encryptionCertificateId"):
        refused = _certificate_refusal(request, body)
        if refused is not None:
            return refused
        changes |= {k: body[k] for k in ("encryptionCertificate", "encryptionCertificateId")}
    if body.get("notificationUrl") and body["notificationUrl"] != sub["notificationUrl"]:
        refused = _url_refusal(request, body["notificationUrl"], "notificationUrl")
        refused = refused or await _handshake(request, body["notificationUrl"])
        if refused is not None:
            return refused
        changes["notificationUrl"] = body["notificationUrl"]
    sub.update(changes)
    return web.json_response(_subscription_json(sub, request.match_info["version"]))


async def delete_subscription(request: web.Request) -> web.Response:
    sub = _subscription(request)
    if isinstance(sub, web.Response):
        return sub
    del request.app[STATE].subscriptions[sub["id"]]
    return web.Response(status=204)


async def reauthorize_subscription(request: web.Request) -> web.Response:
    sub = _subscription(request)
    return sub if isinstance(sub, web.Response) else web.Response(status=204)


async def _outbound(app: web.Application) -> AsyncIterator[None]:
    """The session the handshake and the deliveries go out on."""
    state = app[STATE]
    async with aiohttp.ClientSession() as session:
        state.client = session
        yield
        state.client = None


def create_app(state: FakeTeams) -> web.Application:
    app = web.Application(middlewares=[_graph_gate])
    app[STATE] = state
    app.cleanup_ctx.append(_outbound)
    app.router.add_post("/{tenant}/oauth2/v2.0/token", token)
    app.router.add_get("/common/discovery/v2.0/keys", keys)
    app.router.add_get("/common/discovery/keys", keys)
    meetings = "/v1.0/users/{user}/onlineMeetings"
    app.router.add_post(f"{meetings}/createOrGet", create_or_get)
    app.router.add_get(f"{meetings}/{{meeting}}", get_meeting)
    app.router.add_patch(f"{meetings}/{{meeting}}", update_meeting)
    app.router.add_delete(f"{meetings}/{{meeting}}", delete_meeting)
    reports = f"{meetings}/{{meeting}}/attendanceReports"
    app.router.add_get(reports, list_reports)
    app.router.add_get(f"{reports}/{{report}}", get_report)
    app.router.add_get(f"{reports}/{{report}}/attendanceRecords", list_records)
    subscriptions = r"/{version:v1\.0|beta}/subscriptions"
    app.router.add_post(subscriptions, create_subscription)
    app.router.add_get(subscriptions, list_subscriptions)
    app.router.add_get(f"{subscriptions}/{{subscription}}", get_subscription)
    app.router.add_patch(f"{subscriptions}/{{subscription}}", renew_subscription)
    app.router.add_delete(f"{subscriptions}/{{subscription}}", delete_subscription)
    app.router.add_post(f"{subscriptions}/{{subscription}}/reauthorize", reauthorize_subscription)
    return app
