"""Provider webhook verifiers: a delivery is trusted only with the right secret or signature,
read into the normalised events, and anything else is one of two refusals, never a crash."""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from support.webhook_signing import (
    basic_auth,
    bbb_checksum,
    bbb_checksum_url,
    bbb_form,
    bbb_query,
    bearer,
    recording_body,
    recording_jwt,
    sign_jaas,
)

from integrations.bigbluebutton_events import verify_hook, verify_recording_ready
from integrations.events import (
    Delivery,
    Kind,
    RoomRef,
    WebhookMalformed,
    WebhookRejected,
    Who,
)
from integrations.janus_events import verify_event_handler
from integrations.jitsi_events import verify_event_sync, verify_jaas

NOW = datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)  # unix 1700000000
T = 1700000000
REFUSED = (WebhookRejected, WebhookMalformed)


def utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def flip(body: bytes, index: int) -> bytes:
    """The body with one byte changed (to another printable byte)."""
    changed = ord("A") if body[index] != ord("A") else ord("B")
    return body[:index] + bytes([changed]) + body[index + 1 :]


# --- Jitsi event_sync (static bearer secret) ----------------------------------------------

SYNC_SECRET = "jitsi-event-sync-secret"
SYNC_HEADERS = {"authorization": bearer(SYNC_SECRET)}
ROOM_JID = "s12-abcdef@conference.meet.example.org"
OCCUPANT_JID = "14f01c40-5195-4a4d-8efb-f58b49d18741@meet.example.org/OWhl8jSh"


def sync_event(name: str = "muc-occupant-joined", **extra: Any) -> dict[str, Any]:
    occupant = {
        "name": "Ana Lima",
        "email": "ana@example.org",
        "id": "rdv-a12",
        "occupant_jid": OCCUPANT_JID,
        "joined_at": T - 60,
    }
    if name == "muc-occupant-left":
        occupant["left_at"] = T
    payload: dict[str, Any] = {
        "event_name": name,
        "room_name": "s12-abcdef",
        "room_jid": ROOM_JID,
        "is_breakout": False,
        "active_occupants_count": 1,
        "occupant": occupant,
    }
    if name.startswith("muc-room"):
        del payload["occupant"]
        payload["created_at"] = T - 600
    if name == "muc-room-destroyed":
        payload["destroyed_at"] = T
        payload["all_occupants"] = [occupant]
    payload.update(extra)
    return payload


def sync(payload: Any, headers: dict[str, str] = SYNC_HEADERS) -> Delivery:
    body = payload if isinstance(payload, bytes) else dumps(payload)
    return verify_event_sync(headers=headers, body=body, secret=SYNC_SECRET, now=NOW)


def test_event_sync_join_names_our_seat_the_connection_and_the_join_time() -> None:
    (event,) = sync(sync_event()).events
    assert event.kind is Kind.JOINED
    assert event.provider == "jitsi"
    assert event.room == RoomRef(key="s12-abcdef")
    assert event.who == Who(
        connection=OCCUPANT_JID, seat_id="rdv-a12", name="Ana Lima", email="ana@example.org"
    )
    assert event.at == utc(T - 60)
    assert event.at.tzinfo is UTC
    assert event.dedupe_key == json.dumps(
        ["muc-occupant-joined", ROOM_JID, OCCUPANT_JID, T - 60], separators=(",", ":")
    )


def test_event_sync_readme_example_leaves_at_left_at() -> None:
    readme = (
        b'{"event_name":"muc-occupant-left","room_name":"catchup","room_jid":"catchup@conference'
        b'.meet.mydomain.com","is_breakout":false,"active_occupants_count":3,"occupant":{"name":'
        b'"James Barrow","email":"j.barrow@domain.com","id":"00380324-a840-400d-880f-7ee0933b7556'
        b'","occupant_jid":"14f01c40-5195-4a4d-8efb-f58b49d18741@meet.mydomain.com/OWhl8jSh","jo'
        b'ined_at":1625823996,"left_at":1625824035}}'
    )
    (event,) = sync(readme).events
    assert (event.kind, event.at, event.room.key) == (Kind.LEFT, utc(1625824035), "catchup")
    assert event.who is not None
    assert event.who.seat_id == "00380324-a840-400d-880f-7ee0933b7556"


def test_event_sync_room_created_and_destroyed_are_the_room_start_and_end() -> None:
    (started,) = sync(sync_event("muc-room-created")).events
    (ended,) = sync(sync_event("muc-room-destroyed")).events  # all_occupants: no extra events
    assert (started.kind, started.at, started.who) == (Kind.ROOM_STARTED, utc(T - 600), None)
    assert (ended.kind, ended.at, ended.room) == (Kind.ROOM_ENDED, utc(T), RoomRef("s12-abcdef"))


def test_event_sync_breakout_and_unknown_events_are_kept_as_other() -> None:
    (breakout,) = sync(sync_event(is_breakout=True, breakout_room_id="b-1")).events
    (unknown,) = sync({"event_name": "muc-something-new"}).events
    assert breakout.kind is Kind.OTHER
    assert breakout.at == utc(T - 60)
    assert unknown.kind is Kind.OTHER
    assert unknown.at == NOW
    assert unknown.room == RoomRef()


def test_event_sync_text_is_made_storable() -> None:
    occupant = {**sync_event()["occupant"], "name": "\u0000Ana\ud800", "email": 5}
    (event,) = sync(sync_event(occupant=occupant)).events
    assert event.who is not None
    assert (event.who.name, event.who.email) == ("Ana?", None)


def test_event_sync_tenant_room_names_lose_the_tenant_prefix() -> None:
    (event,) = sync(sync_event(room_name="[acme]s12-abcdef")).events
    assert event.room == RoomRef(key="s12-abcdef")


