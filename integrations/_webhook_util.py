"""What the webhook verifiers share: credential checks in constant time, and readers for
untrusted payloads that fail with `WebhookRejected` or `WebhookMalformed`, never with another
exception, whatever the bytes."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

import jwt

from .events import WebhookMalformed, WebhookRejected, WebhookUnverifiable

Obj = Mapping[str, object]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Event times outside this span are unit mix-ups or garbage, not meetings.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
MAX_KEY = 200  # the inbox stores keys up to 300 characters; longer ones are hashed
EMPTY: Obj = {}


def utf8(value: str) -> bytes:
    """Bytes of a string, total (lone surrogates included) and one-to-one."""
    return value.encode("utf-8", "surrogatepass")


def same(given: str | bytes, expected: str | bytes) -> bool:
    given = given if isinstance(given, bytes) else utf8(given)
    expected = expected if isinstance(expected, bytes) else utf8(expected)
    return hmac.compare_digest(given, expected)


def raw(body: object) -> bytes:
    if isinstance(body, bytes | bytearray | memoryview):
        return bytes(body)
    raise WebhookMalformed("the body is not bytes")


def require_secret(secret: object, what: str) -> str:
    """Without a configured secret every delivery is refused, never accepted unchecked."""
    if not isinstance(secret, str) or not secret:
        raise WebhookRejected(f"no {what} is configured: deliveries are refused")
    return secret


def header(headers: object, name: str) -> str | None:
    """A header's value by case-insensitive name; None when absent or not a string."""
    if not isinstance(headers, Mapping):
        return None
    wanted = name.lower()
    for key, value in headers.items():
        if isinstance(key, str) and key.lower() == wanted and isinstance(value, str):
            return value
    return None


def credentials(headers: object, scheme: str) -> str | None:
    """The credentials of `Authorization: <scheme> <credentials>`, None when absent; another
    scheme is rejected."""
    value = header(headers, "authorization")
    if value is None:
        return None
    given, _, token = value.strip().partition(" ")
    if given.lower() != scheme.lower() or not token.strip():
        raise WebhookRejected(f"the Authorization header is not {scheme} credentials")
    return token.strip()


def check_bearer(headers: object, secret: str) -> None:
    token = credentials(headers, "Bearer")
    if token is None:
        raise WebhookRejected("no Authorization header")
    if not same(token, secret):
        raise WebhookRejected("wrong bearer secret")


def malformed(message: str) -> NoReturn:
    raise WebhookMalformed(message)


def _no_constant(name: str) -> NoReturn:
    malformed(f"{name} is not JSON")


# Made once: `json.loads` with an option builds a new decoder for every body.
_JSON = json.JSONDecoder(parse_constant=_no_constant)


def load_json(data: bytes | str, what: str = "the body") -> object:
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        return _JSON.decode(text)
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        malformed(f"{what} is not UTF-8 JSON")


def obj(value: object, what: str) -> Obj:
    if not isinstance(value, dict):
        malformed(f"{what} is not a JSON object")
    return value


def opt_obj(value: object) -> Obj:
    return value if isinstance(value, dict) else EMPTY


def clean(value: str) -> str:
    """Storable text: no NUL (PostgreSQL refuses it), no lone surrogates (no encoder takes them)."""
    return value.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


def opt_text(source: Obj, key: str) -> str | None:
    value = source.get(key)
    return (clean(value) or None) if isinstance(value, str) else None


def text(source: Obj, key: str) -> str:
    value = opt_text(source, key)
    if value is None:
        malformed(f"{key!r} is missing or not a string")
    return value


def opt_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def instant(value: object, *, per_second: int, what: str) -> datetime:
    """An aware UTC time from a number of seconds, milliseconds (1000) or microseconds (10**6)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        malformed(f"{what} is missing or not a number")
    try:
        if isinstance(value, int):
            at = EPOCH + timedelta(microseconds=value * (1_000_000 // per_second))
        else:
            at = EPOCH + timedelta(seconds=value / per_second)
    except (OverflowError, ValueError):
        malformed(f"{what} is out of range")
    if not EARLIEST <= at < LATEST:
        malformed(f"{what} is out of range")
    return at


def instant_or(value: object, *, per_second: int, fallback: datetime) -> datetime:
    """For events we do not time attendance by: their own time when readable, else `fallback`
    (an authentic delivery is not refused for a field we do not need)."""
    try:
        return instant(value, per_second=per_second, what="time")
    except WebhookMalformed:
        return fallback


def bounded(key: str) -> str:
    return key if len(key) <= MAX_KEY else "sha256:" + hashlib.sha256(utf8(key)).hexdigest()


def dedupe_key(*parts: object) -> str:
    """An unambiguous key from scalar parts (JSON, so a `|` inside a part cannot collide)."""
    scalars = [
        part if part is None or isinstance(part, str | int | float) else type(part).__name__
        for part in parts
    ]
    return bounded(json.dumps(scalars, separators=(",", ":")))


def signed_claims(
    token: str,
    *,
    signing_key: Callable[[str], Any | None],
    audience: str,
    what: str,
    **options: Any,
) -> dict[str, Any]:
    """The claims of an RS256 JWT signed with a published key (`signing_key` by `kid`) and
    for `audience`; its times are the caller's to check against the delivery's own time (PyJWT
    would check them against the wall clock). A key not fetched yet: `WebhookUnverifiable`."""
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.PyJWTError:
        raise WebhookRejected(f"{what} is not a JWT") from None
    if not isinstance(kid, str) or not kid:
        raise WebhookRejected(f"{what} names no key")
    key = signing_key(kid)
    if key is None:
        raise WebhookUnverifiable(f"{what} is signed with a key not fetched yet; retry later")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=["RS256"],
            audience=audience,
            options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
            **options,
        )
    except jwt.PyJWTError as error:
        raise WebhookRejected(f"{what} does not hold: {error}") from None
    return claims
