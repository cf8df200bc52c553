"""LiveKit webhooks: each event is POSTed as protojson with `Authorization: <JWT>` (the OSS server
sends no `Bearer ` prefix; one is accepted), HS256 with the API secret, `iss` the API key, `exp`
five minutes out, and a `sha256` claim holding base64(SHA-256(raw body)).

int64 fields arrive as strings (`"createdAt":"1692985556"`); event times are seconds,
`joinedAtMs` milliseconds, egress durations nanoseconds. Our seat tokens put the seat id
(`rdv-a<attendee id>`) in `sub`, which events echo as `participant.identity`.

Sources:
- https://docs.livekit.io/server/webhooks/
- https://github.com/livekit/protocol/blob/HEAD/webhook/resource_url_notifier.go (the sender)
- https://github.com/livekit/protocol/blob/HEAD/webhook/verifier.go (the check)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import warnings
from collections.abc import Mapping
from datetime import datetime, timedelta

import jwt

from ._webhook_util import (
    Obj,
    bounded,
    dedupe_key,
    header,
    instant,
    instant_or,
    load_json,
    malformed,
    obj,
    opt_obj,
    opt_text,
    raw,
    require_secret,
    text,
)
from .events import Delivery, Kind, ProviderEvent, RoomRef, WebhookRejected, Who

PROVIDER = "livekit"
LEEWAY = timedelta(minutes=1)  # what the server's own token verifier allows
_KINDS: Mapping[str, Kind] = {
    "room_started": Kind.ROOM_STARTED,
    "room_finished": Kind.ROOM_ENDED,
    "participant_joined": Kind.JOINED,
    "participant_left": Kind.LEFT,
    "egress_ended": Kind.RECORDING_READY,
}
_PEOPLE = frozenset({Kind.JOINED, Kind.LEFT})
_ATTENDANCE = _PEOPLE | {Kind.ROOM_STARTED, Kind.ROOM_ENDED}
# Recorders, agents and ingress streams join rooms as participants too; they are not people.
NOT_PEOPLE = frozenset({"EGRESS", "AGENT", "INGRESS"})
# An egress that ends complete, or cut at its time limit, has uploaded its file (enum names, or
# numbers from encoders that write them so).
_SAVED = frozenset({"EGRESS_COMPLETE", "EGRESS_LIMIT_REACHED", 3, 6})
_INT64 = re.compile(r"-?[0-9]{1,19}")
_BEARER = re.compile(r"\Abearer\s+", re.IGNORECASE)


def int64(value: object) -> int | None:
    """An int64 as protojson writes it (a decimal string) or as a plain JSON number."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _INT64.fullmatch(value):
        return int(value)
    return None


def enum(value: object) -> str | int | None:
    """A protojson enum: its name, or its number from encoders that write numbers."""
    return value if isinstance(value, str | int) and not isinstance(value, bool) else None


def verify(
    *,
    headers: Mapping[str, str],
    body: bytes,
    api_key: str,
    api_secret: str,
    now: datetime,
    leeway: timedelta = LEEWAY,
) -> Delivery:
    """One delivery, one event. The token must be signed by our key's secret, unexpired at `now`
    (with `leeway`), and its `sha256` claim match the raw body."""
    body = raw(body)
    claims = _claims(headers, api_key, require_secret(api_secret, "LiveKit API secret"))
    _check_window(claims, now, leeway)
    _check_body(claims.get("sha256"), body)
    payload = obj(load_json(body), "the body")
    name = payload.get("event")
    name = name if isinstance(name, str) else ""
    kind = _KINDS.get(name, Kind.OTHER)
    room = opt_obj(payload.get("room"))
    person = opt_obj(payload.get("participant"))
    egress = opt_obj(payload.get("egressInfo"))
    ident = opt_text(payload, "id")
    stamp = payload.get("createdAt")
    if ident:
        key = bounded(ident)
    else:  # servers before the event `id` existed
        key = dedupe_key(name, room.get("sid"), person.get("sid"), egress.get("egressId"), stamp)
    if kind in _PEOPLE and enum(person.get("kind")) in NOT_PEOPLE:
        kind = Kind.OTHER
    details = recording(egress) if kind is Kind.RECORDING_READY else {}
    if kind is Kind.RECORDING_READY and not details:
        kind = Kind.OTHER  # failed, aborted, or streamed only: nothing to archive
    ref = RoomRef(key=opt_text(room, "name") or opt_text(egress, "roomName"))
    if kind not in _ATTENDANCE:
        at = instant_or(int64(stamp), per_second=1, fallback=now)
        return _one(ProviderEvent(PROVIDER, kind, key, at, ref, details=details))
    if ref.key is None:
        malformed("'room.name' is missing")
    if kind not in _PEOPLE:
        return _one(ProviderEvent(PROVIDER, kind, key, _time(payload, "createdAt", 1), ref))
    if not person:
        malformed(f"a {name} event without 'participant'")
    who = Who(
        # Each connection has its own sid; LiveKit lets an identity in once (a second join
        # with it disconnects the first), so a sid's join and leave pair up.
        connection=text(person, "sid"),
        seat_id=opt_text(person, "identity"),
        name=opt_text(person, "name"),
    )
    if kind is Kind.JOINED and person.get("joinedAtMs") is not None:  # their own join time
        at = _time(person, "joinedAtMs", 1000)
    elif kind is Kind.JOINED and person.get("joinedAt") is not None:
        at = _time(person, "joinedAt", 1)
    else:
        at = _time(payload, "createdAt", 1)
    return _one(ProviderEvent(PROVIDER, kind, key, at, ref, who))


