"""LiveKit: seat tokens and webhooks checked by the official `livekit-api` package (used here
only, as an independent checker), and rooms through a fake Twirp server that checks tokens and
grants as livekit-server does."""

from __future__ import annotations

import base64
import hashlib
import json
import random
import time
import warnings
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import jwt
import pytest
from aiohttp.test_utils import TestServer
from google.protobuf.json_format import MessageToJson
from livekit import api as lk
from livekit.api.room_service import RoomService
from livekit.protocol import egress, models, webhook
from support.fake_livekit import STATE, FakeLiveKit, create_app
from support.webhook_signing import livekit_token

from integrations.base import (
    JoinRequest,
    ProviderRejected,
    ProviderUnavailable,
    Recording,
    Role,
    Room,
    RoomRequest,
    Seat,
)
from integrations.events import Delivery, Kind, RoomRef, WebhookMalformed, WebhookRejected, Who
from integrations.livekit import LiveKitClient, LiveKitProvider, LiveKitRejected
from integrations.livekit_events import verify
from orchestrator.providers import ProviderRegistry
from orchestrator.settings import Settings

KEY = "APIrdv7Lk2"
SECRET = "lk-secret-5Qm8yN2vR7tW1xZ4cB6dF9gH3jK0pLsA"
ROOM_KEY = "rdv-b2b-01-x7k2"
START = datetime(2021, 4, 8, 8, 30, tzinfo=UTC)
ANN = Seat(seat_id="rdv-a1", number=1, token="tok-ann")
REFUSED = (WebhookRejected, WebhookMalformed)


def room_request(key: str = ROOM_KEY) -> RoomRequest:
    return RoomRequest(
        room_key=key,
        title="Neovision × Eau et Déchets",
        starts_at=START,
        ends_at=START + timedelta(minutes=30),
        seats=(ANN,),
        metadata={"rdv-event": "lyon-2021", "rdv-session": "b2b-01"},
    )


def join_request(role: Role = Role.PARTICIPANT, *, opens: datetime | None = None) -> JoinRequest:
    """Ann's seat, its window around now unless `opens` says otherwise (tokens are checked
    against the wall clock by livekit-api)."""
    opens = opens or datetime.now(UTC) - timedelta(minutes=10)
    return JoinRequest(
        room=Room(ROOM_KEY, {"room": ROOM_KEY}),
        seat=ANN,
        display_name="Ann Lopez",
        email="ann@water.example",
        role=role,
        not_before=opens,
        expires_at=opens + timedelta(minutes=50),
    )


@pytest.fixture
async def server(aiohttp_server: Callable[..., Any]) -> TestServer:
    found: TestServer = await aiohttp_server(create_app({KEY: SECRET}))
    return found


@pytest.fixture
def fake(server: TestServer) -> FakeLiveKit:
    return server.app[STATE]


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def make_client(server: TestServer, http: aiohttp.ClientSession) -> Callable[..., LiveKitClient]:
    def make(key: str = KEY, secret: str = SECRET, **options: Any) -> LiveKitClient:
        url = str(server.make_url("/")).replace("http://", "ws://")
        return LiveKitClient(http, url, key, secret, **options)

    return make


@pytest.fixture
def provider(make_client: Callable[..., LiveKitClient]) -> LiveKitProvider:
    return LiveKitProvider(
        make_client(), join_page="https://meet.livekit.io/custom", lead=timedelta(minutes=30)
    )


# -- seat tokens and join links ----------------------------------------------------------------
def checked(token: str) -> lk.Claims:
    return lk.TokenVerifier(KEY, SECRET).verify(token)


