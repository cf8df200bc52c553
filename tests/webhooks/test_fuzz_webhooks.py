"""Whatever is posted to a webhook, by a provider or by anyone who found the URL: a delivery without
the right credentials is refused, a genuine one is read or called malformed, nothing crashes, no
forgery gets in, and the door answers in its documented statuses and stores only what it accepts."""

from __future__ import annotations

import asyncio
import json
import string
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
from aiohttp.test_utils import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select
from support.fuzzing import assert_error_format, fuzz_settings, on_loop
from support.service import ManualClock
from support.webhook_signing import (
    basic_auth,
    bbb_form,
    bbb_query,
    bearer,
    livekit_token,
    sign_jaas,
    zoom_headers,
)

from integrations.bigbluebutton_events import verify_hook, verify_recording_ready
from integrations.events import Delivery, WebhookMalformed, WebhookRejected
from integrations.janus_events import verify_event_handler
from integrations.jitsi_events import verify_event_sync, verify_jaas
from integrations.livekit_events import verify as verify_livekit
from integrations.zoom_events import verify as verify_zoom
from orchestrator.app import create_app
from orchestrator.db.attendance import ProviderEventRow, WebhookDelivery
from orchestrator.db.engine import create_engine, session_factory

NOW = datetime(2021, 4, 8, 9, 30, tzinfo=UTC)
T = int(NOW.timestamp())
PUBLIC_URL = "https://rdv.test"
JITSI_SECRET = "jitsi-webhook-secret-0123456789"
BBB_SECRET = "bbb-shared-secret-0123456789abcdef"
BBB_HOOK = f"{PUBLIC_URL}/webhooks/bigbluebutton"
JANUS_USER, JANUS_PASSWORD = "janus-events", "janus-password-0123456789"
LIVEKIT_KEY, LIVEKIT_SECRET = "APIfuzzkey", "livekit-secret-0123456789abcdef0123456789"
ZOOM_SECRET = "zoom-webhook-secret-0123456789"
WRONG = "not-the-secret-0123456789abcdef0123"

# -- what providers put in their payloads, and what else can arrive in those places ----------

TEXT = (
    st.text(max_size=8)
    | st.sampled_from(["", "\x00", "\ud800", "rdv-a1", "rdv-a99999999999", "[tenant]s12-ab"])
    | st.text(alphabet=string.ascii_letters, min_size=190, max_size=420)
)
NUMBER = (
    st.integers(min_value=-(2**70), max_value=2**70)
    | st.sampled_from([0, -1, 2**63, 10**30, T, T * 1000, T * 1_000_000])
    | st.floats()
)
ANY = st.recursive(
    st.none() | st.booleans() | NUMBER | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=5,
)


