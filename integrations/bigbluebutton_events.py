"""BigBlueButton webhooks: bbb-webhooks v3 callbacks (a checksum over callback URL + raw body +
shared secret in the query, or `Authorization: Bearer <secret>` in auth2_0 mode) and the
recording-ready callback (an HS256 JWT in the form field `signed_parameters`).

bbb-webhooks keeps the body's `timestamp` fixed across its ~5 minutes of retries and signs no
time, so there is no freshness window here: the checksum and the inbox's dedupe keys carry the
weight. Our join links put the seat id in `userID`, which comes back as `external-user-id`; our
room key is the `meetingID`.

Sources:
- https://github.com/bigbluebutton/bigbluebutton/blob/HEAD/docs/docs/development/webhooks.md
- https://github.com/bigbluebutton/bbb-webhooks/blob/HEAD/src/out/webhooks/callback-emitter.js
- https://github.com/bigbluebutton/bbb-webhooks/blob/HEAD/config/default.example.yml (retries)
- https://docs.bigbluebutton.org/development/api ("Recording ready callback URL")
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Mapping
from datetime import datetime
from urllib.parse import parse_qsl

import jwt

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

PROVIDER = "bigbluebutton"
_DIGESTS = {40: "sha1", 64: "sha256", 96: "sha384", 128: "sha512"}  # as BBB infers them
_KINDS: Mapping[str, Kind] = {
    "user-joined": Kind.JOINED,
    "user-left": Kind.LEFT,
    "meeting-created": Kind.ROOM_STARTED,
    "meeting-ended": Kind.ROOM_ENDED,
    "rap-publish-ended": Kind.RECORDING_READY,
}
_PEOPLE = frozenset({Kind.JOINED, Kind.LEFT})


def verify_hook(
    *,
    headers: Mapping[str, str],
    body: bytes,
    query: str,
    callback_url: str,
    secret: str,
    now: datetime,
) -> Delivery:
    """One bbb-webhooks callback: `callback_url` is the URL exactly as registered (what BBB
    signed), `query` the raw query string of the request, where BBB appended `checksum=`."""
    body = raw(body)
    secret = require_secret(secret, "BigBlueButton shared secret")
    checksums = [value for name, value in _pairs(query, WebhookRejected) if name == "checksum"]
    if len(checksums) > 1:
        raise WebhookRejected("more than one checksum")
    if checksums:
        _check_checksum(checksums[0], callback_url, body, secret)
    elif header(headers, "authorization") is None:
        raise WebhookRejected("neither a checksum nor an Authorization header")
    else:
        check_bearer(headers, secret)
    try:
        form = dict(reversed(_pairs(body.decode("utf-8"), ValueError)))
    except ValueError:
        malformed("the body is not a UTF-8 form")
    if "event" not in form:
        malformed("the form has no 'event'")
    found = load_json(form["event"], "'event'")
    items = found if isinstance(found, list) else [found]  # v3 sends an array, older a bare object
    return Delivery(events=tuple(_event(item, now) for item in items))


def _pairs(data: object, error: type[Exception]) -> list[tuple[str, str]]:
    if not isinstance(data, str):
        raise error("not a query string")
    try:
        return parse_qsl(data, keep_blank_values=True, errors="strict", max_num_fields=32)
    except ValueError as failure:
        raise error("not a query string") from failure


def _check_checksum(given: str, callback_url: object, body: bytes, secret: str) -> None:
    algorithm = _DIGESTS.get(len(given))
    if algorithm is None or not isinstance(callback_url, str):
        raise WebhookRejected("the checksum is not a SHA-1/256/384/512 hex digest")
    expected = hashlib.new(algorithm, utf8(callback_url) + body + utf8(secret)).hexdigest()
    if not same(given.lower(), expected):
        raise WebhookRejected("the checksum does not match the callback URL, body and secret")


def _event(item: object, now: datetime) -> ProviderEvent:
    data = obj(obj(item, "an event").get("data"), "an event's 'data'")
    name = opt_text(data, "id")
    kind = _KINDS.get(name or "", Kind.OTHER)
    attributes = opt_obj(data.get("attributes"))
    meeting = opt_obj(attributes.get("meeting"))
    user = opt_obj(attributes.get("user"))
    ts = opt_obj(data.get("event")).get("ts")
    key = dedupe_key(name, meeting.get("internal-meeting-id"), user.get("internal-user-id"), ts)
    if kind is Kind.RECORDING_READY and attributes.get("success") is False:
        kind = Kind.OTHER
    if kind in (Kind.OTHER, Kind.RECORDING_READY):
        room = RoomRef(key=opt_text(meeting, "external-meeting-id"))
        details = _recording(attributes) if kind is Kind.RECORDING_READY else {}
        at = instant_or(ts, per_second=1000, fallback=now)
        return ProviderEvent(PROVIDER, kind, key, at, room, details=details)
    at = instant(ts, per_second=1000, what="'event.ts'")
    room = RoomRef(key=text(meeting, "external-meeting-id"))
    who = None
    if kind in _PEOPLE:
        connection = text(user, "internal-user-id")
        external = opt_text(user, "external-user-id")
        # Without a `userID` BBB reuses its internal id: a guest, not one of our seats.
        seat = external if external != connection else None
        who = Who(connection=connection, seat_id=seat, name=opt_text(user, "name"))
    return ProviderEvent(PROVIDER, kind, key, at, room, who)


def _recording(attributes: Obj) -> Mapping[str, str]:
    found = {"record_id": opt_text(attributes, "record-id")}
    playback = opt_obj(attributes.get("recording")).get("playback")
    if isinstance(playback, list):
        playback = next((p for p in playback if isinstance(p, dict)), None)
    found["url"] = opt_text(opt_obj(playback), "link")
    return {name: value for name, value in found.items() if value}


def verify_recording_ready(*, body: bytes, secret: str, now: datetime) -> Delivery:
    """The recording-ready callback: `signed_parameters` carries `meeting_id` (our meetingID) and
    `record_id`. The token has no expiry (and the sender never retries), so idempotency on
    `record_id` is the replay defence; an `exp` or `nbf` it does carry is checked against `now`."""
    secret = require_secret(secret, "BigBlueButton shared secret")
    try:
        form = dict(reversed(_pairs(raw(body).decode("utf-8"), ValueError)))
    except ValueError:
        form = {}
    token = form.get("signed_parameters")
    if not token:
        raise WebhookRejected("no signed_parameters")
    try:
        with warnings.catch_warnings():
            # The key is the BBB server's shared secret, which we do not choose.
            warnings.simplefilter("ignore", jwt.InsecureKeyLengthWarning)
            claims = jwt.decode(
                token,
                secret,
                algorithms=["HS256"],
                options={"verify_exp": False, "verify_nbf": False, "verify_iat": False},
            )
    except (jwt.PyJWTError, ValueError) as error:
        raise WebhookRejected(f"signed_parameters is not a valid token: {error}") from None
    _check_window(claims, now)
    record_id = text(claims, "record_id")
    meeting_id = text(claims, "meeting_id")
    event = ProviderEvent(
        PROVIDER,
        Kind.RECORDING_READY,
        bounded(f"recording:{record_id}"),
        now,
        RoomRef(key=meeting_id),
        details={"record_id": record_id, "meeting_id": meeting_id},
    )
    return Delivery(events=(event,))


def _check_window(claims: Obj, now: datetime) -> None:
    current = now.timestamp()
    for claim in ("exp", "nbf"):
        value = claims.get(claim)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise WebhookRejected(f"signed_parameters has a non-numeric {claim!r}")
        if (current >= value) if claim == "exp" else (current < value):
            raise WebhookRejected(f"signed_parameters is outside its {claim!r}")