def _claims(headers: Mapping[str, str], api_key: str, secret: str) -> Obj:
    value = header(headers, "authorization")
    if value is None or not value.strip():
        raise WebhookRejected("no Authorization header")
    token = _BEARER.sub("", value.strip(), count=1)
    if not isinstance(api_key, str) or not api_key:
        raise WebhookRejected("no LiveKit API key is configured: deliveries are refused")
    try:
        with warnings.catch_warnings():
            # The key is the LiveKit server's API secret, which we do not choose.
            warnings.simplefilter("ignore", jwt.InsecureKeyLengthWarning)
            claims = jwt.decode(
                token,
                secret,
                algorithms=["HS256"],
                issuer=api_key,
                options={
                    "require": ["exp", "iss"],
                    "verify_exp": False,  # checked against the injected `now` below
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
    except (jwt.PyJWTError, ValueError) as error:
        raise WebhookRejected(f"the Authorization token is not valid: {error}") from None
    return obj(claims, "the token's claims")


def _check_window(claims: Obj, now: datetime, leeway: timedelta) -> None:
    current, slack = now.timestamp(), leeway.total_seconds()
    for claim in ("exp", "nbf"):
        value = claims.get(claim)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise WebhookRejected(f"the token's {claim!r} is not a number")
        if (current > value + slack) if claim == "exp" else (current < value - slack):
            raise WebhookRejected(f"the token is outside its {claim!r}: stale or replayed")


def _check_body(claim: object, body: bytes) -> None:
    if not isinstance(claim, str) or not claim:
        raise WebhookRejected("the token has no 'sha256' claim")
    try:
        given = base64.b64decode(claim, validate=True)
    except ValueError:  # binascii.Error, and non-ASCII text
        raise WebhookRejected("the token's 'sha256' claim is not base64") from None
    if not hmac.compare_digest(given, hashlib.sha256(body).digest()):
        raise WebhookRejected("the body does not match the token's 'sha256' claim")


def _time(source: Obj, field: str, per_second: int) -> datetime:
    return instant(int64(source.get(field)), per_second=per_second, what=repr(field))


def recording(egress: Obj) -> dict[str, str]:
    """Where an egress saved its file, when it saved one: `url` (the upload's location),
    `duration` in whole seconds, `filename`, `egress_id`."""
    if enum(egress.get("status")) not in _SAVED:
        return {}
    files = egress.get("fileResults")
    found = [item for item in files if isinstance(item, dict)] if isinstance(files, list) else []
    legacy = egress.get("file")  # the single FileInfo of servers before `fileResults`
    if isinstance(legacy, dict):
        found.append(legacy)
    for item in found:
        location = opt_text(item, "location")
        if not location:
            continue
        nanoseconds = int64(item.get("duration"))
        details = {
            "url": location,
            "duration": str(round(nanoseconds / 10**9))
            if nanoseconds is not None and nanoseconds >= 0
            else None,
            "filename": opt_text(item, "filename"),
            "egress_id": opt_text(egress, "egressId"),
        }
        return {name: value for name, value in details.items() if value}
    return {}


def _one(event: ProviderEvent) -> Delivery:
    return Delivery(events=(event,))