def test_event_sync_redelivery_has_the_same_key_and_a_rejoin_a_new_one() -> None:
    first = sync(sync_event()).events[0]
    again = sync(sync_event()).events[0]
    rejoin = sync(sync_event(occupant={**sync_event()["occupant"], "occupant_jid": "x/2"}))
    assert first.dedupe_key == again.dedupe_key != rejoin.events[0].dedupe_key


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"authorization": "Bearer wrong-secret"},
        {"authorization": "Bearer " + SYNC_SECRET + "x"},
        {"authorization": "Basic " + SYNC_SECRET},
        {"authorization": "Bearer"},
        {"authorization": ""},
        {"authorization": SYNC_SECRET},
        {"x-other": bearer(SYNC_SECRET)},
    ],
)
def test_event_sync_without_the_right_bearer_is_rejected(headers: dict[str, str]) -> None:
    with pytest.raises(WebhookRejected):
        sync(sync_event(), headers)


def test_event_sync_header_name_case_does_not_matter() -> None:
    assert sync(sync_event(), {"Authorization": bearer(SYNC_SECRET)}).events


def test_event_sync_refuses_everything_without_a_configured_secret() -> None:
    with pytest.raises(WebhookRejected):
        verify_event_sync(headers={"authorization": "Bearer "}, body=b"{}", secret="", now=NOW)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        dumps(sync_event())[:-1],  # truncated
        dumps(sync_event())[:40],
        flip(dumps(sync_event()), 0),  # tampered: `{` changed
        b"\xff\xfe{}",
        b"[]",
        b"null",
        dumps(sync_event(occupant="ana")),
        dumps(sync_event(occupant={"id": "rdv-a12", "joined_at": T})),  # no occupant_jid
        dumps(sync_event(room_name=None, room_jid=None)),
        dumps(sync_event(occupant={**sync_event()["occupant"], "joined_at": "soon"})),
        dumps(sync_event(occupant={**sync_event()["occupant"], "joined_at": 10**30})),
        dumps(sync_event(occupant={**sync_event()["occupant"], "joined_at": (T - 60) * 1000})),
        b'{"event_name":"muc-occupant-joined","occupant":{"joined_at":NaN}}',
        b"[" * 100_000,
    ],
)
def test_event_sync_unreadable_bodies_are_malformed(body: bytes) -> None:
    with pytest.raises(WebhookMalformed):
        sync(body)


# --- JaaS (X-Jaas-Signature) -------------------------------------------------------------

JAAS_SECRET = "jaas_endpoint_secret"
VECTOR_J = (
    b'{"idempotencyKey":"d11f155d-ced5-4a7e-b6d9-aaa135c64f65","eventType":"PARTICIPANT_JOINED",'
    b'"timestamp":1700000000000,"fqn":"vpaas-magic-cookie-abc/room1","data":{"name":"Ann","id":'
    b'"u1","moderator":false}}'
)
VECTOR_J_SIGNATURE = "t=1700000000,v1=VNd+uFdUexzP/fuSfLRTPjqgjoIaSvxVSAoxVfT+uB8="


def jaas_event(event_type: str = "PARTICIPANT_JOINED", **data: Any) -> dict[str, Any]:
    return {
        "idempotencyKey": f"key-{event_type}",
        "customerId": "c2824d584eac4489a1e32e4e164d5a3c",
        "appId": "vpaas-magic-cookie-abc",
        "eventType": event_type,
        "sessionId": "c3348153-1027-4382-afad-5ae91b433c26",
        "timestamp": 1700000000112,
        "fqn": "vpaas-magic-cookie-abc/s12-abcdef",
        "data": {
            "conference": "s12-abcdef@conference.vpaas-magic-cookie-abc.8x8.vc",
            "isBreakout": False,
            "name": "Ana Lima",
            "email": "ana@example.org",
            "id": "rdv-a12",
            "participantId": "a1b2c3d4",
            **data,
        },
    }


def jaas(
    body: bytes | dict[str, Any],
    *,
    signature: str | None = None,
    now: datetime = NOW,
    **options: Any,
) -> Delivery:
    raw = body if isinstance(body, bytes) else dumps(body)
    signed = sign_jaas(raw, JAAS_SECRET, T) if signature is None else signature
    return verify_jaas(
        headers={"x-jaas-signature": signed}, body=raw, secret=JAAS_SECRET, now=now, **options
    )


def test_jaas_reference_vector_signs_and_verifies() -> None:
    assert sign_jaas(VECTOR_J, JAAS_SECRET, T) == VECTOR_J_SIGNATURE
    (event,) = jaas(VECTOR_J, signature=VECTOR_J_SIGNATURE).events
    assert event.kind is Kind.JOINED
    assert event.dedupe_key == "d11f155d-ced5-4a7e-b6d9-aaa135c64f65"
    assert event.at == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert event.room == RoomRef(key="room1")
    assert event.who == Who(connection="u1", seat_id="u1", name="Ann")


def test_jaas_participant_events_name_seat_connection_and_time() -> None:
    (joined,) = jaas(jaas_event()).events
    (left,) = jaas(jaas_event("PARTICIPANT_LEFT", disconnectReason="left")).events
    assert joined.who == Who("a1b2c3d4", "rdv-a12", None, "Ana Lima", "ana@example.org")
    assert (left.kind, left.at) == (Kind.LEFT, datetime(2023, 11, 14, 22, 13, 20, 112000, UTC))
    assert joined.room == left.room == RoomRef(key="s12-abcdef")


def test_jaas_room_and_recording_events() -> None:
    (created,) = jaas(jaas_event("ROOM_CREATED")).events
    (destroyed,) = jaas(jaas_event("ROOM_DESTROYED")).events
    recording = jaas_event(
        "RECORDING_UPLOADED",
        preAuthenticatedLink="https://recordings.example/r.mp4?sig=1",
        durationSec=1834,
        recordingSessionId="rec-77",
    )
    (ready,) = jaas(recording).events
    assert (created.kind, destroyed.kind, created.who) == (Kind.ROOM_STARTED, Kind.ROOM_ENDED, None)
    assert ready.kind is Kind.RECORDING_READY
    assert ready.details == {
        "url": "https://recordings.example/r.mp4?sig=1",
        "duration": "1834",
        "recording_id": "rec-77",
    }