def test_livekit_api_accepts_a_participant_token_for_exactly_one_room(
    provider: LiveKitProvider,
) -> None:
    join = join_request()
    token = provider.token(join)

    claims = checked(token)
    assert (claims.identity, claims.name) == ("rdv-a1", "Ann Lopez")
    assert claims.video is not None
    video = claims.video
    assert (video.room_join, video.room, video.can_publish, video.can_subscribe) == (
        True,
        ROOM_KEY,
        True,
        True,
    )
    assert (video.room_admin, video.room_create, video.room_list) == (None, None, None)
    raw = jwt.decode(token, SECRET, algorithms=["HS256"], issuer=KEY)
    assert set(raw["video"]) == {"roomJoin", "room", "canPublish", "canSubscribe", "canPublishData"}
    assert raw["nbf"] == int(join.not_before.timestamp()) - 10  # the window, less clock skew
    assert raw["exp"] == int(join.expires_at.timestamp())


def test_a_moderator_token_also_administers_its_room_and_no_other(
    provider: LiveKitProvider,
) -> None:
    claims = checked(provider.token(join_request(Role.MODERATOR)))
    assert claims.video is not None
    assert (claims.video.room_admin, claims.video.room, claims.video.room_join) == (
        True,
        ROOM_KEY,
        True,
    )
    assert (claims.video.room_create, claims.video.room_list) == (None, None)


def test_livekit_api_refuses_our_token_outside_its_window_or_under_another_secret(
    provider: LiveKitProvider,
) -> None:
    token = provider.token(join_request())
    with pytest.raises(jwt.InvalidSignatureError):
        lk.TokenVerifier(KEY, "another-secret-of-32-characters-or-more").verify(token)
    over = provider.token(join_request(opens=datetime.now(UTC) - timedelta(hours=2)))
    with pytest.raises(jwt.ExpiredSignatureError):
        checked(over)
    later = provider.token(join_request(opens=datetime.now(UTC) + timedelta(hours=1)))
    with pytest.raises(jwt.ImmatureSignatureError):
        checked(later)


async def test_the_join_url_opens_livekit_meet_with_the_server_and_the_seat_token(
    provider: LiveKitProvider, server: TestServer
) -> None:
    join = join_request()
    url = await provider.join_url(join, now=datetime.now(UTC))

    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://meet.livekit.io/custom"
    query = {name: values[0] for name, values in parse_qs(parts.query).items()}
    assert query["liveKitUrl"] == f"ws://{server.host}:{server.port}"
    assert checked(query["token"]).identity == "rdv-a1"

    own_page = LiveKitProvider(provider.client, join_page="https://meet.example.org/join?theme=x")
    mine = await own_page.join_url(join, now=datetime.now(UTC))
    assert mine.startswith("https://meet.example.org/join?theme=x&liveKitUrl=ws%3A%2F%2F")


# -- rooms through the fake server ---------------------------------------------------------------
async def test_creating_twice_gives_one_room_that_lives_until_we_close_it(
    provider: LiveKitProvider, fake: FakeLiveKit
) -> None:
    first = await provider.create_room(room_request())
    again = await provider.create_room(room_request())

    assert first == again
    assert first.data == {"room": ROOM_KEY, "sid": fake.rooms[ROOM_KEY].sid}
    assert fake.created == {ROOM_KEY: 1}
    settings = fake.rooms[ROOM_KEY].settings
    span = (30 + 30 + 30) * 60  # the session, the lead before it, the overrun after it
    assert (settings["emptyTimeout"], settings["departureTimeout"]) == (span, span)
    assert json.loads(settings["metadata"]) == {
        "title": "Neovision × Eau et Déchets",
        "rdv-event": "lyon-2021",
        "rdv-session": "b2b-01",
    }
    assert fake.grants_seen == [{"method": "CreateRoom", "roomCreate": True}] * 2


async def test_closing_deletes_the_room_and_closing_again_is_fine(
    provider: LiveKitProvider, fake: FakeLiveKit
) -> None:
    room = await provider.create_room(room_request())
    await provider.close_room(room)
    assert ROOM_KEY not in fake.rooms
    await provider.close_room(room)  # LiveKit answers not_found: already gone is success
    assert fake.calls["DeleteRoom"] == 2
    assert fake.grants_seen[-1] == {"method": "DeleteRoom", "roomCreate": True}


