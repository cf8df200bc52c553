"""Google Meet through a fake Google that checks the service account's signed assertion, the
domain-wide delegation and every token as Google does (tests/support/fake_meet.py, from
reference/meet.md). A space per room, open to people from outside the domain, the personal link
redirecting to its one meeting link within the seat's window; closing ends the conference and
restricts the space; a missing delegation says what to add, and a broken key file says what is
wrong without repeating it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import jwt
import pytest
from sqlalchemy import select
from support.fake_meet import CLIENT_EMAIL, CLIENT_ID, CREATED, USER, FakeMeet, create_app
from support.service import Api, ManualClock, small_program

from integrations.base import NotConfigured, ProviderRejected, ProviderUnavailable, RoomRequest
from integrations.meet import MeetProvider
from integrations.meet_client import MeetClient, load_service_account
from orchestrator.db import models as m

START = datetime(2021, 4, 8, 8, 30, tzinfo=UTC)


@pytest.fixture
def fake() -> FakeMeet:
    return FakeMeet()


@pytest.fixture
async def meet_url(fake: FakeMeet, aiohttp_server: Any) -> str:
    server = await aiohttp_server(create_app(fake))
    return str(server.make_url("")).rstrip("/")


@pytest.fixture
def key_file(fake: FakeMeet, meet_url: str, tmp_path: Path) -> Path:
    return fake.key_file(tmp_path / "meet-service-account.json", meet_url)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def make_client(
    meet_url: str, key_file: Path, http: aiohttp.ClientSession
) -> Callable[..., MeetClient]:
    def make(**options: Any) -> MeetClient:
        values: dict[str, Any] = {"user": USER, "api_url": meet_url} | options
        return MeetClient(http, load_service_account(key_file), **values)

    return make


@pytest.fixture
def provider(make_client: Callable[..., MeetClient]) -> MeetProvider:
    return MeetProvider(make_client())


def room_request(**metadata: str) -> RoomRequest:
    return RoomRequest(
        room_key="meet-the-buyers-m1-0a1b2c",
        title="Acme × Water",
        starts_at=START,
        ends_at=START + timedelta(minutes=30),
        metadata=metadata,
    )


# -- the delegated token ---------------------------------------------------------------------------
async def test_the_assertion_acts_for_the_user_and_one_token_serves_concurrent_calls(
    fake: FakeMeet, make_client: Callable[..., MeetClient]
) -> None:
    client = make_client()
    claims = jwt.decode(client.assertion(), options={"verify_signature": False})
    assert (claims["iss"], claims["sub"], claims["scope"]) == (CLIENT_EMAIL, USER, CREATED)
    assert claims["exp"] - claims["iat"] == 3600
    assert claims["aud"] == fake.token_uri
    tokens = await asyncio.gather(*(client.token() for _ in range(20)))
    assert len(set(tokens)) == 1
    assert fake.token_requests == 1


async def test_without_the_domain_wide_delegation_the_failure_says_what_to_add(
    fake: FakeMeet, provider: MeetProvider
) -> None:
    fake.delegated = set()
    with pytest.raises(ProviderRejected) as refused:
        await provider.create_room(room_request())
    message = str(refused.value)
    assert "Domain-wide delegation" in message
    assert CLIENT_ID in message
    assert CREATED in message


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (None, "no file at"),
        ("not json", "is not a service account's JSON key file"),
        (json.dumps({"type": "authorized_user", "refresh_token": "1//secret"}), '"type"'),
        (json.dumps({"type": "service_account", "client_email": "a@b"}), "lacks private_key"),
    ],
)
def test_a_broken_key_file_says_what_is_wrong_and_never_repeats_it(
    tmp_path: Path, content: str | None, says: str
) -> None:
    path = tmp_path / "key.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(NotConfigured) as refused:
        load_service_account(path)
    assert says in str(refused.value)
    assert "secret" not in str(refused.value)
    assert "RDV_MEET_CREDENTIALS" in str(refused.value)


# -- rooms -----------------------------------------------------------------------------------------
async def test_a_room_is_an_open_space_and_everyone_gets_its_one_meeting_link(
    fake: FakeMeet, provider: MeetProvider
) -> None:
    room = await provider.create_room(room_request())
    space = fake.spaces[room.data["space"]]
    assert room.external_id == space.name
    assert space.access_type == "OPEN"
    assert room.data["join_url"] == f"https://meet.google.com/{space.meeting_code}"
    assert space.owner == USER


async def test_a_room_that_had_a_space_keeps_it_and_opens_it_again(
    fake: FakeMeet, provider: MeetProvider
) -> None:
    earlier = fake.add_space(access_type="RESTRICTED")
    room = await provider.create_room(room_request(space=earlier.name))
    assert room.data["space"] == earlier.name
    assert len(fake.spaces) == 1
    assert fake.spaces[earlier.name].access_type == "OPEN"
    fake.forget_space(earlier.name)  # gone since: a new one
    again = await provider.create_room(room_request(space=earlier.name))
    assert again.data["space"] != earlier.name


async def test_closing_ends_the_conference_and_restricts_the_space(
    fake: FakeMeet, provider: MeetProvider
) -> None:
    room = await provider.create_room(room_request())
    await provider.close_room(room)  # nobody came: nothing to end, and that is fine
    name = room.data["space"]
    assert fake.spaces[name].access_type == "RESTRICTED"
    other = await provider.create_room(room_request())
    fake.join(other.data["space"], "Ana Lopez", at=START)
    await provider.close_room(other)
    assert fake.spaces[other.data["space"]].active is None


async def test_a_429_says_to_wait(fake: FakeMeet, provider: MeetProvider) -> None:
    fake.throttle(1, retry_after=3)
    with pytest.raises(ProviderUnavailable) as waited:
        await provider.create_room(room_request())
    assert waited.value.retry_after == 3.0


# -- in the service --------------------------------------------------------------------------------
async def test_a_meet_meeting_of_the_day_opens_from_the_personal_link_in_its_window(
    make_api: Callable[..., Any],
    key_file: Path,
    meet_url: str,
    fake: FakeMeet,
    clock: ManualClock,
    db: Any,
) -> None:
    api: Api = await make_api(meet_credentials=str(key_file), meet_user=USER, meet_api_url=meet_url)
    program = small_program()
    program["event"]["provider"] = "meet"
    await api.import_ok(program)
    async with db() as session:
        token = await session.scalar(
            select(m.Attendee.token)
            .join(m.Person, m.Person.id == m.Attendee.person_id)
            .join(m.Session, m.Session.id == m.Attendee.session_id)
            .where(m.Person.key == "ana", m.Session.key == "m1")
        )
    clock.set(START - timedelta(minutes=5))
    opened = await api.client.get(f"/j/{token}", allow_redirects=False)
    assert opened.status == 302
    (space,) = [
        s for s in fake.spaces.values() if opened.headers["Location"].endswith(s.meeting_code)
    ]
    assert opened.headers["Location"] == f"https://meet.google.com/{space.meeting_code}"
