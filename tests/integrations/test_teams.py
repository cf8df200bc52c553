"""Microsoft Teams through a fake Graph that checks credentials, tokens and the application access
policy as Microsoft does (tests/support/fake_teams.py, from reference/teams.md). A meeting per room,
made once whatever happens (createOrGet answers 201, then 200 with the same meeting), its lobby
opened to everyone since nobody is there to admit the two sides, the personal link redirecting to
its one join URL within the seat's window; a missing access policy says what to run, a 429 says how
long to wait, and the attendance reports after the meeting name members and guests alike."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select
from support.fake_teams import (
    CLIENT_ID,
    CLIENT_SECRET,
    ORGANISERS,
    TENANT,
    FakeTeams,
    attendance_record,
    create_app,
)
from support.service import Api, ManualClock, small_program

from integrations.base import (
    JoinRequest,
    ProviderRejected,
    ProviderUnavailable,
    Role,
    Room,
    RoomRequest,
    Seat,
)
from integrations.teams import TeamsProvider
from integrations.teams_client import AccessPolicyMissing, TeamsClient
from orchestrator import appkeys
from orchestrator.db import models as m
from orchestrator.providers import ProviderRegistry
from orchestrator.settings import Settings

START = datetime(2021, 4, 8, 8, 30, tzinfo=UTC)
ANA = Seat("rdv-a1", 1, "tok-ana", name="Ana Lopez", email="ana@water.example")
CHLOE = Seat("rdv-a2", 2, "tok-chloe", name="Chloé Martin", email="chloe@acme.example")
SLUG = "meet-the-buyers"
STATE_KEY = b"teams-state-key-of-the-tests-0123"


class Ticker:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.seconds = 1000.0

    def __call__(self) -> float:
        return self.seconds


@pytest.fixture
def fake() -> FakeTeams:
    return FakeTeams()


@pytest.fixture
async def teams_url(fake: FakeTeams, aiohttp_server: Any) -> str:
    server = await aiohttp_server(create_app(fake))
    return str(server.make_url("")).rstrip("/")


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def make_client(teams_url: str, http: aiohttp.ClientSession) -> Callable[..., TeamsClient]:
    def make(**options: Any) -> TeamsClient:
        values: dict[str, Any] = {
            "tenant_id": TENANT,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "graph_url": teams_url,
            "login_url": teams_url,
        } | options
        return TeamsClient(http, **values)

    return make


@pytest.fixture
def provider(make_client: Callable[..., TeamsClient]) -> TeamsProvider:
    return TeamsProvider(make_client(), ORGANISERS, secret=STATE_KEY)


def at(minutes: int) -> datetime:
    return START + timedelta(minutes=minutes)


def room_request(key: str = "meet-the-buyers-m1-0a1b2c") -> RoomRequest:
    return RoomRequest(
        room_key=key,
        title="Acme × Water",
        starts_at=START,
        ends_at=START + timedelta(minutes=30),
        seats=(ANA, CHLOE),
    )


def join(room: Room, seat: Seat) -> JoinRequest:
    return JoinRequest(
        room=room,
        seat=seat,
        display_name=seat.name or "",
        email=seat.email,
        role=Role.PARTICIPANT,
        not_before=START - timedelta(minutes=10),
        expires_at=START + timedelta(minutes=40),
    )


# -- the app-only token --------------------------------------------------------------------------
async def test_twenty_concurrent_calls_cost_one_token_renewed_a_minute_before_it_expires(
    fake: FakeTeams, make_client: Callable[..., TeamsClient]
) -> None:
    ticker = Ticker()
    client = make_client(clock=ticker)
    tokens = await asyncio.gather(*(client.token() for _ in range(20)))
    assert len(set(tokens)) == 1
    assert fake.token_requests == 1
    ticker.seconds += fake.expires_in - 61
    assert await client.token() == tokens[0]
    ticker.seconds += 2  # within the last minute: a new one
    assert await client.token() != tokens[0]
    assert fake.token_requests == 2


async def test_a_revoked_token_is_replaced_once_and_the_call_goes_through(
    fake: FakeTeams, provider: TeamsProvider
) -> None:
    await provider.client.token()
    fake.revoke_tokens()
    room = await provider.create_room(room_request())
    assert room.data["join_url"].startswith("https://teams.microsoft.com/l/meetup-join/")
    assert fake.token_requests == 2


async def test_wrong_credentials_name_the_settings_to_check(
    make_client: Callable[..., TeamsClient],
) -> None:
    client = make_client(client_secret="not-the-secret")
    with pytest.raises(ProviderRejected) as refused:
        await client.token()
    message = str(refused.value)
    assert "AADSTS7000215" in message
    assert "RDV_TEAMS_CLIENT_SECRET" in message
    assert "not-the-secret" not in message


# -- rooms ----------------------------------------------------------------------------------------
async def test_a_room_is_one_meeting_with_an_open_lobby_made_once_across_restarts(
    fake: FakeTeams, provider: TeamsProvider, make_client: Callable[..., TeamsClient]
) -> None:
    room = await provider.create_room(room_request())
    restarted = TeamsProvider(make_client(), ORGANISERS, secret=STATE_KEY)
    again = await restarted.create_room(room_request())

    assert again == room
    assert len(fake.meetings) == 1
    organiser = room.data["host"]
    meeting = fake.meeting_for(organiser, "meet-the-buyers-m1-0a1b2c")
    assert meeting is not None
    assert room.external_id is None  # known by our room key: notifications come to its address
    assert room.data["meeting"] == meeting["id"]
    assert room.data["join_url"] == meeting["joinWebUrl"]
    assert meeting["subject"] == "Acme × Water"
    assert meeting["lobbyBypassSettings"]["scope"] == "everyone"
    assert meeting["allowedPresenters"] == "everyone"
    assert meeting["startDateTime"].startswith("2021-04-08T08:30:00")
    both = [await provider.join_url(join(room, seat), now=START) for seat in (ANA, CHLOE)]
    assert both == [meeting["joinWebUrl"]] * 2  # one join URL for everyone


async def test_a_room_key_always_goes_to_the_same_organiser(provider: TeamsProvider) -> None:
    keys = [f"meet-the-buyers-m{n}-0a1b2c" for n in range(12)]
    first = [provider.organiser_for(room_request(key)) for key in keys]
    assert first == [provider.organiser_for(room_request(key)) for key in keys]
    assert set(first) == set(ORGANISERS)  # spread over the pool


async def test_closing_shuts_the_lobby_and_keeps_the_meeting_for_its_reports(
    fake: FakeTeams, provider: TeamsProvider
) -> None:
    room = await provider.create_room(room_request())
    await provider.close_room(room)
    meeting = fake.meetings[room.data["meeting"]]
    assert meeting["lobbyBypassSettings"]["scope"] == "organizer"


@pytest.mark.parametrize("variant", ["forbidden", "unauthorized"])
async def test_without_an_application_access_policy_the_failure_says_what_to_run(
    fake: FakeTeams, provider: TeamsProvider, variant: Any
) -> None:
    fake.granted = set()
    fake.policy_error = variant
    with pytest.raises(AccessPolicyMissing) as refused:
        await provider.create_room(room_request())
    message = str(refused.value)
    organiser = provider.organiser_for(room_request())
    assert f'-AppIds "{CLIENT_ID}"' in message
    assert (
        f'Grant-CsApplicationAccessPolicy -PolicyName rdv-orchestrator -Identity "{organiser}"'
        in (message)
    )
    assert "30 minutes" in message
    assert fake.token_requests == 1  # not mistaken for an expired token


async def test_a_429_says_how_long_graph_asks_to_wait(
    fake: FakeTeams, provider: TeamsProvider
) -> None:
    fake.throttle(1, retry_after="2.128")
    with pytest.raises(ProviderUnavailable) as waited:
        await provider.create_room(room_request())
    assert waited.value.retry_after == pytest.approx(2.128)
    assert (await provider.create_room(room_request())).data["join_url"]


# -- attendance reports ----------------------------------------------------------------------------
async def test_the_reports_after_the_meeting_name_members_and_guests_across_pages(
    fake: FakeTeams, provider: TeamsProvider
) -> None:
    fake.page_size = 2
    room = await provider.create_room(room_request())
    organiser, meeting = room.data["host"], room.data["meeting"]
    assert await provider.client.attendance(organiser, meeting) == []  # not ended yet
    fake.end_meeting(
        meeting,
        [
            attendance_record("Ana Lopez", [(at(0), at(25))], email="ana@water.example"),
            attendance_record("Chloé Martin", [(at(2), at(10)), (at(12), at(25))], email=""),
            attendance_record("Dan (guest)", [(at(5), at(6))], email=None),
        ],
    )
    found = {person.name: person for person in await provider.client.attendance(organiser, meeting)}
    assert set(found) == {"Ana Lopez", "Chloé Martin", "Dan (guest)"}
    assert found["Ana Lopez"].email == "ana@water.example"
    assert found["Chloé Martin"].email == ""  # a guest: matched by name
    assert found["Dan (guest)"].email == ""
    assert found["Chloé Martin"].spans == ((at(2), at(10)), (at(12), at(25)))


# -- in the service --------------------------------------------------------------------------------
def teams_program() -> dict[str, Any]:
    program = small_program()
    program["event"]["provider"] = "teams"
    return program


async def test_a_teams_meeting_of_the_day_opens_from_the_personal_link_in_its_window(
    make_api: Callable[..., Any], teams_url: str, fake: FakeTeams, clock: ManualClock, db: Any
) -> None:
    api: Api = await make_api(
        teams_tenant_id=TENANT,
        teams_client_id=CLIENT_ID,
        teams_client_secret=CLIENT_SECRET,
        teams_organisers=ORGANISERS,
        graph_url=teams_url,
        teams_login_url=teams_url,
    )
    await api.import_ok(teams_program())
    async with db() as session:
        token = await session.scalar(
            select(m.Attendee.token)
            .join(m.Person, m.Person.id == m.Attendee.person_id)
            .join(m.Session, m.Session.id == m.Attendee.session_id)
            .where(m.Person.key == "chloe", m.Session.key == "m1")
        )
    clock.set(START - timedelta(hours=1))
    early = await api.client.get(f"/j/{token}", allow_redirects=False)
    assert early.status == 200  # not yet: the page says when it opens
    clock.set(START - timedelta(minutes=5))
    opened = await api.client.get(f"/j/{token}", allow_redirects=False)
    assert opened.status == 302
    assert opened.headers["Location"].startswith("https://teams.microsoft.com/l/meetup-join/")
    (meeting,) = [found for found in fake.meetings.values() if found["subject"] == "Acme × Water"]
    assert opened.headers["Location"] == meeting["joinWebUrl"]


async def test_a_room_refused_for_want_of_a_policy_shows_the_command_to_the_organisers(
    make_api: Callable[..., Any], teams_url: str, fake: FakeTeams, clock: ManualClock
) -> None:
    fake.granted = set()
    api: Api = await make_api(
        teams_tenant_id=TENANT,
        teams_client_id=CLIENT_ID,
        teams_client_secret=CLIENT_SECRET,
        teams_organisers=ORGANISERS,
        graph_url=teams_url,
        teams_login_url=teams_url,
    )
    await api.import_ok(teams_program())
    clock.set(START - timedelta(minutes=30))
    app = api.client.app
    assert app is not None
    await app[appkeys.LIFECYCLE].reconcile()
    rooms = await api.client.get(f"/api/v1/events/{SLUG}/rooms", headers=api.headers(SLUG))
    failed = {room["session"]: room for room in (await rooms.json())["rooms"]}["m1"]
    assert failed["state"] == "failed"
    assert "Grant-CsApplicationAccessPolicy" in failed["error"]


async def test_the_registry_builds_teams_from_settings(
    make_settings: Callable[..., Settings], http: aiohttp.ClientSession
) -> None:
    settings = make_settings(
        teams_tenant_id=TENANT,
        teams_client_id=CLIENT_ID,
        teams_client_secret=CLIENT_SECRET,
        teams_organisers=ORGANISERS,
    )
    provider = ProviderRegistry(settings, http).get("teams")
    assert provider.name == "teams"
    missing = make_settings(teams_tenant_id=TENANT).missing_for("teams")
    assert missing == ["RDV_TEAMS_CLIENT_ID", "RDV_TEAMS_CLIENT_SECRET", "RDV_TEAMS_ORGANISERS"]


def teams_settings(pool: tuple[str, ...], url: str) -> dict[str, Any]:
    return {
        "teams_tenant_id": TENANT,
        "teams_client_id": CLIENT_ID,
        "teams_client_secret": CLIENT_SECRET,
        "teams_organisers": pool,
        "graph_url": url,
        "teams_login_url": url,
    }


async def test_meetings_at_the_same_time_get_different_organisers_and_too_few_are_refused(
    make_api: Callable[..., Any], teams_url: str, fake: FakeTeams, clock: ManualClock, db: Any
) -> None:
    """m1, m2 and m3 overlap (m1 and m2 at 10:30, m3 at 11:00 while m1's room still holds its
    organiser): three organisers are needed."""
    short: Api = await make_api(**teams_settings(ORGANISERS[:2], teams_url))
    refused = await short.put_program(teams_program())
    assert refused.status == 422
    message = (await refused.json())["error"]["details"][0]["message"]
    assert "3 Teams meetings are open at once" in message
    assert "RDV_TEAMS_ORGANISERS has 2 organisers: 3 organisers are needed" in message

    api: Api = await make_api(**teams_settings(ORGANISERS, teams_url))
    await api.import_ok(teams_program())
    clock.set(START)  # m1 and m2 starting, m3's room due (half an hour ahead)
    app = api.client.app
    assert app is not None
    await app[appkeys.LIFECYCLE].reconcile()
    async with db() as session:
        rows = (
            await session.execute(
                select(m.Session.key, m.Room.room_key, m.Room.provider_data)
                .join(m.Room, m.Room.session_id == m.Session.id)
                .where(m.Session.key.in_(("m1", "m2", "m3")))
            )
        ).all()
    chosen = {key: data.get("host") for key, _, data in rows}
    assert sorted(chosen.values()) == sorted(ORGANISERS)  # one each
    for _, room_key, data in rows:  # each meeting made under the organiser it was given
        assert fake.meeting_for(data["host"], room_key) is not None
