"""Signing helpers for tests: produce deliveries as each provider signs them, so tests (the
verifier tests, the chaos test, the demo) can send correctly signed webhooks.

Each helper follows the sender's own code or documentation, independently of our verifiers:
- JaaS: https://developer.8x8.com/jaas/docs/webhooks-signatures
- bbb-webhooks:
  https://github.com/bigbluebutton/bbb-webhooks/blob/HEAD/src/out/webhooks/callback-emitter.js
- the recording-ready callback: https://docs.bigbluebutton.org/development/api
- Janus: its sample event handler (`janus.eventhandler.sampleevh`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import warnings
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote_plus

import jwt


def bearer(secret: str) -> str:
    """`Authorization` value for the Jitsi event_sync `api_headers` and bbb-webhooks auth2_0."""
    return f"Bearer {secret}"


def basic_auth(user: str, password: str) -> str:
    """`Authorization` value the Janus sample event handler sends (`backend_user/backend_pwd`)."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def sign_jaas(body: bytes, secret: str, t: int) -> str:
    """`X-Jaas-Signature` value: `t=<t>,v1=<base64 HMAC-SHA256 of "{t}.{body}">`."""
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).digest()
    return f"t={t},v1={base64.b64encode(mac).decode('ascii')}"


def bbb_checksum(callback_url: str, body: bytes, secret: str, algorithm: str = "sha1") -> str:
    """The hex digest bbb-webhooks puts in `checksum=`: sha(callback URL + body + secret)."""
    return hashlib.new(algorithm, callback_url.encode() + body + secret.encode()).hexdigest()


def bbb_checksum_url(callback_url: str, body: bytes, secret: str, algorithm: str = "sha1") -> str:
    """The URL bbb-webhooks posts to: the registered URL with `checksum=` appended."""
    joiner = "&" if "?" in callback_url else "?"
    return f"{callback_url}{joiner}checksum={bbb_checksum(callback_url, body, secret, algorithm)}"


def bbb_query(callback_url: str, body: bytes, secret: str, algorithm: str = "sha1") -> str:
    """The raw query string of that request, as the verifier's `query` receives it."""
    return bbb_checksum_url(callback_url, body, secret, algorithm).partition("?")[2]


def _form_value(value: str) -> str:
    # Node's URLSearchParams (what bbb-webhooks uses) keeps only `*-._` and alphanumerics.
    return quote_plus(value, safe="*").replace("~", "%7E")


def bbb_form(
    events: Sequence[Mapping[str, Any]] | Mapping[str, Any] | Any,
    *,
    domain: str = "bbb.example.com",
    timestamp: int = 1700000000123,
    ensure_ascii: bool = False,
) -> bytes:
    """A bbb-webhooks v3 body: `domain`, `event` (a JSON array; pass a mapping for the bare
    object older servers send) and `timestamp`, encoded as Node encodes them (JSON.stringify
    leaves non-ASCII as it is; `ensure_ascii` escapes it, for documents with lone surrogates)."""
    document = list(events) if isinstance(events, tuple) else events
    event = json.dumps(document, separators=(",", ":"), ensure_ascii=ensure_ascii)
    fields = {"domain": domain, "event": event, "timestamp": str(timestamp)}
    return "&".join(f"{name}={_form_value(value)}" for name, value in fields.items()).encode()


def recording_jwt(meeting_id: str, record_id: str, secret: str) -> str:
    """The recording-ready callback's token: HS256 over exactly `{meeting_id, record_id}`."""
    with warnings.catch_warnings():
        # BBB signs with its shared secret, whatever its length; so do we.
        warnings.simplefilter("ignore", jwt.InsecureKeyLengthWarning)
        return jwt.encode(
            {"meeting_id": meeting_id, "record_id": record_id},
            secret,
            algorithm="HS256",
            headers={"typ": "JWT"},
        )


def recording_body(meeting_id: str, record_id: str, secret: str) -> bytes:
    """The recording-ready callback's form body: `signed_parameters=<token>`."""
    return f"signed_parameters={recording_jwt(meeting_id, record_id, secret)}".encode()


def zoom_headers(body: bytes, secret: str, t: int) -> dict[str, str]:
    """The headers Zoom signs a delivery with (zoom/webhook-sample): `x-zm-request-timestamp`
    and `x-zm-signature: v0=<hex HMAC-SHA256 of "v0:{t}:{body}">`."""
    mac = hmac.new(secret.encode(), f"v0:{t}:".encode() + body, hashlib.sha256).hexdigest()
    return {
        "x-zm-request-timestamp": str(t),
        "x-zm-signature": f"v0={mac}",
        "content-type": "application/json; charset=utf-8",
    }


def zoom_challenge(plain_token: str, secret: str) -> str:
    """What Zoom expects back as `encryptedToken` for a URL-validation `plainToken`."""
    return hmac.new(secret.encode(), plain_token.encode(), hashlib.sha256).hexdigest()


def livekit_token(body: bytes, key: str, secret: str, t: int) -> str:
    """The token livekit-server puts in a webhook's `Authorization` header (no `Bearer `,
    protocol `webhook/resource_url_notifier.go`): HS256 with the secret of `key`, `iss` = key,
    valid for 5 minutes from `t`, `sha256` = base64 (standard, padded) of SHA-256 of the body."""
    claims = {
        "iss": key,
        "nbf": t,
        "exp": t + 300,
        "sha256": base64.b64encode(hashlib.sha256(body).digest()).decode("ascii"),
    }
    return jwt.encode(claims, secret, algorithm="HS256")