async def test_participants_are_our_seats_and_guests_but_not_recorders(
    provider: LiveKitProvider, fake: FakeLiveKit
) -> None:
    room = await provider.create_room(room_request())
    ann = fake.join(ROOM_KEY, "rdv-a1", "Ann Lopez")
    fake.join(ROOM_KEY, "f3c9a1d2", "Nadia Haddad")  # a token someone else minted
    fake.join(ROOM_KEY, "EG_x7Yq", kind=models.ParticipantInfo.EGRESS)

    people = await provider.list_participants(room)

    assert [(p.display_name, p.seat_id) for p in people] == [
        ("Ann Lopez", "rdv-a1"),
        ("Nadia Haddad", None),
    ]
    assert people[0].provider_id == ann.sid
    assert people[0].joined_at is not None
    assert abs(people[0].joined_at.timestamp() - ann.joined_at) < 0.01
    assert fake.grants_seen[-1] == {
        "method": "ListParticipants",
        "roomAdmin": True,
        "room": ROOM_KEY,
    }
    await provider.close_room(room)
    assert await provider.list_participants(room) == []


async def test_a_wrong_secret_is_refused_without_repeating_the_token(
    make_client: Callable[..., LiveKitClient],
) -> None:
    wrong = LiveKitProvider(make_client(secret="not-the-secret-0123456789abcdefgh"), join_page="x")
    with pytest.raises(ProviderRejected) as refused:
        await wrong.create_room(room_request())
    assert isinstance(refused.value, LiveKitRejected)
    assert refused.value.code == "unauthenticated"
    assert "eyJ" not in str(refused.value)  # livekit-server's 401 quotes the token; we do not
    assert "RDV_LIVEKIT_API_SECRET" in str(refused.value)


@pytest.mark.parametrize(
    "client_options",
    [
        {"key": "APIunknown"},
        {"clock": lambda: datetime.now(UTC) - timedelta(hours=1)},  # an expired call token
    ],
)
async def test_an_unknown_key_or_an_expired_call_token_is_refused(
    make_client: Callable[..., LiveKitClient], client_options: dict[str, Any]
) -> None:
    with pytest.raises(ProviderRejected, match="unauthenticated"):
        await make_client(**client_options).create_room(ROOM_KEY)


@pytest.mark.parametrize(
    ("method", "grant"),
    [
        ("ListParticipants", {"roomAdmin": True, "room": "another-room"}),
        ("ListParticipants", {"roomAdmin": False, "room": ROOM_KEY}),
        ("DeleteRoom", {"roomList": True}),
        ("CreateRoom", {"roomJoin": True, "room": ROOM_KEY}),  # a seat's grant is no admin's
        ("ListRooms", {"roomCreate": True}),
    ],
)
async def test_a_call_without_its_grant_is_refused_as_livekit_refuses_it(
    make_client: Callable[..., LiveKitClient], method: str, grant: dict[str, Any]
) -> None:
    body = {"room": ROOM_KEY, "name": ROOM_KEY} if method != "ListRooms" else {}
    with pytest.raises(LiveKitRejected) as refused:
        await make_client().call(method, body, grant)
    assert refused.value.code == "unauthenticated"
    assert "permissions denied" in str(refused.value)


async def test_a_500_then_a_429_with_retry_after_are_worth_retrying(
    provider: LiveKitProvider, fake: FakeLiveKit
) -> None:
    fake.fail(500, (429, 2))
    with pytest.raises(ProviderUnavailable) as first:
        await provider.create_room(room_request())
    assert "500" in str(first.value)
    with pytest.raises(ProviderUnavailable) as second:
        await provider.create_room(room_request())
    assert second.value.retry_after == 2.0
    await provider.create_room(room_request())
    assert fake.created == {ROOM_KEY: 1}