def test_jaas_other_types_and_breakouts_are_other() -> None:
    (chat,) = jaas({"idempotencyKey": "k-chat", "eventType": "CHAT_UPLOADED"}).events
    (breakout,) = jaas(jaas_event(isBreakout=True)).events
    assert (chat.kind, chat.at, chat.room) == (Kind.OTHER, NOW, RoomRef())
    assert breakout.kind is Kind.OTHER


def test_jaas_duplicates_share_the_idempotency_key() -> None:
    assert jaas(jaas_event()).events == jaas(jaas_event()).events


def test_jaas_tampered_body_is_rejected_at_every_byte() -> None:
    signature = sign_jaas(VECTOR_J, JAAS_SECRET, T)
    for index in range(len(VECTOR_J)):
        with pytest.raises(WebhookRejected):
            jaas(flip(VECTOR_J, index), signature=signature)


@pytest.mark.parametrize(
    "signature",
    [
        sign_jaas(VECTOR_J, "another-secret", T),
        VECTOR_J_SIGNATURE.replace("t=1700000000", "t=1700000001"),  # signed t was changed
        "v1=VNd+uFdUexzP/fuSfLRTPjqgjoIaSvxVSAoxVfT+uB8=",
        "t=1700000000",
        "t=1700000000,v0=VNd+uFdUexzP/fuSfLRTPjqgjoIaSvxVSAoxVfT+uB8=",
        "t=1700000000,t=1700000000,v1=VNd+uFdUexzP/fuSfLRTPjqgjoIaSvxVSAoxVfT+uB8=",
        "t=-1,v1=x",
        "t=1e9,v1=x",
        "t=17000000000000000000000000,v1=x",
        "",
        "garbage",
        "t=,v1=",
        "t=1700000000,v1=VNd+uFdUexzP/fuSfLRTPjqgjoIaSvxVSAoxVfT+uB8",  # padding cut
        "t=1700000000,v1=ünïcode",
    ],
)
def test_jaas_bad_signature_headers_are_rejected(signature: str) -> None:
    with pytest.raises(WebhookRejected):
        jaas(VECTOR_J, signature=signature)


def test_jaas_missing_header_is_rejected() -> None:
    with pytest.raises(WebhookRejected):
        verify_jaas(headers={}, body=VECTOR_J, secret=JAAS_SECRET, now=NOW)


def test_jaas_extra_v1_and_other_schemes_are_tolerated() -> None:
    signature = f"t={T},v0=abc,v1=bm90LWl0,{VECTOR_J_SIGNATURE.split(',')[1]},scheme=x"
    assert jaas(VECTOR_J, signature=signature).events


def test_jaas_signature_covers_t_exactly_as_sent() -> None:
    signature = sign_jaas(VECTOR_J, JAAS_SECRET, T).replace(f"t={T}", f"t=0{T}")
    with pytest.raises(WebhookRejected):  # signed over "1700000000.", sent as "01700000000"
        jaas(VECTOR_J, signature=signature)


@pytest.mark.parametrize(
    ("now", "accepted"),
    [
        (NOW + timedelta(minutes=5), True),
        (NOW - timedelta(minutes=5), True),
        (NOW + timedelta(minutes=5, seconds=1), False),  # replayed later: stale
        (NOW - timedelta(minutes=5, seconds=1), False),  # from the future
        (NOW + timedelta(days=365), False),
    ],
)
def test_jaas_signature_timestamp_must_be_within_five_minutes(
    now: datetime, accepted: bool
) -> None:
    if accepted:
        assert jaas(VECTOR_J, signature=VECTOR_J_SIGNATURE, now=now).events
    else:
        with pytest.raises(WebhookRejected):
            jaas(VECTOR_J, signature=VECTOR_J_SIGNATURE, now=now)


def test_jaas_tolerance_is_configurable() -> None:
    later = NOW + timedelta(minutes=20)
    assert jaas(VECTOR_J, now=later, tolerance=timedelta(minutes=30)).events
    with pytest.raises(WebhookRejected):
        jaas(VECTOR_J, now=NOW + timedelta(seconds=2), tolerance=timedelta(seconds=1))


def test_jaas_truncated_and_empty_bodies() -> None:
    with pytest.raises(WebhookRejected):  # cut in transit: no longer what was signed
        jaas(VECTOR_J[:-5], signature=VECTOR_J_SIGNATURE)
    with pytest.raises(WebhookRejected):
        jaas(b"", signature=VECTOR_J_SIGNATURE)
    with pytest.raises(WebhookMalformed):  # signed as it is, but unreadable
        jaas(VECTOR_J[:-5])
    with pytest.raises(WebhookMalformed):
        jaas(b"")


@pytest.mark.parametrize(
    "payload",
    [
        b"\xff\xfe",
        b"[1, 2]",
        {"eventType": "PARTICIPANT_JOINED"},  # no idempotencyKey
        {**jaas_event(), "timestamp": "yesterday"},
        {**jaas_event(), "timestamp": 1700000000},  # seconds, not milliseconds: 1970
        {**jaas_event(), "timestamp": 10**300},
        {**jaas_event(), "timestamp": True},
        {**jaas_event(), "fqn": None},
        {**jaas_event(), "data": "ana"},
        {**jaas_event(), "data": {"name": "no ids"}},
    ],
)
def test_jaas_authentic_but_unreadable_is_malformed(payload: bytes | dict[str, Any]) -> None:
    with pytest.raises(WebhookMalformed):
        jaas(payload)


# --- BigBlueButton bbb-webhooks ----------------------------------------------------------

