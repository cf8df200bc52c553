"""BigBlueButton through a fake server that checks checksums and answers as bbb-web does: rooms
created once per room key, role-based join links bound to the meeting, close, participants, and
the failures the lifecycle must retry."""

from __future__ import annotations

import asyncio
import json
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from support.fake_bbb import API, CHECKSUM_WRONG, STATE, FakeBBB, create_app

from integrations.base import (
    JoinRequest,
    ProviderRejected,
    ProviderUnavailable,
    Role,
    Room,
    RoomRequest,
    Seat,
)
from integrations.bigbluebutton import (
    BigBlueButtonClient,
    BigBlueButtonProvider,
    checksum,
    meeting_name,
)
from orchestrator.providers import ProviderRegistry
from orchestrator.settings import Settings

SECRET = "8cd8ef52e8e101574e400365b55e11a6"
OFFICIAL_SECRET = "639259d4-9dd8-4b25-bf01-95f9567eaf4b"
OFFICIAL_QUERY = "name=Test+Meeting&meetingID=abc123&attendeePW=111222&moderatorPW=333444"
START = datetime(2021, 4, 8, 8, 30, tzinfo=UTC)
ANN = Seat(seat_id="rdv-a1", number=1, token="tok-ann")
BOB = Seat(seat_id="rdv-a2", number=2, token="tok-bob")
SUPPORT = Path(__file__).resolve().parents[1] / "support"


def room_request(
    key: str = "rdv-b2b-01-x7k2", title: str = "Neovision x Eau et Déchets"
) -> RoomRequest:
    return RoomRequest(
        room_key=key,
        title=title,
        starts_at=START,
        ends_at=START + timedelta(minutes=30),
        seats=(ANN, BOB),
        callback_url="https://rdv.test/hooks/bigbluebutton/recording",
        metadata={"rdv-event": "lyon-2021", "rdv-session": "b2b-01"},
    )


def join_request(room: Room, seat: Seat, role: Role, name: str) -> JoinRequest:
    return JoinRequest(
        room=room,
        seat=seat,
        display_name=name,
        email=None,
        role=role,
        not_before=START - timedelta(minutes=10),
        expires_at=START + timedelta(minutes=30),
    )


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query, keep_blank_values=True).items()}


def parse(body: bytes) -> ET.Element:
    return ET.fromstring(body)  # noqa: S314 (the fake's own answer)


def shape(body: bytes) -> list[tuple[str, str]]:
    """An XML answer as (tag, text) pairs in document order."""
    return [(node.tag, (node.text or "").strip()) for node in parse(body).iter()]


@pytest.fixture
async def bbb(aiohttp_server: Callable[..., Any]) -> TestServer:
    server: TestServer = await aiohttp_server(create_app(SECRET))
    return server


@pytest.fixture
def fake(bbb: TestServer) -> FakeBBB:
    return bbb.app[STATE]


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def make_provider(
    bbb: TestServer, http: aiohttp.ClientSession
) -> Callable[..., BigBlueButtonProvider]:
    def make(
        secret: str = SECRET, algorithm: str = "sha256", timeout: float = 5.0
    ) -> BigBlueButtonProvider:
        url = str(bbb.make_url(API))
        client = BigBlueButtonClient(http, url, secret, algorithm, timeout=timeout)
        return BigBlueButtonProvider(client, lead=timedelta(minutes=30))

    return make


@pytest.fixture
def provider(make_provider: Callable[..., BigBlueButtonProvider]) -> BigBlueButtonProvider:
    return make_provider()


def test_official_checksum_vector_in_sha1_and_sha256() -> None:
    assert checksum("create", OFFICIAL_QUERY, OFFICIAL_SECRET, "sha1") == (
        "1fcbb0c4fc1f039f73aa6d697d2db9ba7f803f17"
    )
    assert checksum("create", OFFICIAL_QUERY, OFFICIAL_SECRET, "sha256") == (
        "da9185f7f333cfdfcd6eeac32dca3777510c4c436020d8b887ba5515bd1d189e"
    )