async def test_a_server_that_does_not_answer_in_time_is_unavailable_quickly(
    make_client: Callable[..., LiveKitClient], fake: FakeLiveKit
) -> None:
    fake.delay = 0.5
    impatient = LiveKitProvider(make_client(timeout=0.05), join_page="x")
    began = time.monotonic()
    with pytest.raises(ProviderUnavailable, match="did not answer"):
        await impatient.close_room(Room(ROOM_KEY, {"room": ROOM_KEY}))
    assert time.monotonic() - began < 0.4


async def test_an_unreachable_server_is_unavailable(http: aiohttp.ClientSession) -> None:
    client = LiveKitClient(http, "wss://127.0.0.1:9", KEY, SECRET)
    assert client.base_url == "https://127.0.0.1:9"
    with pytest.raises(ProviderUnavailable, match="unreachable"):
        await LiveKitProvider(client, join_page="x").create_room(room_request())


async def test_the_registry_builds_livekit_from_settings(
    server: TestServer, http: aiohttp.ClientSession, fake: FakeLiveKit
) -> None:
    settings = Settings(
        livekit_url=f"ws://{server.host}:{server.port}",
        livekit_api_key=KEY,
        livekit_api_secret=SECRET,
    )
    provider = ProviderRegistry(settings, http).get("livekit")
    assert (provider.can_list_participants, provider.can_record) == (True, True)
    await provider.create_room(room_request())
    assert fake.created == {ROOM_KEY: 1}
    url = await provider.join_url(join_request(), now=datetime.now(UTC))
    assert url.startswith("https://meet.livekit.io/custom?liveKitUrl=ws%3A%2F%2F")


async def test_the_fake_serves_the_official_sdk_and_refuses_it_what_livekit_refuses(
    server: TestServer, http: aiohttp.ClientSession, fake: FakeLiveKit
) -> None:
    """The official client sends protobuf with the grants it believes each method needs: the
    fake's rules must let it through, and refuse a seat's token as the server would."""
    rooms = RoomService(http, str(server.make_url("/")), KEY, SECRET, failover=False)
    made = await rooms.create_room(lk.CreateRoomRequest(name=ROOM_KEY, empty_timeout=600))
    fake.join(ROOM_KEY, "rdv-a1", "Ann Lopez")
    listed = await rooms.list_participants(lk.ListParticipantsRequest(room=ROOM_KEY))
    found = await rooms.list_rooms(lk.ListRoomsRequest(names=[ROOM_KEY]))
    await rooms.delete_room(lk.DeleteRoomRequest(room=ROOM_KEY))

    assert (made.name, made.empty_timeout) == (ROOM_KEY, 600)
    assert [p.identity for p in listed.participants] == ["rdv-a1"]
    assert [r.sid for r in found.rooms] == [made.sid]
    assert ROOM_KEY not in fake.rooms
    seat_token = lk.AccessToken(KEY, SECRET).with_identity("rdv-a1")
    seat_token.with_grants(lk.VideoGrants(room_join=True, room=ROOM_KEY))
    rooms._token = seat_token.to_jwt()  # sent as is: the SDK's own way to use a given token
    with pytest.raises(lk.ServerError) as refused:
        await rooms.list_rooms(lk.ListRoomsRequest())
    assert (refused.value.code, refused.value.status) == ("unauthenticated", 401)


# -- webhooks ----------------------------------------------------------------------------------
def event_body(event: webhook.WebhookEvent) -> bytes:
    """A webhook body as protojson writes it: camelCase, int64 as strings, zeros left out."""
    return MessageToJson(event, indent=None).encode()


def official_token(body: bytes, *, key: str = KEY, secret: str = SECRET) -> str:
    """The webhook token signed with livekit-api, as the server signs it (5 minutes)."""
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    token = lk.AccessToken(key, secret).with_sha256(digest).with_ttl(timedelta(minutes=5))
    return token.to_jwt()


