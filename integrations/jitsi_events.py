"""Jitsi webhooks: the self-hosted jitsi-contrib `event_sync` component (a static bearer secret,
nothing signed) and JaaS (`X-Jaas-Signature`, HMAC-SHA256 over `"{t}.{raw body}"`).

Our join links put the seat id (`rdv-a<attendee id>`) in the JWT's `context.user.id`, which both
senders echo as the occupant's or participant's `id`.

Sources:
- https://github.com/jitsi-contrib/prosody-plugins/blob/HEAD/event_sync/README.md
- https://developer.8x8.com/jaas/docs/webhooks-signatures
- https://developer.8x8.com/jaas/docs/webhooks-payload
"""

from __future__ import annotations

import base64
import hmac
import re
from collections.abc import Mapping
from datetime import datetime, timedelta

from ._webhook_util import (
    Obj,
    bounded,
    check_bearer,
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
    same,
    text,
    utf8,
)
from .events import Delivery, Kind, ProviderEvent, RoomRef, WebhookRejected, Who

PROVIDER = "jitsi"
_ATTENDANCE = frozenset({Kind.ROOM_STARTED, Kind.ROOM_ENDED, Kind.JOINED, Kind.LEFT})
_PEOPLE = frozenset({Kind.JOINED, Kind.LEFT})

# event_name -> (kind, the time field, whether that field is on the occupant)
_SYNC: Mapping[str, tuple[Kind, str, bool]] = {
    "muc-room-created": (Kind.ROOM_STARTED, "created_at", False),
    "muc-room-destroyed": (Kind.ROOM_ENDED, "destroyed_at", False),
    "muc-occupant-joined": (Kind.JOINED, "joined_at", True),
    "muc-occupant-left": (Kind.LEFT, "left_at", True),
}
_UNKNOWN = (Kind.OTHER, "", False)
_TENANT = re.compile(r"\[[^\]]*\]")  # Prosody names a tenant's rooms `[tenant]room`

_JAAS: Mapping[str, Kind] = {
    "ROOM_CREATED": Kind.ROOM_STARTED,
    "ROOM_DESTROYED": Kind.ROOM_ENDED,
    "PARTICIPANT_JOINED": Kind.JOINED,
    "PARTICIPANT_LEFT": Kind.LEFT,
    "RECORDING_UPLOADED": Kind.RECORDING_READY,
}
_STAMP = re.compile(r"[0-9]{1,12}")


def verify_event_sync(
    *, headers: Mapping[str, str], body: bytes, secret: str, now: datetime
) -> Delivery:
    """One event_sync POST (room created/destroyed, occupant joined/left) as one event. Breakout
    rooms carry the main room's name, so their events are kept as OTHER, not as presence."""
    check_bearer(headers, require_secret(secret, "Jitsi webhook secret"))
    payload = obj(load_json(raw(body)), "the body")
    name = payload.get("event_name")
    kind, field, on_occupant = _SYNC.get(name if isinstance(name, str) else "", _UNKNOWN)
    occupant = opt_obj(payload.get("occupant"))
    stamp = (occupant if on_occupant else payload).get(field) if field else None
    key = dedupe_key(name, payload.get("room_jid"), occupant.get("occupant_jid"), stamp)
    if payload.get("is_breakout") is True:
        kind = Kind.OTHER
    if kind is Kind.OTHER:
        room = _sync_room(payload, required=False)
        at = instant_or(stamp, per_second=1, fallback=now)
        return _one(ProviderEvent(PROVIDER, kind, key, at, room))
    at = instant(stamp, per_second=1, what=field)
    who = None
    if kind in _PEOPLE:
        who = Who(
            connection=text(occupant, "occupant_jid"),
            seat_id=opt_text(occupant, "id"),
            name=opt_text(occupant, "name"),
            email=opt_text(occupant, "email"),
        )
    return _one(ProviderEvent(PROVIDER, kind, key, at, _sync_room(payload, required=True), who))


def _sync_room(payload: Obj, *, required: bool) -> RoomRef:
    name = opt_text(payload, "room_name")
    if name is None and (jid := opt_text(payload, "room_jid")):
        name = jid.partition("@")[0] or None
    if name is not None:
        name = _TENANT.sub("", name, count=1) if name.startswith("[") else name
    if required and not name:
        malformed("'room_name' is missing")
    return RoomRef(key=name or None)