async def test_fake_accepts_the_official_example_request(
    aiohttp_server: Callable[..., Any], http: aiohttp.ClientSession
) -> None:
    server: TestServer = await aiohttp_server(create_app(OFFICIAL_SECRET))
    url = server.make_url(
        f"{API}/create?{OFFICIAL_QUERY}&checksum=1fcbb0c4fc1f039f73aa6d697d2db9ba7f803f17"
    )
    for expected_key in ("", "duplicateWarning"):
        async with http.get(url) as response:
            answer = parse(await response.read())
        assert answer.findtext("returncode") == "SUCCESS"
        assert answer.findtext("messageKey") == expected_key
        assert answer.findtext("moderatorPW") == "333444"
    assert server.app[STATE].meetings_created == 1


async def test_wrong_or_missing_checksum_is_refused_as_bbb_does(
    bbb: TestServer, http: aiohttp.ClientSession, fake: FakeBBB
) -> None:
    for suffix, message in (("&checksum=" + "0" * 64, CHECKSUM_WRONG), ("", "You must provide")):
        async with http.get(bbb.make_url(f"{API}/create?name=Ab&meetingID=m1{suffix}")) as answer:
            assert answer.status == 200
            pairs = shape(await answer.read())
        assert [tag for tag, _ in pairs] == ["response", "returncode", "messageKey", "message"]
        assert pairs[1:3] == [("returncode", "FAILED"), ("messageKey", "checksumError")]
        assert pairs[3][1].startswith(message)
    assert fake.meetings == {}


async def test_our_client_names_the_checksum_error_without_leaking_the_secret(
    make_provider: Callable[..., BigBlueButtonProvider], fake: FakeBBB
) -> None:
    wrong = make_provider(secret="not-the-shared-secret-at-all")
    with pytest.raises(ProviderRejected) as refused:
        await wrong.create_room(room_request())
    assert "checksumError" in str(refused.value)
    assert "not-the-shared-secret" not in str(refused.value)
    assert fake.meetings == {}


async def test_creating_twice_gives_one_meeting_and_the_same_room(
    provider: BigBlueButtonProvider, fake: FakeBBB
) -> None:
    first = await provider.create_room(room_request())
    second = await provider.create_room(room_request())

    assert first == second
    assert fake.create_calls == 2
    assert fake.meetings_created == 1
    meeting = fake.meetings["rdv-b2b-01-x7k2"]
    assert first.data == {
        "meetingID": "rdv-b2b-01-x7k2",
        "internalMeetingID": meeting.internal_id,
        "createTime": str(meeting.create_time),
    }
    assert meeting.name == "Neovision x Eau et Déchets"
    assert meeting.metadata == {
        "rdv-event": "lyon-2021",
        "rdv-session": "b2b-01",
        "bbb-recording-ready-url": "https://rdv.test/hooks/bigbluebutton/recording",
    }
    # 30 min session + 30 min lead + 30 min overrun; no deprecated passwords, no recording asked.
    assert meeting.params["duration"] == "90"
    assert meeting.params["meetingExpireIfNoUserJoinedInMinutes"] == "90"
    assert not {"attendeePW", "moderatorPW", "record"} & meeting.params.keys()


async def test_a_long_title_with_reserved_characters_is_signed_and_cut_to_bbb_limits(
    provider: BigBlueButtonProvider, fake: FakeBBB
) -> None:
    title = 'R&D / Zoë\'s 100% ~ *(very)* long + "quoted" rendez-vous: ' + "x" * 80 + " 🎉"
    await provider.create_room(room_request(title=title))

    name = fake.meetings["rdv-b2b-01-x7k2"].name
    assert name.startswith('R&D / Zoë\'s 100% ~ *(very)* long + "quoted" rendez-vous: xx')
    assert name.endswith("…")
    assert len(name) == 64
    assert meeting_name("🎉" * 40, "k") == "🎉" * 31 + "…"  # 63 UTF-16 units and the ellipsis
    assert meeting_name("X", "rdv-room-key") == "rdv-room-key"


async def test_an_older_server_refusing_a_repeated_create_still_gives_the_same_room(
    provider: BigBlueButtonProvider, fake: FakeBBB
) -> None:
    fake.legacy_duplicates = True
    first = await provider.create_room(room_request())
    again = await provider.create_room(room_request())

    assert again == first
    assert fake.meetings_created == 1