BBB_SECRET = "mysharedsecret"
CALLBACK = "https://app.example.com/bbb/hook"
VECTOR_B = (
    b"domain=bbb.example.com&event=%5B%7B%22data%22%3A%7B%22type%22%3A%22event%22%2C%22id%22%3A"
    b"%22user-joined%22%2C%22attributes%22%3A%7B%7D%2C%22event%22%3A%7B%22ts%22%3A1700000000000"
    b"%7D%7D%7D%5D&timestamp=1700000000123"
)
VECTOR_B_SHA1 = "c03b34cd67462530adfe92b8473a70e36452e704"
# The official fixture's `user-joined`:
# https://github.com/bigbluebutton/bbb-webhooks/blob/HEAD/example/events/mapped-events.json
FIXTURE_JOINED = {
    "data": {
        "type": "event",
        "id": "user-joined",
        "attributes": {
            "meeting": {
                "internal-meeting-id": "8043c8452ae9830aac14c517adff3839dbd9228f-1698771157700",
                "external-meeting-id": "random-9019868",
            },
            "user": {
                "internal-user-id": "w_xfsb9gxtlfom",
                "external-user-id": "w_xfsb9gxtlfom",
                "name": "John Doe",
                "role": "MODERATOR",
                "presenter": False,
                "guest": False,
            },
        },
        "event": {"ts": 1708381133689},
    }
}
MEETING = {"internal-meeting-id": "0a1b-1700000000000", "external-meeting-id": "s12-abcdef"}


def bbb_event(event_id: str, *, ts: int = 1700000000000, **attributes: Any) -> dict[str, Any]:
    found: dict[str, Any] = {"meeting": MEETING, **attributes}
    return {"data": {"type": "event", "id": event_id, "attributes": found, "event": {"ts": ts}}}


def published_recording(record_id: str, success: bool, **attributes: Any) -> dict[str, Any]:
    event = bbb_event("rap-publish-ended", **attributes)
    event["data"]["attributes"].update({"record-id": record_id, "success": success})
    return event


def seat_user(seat: str = "rdv-a12", internal: str = "w_k3j4h5g6f7d8") -> dict[str, Any]:
    return {"internal-user-id": internal, "external-user-id": seat, "name": "Ana Lima"}


def hook(
    body: bytes,
    *,
    query: str | None = None,
    headers: dict[str, str] | None = None,
    secret: str = BBB_SECRET,
    now: datetime = NOW,
) -> Delivery:
    query = bbb_query(CALLBACK, body, BBB_SECRET) if query is None else query
    return verify_hook(
        headers=headers or {},
        body=body,
        query=query,
        callback_url=CALLBACK,
        secret=secret,
        now=now,
    )


def test_bbb_reference_vector_checksum() -> None:
    assert bbb_checksum(CALLBACK, VECTOR_B, BBB_SECRET) == VECTOR_B_SHA1
    assert (
        bbb_checksum_url(CALLBACK, VECTOR_B, BBB_SECRET) == f"{CALLBACK}?checksum={VECTOR_B_SHA1}"
    )
    assert (
        bbb_form(
            [
                json.loads(
                    '{"data":{"type":"event","id":"user-joined","attributes":{},'
                    '"event":{"ts":1700000000000}}}'
                )
            ]
        )
        == VECTOR_B
    )
    # The checksum is right, so what is left is an event that names no meeting or user.
    with pytest.raises(WebhookMalformed):
        hook(VECTOR_B, query=f"checksum={VECTOR_B_SHA1}")
    with pytest.raises(WebhookRejected):
        hook(VECTOR_B, query=f"checksum={VECTOR_B_SHA1[:-1]}0")


def test_bbb_official_fixture_user_joined_is_a_guest_join() -> None:
    (event,) = hook(bbb_form([FIXTURE_JOINED])).events
    assert event.kind is Kind.JOINED
    assert event.provider == "bigbluebutton"
    assert event.room == RoomRef(key="random-9019868")
    assert event.at == datetime(2024, 2, 19, 22, 18, 53, 689000, tzinfo=UTC)
    # No `userID` in the join: BBB echoes its internal id, so this is nobody's seat.
    assert event.who == Who(connection="w_xfsb9gxtlfom", seat_id=None, name="John Doe")
    assert event.dedupe_key == json.dumps(
        [
            "user-joined",
            "8043c8452ae9830aac14c517adff3839dbd9228f-1698771157700",
            "w_xfsb9gxtlfom",
            1708381133689,
        ],
        separators=(",", ":"),
    )


def test_bbb_our_seat_joins_and_leaves() -> None:
    events = [
        bbb_event("meeting-created", ts=1700000000000),
        bbb_event("user-joined", ts=1700000001000, user=seat_user()),
        bbb_event("user-left", ts=1700000061000, user=seat_user()),
        bbb_event("meeting-ended", ts=1700000099000),
    ]
    delivered = hook(bbb_form(events)).events
    assert [e.kind for e in delivered] == [
        Kind.ROOM_STARTED,
        Kind.JOINED,
        Kind.LEFT,
        Kind.ROOM_ENDED,
    ]
    assert delivered[1].who == Who(connection="w_k3j4h5g6f7d8", seat_id="rdv-a12", name="Ana Lima")
    assert delivered[2].at - delivered[1].at == timedelta(minutes=1)
    assert {e.room for e in delivered} == {RoomRef(key="s12-abcdef")}


def test_bbb_bare_event_object_of_older_docs_is_read() -> None:
    (event,) = hook(bbb_form(bbb_event("user-joined", user=seat_user()))).events
    assert event.kind is Kind.JOINED


def test_bbb_recording_published_and_other_events() -> None:
    recording = {"playback": {"format": "presentation", "link": "https://bbb/playback/rec-1"}}
    published = published_recording("rec-1", True, recording=recording)
    failed = published_recording("rec-2", False)
    chat = bbb_event("chat-group-message-sent", ts=3)  # a time we do not need may be odd
    ready, other, chatted = hook(bbb_form([published, failed, chat])).events
    assert ready.kind is Kind.RECORDING_READY
    assert ready.details == {"record_id": "rec-1", "url": "https://bbb/playback/rec-1"}
    assert (other.kind, chatted.kind, chatted.at) == (Kind.OTHER, Kind.OTHER, NOW)


