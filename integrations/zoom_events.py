"""Zoom webhooks: `x-zm-signature: v0=hex(HMAC-SHA256(secret, "v0:{timestamp}:{raw body}"))` with
`x-zm-request-timestamp` (unix seconds), the `endpoint.url_validation` challenge, and the meeting
events (https://developers.zoom.us/changelog/platform/webhook-url-validation.md,
https://github.com/zoom/webhook-sample/blob/HEAD/index.js).

The freshness window is 90 minutes back and 5 minutes ahead. Zoom retries 5, 25 and 85 minutes
after the first attempt (https://developers.zoom.us/blog/webhook-delays.md), and no source says
whether it stamps a retry anew: a 5-minute window could refuse every retry and lose those joins
and leaves for good. A replay inside the wider window re-delivers an event the inbox already holds
(same bytes, same derived key), so it changes nothing; older captures and clocks far ahead are
refused.

Meeting ids drift between a number (create answers, `recording.completed`) and a string
(participant events): both become the decimal string our rooms are known by. A participant who
came through their personal registrant link carries `registrant_id` (as `Who.seat_id`: what our
link put in) and the email they registered with.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from ._webhook_util import (
    EARLIEST,
    LATEST,
    Obj,
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

PROVIDER = "zoom"
PAST = timedelta(minutes=90)  # the last of Zoom's retries comes 85 minutes after the first try
FUTURE = timedelta(minutes=5)  # clock skew
VALIDATION = "endpoint.url_validation"
_KINDS: Mapping[str, Kind] = {
    "meeting.started": Kind.ROOM_STARTED,
    "meeting.ended": Kind.ROOM_ENDED,
    "meeting.participant_joined": Kind.JOINED,
    "meeting.participant_left": Kind.LEFT,
    "recording.completed": Kind.RECORDING_READY,
}
# The field that holds each kind's own time (on the participant for joins and leaves).
_TIMES: Mapping[Kind, str] = {
    Kind.ROOM_STARTED: "start_time",
    Kind.ROOM_ENDED: "end_time",
    Kind.JOINED: "join_time",
    Kind.LEFT: "leave_time",
}
_STAMP = re.compile(r"[0-9]{1,11}")  # seconds up to the year 5138: no overflow
_MEETING_ID = re.compile(r"[0-9]{1,20}")


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The `x-zm-signature` Zoom sends for this body at this timestamp."""
    message = b"v0:" + utf8(timestamp) + b":" + body
    return "v0=" + hmac.new(utf8(secret), message, hashlib.sha256).hexdigest()


def encrypted_token(secret: str, plain_token: str) -> str:
    """The answer to a URL-validation challenge: hex(HMAC-SHA256(secret, plainToken))."""
    return hmac.new(utf8(secret), utf8(plain_token), hashlib.sha256).hexdigest()


def meeting_id(value: object) -> str | None:
    """A meeting id as the decimal string our rooms use, whether it came as a number or text."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        return str(value) if 0 < value < 10**20 else None
    if isinstance(value, str):
        digits = value.replace(" ", "").strip()
        return digits if _MEETING_ID.fullmatch(digits) else None
    return None


def verify(*, headers: Mapping[str, str], body: bytes, secret: str, now: datetime) -> Delivery:
    """One Zoom delivery, the URL-validation challenge included (the official sample checks its
    signature too): its events, or the challenge's answer in `Delivery.reply`."""
    body = raw(body)
    secret = require_secret(secret, "Zoom webhook secret token")
    stamp = header(headers, "x-zm-request-timestamp")
    given = header(headers, "x-zm-signature")
    if stamp is None or given is None:
        raise WebhookRejected("no x-zm-signature or x-zm-request-timestamp header")
    if not _STAMP.fullmatch(stamp):
        raise WebhookRejected("x-zm-request-timestamp is not unix seconds")
    if not same(given.strip(), signature(secret, stamp, body)):
        raise WebhookRejected("x-zm-signature does not match the body and timestamp")
    signed_at = datetime.fromtimestamp(int(stamp), UTC)
    if not now - PAST <= signed_at <= now + FUTURE:
        raise WebhookRejected("x-zm-request-timestamp is outside the accepted window")
    document = obj(load_json(body), "the body")
    name = opt_text(document, "event") or ""
    payload = opt_obj(document.get("payload"))
    if name == VALIDATION:
        plain = text(payload, "plainToken")
        return Delivery(
            events=(),
            reply={"plainToken": plain, "encryptedToken": encrypted_token(secret, plain)},
        )
    return Delivery(events=(_event(name, document, payload, now),))