async def test_join_urls_carry_role_seat_and_meeting_and_the_fake_lets_them_in(
    provider: BigBlueButtonProvider, fake: FakeBBB, http: aiohttp.ClientSession
) -> None:
    room = await provider.create_room(room_request())
    host = await provider.join_url(
        join_request(room, ANN, Role.MODERATOR, "Ann O'Neil & Zoë / R+D: 100%"), now=START
    )
    guest = await provider.join_url(
        join_request(room, BOB, Role.PARTICIPANT, "Bob Buyer"), now=START
    )

    for url, role, seat in ((host, "MODERATOR", ANN), (guest, "VIEWER", BOB)):
        params = query(url)
        assert params["role"] == role
        assert params["userID"] == seat.seat_id
        assert params["createTime"] == room.data["createTime"]
        assert params["meetingID"] == "rdv-b2b-01-x7k2"
        assert params["redirect"] == "true"
        assert "password" not in params
        assert len(params["checksum"]) == 64
        async with http.get(url) as followed:  # the browser follows it into the client
            assert followed.status == 200
            assert await followed.text() == f"In the meeting as {params['fullName']} ({role})"

    assert [(j["user_id"], j["role"], j["full_name"]) for j in fake.joins] == [
        ("rdv-a1", "MODERATOR", "Ann O'Neil & Zoë / R+D: 100%"),
        ("rdv-a2", "VIEWER", "Bob Buyer"),
    ]


async def test_a_tampered_join_url_is_sent_back_with_checksum_error(
    provider: BigBlueButtonProvider, fake: FakeBBB, http: aiohttp.ClientSession
) -> None:
    room = await provider.create_room(room_request())
    url = await provider.join_url(join_request(room, BOB, Role.PARTICIPANT, "Bob"), now=START)

    async with http.get(url.replace("role=VIEWER", "role=MODERATOR"), allow_redirects=False) as r:
        assert r.status == 302
        errors = json.loads(query(r.headers["Location"])["errors"])
    assert errors == [{"key": "checksumError", "message": CHECKSUM_WRONG}]
    assert fake.joins == []


async def test_a_link_minted_for_an_earlier_meeting_under_the_same_key_is_refused(
    provider: BigBlueButtonProvider, fake: FakeBBB, http: aiohttp.ClientSession
) -> None:
    earlier = await provider.create_room(room_request())
    url = await provider.join_url(join_request(earlier, ANN, Role.MODERATOR, "Ann"), now=START)
    await provider.close_room(earlier)
    later = await provider.create_room(room_request())
    assert later.data["createTime"] != earlier.data["createTime"]

    async with http.get(url, allow_redirects=False) as answer:
        errors = json.loads(query(answer.headers["Location"])["errors"])
    assert errors[0]["key"] == "mismatchCreateTimeParam"
    assert fake.joins == []


async def test_closing_ends_the_meeting_and_closing_again_is_fine(
    provider: BigBlueButtonProvider, fake: FakeBBB
) -> None:
    room = await provider.create_room(room_request())
    await provider.close_room(room)
    assert fake.meetings == {}
    assert fake.ended == ["rdv-b2b-01-x7k2"]

    await provider.close_room(room)
    await provider.close_room(Room("rdv-never-created", {}))
    assert fake.calls["end"] == 3


async def test_participants_are_the_seats_that_joined_and_guests_have_none(
    provider: BigBlueButtonProvider, fake: FakeBBB, http: aiohttp.ClientSession
) -> None:
    room = await provider.create_room(room_request())
    assert await provider.list_participants(room) == []
    for seat, name in ((ANN, "Ann"), (BOB, "Bob"), (ANN, "Ann")):  # Ann opens a second tab
        url = await provider.join_url(join_request(room, seat, Role.PARTICIPANT, name), now=START)
        async with http.get(url):
            pass
    guest = provider.client.join_url(
        {"fullName": "Walk-in", "meetingID": "rdv-b2b-01-x7k2", "role": "VIEWER"}
    )
    async with http.get(guest):
        pass

    running = provider.client.url("isMeetingRunning", {"meetingID": "rdv-b2b-01-x7k2"})
    async with http.get(running) as answer:
        assert parse(await answer.read()).findtext("running") == "true"
    people = await provider.list_participants(room)
    assert [(p.seat_id, p.display_name) for p in people] == [
        ("rdv-a1", "Ann"),
        ("rdv-a2", "Bob"),
        (None, "Walk-in"),
    ]
    assert people[2].provider_id.startswith("w_")

    await provider.close_room(room)
    assert await provider.list_participants(room) == []