@pytest.mark.parametrize("algorithm", ["sha1", "sha256", "sha384", "sha512"])
def test_bbb_checksum_algorithm_is_inferred_from_its_length(algorithm: str) -> None:
    body = bbb_form([FIXTURE_JOINED])
    assert hook(body, query=bbb_query(CALLBACK, body, BBB_SECRET, algorithm)).events


def test_bbb_callback_url_with_a_query_of_its_own() -> None:
    body = bbb_form([FIXTURE_JOINED])
    url = CALLBACK + "?room=1"
    query = bbb_checksum_url(url, body, BBB_SECRET).partition("?")[2]
    assert query.startswith("room=1&checksum=")
    assert verify_hook(
        headers={}, body=body, query=query, callback_url=url, secret=BBB_SECRET, now=NOW
    ).events


def test_bbb_bearer_mode() -> None:
    body = bbb_form([FIXTURE_JOINED])
    assert hook(body, query="", headers={"authorization": bearer(BBB_SECRET)}).events
    with pytest.raises(WebhookRejected):
        hook(body, query="", headers={"authorization": bearer("wrong")})
    with pytest.raises(WebhookRejected):
        hook(body, query="", headers={"authorization": "Basic " + BBB_SECRET})


def test_bbb_has_no_freshness_window_retries_keep_their_timestamp() -> None:
    body = bbb_form([FIXTURE_JOINED], timestamp=1600000000000)
    assert hook(body, now=NOW + timedelta(days=400)).events


def test_bbb_duplicates_have_identical_keys() -> None:
    body = bbb_form([bbb_event("user-joined", user=seat_user())])
    assert hook(body).events == hook(body).events
    retried = bbb_form([bbb_event("user-joined", user=seat_user())], timestamp=1700000009999)
    assert hook(retried).events == hook(body).events


def test_bbb_tampered_body_is_rejected_at_every_byte() -> None:
    body = bbb_form([FIXTURE_JOINED])
    query = bbb_query(CALLBACK, body, BBB_SECRET)
    for index in range(len(body)):
        with pytest.raises(WebhookRejected):
            hook(flip(body, index), query=query)


@pytest.mark.parametrize(
    "query",
    [
        "",
        "checksum=",
        "checksum=" + "0" * 40,
        "checksum=" + "0" * 39,
        "checksum=not-a-checksum",
        "checksum=" + bbb_checksum(CALLBACK, bbb_form([FIXTURE_JOINED]), "wrong-secret"),
        "checksum="
        + bbb_checksum("https://elsewhere/hook", bbb_form([FIXTURE_JOINED]), BBB_SECRET),
        "checksum=%ff%fe",
        "checksum=a&checksum=b",
        "&".join(["x=1"] * 100),
    ],
)
def test_bbb_missing_or_wrong_checksums_are_rejected(query: str) -> None:
    with pytest.raises(WebhookRejected):
        hook(bbb_form([FIXTURE_JOINED]), query=query)


def test_bbb_checksum_is_compared_case_insensitively_and_uses_the_raw_body() -> None:
    body = bbb_form([FIXTURE_JOINED])
    assert hook(
        body, query=bbb_query(CALLBACK, body, BBB_SECRET).upper().replace("CHECKSUM", "checksum")
    ).events


@pytest.mark.parametrize(
    "body",
    [
        b"",
        VECTOR_B[:-30],  # truncated inside the event JSON
        b"domain=bbb.example.com&timestamp=1",
        b"event=%ff%fe",
        b"\xff\xfe",
        b"event=not-json",
        b"event=%5B1%5D",
        b"event=%7B%7D",
        bbb_form([{"data": "x"}]),
        bbb_form([bbb_event("user-joined")]),  # no user
        bbb_form([bbb_event("user-joined", ts=-5, user=seat_user())]),
        bbb_form([bbb_event("user-joined", ts=10**25, user=seat_user())]),
        bbb_form([{"data": {"id": "meeting-ended", "event": {"ts": 1700000000000}}}]),
    ],
)
def test_bbb_authentic_but_unreadable_is_malformed(body: bytes) -> None:
    with pytest.raises(WebhookMalformed):
        hook(body)


# --- BigBlueButton recording-ready callback ----------------------------------------------

REC_SECRET = "bbb-shared-secret-0123456789abcdef0123456789"


def recording(body: bytes, secret: str = REC_SECRET, now: datetime = NOW) -> Delivery:
    return verify_recording_ready(body=body, secret=secret, now=now)


def test_recording_ready_names_the_recording_and_the_meeting() -> None:
    (event,) = recording(recording_body("s12-abcdef", "0a1b-1700000000000", REC_SECRET)).events
    assert event.kind is Kind.RECORDING_READY
    assert event.dedupe_key == "recording:0a1b-1700000000000"
    assert event.room == RoomRef(key="s12-abcdef")
    assert event.details == {"record_id": "0a1b-1700000000000", "meeting_id": "s12-abcdef"}
    assert event.at == NOW


def test_recording_ready_has_no_expiry_so_a_redelivery_is_the_same_event() -> None:
    body = recording_body("s12-abcdef", "rec-1", REC_SECRET)
    (first,) = recording(body).events
    (later,) = recording(body, now=NOW + timedelta(days=30)).events
    assert (first.dedupe_key, first.details) == (later.dedupe_key, later.details)


def test_recording_ready_with_a_short_shared_secret() -> None:
    assert recording(recording_body("m", "r", "short"), secret="short").events


def _token(claims: dict[str, Any], key: str = REC_SECRET, algorithm: str = "HS256") -> bytes:
    return b"signed_parameters=" + jwt.encode(claims, key, algorithm=algorithm).encode()


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"signed_parameters=",
        b"other=1",
        b"\xff\xfe",
        b"signed_parameters=garbage",
        b"signed_parameters=a.b.c",
        recording_body("s12", "rec-1", "another-secret-of-the-same-length-0123456789"),
        recording_body("s12", "rec-1", REC_SECRET)[:-3],  # truncated
        flip(recording_body("s12", "rec-1", REC_SECRET), 40),  # tampered
        _token({"meeting_id": "m", "record_id": "r"}, REC_SECRET * 2, "HS512"),  # not HS256
        _token({"meeting_id": "m", "record_id": "r"}, "", "none"),
        _token({"meeting_id": "m", "record_id": "r", "exp": T - 1}),  # expired at `now`
        _token({"meeting_id": "m", "record_id": "r", "nbf": T + 60}),
        _token({"meeting_id": "m", "record_id": "r", "exp": "never"}),
    ],
)
def test_recording_ready_without_a_valid_token_is_rejected(body: bytes) -> None:
    with pytest.raises(WebhookRejected):
        recording(body)