def _event(name: str, document: Obj, payload: Obj, now: datetime) -> ProviderEvent:
    kind = _KINDS.get(name, Kind.OTHER)
    meeting = opt_obj(payload.get("object"))
    event_ts = document.get("event_ts")
    uuid = meeting.get("uuid")
    room_id = meeting_id(meeting.get("id"))
    if kind in (Kind.OTHER, Kind.RECORDING_READY):
        at = instant_or(event_ts, per_second=1000, fallback=now)
        details = _recording(meeting) if kind is Kind.RECORDING_READY else {}
        key = dedupe_key(name, uuid, room_id, None if uuid else event_ts)
        return ProviderEvent(PROVIDER, kind, key, at, RoomRef(key=room_id), details=details)
    if room_id is None:
        malformed("'payload.object.id' is missing or not a meeting id")
    field = _TIMES[kind]
    if kind in (Kind.JOINED, Kind.LEFT):
        person = obj(meeting.get("participant"), "'payload.object.participant'")
        at = _when(person.get(field), event_ts, field)
        connection = next(
            (value for k in ("user_id", "participant_uuid", "id") if (value := _id(person, k))),
            None,
        )
        if connection is None:
            malformed("the participant has no 'user_id'")
        who = Who(
            connection=connection,
            seat_id=opt_text(person, "registrant_id"),
            name=opt_text(person, "user_name"),
            email=opt_text(person, "email"),
        )
        ident = _id(person, "participant_uuid") or connection
        key = dedupe_key(name, uuid, room_id, ident, person.get(field) or event_ts)
        return ProviderEvent(PROVIDER, kind, key, at, RoomRef(key=room_id), who)
    at = _when(meeting.get(field), event_ts, field)
    key = dedupe_key(name, uuid, room_id, meeting.get(field) or event_ts)
    return ProviderEvent(PROVIDER, kind, key, at, RoomRef(key=room_id))


def _id(source: Obj, key: str) -> str | None:
    """Participant ids come as text or as numbers, depending on the event and its age."""
    value = source.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return opt_text(source, key)


def _when(value: object, event_ts: object, field: str) -> datetime:
    """The event's own time: its ISO 8601 field (`join_time`, `end_time`…), else `event_ts`."""
    if isinstance(value, str) and value:
        try:
            at = datetime.fromisoformat(value)
        except ValueError:
            malformed(f"'{field}' is not an ISO 8601 time")
        try:  # year 1 an hour east of UTC, or 9999 west of it, is no date in UTC
            at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
        except OverflowError:
            malformed(f"'{field}' is out of range")
        if not EARLIEST <= at < LATEST:
            malformed(f"'{field}' is out of range")
        return at
    return instant(event_ts, per_second=1000, what=f"'{field}' or 'event_ts'")


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _recording(meeting: Obj) -> Mapping[str, str]:
    """The share page (with its passcode, as Zoom documents `recording_play_passcode`) and the
    length in minutes. The body's `download_token` lasts 24 h and is not kept."""
    url = opt_text(meeting, "share_url")
    passcode = opt_text(meeting, "recording_play_passcode")
    if url and passcode and "pwd=" not in url:
        url += ("&" if "?" in url else "?") + "pwd=" + quote(passcode, safe="")
    duration = meeting.get("duration")
    found = {
        "share_url": url,
        "duration": str(duration) if _count(duration) else None,
        "uuid": opt_text(meeting, "uuid"),
    }
    return {name: value for name, value in found.items() if value}