def receive(body: bytes, authorization: str | None, now: datetime | None = None) -> Delivery:
    headers = {} if authorization is None else {"authorization": authorization}
    return verify(
        headers=headers, body=body, api_key=KEY, api_secret=SECRET, now=now or datetime.now(UTC)
    )


JOINED = webhook.WebhookEvent(
    event="participant_joined",
    room=models.Room(sid="RM_hycBMAjmt6Ub", name=ROOM_KEY),
    participant=models.ParticipantInfo(
        sid="PA_q2Xc",
        identity="rdv-a1",
        name="Ann Lopez",
        state=models.ParticipantInfo.ACTIVE,
        joined_at=1700000000,
        joined_at_ms=1700000000250,
    ),
    id="EV_eugWmGhovZmm",
    created_at=1700000001,
)


@pytest.mark.parametrize("prefix", ["", "Bearer ", "bearer  "])
def test_a_webhook_livekit_api_signs_is_accepted_with_or_without_bearer(prefix: str) -> None:
    body = event_body(JOINED)
    assert b'"joinedAt": "1700000000"' in body  # int64 fields arrive as strings

    (event,) = receive(body, prefix + official_token(body)).events

    assert (event.provider, event.kind, event.dedupe_key) == (
        "livekit",
        Kind.JOINED,
        "EV_eugWmGhovZmm",
    )
    assert event.room == RoomRef(key=ROOM_KEY)
    assert event.who == Who(connection="PA_q2Xc", seat_id="rdv-a1", name="Ann Lopez")
    assert event.at == datetime(2023, 11, 14, 22, 13, 20, 250000, tzinfo=UTC)  # joinedAtMs


def test_one_changed_byte_anywhere_in_the_body_is_rejected() -> None:
    body = event_body(JOINED)
    token = official_token(body)
    for index in range(len(body)):
        changed = body[:index] + bytes([body[index] ^ 0x01]) + body[index + 1 :]
        with pytest.raises(WebhookRejected, match="sha256"):
            receive(changed, token)
    with pytest.raises(WebhookRejected):
        receive(body + b" ", token)


def test_stale_tokens_are_rejected_and_a_minute_of_clock_skew_is_tolerated() -> None:
    body = event_body(JOINED)
    token = official_token(body)
    now = datetime.now(UTC)
    assert receive(body, token, now + timedelta(minutes=5, seconds=50)).events
    with pytest.raises(WebhookRejected, match="stale"):
        receive(body, token, now + timedelta(minutes=7))
    with pytest.raises(WebhookRejected, match="stale"):
        receive(body, token, now - timedelta(minutes=2))  # not valid yet


def _signed(claims: dict[str, Any], body: bytes, algorithm: str = "HS256") -> str:
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jwt.InsecureKeyLengthWarning)  # HS512 wants 64 bytes
        return jwt.encode({"sha256": digest, **claims}, SECRET, algorithm=algorithm)


BODY = event_body(JOINED)
SOON = int(time.time()) + 300


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer ",
        official_token(BODY, secret="another-secret-of-32-characters-or-more"),
        official_token(BODY, key="APIother"),  # signed right, but not by our key
        _signed({"iss": KEY}, BODY),  # no exp
        _signed({"iss": KEY, "exp": SOON}, BODY, algorithm="HS512"),
        jwt.encode({"iss": KEY, "exp": SOON}, SECRET, algorithm="HS256"),  # no sha256 claim
        jwt.encode({"iss": KEY, "exp": SOON, "sha256": "not base64!"}, SECRET, algorithm="HS256"),
        jwt.encode({"iss": KEY, "exp": SOON, "sha256": "x"}, None, algorithm="none"),
        "Basic dXNlcjpwYXNz",
        "not.a.token",
    ],
)
def test_deliveries_without_a_token_of_ours_over_this_body_are_rejected(
    authorization: str | None,
) -> None:
    with pytest.raises(WebhookRejected):
        receive(BODY, authorization)