@pytest.mark.parametrize(
    "claims",
    [{"meeting_id": "m"}, {"record_id": "r"}, {"meeting_id": 5, "record_id": "r"}],
)
def test_recording_ready_token_without_its_claims_is_malformed(claims: dict[str, Any]) -> None:
    with pytest.raises(WebhookMalformed):
        recording(_token(claims))


def test_recording_jwt_is_hs256_over_exactly_the_two_claims() -> None:
    token = recording_jwt("m", "r", REC_SECRET)
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}
    assert jwt.decode(token, REC_SECRET, algorithms=["HS256"]) == {
        "meeting_id": "m",
        "record_id": "r",
    }


# --- Janus event handler (HTTP Basic) ----------------------------------------------------

JANUS_USER, JANUS_PASSWORD = "janus-evh", "janus-evh-password"
JANUS_HEADERS = {"authorization": basic_auth(JANUS_USER, JANUS_PASSWORD)}
STAMP_US = 1700000000123456


def videoroom(
    event: str, *, handle: int = 2222, stamp: int = STAMP_US, **data: Any
) -> dict[str, Any]:
    return {
        "emitter": "MyJanusInstance",
        "type": 64,
        "timestamp": stamp,
        "session_id": 1111,
        "handle_id": handle,
        "opaque_id": "videoroomtest-x",
        "event": {
            "plugin": "janus.plugin.videoroom",
            "data": {"event": event, "room": 4242, **data},
        },
    }


CORE_NOISE = [
    {
        "emitter": "MyJanusInstance",
        "type": 1,
        "timestamp": STAMP_US,
        "session_id": 1111,
        "event": {"name": "created", "transport": {"transport": "janus.transport.http"}},
    },
    {
        "emitter": "MyJanusInstance",
        "type": 2,
        "timestamp": STAMP_US,
        "session_id": 1111,
        "handle_id": 2222,
        "event": {"name": "attached", "plugin": "janus.plugin.videoroom"},
    },
    {"emitter": "MyJanusInstance", "type": 128, "timestamp": STAMP_US, "event": {"id": "x"}},
    {
        "emitter": "MyJanusInstance",
        "type": 256,
        "timestamp": STAMP_US,
        "event": {"status": "started"},
    },
    {
        "type": 64,
        "timestamp": STAMP_US,
        "session_id": 1,
        "handle_id": 2,
        "event": {"plugin": "janus.plugin.echotest", "data": {"event": "joined"}},
    },
    videoroom("published", streams=[]),
    videoroom("configured"),
]


def janus(payload: Any, headers: dict[str, str] = JANUS_HEADERS, **credentials: Any) -> Delivery:
    body = payload if isinstance(payload, bytes) else dumps(payload)
    options = {"user": JANUS_USER, "password": JANUS_PASSWORD, **credentials}
    return verify_event_handler(headers=headers, body=body, now=NOW, **options)


def test_janus_grouped_delivery_keeps_only_videoroom_presence() -> None:
    joined = videoroom("joined", id=12, private_id=870529104, display="Ana Lima")
    leaving = videoroom("leaving", id=12, stamp=STAMP_US + 60_000_000)
    events = janus([*CORE_NOISE, joined, leaving]).events
    assert [e.kind for e in events] == [Kind.JOINED, Kind.LEFT]
    assert events[0].who == Who(connection="4242/12", seat_number=12, name="Ana Lima")
    assert events[1].who is not None
    assert events[1].who.connection == events[0].who.connection  # the leave closes the join
    assert events[0].room == RoomRef(number=4242)
    assert events[0].provider == "janus"
    assert events[0].at == datetime(2023, 11, 14, 22, 13, 20, 123456, tzinfo=UTC)
    assert events[1].at - events[0].at == timedelta(minutes=1)
    assert events[0].dedupe_key == json.dumps(
        [1111, 2222, 64, STAMP_US, "joined"], separators=(",", ":")
    )


def test_janus_single_event_without_grouping_and_room_lifecycle() -> None:
    (created,) = janus(videoroom("created")).events
    (destroyed,) = janus(videoroom("destroyed")).events
    (kicked,) = janus(videoroom("kicked", id=12)).events
    assert (created.kind, destroyed.kind, kicked.kind) == (
        Kind.ROOM_STARTED,
        Kind.ROOM_ENDED,
        Kind.LEFT,
    )
    assert created.who is None


def test_janus_only_noise_is_an_empty_delivery() -> None:
    assert janus(CORE_NOISE) == Delivery(events=())
    assert janus([]) == Delivery(events=())


def test_janus_ids_outside_our_seat_numbers_are_guests() -> None:
    (event,) = janus(videoroom("joined", id=2**60, display="Someone")).events
    assert event.who is not None
    assert event.who.seat_number is None


def test_janus_duplicates_have_identical_keys() -> None:
    body = [videoroom("joined", id=12, display="Ana")]
    assert janus(body).events == janus(body).events


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"authorization": basic_auth(JANUS_USER, "wrong")},
        {"authorization": basic_auth("other", JANUS_PASSWORD)},
        {"authorization": basic_auth(JANUS_USER, JANUS_PASSWORD + "x")},
        {"authorization": basic_auth(JANUS_USER + ":" + JANUS_PASSWORD, "")},
        {"authorization": "Basic bm8tY29sb24="},  # "no-colon"
        {"authorization": "Basic !!!not-base64!!!"},
        {"authorization": "Basic ÿÿÿ"},
        {"authorization": "Basic"},
        {"authorization": "Bearer " + JANUS_PASSWORD},
        {"authorization": ""},
    ],
)
def test_janus_wrong_or_missing_basic_credentials_are_rejected(headers: dict[str, str]) -> None:
    with pytest.raises(WebhookRejected):
        janus([videoroom("joined", id=12)], headers)


