"""Janus webhooks: the sample event handler (`janus.eventhandler.sampleevh`) POSTs a JSON array
of events (one object without grouping) with HTTP Basic credentials and nothing signed.

Only VideoRoom plugin events (type 64) matter; the many core, session, handle and transport
events are dropped, so a delivery may hold no event at all. Our join page joins with the numeric
`id` = attendee id (`Seat.number`).
"""

from __future__ import annotations

import base64
import hmac
from collections.abc import Mapping
from datetime import datetime

from ._webhook_util import (
    clean,
    credentials,
    dedupe_key,
    instant,
    load_json,
    malformed,
    obj,
    opt_int,
    opt_text,
    raw,
    utf8,
)
from .events import Delivery, Kind, ProviderEvent, RoomRef, WebhookRejected, Who

PROVIDER = "janus"
PLUGIN_EVENT = 64
PLUGIN = "janus.plugin.videoroom"
_KINDS: Mapping[str, Kind] = {
    "joined": Kind.JOINED,
    "leaving": Kind.LEFT,
    "kicked": Kind.LEFT,
    "created": Kind.ROOM_STARTED,
    "destroyed": Kind.ROOM_ENDED,
}
_PEOPLE = frozenset({Kind.JOINED, Kind.LEFT})
_JANUS_IDS = 2**64  # Janus session, handle and room ids are unsigned 64-bit
_SEAT_NUMBERS = 2**53  # our join page picks ids as JavaScript numbers


def verify_event_handler(
    *,
    headers: Mapping[str, str],
    body: bytes,
    user: str | None,
    password: str | None,
    now: datetime,
) -> Delivery:
    """A delivery's VideoRoom joins, leaves and room starts/ends. Janus can post without
    credentials; such a handler is refused here, so `user` and `password` are required."""
    _check_basic(headers, user, password)
    payload = load_json(raw(body))
    items = payload if isinstance(payload, list) else [payload]
    events = (_event(obj(item, "an event")) for item in items)
    return Delivery(events=tuple(event for event in events if event is not None))


def _check_basic(headers: Mapping[str, str], user: str | None, password: str | None) -> None:
    if not isinstance(user, str) or not user or not isinstance(password, str) or not password:
        raise WebhookRejected("no Janus event handler credentials are configured: refused")
    token = credentials(headers, "Basic")
    if token is None:
        raise WebhookRejected("no Authorization header")
    try:
        decoded = base64.b64decode(token, validate=True)
    except ValueError:  # binascii.Error, and non-ASCII text
        raise WebhookRejected("the Basic credentials are not base64") from None
    given_user, colon, given_password = decoded.partition(b":")
    # Both compared, always, so the time taken does not tell which one was wrong.
    user_ok = hmac.compare_digest(given_user, utf8(user))
    password_ok = hmac.compare_digest(given_password, utf8(password))
    if not (colon and user_ok and password_ok):
        raise WebhookRejected("wrong Basic credentials")


def _event(item: Mapping[str, object]) -> ProviderEvent | None:
    if opt_int(item.get("type")) != PLUGIN_EVENT:
        return None
    inner = item.get("event")
    if not isinstance(inner, dict) or inner.get("plugin") != PLUGIN:
        return None
    data = obj(inner.get("data"), "the plugin event's 'data'")
    name = data.get("event")
    kind = _KINDS.get(name) if isinstance(name, str) else None
    if kind is None:  # published, configured, subscribing, talking...: not presence
        return None
    # Janus leaves `session_id` and `handle_id` out of `leaving` and `unpublished` events (seen
    # with 1.1.2): optional, but checked when present.
    session = _opt_id(item, "session_id")
    handle = _opt_id(item, "handle_id")
    stamp = item.get("timestamp")
    at = instant(stamp, per_second=1_000_000, what="'timestamp'")
    room = _room(data.get("room"))
    if session is not None and handle is not None:
        key = dedupe_key(session, handle, PLUGIN_EVENT, stamp, name)
    else:
        key = dedupe_key("room", data.get("room"), data.get("id"), PLUGIN_EVENT, stamp, name)
    who = None
    if kind in _PEOPLE:
        number = _number(data.get("id"))
        # A participant id is unique in its room while they are in it (Janus refuses a second
        # join with the same id), and both `joined` and `leaving` carry it: the connection.
        who = Who(
            connection=clean(f"{room.number or room.key}/{data.get('id')}"),
            seat_number=number if number is not None and 0 < number < _SEAT_NUMBERS else None,
            name=opt_text(data, "display"),
        )
    return ProviderEvent(PROVIDER, kind, key, at, room, who)


def _opt_id(item: Mapping[str, object], name: str) -> int | None:
    return None if item.get(name) is None else _id(item.get(name), f"'{name}'")


def _number(value: object) -> int | None:
    """A Janus id as a number: ints, or digit strings when the server runs with `string_ids`."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 20:
        return int(value)
    return opt_int(value)


def _id(value: object, what: str) -> int:
    number = _number(value)
    if number is None or not 0 <= number < _JANUS_IDS:
        malformed(f"{what} is missing or not a Janus id")
    return number


def _room(value: object) -> RoomRef:
    number = _number(value)
    if number is not None and 0 < number < _JANUS_IDS:
        return RoomRef(number=number)
    if number is None and isinstance(value, str) and clean(value).strip():
        return RoomRef(key=clean(value))  # a string room id (`string_ids = true`)
    malformed("'room' is missing or not a Janus room id")
