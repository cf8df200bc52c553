"""Outbound webhooks as the Standard Webhooks specification writes them: the body, its headers and
its signature, and which receiver addresses are acceptable. Pure: no database, no network.

A message is signed over `{webhook-id}.{webhook-timestamp}.{body}` with HMAC-SHA256 under the
subscription's secret (`whsec_` and the base64 of its bytes), sent as `v1,<base64>`. The id is the
message's, the same on every retry and every resend, so a receiver drops a repeat by it; the
timestamp is the attempt's, against which the receiver checks its own clock.
https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from .addresses import refusal

EVENT_TYPES = (
    "session.changed",
    "session.cancelled",
    "seat.answered",
    "meeting.held",
    "meeting.not-held",
    "attendee.no-show",
    "outcome.recorded",
    "request.changed",
)
SECRET_PREFIX = "whsec_"  # noqa: S105 (the prefix, not a secret)
MAX_URL = 2000


class BadSubscription(ValueError):
    """A subscription that cannot be accepted; the message names what is wrong, `code` names it
    for a page that says it in the reader's language."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def new_secret() -> str:
    """24 random bytes, as receivers' libraries expect them (`whsec_` + base64)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def new_message_id() -> str:
    """A message id unique across databases and instances (no sequence behind it)."""
    return "msg_" + secrets.token_urlsafe(18)


def moment(at: datetime) -> str:
    """A time as the bodies carry it: ISO 8601 in UTC, with a Z."""
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def body(kind: str, at: datetime, data: Mapping[str, Any]) -> bytes:
    """The JSON body: the event type, when the change happened (UTC) and its data."""
    envelope = {"type": kind, "timestamp": moment(at), "data": data}
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode()


def signing_key(secret: str) -> bytes:
    """The secret's bytes, which sign (`whsec_` and base64, as receivers' libraries take it)."""
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def signature(secret: str | bytes, message_id: str, timestamp: int, payload: bytes) -> str:
    """`v1,` and the signature; `secret` as shown, or its bytes (`signing_key`)."""
    key = signing_key(secret) if isinstance(secret, str) else secret
    signed = f"{message_id}.{timestamp}.".encode() + payload
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(secret: str | bytes, message_id: str, timestamp: int, payload: bytes) -> dict[str, str]:
    """The headers of one attempt, `timestamp` in whole seconds since the epoch."""
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, message_id, timestamp, payload),
    }


def checked_url(url: object, *, allow_private: bool) -> str:
    """The receiver's address as it will be called, or BadSubscription saying why not: https with
    a host and no credentials; plain http only where private receivers are allowed (a test, a
    receiver on the same network). Where the host is a name, the sender checks what it resolves
    to on every connection (`webhooks.addresses`)."""
    if not isinstance(url, str) or not url.strip():
        raise BadSubscription("empty", "url: give the receiver's address (https://…)")
    url = url.strip()
    if len(url) > MAX_URL:
        raise BadSubscription("invalid", f"url: longer than {MAX_URL} characters")
    if any(ord(c) < 33 or ord(c) == 127 for c in url):
        raise BadSubscription("invalid", "url: holds spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise BadSubscription("invalid", "url: not a valid address") from None
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes:
        raise BadSubscription("https", "url: must start with https://")
    if not parts.hostname:
        raise BadSubscription("invalid", "url: names no host")
    if parts.username is not None or parts.password is not None:
        raise BadSubscription("credentials", "url: must not hold a user name or password")
    host = parts.hostname.rstrip(".")
    try:
        host.encode("idna")  # as the resolver is given it: no empty or overlong label
    except UnicodeError:
        raise BadSubscription("invalid", "url: the host is not a valid name") from None
    last = host.rsplit(".", 1)[-1].lower()
    if ":" not in host and (last.isdigit() or last.startswith("0x")):
        try:  # a top-level name is never a number: this is an address, or a shorthand of one
            ipaddress.IPv4Address(host)
        except ValueError:
            raise BadSubscription("invalid", "url: the host is not a valid address") from None
    if port == 0:
        raise BadSubscription("invalid", "url: port 0 is not a port")
    if not allow_private:
        try:
            why = refusal(host.strip("[]"))
        except ValueError:  # a name, checked when it is resolved
            why = None
        if why or host.lower() in ("localhost", "localhost.localdomain"):
            raise BadSubscription(
                "private",
                f"url: names {why or 'a loopback address'}; receivers must be on the public "
                "internet (an operator can allow private ones with RDV_WEBHOOK_ALLOW_PRIVATE)",
            )
    return url


def checked_types(kinds: object) -> tuple[str, ...]:
    """The event types asked for (all of them when none is named), or BadSubscription naming the
    unknown one."""
    if kinds is None:
        return EVENT_TYPES
    if not isinstance(kinds, list) or not kinds:
        raise BadSubscription(
            "events", f"events: a list of event types, among {', '.join(EVENT_TYPES)}"
        )
    for kind in kinds:
        if kind not in EVENT_TYPES:
            shown = kind if isinstance(kind, str) else json.dumps(kind)
            raise BadSubscription(
                "events",
                f"events: {shown[:60]!r} is no event type (known: {', '.join(EVENT_TYPES)})",
            )
    return tuple(dict.fromkeys(kinds))
