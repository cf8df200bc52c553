"""Google Meet's events as Pub/Sub pushes them (reference/meet.md, section 4): Workspace Events
publish a space's events on the operator's topic, and a push subscription of that topic POSTs
each to `/webhooks/meet` with an OIDC token.

The token is the only credential: an RS256 JWT signed with one of Google's published keys, for
`RDV_MEET_AUDIENCE` (`aud`), from Google (`iss`), issued to the push subscription's own service
account (`email`, verified: `RDV_MEET_PUSH_ACCOUNT`; anyone can have Google sign a token for
any audience), and not expired at the delivery's time. The message is a CloudEvent in binary
mode: its `ce-*` attributes say what happened (`ce-type`), to which space (`ce-subject`) and
when (`ce-time`), and its data names the resource (a conference record, a participant session,
a recording). A join or a leave names the participant's session only: who it is comes from
reading the participant afterwards (`MeetProvider.who`), and the conference records after the
meeting are the attendance (`MeetProvider.attendance_report`). What Workspace Events say of the
subscription itself
(suspended, about to expire, expired) is kept as an alarm for the pass of subscriptions.

[UNVERIFIED] That `ce-subject` names the space: Google documents the attribute for Chat events
only (reference/meet.md 4.1, 8.3). Every event therefore also keeps its subscription
(`ce-source`), and an alarm that names no space reaches its room through the subscription the
room keeps (`orchestrator/attendance/following.py`).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from ._webhook_util import (
    Obj,
    credentials,
    dedupe_key,
    load_json,
    malformed,
    obj,
    opt_obj,
    opt_text,
    signed_claims,
)
from .events import (
    Delivery,
    Kind,
    ProviderEvent,
    RoomRef,
    WebhookRejected,
    WebhookRequest,
    Who,
)
from .rfc3339 import utc_time

PROVIDER = "meet"
ISSUERS = ("https://accounts.google.com", "accounts.google.com")
LEEWAY = timedelta(minutes=1)
MEET = "google.workspace.meet."
LIFECYCLE = "google.workspace.events.subscription.v1."
SOURCE = "//workspaceevents.googleapis.com/"  # + the subscription's name, in ce-source
_KINDS = {
    "conference.v2.started": Kind.ROOM_STARTED,
    "conference.v2.ended": Kind.ROOM_ENDED,
    "participant.v2.joined": Kind.JOINED,
    "participant.v2.left": Kind.LEFT,
    "recording.v2.fileGenerated": Kind.RECORDING_READY,
}
_SPACE = re.compile(r"//meet\.googleapis\.com/(spaces/[A-Za-z0-9_-]{1,128})")
_SESSION = re.compile(
    r"(conferenceRecords/[^/]{1,200}/participants/[^/]{1,200})/participantSessions/[^/]{1,200}"
)


def check_token(
    headers: object,
    *,
    audience: str,
    account: str,
    signing_key: Callable[[str], Any | None],
    now: datetime,
) -> None:
    """The push's OIDC token holds (reference/meet.md 4.2), and was issued to the push's own
    service account: any Google account can have a token signed for any audience."""
    token = credentials(headers, "Bearer")
    if token is None:
        raise WebhookRejected("no Authorization header: a push subscription without OIDC?")
    claims = signed_claims(token, signing_key=signing_key, audience=audience, what="the token")
    if claims.get("iss") not in ISSUERS:
        raise WebhookRejected("the token was not issued by Google")
    if claims.get("email_verified") is not True:
        raise WebhookRejected("the token's account is not verified")
    email = claims.get("email")
    if not isinstance(email, str) or email.casefold() != account.casefold():
        raise WebhookRejected("the token is not the push subscription's (RDV_MEET_PUSH_ACCOUNT)")
    expires, issued, stamp = claims.get("exp"), claims.get("iat"), now.timestamp()
    if not isinstance(expires, int | float) or stamp > expires + LEEWAY.total_seconds():
        raise WebhookRejected("the token has expired")
    if isinstance(issued, int | float) and stamp < issued - LEEWAY.total_seconds():
        raise WebhookRejected("the token is not valid yet")


def verify(
    request: WebhookRequest,
    *,
    audience: str,
    account: str,
    signing_key: Callable[[str], Any | None],
) -> Delivery:
    """Reads one push: its token, then its event."""
    check_token(
        request.headers,
        audience=audience,
        account=account,
        signing_key=signing_key,
        now=request.now,
    )
    message = obj(obj(load_json(request.body), "the body").get("message"), "'message'")
    attributes = opt_obj(message.get("attributes"))
    kind = opt_text(attributes, "ce-type") or ""
    ident = opt_text(attributes, "ce-id") or opt_text(message, "messageId")
    if not ident:
        malformed("the message has no ce-id and no messageId")
    data = _data(message)
    at = utc_time(attributes.get("ce-time")) or utc_time(message.get("publishTime")) or request.now
    if kind.startswith(LIFECYCLE):
        source = (opt_text(attributes, "ce-source") or "").removeprefix(SOURCE)
        return Delivery((_alarm(kind, data, ident, at, source),))
    found = _KINDS.get(kind.removeprefix(MEET)) if kind.startswith(MEET) else None
    subject = _SPACE.fullmatch(opt_text(attributes, "ce-subject") or "")
    if found is None or subject is None:  # authentic, nothing rdv acts on
        return Delivery(
            (ProviderEvent(PROVIDER, Kind.OTHER, dedupe_key(PROVIDER, ident), at, RoomRef()),)
        )
    room = RoomRef(key=subject.group(1))
    key = dedupe_key(PROVIDER, ident)
    source = (opt_text(attributes, "ce-source") or "").removeprefix(SOURCE)[:200]
    if found in (Kind.JOINED, Kind.LEFT):
        session = opt_text(opt_obj(data.get("participantSession")), "name") or ""
        named = _SESSION.fullmatch(session)
        if named is None:
            malformed("a participant event without its participant session")
        who = Who(connection=session)
        details = {"participant": named.group(1), "session": session, "subscription": source}
        return Delivery((ProviderEvent(PROVIDER, found, key, at, room, who, details),))
    if found is Kind.RECORDING_READY:
        recording = opt_text(opt_obj(data.get("recording")), "name") or ""
        if not recording.startswith("conferenceRecords/"):
            malformed("a recording event without its recording")
        return Delivery(
            (ProviderEvent(PROVIDER, found, key, at, room, details={"recording": recording}),)
        )
    record = opt_text(opt_obj(data.get("conferenceRecord")), "name") or ""
    return Delivery(
        (ProviderEvent(PROVIDER, found, key, at, room, details={"conference": record}),)
    )


def _data(message: Obj) -> Obj:
    raw = message.get("data")
    if raw is None:
        return {}
    if not isinstance(raw, str):
        malformed("the message's data is not base64")
    try:
        decoded = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        malformed("the message's data is not base64")
    return obj(load_json(decoded, "the message's data"), "the message's data")


def _alarm(kind: str, data: Obj, ident: str, at: datetime, source: str) -> ProviderEvent:
    """What Workspace Events say of a subscription, kept for the pass of subscriptions: in the
    room of the space it follows when the data says which, and always with its name."""
    subscription = opt_obj(data.get("subscription"))
    target = _SPACE.fullmatch(opt_text(subscription, "targetResource") or "")
    name = opt_text(subscription, "name") or source
    alarm = kind.removeprefix(LIFECYCLE)
    return ProviderEvent(
        PROVIDER,
        Kind.OTHER,
        dedupe_key(PROVIDER, ident),
        at,
        RoomRef(key=target.group(1) if target else None),
        details={"alarm": alarm[:60], "subscription": name[:200]},
    )