@pytest.mark.parametrize(
    "credentials",
    [{"user": None, "password": None}, {"user": "", "password": ""}, {"password": None}],
)
def test_janus_handler_without_credentials_is_refused(credentials: dict[str, Any]) -> None:
    with pytest.raises(WebhookRejected):
        janus([videoroom("joined", id=12)], {"authorization": basic_auth("", "")}, **credentials)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        dumps([videoroom("joined", id=12)])[:-2],  # truncated
        flip(dumps([videoroom("joined", id=12)]), 0),  # tampered: `[` changed
        b"\xff",
        b"[1]",
        b'"text"',
        dumps([videoroom("joined", id=12, stamp=STAMP_US // 1000)]),  # ms, not us: 1970
        dumps([videoroom("joined", id=12, stamp=2**80)]),
        dumps([{**videoroom("joined", id=12), "session_id": "abc"}]),
        dumps([{**videoroom("joined", id=12), "handle_id": -1}]),
        dumps([videoroom("joined", id=12, room=None)]),
        dumps([videoroom("joined", id=12, room=2**70)]),
        dumps([{**videoroom("joined"), "event": {"plugin": "janus.plugin.videoroom"}}]),
    ],
)
def test_janus_unreadable_bodies_are_malformed(body: bytes) -> None:
    with pytest.raises(WebhookMalformed):
        janus(body)


# --- Fuzz: whatever arrives, only a Delivery or one of the two refusals comes out --------

FUZZ_ROUNDS = 2000


def _random_value(rng: random.Random, depth: int = 0) -> Any:
    choices: list[Callable[[], Any]] = [
        lambda: None,
        lambda: rng.choice([True, False]),
        lambda: rng.randint(-(2**70), 2**70),
        lambda: rng.choice([0, -1, 10**30, 1700000000, 1700000000000, 2**63]),
        lambda: rng.uniform(-1e20, 1e20),
        lambda: "".join(chr(rng.randint(0, 0x2FF)) for _ in range(rng.randint(0, 12))),
        lambda: rng.choice(["", "\x00", "\ud800", "rdv-a1", "a/b", "[t]r", "joined"]),
    ]
    if depth < 3:
        choices.append(lambda: [_random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))])
        choices.append(
            lambda: {rng.choice(["id", "data", "ts", "x"]): _random_value(rng, depth + 1)}
        )
    return rng.choice(choices)()


def _mutate_json(rng: random.Random, value: Any) -> Any:
    """Replaces one node somewhere in a JSON document with a random value of any type."""
    if isinstance(value, dict) and value and rng.random() < 0.8:
        key = rng.choice(list(value))
        return {**value, key: _mutate_json(rng, value[key])}
    if isinstance(value, list) and value and rng.random() < 0.8:
        index = rng.randrange(len(value))
        return [*value[:index], _mutate_json(rng, value[index]), *value[index + 1 :]]
    if rng.random() < 0.1 and isinstance(value, dict) and value:
        return {k: v for k, v in value.items() if k != rng.choice(list(value))}
    return _random_value(rng)


def _mutate_bytes(rng: random.Random, data: bytes) -> bytes:
    if not data:
        return bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
    i = rng.randrange(len(data))
    j = rng.randint(i, min(len(data), i + 16))
    operation = rng.randrange(6)
    if operation == 0:
        return (
            flip(data, i)
            if rng.random() < 0.5
            else data[:i] + bytes([data[i] ^ 0x80]) + data[i + 1 :]
        )
    if operation == 1:
        return data[:i]
    if operation == 2:
        return data[:i] + data[j:]
    if operation == 3:
        return data[:i] + bytes(rng.randrange(256) for _ in range(rng.randint(1, 8))) + data[i:]
    if operation == 4:
        return data[:j] + data[i:]
    return bytes(rng.randrange(256) for _ in range(rng.randint(0, 64)))


def _mutate_text(rng: random.Random, value: str) -> str:
    return _mutate_bytes(rng, value.encode()).decode("utf-8", "replace")


def _outcome(send: Sender, body: bytes, headers: dict[str, str] | None) -> object:
    try:
        return send(body, headers)
    except REFUSED as refused:
        return refused


# A sender delivers a body with the given credential headers, or correctly signed when None.
Sender = Callable[[bytes, dict[str, str] | None], Delivery]


def _send_jaas(body: bytes, headers: dict[str, str] | None) -> Delivery:
    headers = headers or {"x-jaas-signature": sign_jaas(body, JAAS_SECRET, T)}
    return verify_jaas(headers=headers, body=body, secret=JAAS_SECRET, now=NOW)


def _send_sync(body: bytes, headers: dict[str, str] | None) -> Delivery:
    return verify_event_sync(
        headers=headers or SYNC_HEADERS, body=body, secret=SYNC_SECRET, now=NOW
    )


def _send_janus(body: bytes, headers: dict[str, str] | None) -> Delivery:
    return verify_event_handler(
        headers=headers or JANUS_HEADERS,
        body=body,
        user=JANUS_USER,
        password=JANUS_PASSWORD,
        now=NOW,
    )


def _send_bbb(body: bytes, headers: dict[str, str] | None) -> Delivery:
    query = (headers or {}).get("query", bbb_query(CALLBACK, body, BBB_SECRET))
    return verify_hook(
        headers={}, body=body, query=query, callback_url=CALLBACK, secret=BBB_SECRET, now=NOW
    )


def _send_recording(body: bytes, headers: dict[str, str] | None) -> Delivery:
    return verify_recording_ready(body=body, secret=REC_SECRET, now=NOW)