def test_our_signing_helper_signs_as_livekit_api_checks() -> None:
    body = event_body(JOINED)
    token = livekit_token(body, KEY, SECRET, int(time.time()))
    received = lk.WebhookReceiver(lk.TokenVerifier(KEY, SECRET)).receive(body.decode(), token)
    assert received.participant.identity == "rdv-a1"


def test_the_reference_vector_l() -> None:
    """Vector L, computed by us (LiveKit publishes none): the body's sha256 claim (as
    https://github.com/livekit/protocol/blob/HEAD/webhook/verifier.go checks it) and the event it
    holds."""
    body = (
        b'{"event":"participant_joined","room":{"sid":"RM_x","name":"r1"},"participant":'
        b'{"sid":"PA_x","identity":"u1","name":"Ann","joinedAt":"1700000000"},"id":"EV_x",'
        b'"createdAt":"1700000000"}'
    )
    token = livekit_token(body, KEY, SECRET, 1700000000)
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_exp": False})
    assert claims["sha256"] == "CjKwBKPx36ZGtne6BbmbZ2PIZU97wnJGR5ePoj2K5UM="

    (event,) = receive(body, token, datetime(2023, 11, 14, 22, 14, tzinfo=UTC)).events
    assert (event.kind, event.dedupe_key, event.room) == (Kind.JOINED, "EV_x", RoomRef(key="r1"))
    assert event.who == Who(connection="PA_x", seat_id="u1", name="Ann")
    assert event.at == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)


def _egress(status: int, *files: egress.FileInfo) -> webhook.WebhookEvent:
    info = egress.EgressInfo(
        egress_id="EG_7", room_name=ROOM_KEY, status=status, file_results=files
    )
    return webhook.WebhookEvent(
        event="egress_ended", egress_info=info, id="EV_e", created_at=1700000900
    )


MP4 = egress.FileInfo(
    filename="b2b-01.mp4",
    location="https://recordings.s3.amazonaws.com/b2b-01.mp4",
    duration=1_510_400_000_000,  # nanoseconds
)
SAVED = {"url": MP4.location, "duration": "1510", "filename": "b2b-01.mp4", "egress_id": "EG_7"}


@pytest.mark.parametrize(
    ("event", "kind", "details"),
    [
        (
            webhook.WebhookEvent(
                event="room_started",
                room=models.Room(name=ROOM_KEY),
                id="E1",
                created_at=1700000000,
            ),
            Kind.ROOM_STARTED,
            {},
        ),
        (
            webhook.WebhookEvent(
                event="room_finished",
                room=models.Room(name=ROOM_KEY),
                id="E2",
                created_at=1700000000,
            ),
            Kind.ROOM_ENDED,
            {},
        ),
        (
            _egress(egress.EGRESS_COMPLETE, MP4),
            Kind.RECORDING_READY,
            SAVED,
        ),
        (
            _egress(egress.EGRESS_LIMIT_REACHED, MP4),
            Kind.RECORDING_READY,
            SAVED,
        ),
        (_egress(egress.EGRESS_FAILED, MP4), Kind.OTHER, {}),
        (_egress(egress.EGRESS_COMPLETE), Kind.OTHER, {}),  # streamed only: no file
        (
            webhook.WebhookEvent(
                event="track_published",
                room=models.Room(name=ROOM_KEY),
                id="E3",
                created_at=1700000000,
            ),
            Kind.OTHER,
            {},
        ),
    ],
)
def test_room_recording_and_other_events(
    event: webhook.WebhookEvent, kind: Kind, details: dict[str, str]
) -> None:
    body = event_body(event)
    (found,) = receive(body, official_token(body)).events
    assert (found.kind, dict(found.details), found.room) == (kind, details, RoomRef(key=ROOM_KEY))
    assert found.at == datetime.fromtimestamp(event.created_at, UTC)