def verify_jaas(
    *,
    headers: Mapping[str, str],
    body: bytes,
    secret: str,
    now: datetime,
    tolerance: timedelta = timedelta(minutes=5),
) -> Delivery:
    """One JaaS delivery. The signature must match and its `t` be within `tolerance` of `now`
    either way; the event's own time is `timestamp` (ms), since deliveries are not in order."""
    body = raw(body)
    key = utf8(require_secret(secret, "JaaS webhook secret"))
    stamp, signatures = _signature(header(headers, "x-jaas-signature"))
    mac = hmac.digest(key, stamp.encode() + b"." + body, "sha256")
    expected = base64.b64encode(mac)
    matched = False
    for given in signatures:  # every candidate compared, in constant time each
        matched |= same(given, expected)
    if not matched:
        raise WebhookRejected("the X-Jaas-Signature does not match the body")
    if abs(now.timestamp() - int(stamp)) > tolerance.total_seconds():
        raise WebhookRejected("the X-Jaas-Signature timestamp is outside the accepted window")
    payload = obj(load_json(body), "the body")
    dedupe = bounded(text(payload, "idempotencyKey"))
    event_type = payload.get("eventType")
    kind = _JAAS.get(event_type, Kind.OTHER) if isinstance(event_type, str) else Kind.OTHER
    data = opt_obj(payload.get("data"))
    if data.get("isBreakout") is True:
        kind = Kind.OTHER
    if kind not in _ATTENDANCE:
        at = instant_or(payload.get("timestamp"), per_second=1000, fallback=now)
        room = _jaas_room(payload, required=False)
        details = _recording(data) if kind is Kind.RECORDING_READY else {}
        return _one(ProviderEvent(PROVIDER, kind, dedupe, at, room, details=details))
    at = instant(payload.get("timestamp"), per_second=1000, what="'timestamp'")
    who = None
    if kind in _PEOPLE:
        data = obj(payload.get("data"), "'data'")
        connection = next(
            (c for f in ("participantId", "participantJid", "id") if (c := opt_text(data, f))),
            None,
        )
        if connection is None:
            malformed("the participant has no 'participantId'")
        who = Who(
            connection=connection,
            seat_id=opt_text(data, "id"),
            name=opt_text(data, "name"),
            email=opt_text(data, "email"),
        )
    room = _jaas_room(payload, required=True)
    return _one(ProviderEvent(PROVIDER, kind, dedupe, at, room, who))


def _signature(value: str | None) -> tuple[str, list[str]]:
    """`t=<unix s>,v1=<base64>[,v1=…]` as the signed `t` and the signatures; schemes other
    than v1 are ignored."""
    if value is None:
        raise WebhookRejected("no X-Jaas-Signature header")
    stamps: list[str] = []
    signatures: list[str] = []
    for part in value.split(",")[:16]:
        name, _, given = part.strip().partition("=")
        if name == "t":
            stamps.append(given)
        elif name == "v1" and given:
            signatures.append(given)
    if len(stamps) != 1 or not _STAMP.fullmatch(stamps[0]) or not signatures:
        raise WebhookRejected("the X-Jaas-Signature header is not t=<seconds>,v1=<signature>")
    return stamps[0], signatures


def _jaas_room(payload: Obj, *, required: bool) -> RoomRef:
    fqn = opt_text(payload, "fqn")
    room = fqn.rpartition("/")[2] if fqn else None
    if required and not room:
        malformed("'fqn' is missing or names no room")
    return RoomRef(key=room or None)


def _recording(data: Obj) -> Mapping[str, str]:
    duration = data.get("durationSec")
    found = {
        "url": opt_text(data, "preAuthenticatedLink"),
        "recording_id": opt_text(data, "recordingSessionId"),
        "duration": str(duration)
        if isinstance(duration, int | float) and not isinstance(duration, bool)
        else None,
    }
    return {name: value for name, value in found.items() if value}


def _one(event: ProviderEvent) -> Delivery:
    return Delivery(events=(event,))