def _basic_intact(value: str) -> bool:
    try:
        decoded = base64.b64decode(value.split()[-1], validate=True)
    except (ValueError, IndexError):
        return False
    return decoded == f"{JANUS_USER}:{JANUS_PASSWORD}".encode()


JAAS_GENUINE = sign_jaas(dumps(jaas_event()), JAAS_SECRET, T)
JSON_CASES = [
    pytest.param(
        jaas_event(),
        _send_jaas,
        ("x-jaas-signature", JAAS_GENUINE),
        lambda v: f"t={T}" in v and JAAS_GENUINE.partition(",")[2] in v,
        id="jaas",
    ),
    pytest.param(
        sync_event(),
        _send_sync,
        ("authorization", bearer(SYNC_SECRET)),
        lambda v: SYNC_SECRET in v,
        id="event_sync",
    ),
    pytest.param(
        [*CORE_NOISE, videoroom("joined", id=12, display="Ana"), videoroom("leaving", id=12)],
        _send_janus,
        ("authorization", basic_auth(JANUS_USER, JANUS_PASSWORD)),
        _basic_intact,
        id="janus",
    ),
]


@pytest.mark.parametrize(("document", "send", "credential", "intact"), JSON_CASES)
def test_fuzz_json_verifiers_only_ever_refuse_or_deliver(
    document: Any,
    send: Sender,
    credential: tuple[str, str],
    intact: Callable[[str], bool],
) -> None:
    rng = random.Random(f"webhooks-{credential}")
    original = dumps(document)
    assert send(original, None).events
    for _ in range(FUZZ_ROUNDS):
        mode = rng.randrange(3)
        if mode == 0:  # a mutated document (wrong types, odd values), correctly authenticated
            body = json.dumps(_mutate_json(rng, document)).encode()
            outcome = _outcome(send, body, None)
        elif mode == 1:  # mutated bytes (truncated, spliced, garbage), correctly authenticated
            outcome = _outcome(send, _mutate_bytes(rng, original), None)
        else:  # the genuine body under a mutated credential header
            mutated = _mutate_text(rng, credential[1])
            outcome = _outcome(send, original, {credential[0]: mutated})
            if isinstance(outcome, Delivery):
                assert intact(mutated), mutated
        assert isinstance(outcome, Delivery | WebhookRejected | WebhookMalformed), outcome


def test_fuzz_jaas_no_mutated_body_passes_the_signature() -> None:
    rng = random.Random("jaas-signature")
    original = dumps(jaas_event())
    headers = {"x-jaas-signature": sign_jaas(original, JAAS_SECRET, T)}
    for _ in range(FUZZ_ROUNDS):
        body = _mutate_bytes(rng, original)
        outcome = _outcome(_send_jaas, body, headers)
        assert isinstance(outcome, WebhookRejected) or body == original


def test_fuzz_bbb_hook_only_ever_refuses_or_delivers_and_no_mutation_passes() -> None:
    rng = random.Random("webhooks-bbb")
    document = [
        FIXTURE_JOINED,
        bbb_event("user-left", user=seat_user()),
        published_recording("r", True, recording={"playback": [{"link": "l"}]}),
    ]
    original = bbb_form(document)
    query = bbb_query(CALLBACK, original, BBB_SECRET)
    assert len(_send_bbb(original, None).events) == 3
    for _ in range(FUZZ_ROUNDS):
        mode = rng.randrange(4)
        if mode == 0:  # a mutated event document, correctly signed
            body = bbb_form(_mutate_json(rng, document), ensure_ascii=True)
            outcome = _outcome(_send_bbb, body, None)
        elif mode == 1:  # mutated bytes, correctly signed
            outcome = _outcome(_send_bbb, _mutate_bytes(rng, original), None)
        elif mode == 2:  # mutated bytes under the genuine checksum: never accepted
            body = _mutate_bytes(rng, original)
            outcome = _outcome(_send_bbb, body, {"query": query})
            assert isinstance(outcome, WebhookRejected) or body == original
        else:  # the genuine body under a mutated query
            mutated = _mutate_text(rng, query)
            outcome = _outcome(_send_bbb, original, {"query": mutated})
            if isinstance(outcome, Delivery):
                assert query.partition("=")[2] in mutated.lower(), mutated
        assert isinstance(outcome, Delivery | WebhookRejected | WebhookMalformed), outcome


def test_fuzz_recording_ready_only_ever_refuses_or_delivers_and_no_mutation_passes() -> None:
    rng = random.Random("webhooks-recording")
    original = recording_body("s12-abcdef", "0a1b-1700000000000", REC_SECRET)
    genuine = _send_recording(original, None)
    for _ in range(FUZZ_ROUNDS):
        if rng.random() < 0.5:  # mutated claims, correctly signed
            claims = _mutate_json(rng, {"meeting_id": "s12", "record_id": "r", "exp": T + 60})
            token = jwt.encode(
                claims if isinstance(claims, dict) else {"claims": claims},
                REC_SECRET,
                algorithm="HS256",
            )
            outcome = _outcome(_send_recording, f"signed_parameters={token}".encode(), None)
        else:  # mutated bytes of a genuine body
            outcome = _outcome(_send_recording, _mutate_bytes(rng, original), None)
            # What can change and still verify is only slack (base64 padding bits, form
            # syntax): never the claims.
            assert not isinstance(outcome, Delivery) or outcome == genuine
        assert isinstance(outcome, Delivery | WebhookRejected | WebhookMalformed), outcome


def test_a_janus_leave_without_session_and_handle_is_read() -> None:
    # Captured from Janus 1.1.2: `leaving` carries neither session_id nor handle_id.
    body = (
        b'[{"emitter":"MyJanusInstance","type":64,"timestamp":1795934078481046,'
        b'"event":{"plugin":"janus.plugin.videoroom","data":{"event":"leaving","room":4242,'
        b'"id":7}}}]'
    )
    [event] = janus(body).events
    assert event.kind is Kind.LEFT
    assert event.who is not None
    assert event.who.connection == "4242/7"
    assert event.who.seat_number == 7