def test_a_leave_is_timed_by_the_event_and_recorders_are_not_people() -> None:
    left = webhook.WebhookEvent()
    left.CopyFrom(JOINED)
    left.event, left.id, left.created_at = "participant_left", "EV_left", 1700001800
    body = event_body(left)
    (event,) = receive(body, official_token(body)).events
    assert (event.kind, event.at, event.who) == (
        Kind.LEFT,
        datetime.fromtimestamp(1700001800, UTC),
        Who(connection="PA_q2Xc", seat_id="rdv-a1", name="Ann Lopez"),
    )

    recorder = webhook.WebhookEvent()
    recorder.CopyFrom(JOINED)
    recorder.participant.kind = models.ParticipantInfo.EGRESS
    recorder.participant.identity = "EG_7"
    body = event_body(recorder)
    assert receive(body, official_token(body)).events[0].kind is Kind.OTHER


def test_int64_fields_sent_as_json_numbers_are_read_too() -> None:
    body = json.dumps(
        {
            "event": "participant_joined",
            "room": {"name": ROOM_KEY},
            "participant": {"sid": "PA_1", "identity": "rdv-a1", "joinedAt": 1700000000},
            "id": "EV_n",
            "createdAt": 1700000003,
        }
    ).encode()
    (event,) = receive(body, official_token(body)).events
    assert event.at == datetime.fromtimestamp(1700000000, UTC)


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"[]",
        {"event": "participant_joined", "room": {"name": ROOM_KEY}, "id": "E", "createdAt": "1"},
        {
            "event": "participant_joined",
            "participant": {"sid": "PA"},
            "id": "E",
            "createdAt": "1700000000",
        },
        {
            "event": "participant_left",
            "room": {"name": "r"},
            "participant": {"identity": "x"},
            "id": "E",
            "createdAt": "1700000000",
        },
        {"event": "room_finished", "room": {"name": "r"}, "id": "E", "createdAt": "soon"},
        {
            "event": "room_started",
            "room": {"name": "r"},
            "id": "E",
            "createdAt": "99999999999999999",
        },
    ],
)
def test_authentic_but_unreadable_deliveries_are_malformed(payload: bytes | dict[str, Any]) -> None:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    with pytest.raises(WebhookMalformed):
        receive(body, official_token(body))


def _mutate(rng: random.Random, value: Any) -> Any:
    """One node somewhere in a JSON document replaced with a value of another type."""
    if isinstance(value, dict) and value and rng.random() < 0.8:
        key = rng.choice(list(value))
        return {**value, key: _mutate(rng, value[key])}
    if isinstance(value, list) and value and rng.random() < 0.8:
        index = rng.randrange(len(value))
        return [*value[:index], _mutate(rng, value[index]), *value[index + 1 :]]
    return rng.choice([None, True, -1, 2**70, 1.5, "", "\x00\ud800", "1700000000", [], {}, [{}]])


def test_fuzz_signed_documents_are_only_ever_refused_or_delivered() -> None:
    rng = random.Random(8)
    documents = [json.loads(event_body(e)) for e in (JOINED, _egress(egress.EGRESS_COMPLETE, MP4))]
    for _ in range(600):
        document = _mutate(rng, rng.choice(documents))
        body = json.dumps(document).encode()
        try:
            delivery = receive(body, official_token(body))
        except REFUSED:
            continue
        for event in delivery.events:
            assert (event.provider, bool(event.dedupe_key)) == ("livekit", True)


async def test_a_recording_is_the_uploaded_file_and_a_local_path_is_none(
    provider: LiveKitProvider,
) -> None:
    room = Room(ROOM_KEY, {"room": ROOM_KEY})
    found = await provider.recording(room, {"url": MP4.location, "duration": "1510"}, at=START)
    assert found == Recording(url=MP4.location, duration_seconds=1510)
    local = {"url": "/out/b2b-01.mp4", "duration": "1510"}
    assert await provider.recording(room, local, at=START) is None
