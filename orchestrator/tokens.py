"""Tokens: API bearer tokens (HS256 JWTs scoped to one event and one role, with a pinned
algorithm), personal link tokens, and keys derived from the service's secret for each use."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

import jwt

ROLES = ("organiser", "followup")
ALGORITHM = "HS256"
ISSUER = "rdv-orchestrator"
API_AUDIENCE = "rdv-api"


def new_link_token() -> str:
    """A personal link token: 144 random bits, URL-safe."""
    return secrets.token_urlsafe(18)


class TokenRejected(Exception):
    """The token cannot be used; the message says why without echoing the token."""


@dataclass(frozen=True, slots=True)
class Grant:
    """Who a verified token speaks for."""

    role: str
    event: str
    expires_at: datetime
    subject: str = ""  # who the token was made for, as the audit log names them

    @property
    def can_write(self) -> bool:
        return self.role == "organiser"


def moment(seconds: int, tz: tzinfo | None) -> datetime | None:
    """A signed timestamp as a moment, or None when it lies outside the calendar (a year beyond
    9999 or before 1): signed is not the same as sensible."""
    try:
        return datetime.fromtimestamp(seconds, tz=tz)
    except (OverflowError, OSError, ValueError):
        return None


def derive_key(secret_key: str, purpose: str) -> bytes:
    """One key per purpose, so a token minted for one use is worthless for another."""
    return hmac.new(secret_key.encode(), f"rdv:{purpose}".encode(), hashlib.sha256).digest()


def mint_api_token(
    secret_key: str,
    *,
    role: str,
    event: str,
    ttl: timedelta,
    now: datetime,
    subject: str | None = None,
) -> str:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if ttl <= timedelta(0):
        raise ValueError("the lifetime of a token must be positive")
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": API_AUDIENCE,
        "sub": subject or f"{role}@{event}",
        "role": role,
        "event": event,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
        "jti": secrets.token_urlsafe(9),
    }
    return jwt.encode(claims, derive_key(secret_key, "api"), algorithm=ALGORITHM)


def verify_api_token(secret_key: str, token: str, *, now: datetime) -> Grant:
    try:
        claims = jwt.decode(
            token,
            derive_key(secret_key, "api"),
            algorithms=[ALGORITHM],
            audience=API_AUDIENCE,
            issuer=ISSUER,
            # Expiry is checked below against the injected clock, not the wall clock.
            options={
                "require": ["exp", "iat", "role", "event"],
                "verify_exp": False,
                "verify_iat": False,
            },
        )
    except jwt.InvalidTokenError:
        raise TokenRejected("the token is invalid") from None
    role, event, expires = claims.get("role"), claims.get("event"), claims.get("exp")
    if role not in ROLES or not isinstance(event, str) or not isinstance(expires, int):
        raise TokenRejected("the token is invalid")
    expires_at = moment(expires, now.tzinfo)
    if expires_at is None:
        raise TokenRejected("the token is invalid: its expiry is out of range")
    if expires_at <= now:
        raise TokenRejected("the token has expired")
    subject = claims.get("sub")
    return Grant(role, event, expires_at, subject if isinstance(subject, str) else "")