async def test_a_500_then_a_429_with_retry_after_are_worth_retrying(
    provider: BigBlueButtonProvider, fake: FakeBBB
) -> None:
    fake.fail(500, (429, 2))

    with pytest.raises(ProviderUnavailable) as first:
        await provider.create_room(room_request())
    assert first.value.retry_after is None
    assert "500" in str(first.value)
    with pytest.raises(ProviderUnavailable) as second:
        await provider.create_room(room_request())
    assert second.value.retry_after == 2.0
    await provider.create_room(room_request())

    assert fake.create_calls == 3
    assert fake.meetings_created == 1


async def test_a_server_that_does_not_answer_in_time_is_unavailable_quickly(
    make_provider: Callable[..., BigBlueButtonProvider], fake: FakeBBB
) -> None:
    fake.create_delay = 0.5
    impatient = make_provider(timeout=0.05)

    began = time.monotonic()
    with pytest.raises(ProviderUnavailable, match="did not answer"):
        await impatient.create_room(room_request())
    assert time.monotonic() - began < 0.4


async def test_an_unreachable_server_is_unavailable(http: aiohttp.ClientSession) -> None:
    client = BigBlueButtonClient(http, "http://127.0.0.1:9/bigbluebutton/api", SECRET)
    with pytest.raises(ProviderUnavailable, match="unreachable"):
        await BigBlueButtonProvider(client).create_room(room_request())


@pytest.mark.parametrize("algorithm", ["sha1", "sha384", "sha512"])
async def test_the_configured_checksum_algorithm_is_accepted(
    bbb: TestServer, http: aiohttp.ClientSession, fake: FakeBBB, algorithm: str
) -> None:
    settings = Settings(
        bbb_url=str(bbb.make_url("/bigbluebutton/")), bbb_secret=SECRET, bbb_checksum=algorithm
    )
    provider = ProviderRegistry(settings, http).get("bigbluebutton")
    room = await provider.create_room(room_request())
    url = await provider.join_url(join_request(room, ANN, Role.MODERATOR, "Ann"), now=START)
    async with http.get(url) as followed:
        assert followed.status == 200

    assert len(query(url)["checksum"]) == {"sha1": 40, "sha384": 96, "sha512": 128}[algorithm]
    assert fake.meetings_created == 1
    assert len(fake.joins) == 1


async def test_the_fake_runs_standalone_with_a_state_file_and_failure_injection(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    state_file = tmp_path / "bbb.json"
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, str(SUPPORT / "fake_bbb.py"), "--port", "0", "--secret", SECRET),
        *("--state-file", str(state_file)),
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        api = (await asyncio.wait_for(process.stdout.readline(), 10)).decode().split()[-1]
        assert api.endswith(API)
        assert json.loads(state_file.read_text())["create_calls"] == 0

        provider = BigBlueButtonProvider(BigBlueButtonClient(http, api, SECRET))
        await provider.create_room(room_request())
        async with http.post(api.replace(API, "/_fake/fail?statuses=503")) as answer:
            assert await answer.json() == {"create": [503]}
        with pytest.raises(ProviderUnavailable):
            await provider.create_room(room_request())
        await provider.create_room(room_request())

        state = json.loads(state_file.read_text())
        assert state["create_calls"] == 3
        assert state["created"] == {"rdv-b2b-01-x7k2": 1}
        assert state["meetings"]["rdv-b2b-01-x7k2"]["metadata"]["rdv-session"] == "b2b-01"
    finally:
        if process.returncode is None:
            process.terminate()
        await process.wait()
    assert process.returncode == 0