def maybe(likely: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly what the provider sends, sometimes anything at all."""
    return st.integers(0, 7).flatmap(lambda roll: ANY if roll == 0 else likely)


def _drop_one(document: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    gone = st.sets(st.sampled_from(sorted(document)), max_size=1) if document else st.just(set())
    return gone.map(lambda names: {k: v for k, v in document.items() if k not in names})


def shaped(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """An object with the provider's fields, one of them sometimes missing, any of them
    sometimes of another type."""
    return st.fixed_dictionaries({k: maybe(v) for k, v in fields.items()}).flatmap(_drop_one)


SECONDS = st.integers(T - 7200, T + 7200)
MILLIS = SECONDS.map(lambda s: s * 1000)
ISO = SECONDS.map(lambda s: datetime.fromtimestamp(s, UTC).isoformat()) | st.sampled_from(
    ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "2021-04-08T10:00:00", "soon"]
)
ROOM = st.sampled_from(["s12-abcdef", "b2b-01", "4242"]) | TEXT
SEAT = st.integers(1, 10**6).map(lambda n: f"rdv-a{n}") | TEXT
PERSON = shaped(
    name=TEXT, email=TEXT, id=SEAT, occupant_jid=TEXT, joined_at=SECONDS, left_at=SECONDS
)

SYNC = shaped(
    event_name=st.sampled_from(
        ["muc-room-created", "muc-room-destroyed", "muc-occupant-joined", "muc-occupant-left"]
    ),
    room_name=ROOM,
    room_jid=ROOM.map(lambda r: f"{r}@conference.meet.example"),
    is_breakout=st.booleans(),
    occupant=PERSON,
    created_at=SECONDS,
    destroyed_at=SECONDS,
)
JAAS = shaped(
    eventType=st.sampled_from(
        [
            "ROOM_CREATED",
            "ROOM_DESTROYED",
            "PARTICIPANT_JOINED",
            "PARTICIPANT_LEFT",
            "RECORDING_UPLOADED",
            "TRANSCRIPTION_UPLOADED",
        ]
    ),
    idempotencyKey=TEXT,
    fqn=ROOM.map(lambda r: f"vpaas-magic-cookie-1/{r}"),
    timestamp=MILLIS,
    data=shaped(
        id=SEAT,
        name=TEXT,
        email=TEXT,
        participantId=TEXT,
        isBreakout=st.booleans(),
        preAuthenticatedLink=TEXT,
        durationSec=NUMBER,
    ),
)
BBB = st.lists(
    shaped(
        data=shaped(
            id=st.sampled_from(
                [
                    "user-joined",
                    "user-left",
                    "meeting-created",
                    "meeting-ended",
                    "rap-publish-ended",
                    "user-audio-voice-enabled",
                ]
            ),
            attributes=shaped(
                meeting=shaped(**{"internal-meeting-id": TEXT, "external-meeting-id": ROOM}),
                user=shaped(**{"internal-user-id": TEXT, "external-user-id": SEAT, "name": TEXT}),
                success=st.booleans(),
                recording=shaped(playback=shaped(link=TEXT)),
            ),
            event=shaped(ts=MILLIS),
        )
    ),
    max_size=3,
)
JANUS = st.lists(
    shaped(
        type=st.sampled_from([64, 64, 64, 1]),
        timestamp=SECONDS.map(lambda s: s * 1_000_000),
        session_id=st.integers(1, 2**53),
        handle_id=st.integers(1, 2**53),
        event=shaped(
            plugin=st.just("janus.plugin.videoroom"),
            data=shaped(
                event=st.sampled_from(["joined", "leaving", "kicked", "created", "destroyed"]),
                room=st.integers(1, 2**64) | TEXT,
                id=st.integers(1, 2**53) | TEXT,
                display=TEXT,
            ),
        ),
    ),
    max_size=3,
)
INT64 = SECONDS.map(str) | NUMBER
LIVEKIT = shaped(
    event=st.sampled_from(
        ["room_started", "room_finished", "participant_joined", "participant_left", "egress_ended"]
    ),
    id=TEXT,
    createdAt=INT64,
    room=shaped(name=ROOM, sid=TEXT),
    participant=shaped(
        sid=TEXT,
        identity=SEAT,
        name=TEXT,
        kind=st.sampled_from(["STANDARD", "EGRESS", 3]),
        joinedAt=INT64,
        joinedAtMs=MILLIS.map(str),
    ),
    egressInfo=shaped(
        egressId=TEXT,
        roomName=ROOM,
        status=st.sampled_from(["EGRESS_COMPLETE", "EGRESS_FAILED", 3]),
        fileResults=st.lists(shaped(location=TEXT, duration=INT64, filename=TEXT), max_size=2),
    ),
)
ZOOM = shaped(
    event=st.sampled_from(
        [
            "meeting.started",
            "meeting.ended",
            "meeting.participant_joined",
            "meeting.participant_left",
            "recording.completed",
            "endpoint.url_validation",
        ]
    ),
    event_ts=MILLIS,
    payload=shaped(
        plainToken=TEXT,
        object=shaped(
            id=st.integers(1, 10**12) | TEXT,
            uuid=TEXT,
            start_time=ISO,
            end_time=ISO,
            share_url=TEXT,
            recording_play_passcode=TEXT,
            duration=NUMBER,
            participant=shaped(
                user_id=TEXT,
                participant_uuid=TEXT,
                registrant_id=TEXT,
                user_name=TEXT,
                email=TEXT,
                join_time=ISO,
                leave_time=ISO,
            ),
        ),
    ),
)
# A genuine token's validity: `exp` ahead of NOW and `nbf` behind it, when it has them.
RECORDING = st.fixed_dictionaries(
    {},
    optional={
        "meeting_id": maybe(ROOM),
        "record_id": maybe(TEXT),
        "exp": st.integers(T + 1, T + 7200),
        "nbf": st.integers(T - 7200, T),
    },
)


def json_bytes(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


def recording_body(claims: Any, secret: str) -> bytes:
    token = jwt.encode(claims if isinstance(claims, dict) else {"c": claims}, secret, "HS256")
    return f"signed_parameters={token}".encode()


# -- each way a provider delivers: how it signs, and our check ------------------------------


@dataclass(frozen=True, repr=False)
class Wire:
    """One provider's way of delivering: `sign(body, secret, t)` gives the headers and query it
    sends; `check(headers, body, query)` is our verifier at NOW. `signs_body`: the credential
    covers the bytes (a changed body is a forgery), not just the sender."""

    name: str
    path: str
    documents: st.SearchStrategy[Any]
    encode: Callable[[Any], bytes]
    sign: Callable[[bytes, str, int], tuple[dict[str, str], str]]
    check: Callable[[dict[str, str], bytes, str], Delivery]
    signs_body: bool
    signs_time: bool = False

    def __repr__(self) -> str:
        return self.name


def _bbb(headers: dict[str, str], body: bytes, query: str) -> Delivery:
    return verify_hook(
        headers=headers, body=body, query=query, callback_url=BBB_HOOK, secret=BBB_SECRET, now=NOW
    )


WIRES = [
    Wire(
        "jitsi-event-sync",
        "jitsi",
        SYNC,
        json_bytes,
        lambda body, secret, t: ({"authorization": bearer(secret)}, ""),
        lambda h, b, q: verify_event_sync(headers=h, body=b, secret=JITSI_SECRET, now=NOW),
        signs_body=False,
    ),
    Wire(
        "jaas",
        "jitsi",
        JAAS,
        json_bytes,
        lambda body, secret, t: ({"x-jaas-signature": sign_jaas(body, secret, t)}, ""),
        lambda h, b, q: verify_jaas(headers=h, body=b, secret=JITSI_SECRET, now=NOW),
        signs_body=True,
        signs_time=True,
    ),
    Wire(
        "bigbluebutton-checksum",
        "bigbluebutton",
        BBB,
        lambda document: bbb_form(document, ensure_ascii=True),
        lambda body, secret, t: ({}, bbb_query(BBB_HOOK, body, secret, "sha256")),
        _bbb,
        signs_body=True,
    ),
    Wire(
        "bigbluebutton-bearer",
        "bigbluebutton",
        BBB,
        lambda document: bbb_form(document, ensure_ascii=True),
        lambda body, secret, t: ({"authorization": bearer(secret)}, ""),
        _bbb,
        signs_body=False,
    ),
    Wire(
        "janus",
        "janus",
        JANUS,
        json_bytes,
        lambda body, secret, t: ({"authorization": basic_auth(JANUS_USER, secret)}, ""),
        lambda h, b, q: verify_event_handler(
            headers=h, body=b, user=JANUS_USER, password=JANUS_PASSWORD, now=NOW
        ),
        signs_body=False,
    ),
    Wire(
        "livekit",
        "livekit",
        LIVEKIT,
        json_bytes,
        lambda body, secret, t: (
            {"authorization": livekit_token(body, LIVEKIT_KEY, secret, t)},
            "",
        ),
        lambda h, b, q: verify_livekit(
            headers=h, body=b, api_key=LIVEKIT_KEY, api_secret=LIVEKIT_SECRET, now=NOW
        ),
        signs_body=True,
        signs_time=True,
    ),
    Wire(
        "zoom",
        "zoom",
        ZOOM,
        json_bytes,
        lambda body, secret, t: (zoom_headers(body, secret, t), ""),
        lambda h, b, q: verify_zoom(headers=h, body=b, secret=ZOOM_SECRET, now=NOW),
        signs_body=True,
        signs_time=True,
    ),
]
SECRETS = {
    "jitsi": JITSI_SECRET,
    "bigbluebutton": BBB_SECRET,
    "janus": JANUS_PASSWORD,
    "livekit": LIVEKIT_SECRET,
    "zoom": ZOOM_SECRET,
}
# The recording-ready callback carries its signature in the body: its own rules below.
RECORDING_WIRE = Wire(
    "bigbluebutton-recording",
    "bigbluebutton/recording",
    RECORDING,
    lambda claims: recording_body(claims, BBB_SECRET),
    lambda body, secret, t: ({}, ""),
    lambda h, b, q: verify_recording_ready(body=b, secret=BBB_SECRET, now=NOW),
    signs_body=True,
)
ALL_WIRES = [*WIRES, RECORDING_WIRE]
WIRE = st.sampled_from(ALL_WIRES)

HEADER_NAMES = [
    "authorization",
    "Authorization",
    "x-jaas-signature",
    "x-zm-signature",
    "x-zm-request-timestamp",
    "content-type",
]
CREDENTIAL_LIKE = (
    TEXT
    | st.builds(lambda s: f"Bearer {s}", TEXT)
    | st.builds(lambda s: f"Basic {s}", TEXT)
    | st.builds(lambda s, v: f"t={s},v1={v}", SECONDS, TEXT)
    | st.builds(lambda s: f"v0={s}", st.text("0123456789abcdef", min_size=64, max_size=64))
    | SECONDS.map(str)
    | st.just(jwt.encode({"iss": LIVEKIT_KEY, "exp": T + 60, "sha256": "x"}, WRONG, "HS256"))
    | st.just(jwt.encode({"iss": LIVEKIT_KEY, "exp": T + 60}, "", "none"))
)
HEADERS = st.dictionaries(st.sampled_from(HEADER_NAMES), CREDENTIAL_LIKE, max_size=4)
QUERY = st.sampled_from(["", "checksum=", "checksum=00", "checksum=a&checksum=b"]) | st.builds(
    lambda hexes: f"checksum={hexes}", st.text("0123456789abcdef", min_size=40, max_size=64)
)


def body_for(data: st.DataObject, wire: Wire) -> bytes:
    """Something the provider could have sent, or any bytes at all."""
    if wire is not RECORDING_WIRE and data.draw(st.integers(0, 4), label="raw bytes?") == 0:
        return data.draw(st.binary(max_size=64), label="bytes")
    return wire.encode(data.draw(wire.documents, label="document"))


def outcome(wire: Wire, headers: dict[str, str], body: bytes, query: str) -> object:
    try:
        return wire.check(headers, body, query)
    except (WebhookRejected, WebhookMalformed) as refused:
        return refused


def storable(value: object) -> bool:
    if not isinstance(value, str):
        return value is None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in value


def assert_readable(delivery: Delivery) -> None:
    """What a verifier hands over is ready to store: aware times, text a database takes."""
    for event in delivery.events:
        assert event.at.tzinfo is not None
        assert event.dedupe_key
        assert storable(event.dedupe_key)
        assert storable(event.room.key)
        if event.who is not None:
            who = event.who
            assert all(storable(v) for v in (who.connection, who.seat_id, who.name, who.email))
        assert all(storable(v) for v in event.details.values())


@pytest.mark.parametrize("wire", ALL_WIRES, ids=repr)
@fuzz_settings(max_examples=25)
@given(data=st.data(), headers=HEADERS, query=QUERY)
def test_a_delivery_without_the_right_credentials_is_refused_before_it_is_read(
    data: st.DataObject, wire: Wire, headers: dict[str, str], query: str
) -> None:
    body = body_for(data, wire)
    if wire is RECORDING_WIRE:  # its credential is in the body: anything but our secret's
        body = data.draw(
            st.binary(max_size=64) | st.builds(recording_body, RECORDING, st.just(WRONG))
        )
    result = outcome(wire, headers, body, query)
    assert isinstance(result, WebhookRejected), result


@pytest.mark.parametrize("wire", ALL_WIRES, ids=repr)
@fuzz_settings(max_examples=30)
@given(data=st.data())
def test_a_genuine_delivery_is_read_into_storable_events_or_called_malformed(
    data: st.DataObject, wire: Wire
) -> None:
    body = body_for(data, wire)
    headers, query = wire.sign(body, SECRETS[wire.path.partition("/")[0]], T)
    result = outcome(wire, headers, body, query)
    assert isinstance(result, Delivery | WebhookMalformed), result
    if isinstance(result, Delivery):
        assert_readable(result)


FORGERIES = ["changed body", "wrong secret", "no signature", "stale"]


@pytest.mark.parametrize("wire", ALL_WIRES, ids=repr)
@fuzz_settings(max_examples=30)
@given(data=st.data(), forgery=st.sampled_from(FORGERIES))
def test_no_forged_delivery_is_ever_accepted(data: st.DataObject, wire: Wire, forgery: str) -> None:
    secret = SECRETS[wire.path.partition("/")[0]]
    body = wire.encode(data.draw(wire.documents, label="document"))
    headers, query = wire.sign(body, secret, T)
    genuine = outcome(wire, headers, body, query)
    if forgery == "changed body" and wire.signs_body:
        at = data.draw(st.integers(0, len(body)), label="at")
        cut = data.draw(st.integers(0, 3), label="cut")
        extra = data.draw(st.binary(max_size=3), label="extra")
        forged = body[:at] + extra + body[at + cut :]
        if forged == body:
            return
        result = outcome(wire, headers, forged, query)
        if wire is RECORDING_WIRE:  # only base64 slack can change and still verify
            assert isinstance(result, WebhookRejected | WebhookMalformed) or result == genuine
            return
    elif forgery == "wrong secret" or (forgery == "changed body" and not wire.signs_body):
        # A bearer or Basic credential names the sender, not the bytes: there the forgery that
        # counts is a sender without our secret.
        if wire is RECORDING_WIRE:
            body = recording_body(data.draw(RECORDING), WRONG)
        headers, query = wire.sign(body, WRONG, T)
        result = outcome(wire, headers, body, query)
    elif forgery == "no signature":
        names = {"authorization", "x-jaas-signature", "x-zm-signature"}
        stripped = {k: v for k, v in headers.items() if k not in names}
        if wire is RECORDING_WIRE:
            body = body.replace(b"signed_parameters=", b"parameters=")
        result = outcome(wire, stripped, body, "")
    elif wire.signs_time:
        late = data.draw(st.sampled_from([-1, 1]), label="side") * 6 * 3600
        headers, query = wire.sign(body, secret, T + late)
        result = outcome(wire, headers, body, query)
    else:
        return
    assert isinstance(result, WebhookRejected), (forgery, result)


# -- the door: `POST /webhooks/{provider}` with everything configured ------------------------

DOOR_PATHS = [
    "jitsi",
    "bigbluebutton",
    "bigbluebutton/recording",
    "janus",
    "livekit",
    "zoom",
    "zoom/extra",
    "teams",
]
DOOR_ANSWERS = {200, 400, 401, 404, 413}


async def _stored(db: Any) -> tuple[int, int]:
    async with db() as session:
        deliveries = await session.scalar(select(func.count()).select_from(WebhookDelivery))
        events = await session.scalar(select(func.count()).select_from(ProviderEventRow))
    return deliveries or 0, events or 0


@pytest.fixture
async def door(
    aiohttp_client: Any, make_settings: Callable[..., Any], clock: ManualClock
) -> TestClient[Any, Any]:
    """The service with every provider's webhooks configured, at NOW."""
    clock.set(NOW)
    settings = make_settings(
        public_url=PUBLIC_URL,
        jitsi_webhook_secret=JITSI_SECRET,
        bbb_url="http://127.0.0.1:9/bigbluebutton/api",
        bbb_secret=BBB_SECRET,
        janus_url="http://127.0.0.1:9/janus",
        janus_webhook_user=JANUS_USER,
        janus_webhook_password=JANUS_PASSWORD,
        livekit_url="ws://127.0.0.1:9",
        livekit_api_key=LIVEKIT_KEY,
        livekit_api_secret=LIVEKIT_SECRET,
        zoom_account_id="account",
        zoom_client_id="client",
        zoom_client_secret="client-secret-0123456789",
        zoom_webhook_secret=ZOOM_SECRET,
        zoom_hosts=("host@rdv.example",),
    )
    app = create_app(settings, clock=clock, migrate=False, background=False)
    client: TestClient[Any, Any] = await aiohttp_client(app)
    return client


async def test_the_webhook_door_answers_in_its_documented_statuses_and_stores_only_what_it_accepts(
    door: TestClient[Any, Any], database_url: str
) -> None:
    client = door
    engine = create_engine(database_url)
    db = session_factory(engine)
    run = on_loop(asyncio.get_running_loop())
    seen: dict[str, set[int]] = {"genuine": set(), "random": set()}

    async def post(path: str, body: bytes, headers: dict[str, str], query: str) -> tuple[int, Any]:
        url = f"/webhooks/{path}" + (f"?{query}" if query else "")
        response = await client.post(url, data=body, headers=headers)
        return response.status, await response.json(content_type=None)

    @fuzz_settings(max_examples=100)
    @given(data=st.data(), genuine=st.booleans())
    def deliver(data: st.DataObject, genuine: bool) -> None:
        before = run(_stored(db))
        if genuine:
            wire = data.draw(WIRE, label="wire")
            path, body = wire.path, body_for(data, wire)
            headers, query = wire.sign(body, SECRETS[path.partition("/")[0]], T)
        else:
            path = data.draw(st.sampled_from(DOOR_PATHS), label="path")
            body = data.draw(st.binary(max_size=64) | st.builds(json_bytes, ANY), label="body")
            headers = data.draw(HEADERS, label="headers")
            query = data.draw(QUERY, label="query")
        headers = {k: v for k, v in headers.items() if v.isprintable() and v.isascii()}
        status, answer = run(post(path, body, headers, query))
        seen["genuine" if genuine else "random"].add(status)
        assert status in DOOR_ANSWERS, (status, answer)
        if genuine:
            assert status in (200, 400), (status, answer)
        after = run(_stored(db))
        if status == 200:
            assert after[0] - before[0] in (0, 1)
            return
        assert_error_format(answer, status)
        assert after == before, "a refused delivery was stored"

    try:
        await asyncio.to_thread(deliver)
    finally:
        await engine.dispose()
    assert seen["genuine"] >= {200, 400}
    assert 401 in seen["random"]


# -- what the fuzzing found ------------------------------------------------------------------


def test_a_zoom_join_stamped_outside_the_utc_calendar_is_malformed_not_a_crash() -> None:
    document = {
        "event": "meeting.participant_joined",
        "event_ts": T * 1000,
        "payload": {
            "object": {
                "id": "81234567890",
                "uuid": "u",
                "participant": {"user_id": "16778240", "join_time": "0001-01-01T00:00:00+01:00"},
            }
        },
    }
    body = json_bytes(document)
    headers = zoom_headers(body, ZOOM_SECRET, T)
    with pytest.raises(WebhookMalformed, match="join_time"):
        verify_zoom(headers=headers, body=body, secret=ZOOM_SECRET, now=NOW)


def _janus_join(participant: Any) -> bytes:
    event = {"event": "joined", "room": 4242, "id": participant, "display": "Ana"}
    return json_bytes(
        [
            {
                "type": 64,
                "timestamp": T * 1_000_000,
                "session_id": 1,
                "handle_id": 2,
                "event": {"plugin": "janus.plugin.videoroom", "data": event},
            }
        ]
    )


def _livekit_join(identity: str) -> bytes:
    return json_bytes(
        {
            "event": "participant_joined",
            "id": "EV_1",
            "createdAt": str(T),
            "room": {"name": "s12-abcdef", "sid": "RM_1"},
            "participant": {"sid": "PA_1", "identity": identity, "joinedAt": str(T)},
        }
    )


OVERLONG_OR_UNENCODABLE = [
    pytest.param(
        "janus",
        _janus_join("7\ud800\x00"),
        {"authorization": basic_auth(JANUS_USER, JANUS_PASSWORD)},
        id="janus participant id with a lone surrogate and a NUL",
    ),
    pytest.param(
        "jitsi",
        json_bytes(
            {
                "event_name": "muc-occupant-joined",
                "room_name": "r" * 250,
                "occupant": {"occupant_jid": "a@b/c", "joined_at": T, "id": "rdv-a1"},
            }
        ),
        {"authorization": bearer(JITSI_SECRET)},
        id="jitsi room name longer than the column",
    ),
    pytest.param("livekit", _livekit_join("i" * 150), None, id="livekit identity over 100"),
]


@pytest.mark.parametrize(("provider", "body", "headers"), OVERLONG_OR_UNENCODABLE)
async def test_a_genuine_join_with_odd_names_is_stored_not_answered_503_forever(
    door: TestClient[Any, Any], provider: str, body: bytes, headers: dict[str, str] | None
) -> None:
    if headers is None:
        headers = {"authorization": livekit_token(body, LIVEKIT_KEY, LIVEKIT_SECRET, T)}
    response = await door.post(f"/webhooks/{provider}", data=body, headers=headers)
    assert response.status == 200, await response.text()
    assert (await response.json())["accepted"] == 1
