"""Microsoft Graph change notifications for a Teams meeting's call events (reference/teams.md,
section 7): the subscription handshake, lifecycle notifications, and rich notifications, whose
content Graph encrypts for our certificate.

A room's subscription sends its notifications to `/webhooks/teams/{room key}`, and its
`clientState` is a keyed hash of that room key (`client_state`): a notification is trusted only
with the state of the room it came to, so one room's cannot be replayed into another. A rich
notification is then checked as Microsoft documents: every validation token is a JWT signed by
a key of the identity platform's published set, for our app (`aud`), from our tenant (`iss`),
issued to Graph's notification publisher (`appid`), and not expired at the delivery's time
(give or take Graph's 4 hours of retries); then its content is decrypted with our key
(`teams_certificate`).

The roster's `participants@delta` names each participant leg that changed: without
`removedState` and out of the lobby it is in the call (a join; a leg already in joins again,
which presence ignores), with `removedState` it has left. Graph gives a participant's name and
their Entra id, never an email: attendance matches them to our people by name, and the
attendance report after the meeting (with emails) is the record (`TeamsProvider.attendance_report`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

from ._webhook_util import (
    Obj,
    dedupe_key,
    load_json,
    malformed,
    obj,
    opt_obj,
    opt_text,
    same,
    signed_claims,
)
from .events import (
    Delivery,
    Kind,
    ProviderEvent,
    RoomRef,
    WebhookMalformed,
    WebhookRejected,
    WebhookRequest,
    Who,
)
from .rfc3339 import utc_time
from .teams_certificate import NotificationKey, decrypt

PROVIDER = "teams"
GRAPH_PUBLISHER = "0bf30f3b-4a52-48df-9a82-234910c4a086"  # appid of Graph's validation tokens
LEEWAY = timedelta(minutes=5)
# Graph sends a notification again for up to 4 hours while we do not answer 2xx, possibly with
# the tokens of its first try: those are accepted that long after they expire. A replay within
# that window repeats events the inbox already holds (same keys), so it changes nothing.
RETRIES = timedelta(hours=4)
MAX_ITEMS = 1000
MAX_TOKEN = 1024
_ROOM = re.compile(r"[a-z0-9-]{1,100}")
_IDENTITIES = (
    "user",
    "guest",
    "acsUser",
    "spoolUser",
    "phone",
    "applicationInstance",
    "application",
)


def client_state(secret: bytes, room: str) -> str:
    """The `clientState` of a room's subscription (43 characters; Graph allows 128)."""
    digest = hmac.new(secret, b"teams-client-state:" + room.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def check_tokens(
    tokens: object,
    *,
    signing_key: Callable[[str], Any | None],
    client_id: str,
    tenant_id: str,
    now: datetime,
) -> None:
    """Every validation token of a delivery holds (at least one must be there)."""
    if not isinstance(tokens, list) or not tokens:
        raise WebhookRejected("rich notifications without validation tokens")
    issuer = f"https://sts.windows.net/{tenant_id}/"
    for token in tokens:
        if not isinstance(token, str):
            raise WebhookRejected("a validation token is not a string")
        claims = signed_claims(
            token,
            signing_key=signing_key,
            audience=client_id,
            issuer=issuer,
            what="a validation token",
        )
        if claims.get("appid", claims.get("azp")) != GRAPH_PUBLISHER:
            raise WebhookRejected("a validation token was not issued to Microsoft Graph")
        expires, begins = claims.get("exp"), claims.get("nbf", claims.get("iat"))
        stamp = now.timestamp()
        late = (RETRIES + LEEWAY).total_seconds()
        if not isinstance(expires, int | float) or stamp > expires + late:
            raise WebhookRejected("a validation token has expired")
        if isinstance(begins, int | float) and stamp < begins - LEEWAY.total_seconds():
            raise WebhookRejected("a validation token is not valid yet")


def verify(
    request: WebhookRequest,
    *,
    secret: bytes,
    key: NotificationKey | None,
    signing_key: Callable[[str], Any | None],
    client_id: str,
    tenant_id: str,
) -> Delivery:
    """Reads one POST to `/webhooks/teams/{room}`: the handshake (echo the token, as plain
    text), or notifications (see the module's docstring)."""
    room = request.path
    if not _ROOM.fullmatch(room):
        raise WebhookRejected("notifications come to the address of their room")
    token = parse_qs(request.query).get("validationToken")
    if token:  # Graph's handshake carries no credential: echoed, and nothing else done
        if len(token[0]) > MAX_TOKEN:
            malformed("the validation token is too long")
        return Delivery((), reply=token[0])
    document = obj(load_json(request.body), "the body")
    items = document.get("value")
    if not isinstance(items, list) or not items or len(items) > MAX_ITEMS:
        malformed("'value' is not a list of notifications")
    expected = client_state(secret, room)
    notes = [obj(item, "a notification") for item in items]
    for note in notes:
        given = note.get("clientState")
        if not isinstance(given, str) or not same(given, expected):
            raise WebhookRejected("the notification's clientState is not this room's")
    events: list[ProviderEvent] = []
    rich = [note for note in notes if "lifecycleEvent" not in note]
    if rich:
        if key is None:
            raise WebhookRejected("rich notifications need RDV_TEAMS_CERTIFICATE")
        check_tokens(
            document.get("validationTokens"),
            signing_key=signing_key,
            client_id=client_id,
            tenant_id=tenant_id,
            now=request.now,
        )
    for note in notes:
        if "lifecycleEvent" in note:
            events.append(_lifecycle(note, room, request.now))
            continue
        content = opt_obj(note.get("encryptedContent"))
        if not content:
            malformed("a notification without its content (a basic subscription?)")
        assert key is not None  # checked above for every rich notification
        call = obj(load_json(decrypt(content, key), "the content"), "the call event")
        events += _call_events(call, room, request.now)
    return Delivery(tuple(events))


def _lifecycle(note: Obj, room: str, now: datetime) -> ProviderEvent:
    """What Graph says of the subscription (removed, missed, reauthorize): kept as an alarm that
    the next pass of subscriptions acts on."""
    alarm = opt_text(note, "lifecycleEvent") or "unknown"
    subscription = opt_text(note, "subscriptionId") or ""
    expires = opt_text(note, "subscriptionExpirationDateTime") or ""
    return ProviderEvent(
        PROVIDER,
        Kind.OTHER,
        dedupe_key(PROVIDER, "lifecycle", room, subscription, alarm, expires, now.isoformat()),
        now,
        RoomRef(key=room),
        details={"alarm": alarm[:60], "subscription": subscription[:200]},
    )


def _call_events(call: Obj, room: str, now: datetime) -> list[ProviderEvent]:
    kind = opt_text(call, "eventType")
    at = utc_time(call.get("eventDateTime"))
    if at is None:
        raise WebhookMalformed("the call event has no readable eventDateTime")
    ref = RoomRef(key=room)
    if kind in ("callStarted", "callEnded"):
        found = Kind.ROOM_STARTED if kind == "callStarted" else Kind.ROOM_ENDED
        return [
            ProviderEvent(
                PROVIDER, found, dedupe_key(PROVIDER, room, kind, at.isoformat()), at, ref
            )
        ]
    if kind != "rosterUpdated":
        return []
    people = call.get("participants@delta")
    if not isinstance(people, list):
        malformed("a roster update without 'participants@delta'")
    return list(_roster(people, room, at))


def _roster(people: list[object], room: str, at: datetime) -> Iterable[ProviderEvent]:
    ref = RoomRef(key=room)
    for item in people:
        person = obj(item, "a participant")
        leg = opt_text(person, "id")
        if leg is None:
            malformed("a participant without an id")
        left = "removedState" in person and person["removedState"] is not None
        if not left and person.get("isInLobby") is True:
            continue  # waiting in the lobby is not being in the meeting
        identity = opt_obj(opt_obj(person.get("info")).get("identity"))
        named = next(
            (opt_obj(identity.get(kind)) for kind in _IDENTITIES if opt_obj(identity.get(kind))),
            opt_obj(None),
        )
        kind = Kind.LEFT if left else Kind.JOINED
        yield ProviderEvent(
            PROVIDER,
            kind,
            dedupe_key(PROVIDER, room, leg, kind.value, at.isoformat()),
            at,
            ref,
            Who(connection=leg, name=opt_text(named, "displayName")),
        )
