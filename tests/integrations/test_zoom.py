"""Zoom through a fake Zoom that checks credentials and tokens as Zoom does: one token request for
twenty concurrent calls, 429s worth waiting for, meetings with a personal registrant link per
seat, and the host pool that keeps every host to one meeting at a time within its daily quota,
down to refusing an import that needs more hosts than the pool holds."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select, update
from support.fake_zoom import ACCOUNT, CLIENT_ID, CLIENT_SECRET, FakeZoom, create_app
from support.service import ManualClock, small_program

from integrations.base import (
    JoinRequest,
    ProviderRejected,
    ProviderUnavailable,
    Role,
    Room,
    RoomRequest,
    Seat,
)
from integrations.zoom import ZoomProvider
from integrations.zoom_client import ZoomClient, ZoomHostBusy, ZoomQuotaExceeded
from orchestrator.db import models as m
from orchestrator.db.zoom import ZoomHostDay
from orchestrator.program import zoom_hosts
from orchestrator.program.raw import RawProgram
from orchestrator.program.service import import_program, provider_check
from orchestrator.program.validate import validate
from orchestrator.providers import ProviderRegistry
from orchestrator.rooms import host_pool
from orchestrator.settings import Settings

HOSTS = ("host1@rdv.example", "host2@rdv.example", "host3@rdv.example")
START = datetime(2021, 4, 8, 8, 30, tzinfo=UTC)
ANA = Seat("rdv-a1", 1, "tok-ana", name="Ana Lopez", email="ana@water.example")
CHLOE = Seat("rdv-a2", 2, "tok-chloe", name="Chloé Martin", email="chloe@acme.example")


class Ticker:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.seconds = 1000.0

    def __call__(self) -> float:
        return self.seconds


@pytest.fixture
def fake() -> FakeZoom:
    return FakeZoom(hosts=HOSTS)


@pytest.fixture
async def zoom_url(fake: FakeZoom, aiohttp_server: Any) -> str:
    server = await aiohttp_server(create_app(fake))
    return str(server.make_url("")).rstrip("/")


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def make_client(zoom_url: str, http: aiohttp.ClientSession) -> Callable[..., ZoomClient]:
    def make(**options: Any) -> ZoomClient:
        values: dict[str, Any] = {
            "account_id": ACCOUNT,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "api_url": f"{zoom_url}/v2",
            "oauth_url": zoom_url,
        } | options
        return ZoomClient(http, **values)

    return make


@pytest.fixture
def provider(make_client: Callable[..., ZoomClient]) -> ZoomProvider:
    return ZoomProvider(make_client(), HOSTS, webhook_secret="zoom-webhook-secret-0123456789")


def room_request(
    key: str = "meet-the-buyers-m1-0a1b2c", *, host: str | None = None, start: datetime = START
) -> RoomRequest:
    return RoomRequest(
        room_key=key,
        title="Acme × Water",
        starts_at=start,
        ends_at=start + timedelta(minutes=30),
        seats=(ANA, CHLOE),
        metadata={"rdv-event": "meet-the-buyers", **({"host": host} if host else {})},
    )


def join(room: Room, seat: Seat, email: str | None = None) -> JoinRequest:
    return JoinRequest(
        room=room,
        seat=seat,
        display_name=seat.name or "",
        email=email or seat.email,
        role=Role.PARTICIPANT,
        not_before=START - timedelta(minutes=10),
        expires_at=START + timedelta(minutes=40),
    )


# -- OAuth and the client ------------------------------------------------------------------------
async def test_twenty_concurrent_calls_cost_one_token_request(
    fake: FakeZoom, make_client: Callable[..., ZoomClient]
) -> None:
    fake.token_delay = 0.05  # the calls arrive while the first token request is still out
    client = make_client()

    found = await asyncio.gather(*(client.meetings(HOSTS[i % 3]) for i in range(20)))

    assert found == [[]] * 20
    assert fake.token_requests == 1
    assert len(fake.calls) == 20


async def test_the_token_is_fetched_again_a_minute_before_it_expires(
    fake: FakeZoom, make_client: Callable[..., ZoomClient]
) -> None:
    ticker = Ticker()
    client = make_client(clock=ticker)
    await client.meetings(HOSTS[0])
    ticker.seconds += 3600 - 61
    await client.meetings(HOSTS[0])
    assert fake.token_requests == 1
    ticker.seconds += 2  # 59 s left: too close to the end
    await client.meetings(HOSTS[0])
    assert fake.token_requests == 2


async def test_a_revoked_token_is_replaced_once_and_the_call_goes_through(
    fake: FakeZoom, make_client: Callable[..., ZoomClient]
) -> None:
    client = make_client()
    await client.meetings(HOSTS[0])
    fake.revoke_tokens()
    assert await client.meetings(HOSTS[0]) == []
    assert fake.token_requests == 2


async def test_wrong_credentials_name_the_settings_to_check(
    make_client: Callable[..., ZoomClient],
) -> None:
    with pytest.raises(ProviderRejected, match="RDV_ZOOM_CLIENT_SECRET") as refused:
        await make_client(client_secret="not-the-secret").meetings(HOSTS[0])
    assert "Invalid client_id or client_secret" in str(refused.value)
    with pytest.raises(ProviderRejected, match="RDV_ZOOM_ACCOUNT_ID"):
        await make_client(account_id="someone-else").meetings(HOSTS[0])


async def test_a_429_with_retry_after_says_how_long_to_wait(
    fake: FakeZoom, make_client: Callable[..., ZoomClient]
) -> None:
    fake.throttled = [7]
    client = make_client()
    with pytest.raises(ProviderUnavailable) as waited:
        await client.meetings(HOSTS[0])
    assert waited.value.retry_after == 7.0
    assert not isinstance(waited.value, ZoomQuotaExceeded)
    assert await client.meetings(HOSTS[0]) == []  # and then it goes through


async def test_the_daily_create_quota_waits_for_midnight_utc(
    fake: FakeZoom, make_client: Callable[..., ZoomClient]
) -> None:
    fake.daily_quota = 2
    provider = ZoomProvider(make_client(), HOSTS)
    for number in range(2):
        later = START + timedelta(hours=number)
        await provider.create_room(room_request(f"room-{number}", host=HOSTS[0], start=later))
    with pytest.raises(ZoomQuotaExceeded) as exhausted:
        await provider.create_room(room_request("room-3", host=HOSTS[0]))
    assert exhausted.value.host == HOSTS[0]
    assert "00:00 UTC" in str(exhausted.value)
    assert exhausted.value.retry_after is not None
    assert 0 < exhausted.value.retry_after <= 86400
    await provider.create_room(room_request("room-3", host=HOSTS[1]))  # another host still can


async def test_a_double_booked_host_is_refused_by_name(provider: ZoomProvider) -> None:
    await provider.create_room(room_request("room-a", host=HOSTS[0]))
    with pytest.raises(ZoomHostBusy) as busy:
        await provider.create_room(room_request("room-b", host=HOSTS[0]))
    assert busy.value.host == HOSTS[0]
    assert HOSTS[0] in str(busy.value)


async def test_a_host_missing_from_the_account_is_named(provider: ZoomProvider) -> None:
    with pytest.raises(ProviderRejected, match=r"nobody@rdv\.example does not exist"):
        await provider.create_room(room_request(host="nobody@rdv.example"))


# -- the adapter ----------------------------------------------------------------------------------
async def test_a_room_is_a_registration_meeting_with_a_personal_link_per_seat(
    fake: FakeZoom, provider: ZoomProvider
) -> None:
    room = await provider.create_room(room_request(host=HOSTS[1]))

    (meeting,) = fake.meetings.values()
    assert (meeting["host_email"], meeting["start_time"], meeting["duration"]) == (
        HOSTS[1],
        "2021-04-08T08:30:00Z",
        30,
    )
    assert meeting["settings"]["approval_type"] == 0  # registration, approved automatically
    registered = fake.registrants[meeting["id"]]
    assert sorted(registered) == ["ana@water.example", "chloe@acme.example"]
    ana = registered["ana@water.example"]
    assert (ana["first_name"], ana["last_name"]) == ("Ana", "Lopez")
    assert room.data["room"] == str(meeting["id"])  # the id webhooks name the room by
    assert room.data["host"] == HOSTS[1]
    assert room.data["join_urls"]["rdv-a1"] == ana["join_url"]
    assert room.data["seat_ids"] == {
        ana["id"]: "rdv-a1",
        registered["chloe@acme.example"]["id"]: "rdv-a2",
    }
    assert "start_url" not in str(room.data)  # the host's credential is not kept
    calls = len(fake.calls)
    assert await provider.join_url(join(room, ANA), now=START) == ana["join_url"]
    assert len(fake.calls) == calls  # the link was kept: no call to Zoom


async def test_creating_again_after_a_crash_finds_the_same_meeting(
    fake: FakeZoom, provider: ZoomProvider
) -> None:
    first = await provider.create_room(room_request(host=HOSTS[0]))
    again = await provider.create_room(room_request(host=HOSTS[0]))
    assert again == first
    assert len(fake.meetings) == 1
    assert len(fake.registrants[int(first.data["room"])]) == 2


async def test_a_seat_added_after_provisioning_registers_when_it_joins(
    fake: FakeZoom, provider: ZoomProvider
) -> None:
    room = await provider.create_room(room_request(host=HOSTS[0]))
    dan = Seat("rdv-a3", 3, "tok-dan", name="Dan Weber")  # no email when the room was made
    link = await provider.join_url(join(room, dan, email="dan@acme.example"), now=START)
    again = await provider.join_url(join(room, dan, email="dan@acme.example"), now=START)
    registered = fake.registrants[int(room.data["room"])]
    assert link == again == registered["dan@acme.example"]["join_url"]
    assert len(registered) == 3
    with pytest.raises(ProviderRejected, match="email"):
        await provider.join_url(join(room, Seat("rdv-a4", 4, "t"), email=None), now=START)


async def test_closing_deletes_the_meeting_and_a_meeting_already_gone_is_fine(
    fake: FakeZoom, provider: ZoomProvider
) -> None:
    room = await provider.create_room(room_request(host=HOSTS[0]))
    await provider.close_room(room)
    assert fake.meetings == {}
    await provider.close_room(room)  # 404: already gone


async def test_without_a_chosen_host_the_pick_is_stable(provider: ZoomProvider) -> None:
    picks = {provider.host_for(room_request("same-key")) for _ in range(5)}
    assert len(picks) == 1
    assert picks <= set(HOSTS)


async def test_the_registry_builds_zoom_from_settings(
    make_settings: Callable[..., Settings], http: aiohttp.ClientSession
) -> None:
    settings = zoom_settings(make_settings)
    provider = ProviderRegistry(settings, http).get("zoom")
    assert (provider.name, provider.can_receive_webhooks, provider.can_record) == (
        "zoom",
        True,
        True,
    )


# -- the host pool --------------------------------------------------------------------------------
def zoom_settings(make: Callable[..., Settings], pool: tuple[str, ...] = HOSTS) -> Settings:
    return make(
        zoom_account_id=ACCOUNT,
        zoom_client_id=CLIENT_ID,
        zoom_client_secret=CLIENT_SECRET,
        zoom_webhook_secret="zoom-webhook-secret-0123456789",
        zoom_hosts=pool,
    )


def grid(slots: int, per_slot: int, *, slug: str = "zoom-day", every: int = 30) -> dict[str, Any]:
    """A Zoom day: `per_slot` meetings of 25 minutes at once, a slot every `every` minutes."""
    program = small_program(slug)
    program["event"]["provider"] = "zoom"
    program["people"] = [
        {"key": f"{side}{n}", "name": f"{side.upper()} {n}", "email": f"{side}{n}@x.example"}
        for n in range(per_slot)
        for side in ("a", "b")
    ]
    program["organisations"] = []
    program["sessions"] = []
    for slot in range(slots):
        start = datetime(2021, 4, 8, 9, 0) + timedelta(minutes=every * slot)
        for n in range(per_slot):
            program["sessions"].append(
                {
                    "key": f"s{slot}m{n}",
                    "kind": "meeting",
                    "title": f"Slot {slot} meeting {n}",
                    "start": start.strftime("%Y-%m-%dT%H:%M"),
                    "end": (start + timedelta(minutes=25)).strftime("%Y-%m-%dT%H:%M"),
                    "attendees": [f"a{n}", f"b{n}"],
                }
            )
    return program


async def rooms_of(db: Any, slug: str) -> dict[str, tuple[int, datetime, datetime]]:
    async with db() as s:
        rows = await s.execute(
            select(m.Session.key, m.Room.id, m.Session.starts_at, m.Session.ends_at)
            .join(m.Room, m.Room.session_id == m.Session.id)
            .join(m.Event, m.Event.id == m.Session.event_id)
            .where(m.Event.slug == slug)
        )
        return {key: (room_id, start, end) for key, room_id, start, end in rows}


async def imported(db: Any, settings: Settings, program: dict[str, Any], clock: ManualClock) -> Any:
    await import_program(db, settings, RawProgram(program), now=clock.now())
    return await rooms_of(db, program["event"]["slug"])


async def test_rooms_assigned_at_once_never_share_a_host_at_the_same_time(
    db: Any, make_settings: Callable[..., Settings], clock: ManualClock, provider: ZoomProvider
) -> None:
    pool = tuple(f"host{n}@rdv.example" for n in range(6))
    settings = zoom_settings(make_settings, pool)
    rooms = await imported(db, settings, grid(slots=4, per_slot=3), clock)
    now = datetime(2021, 4, 8, 7, 0, tzinfo=UTC)

    chosen: dict[str, str] = {}
    for slot in range(4):  # slot by slot, as the lifecycle provisions them; each slot at once
        keys = [key for key in rooms if key.startswith(f"s{slot}m")]
        found = await asyncio.gather(
            *(host_pool.assign(db, rooms[key][0], settings, now=now) for key in keys)
        )
        chosen |= dict(zip(keys, found, strict=True))

    busy = {
        key: (chosen[key], host_pool.busy(start, end, settings))
        for key, (_, start, end) in rooms.items()
    }
    for key, (host, (start, end)) in busy.items():
        for other, (other_host, (other_start, other_end)) in busy.items():
            if key != other and other_start < end and start < other_end:
                assert host != other_host, (key, other, host)
    async with db() as s:
        kept = dict((await s.execute(select(m.Room.id, m.Room.provider_data))).all())
    assert {key: kept[rooms[key][0]]["host"] for key in chosen} == chosen


async def test_assigned_hosts_create_every_meeting_without_a_double_booking(
    db: Any,
    make_settings: Callable[..., Settings],
    clock: ManualClock,
    fake: FakeZoom,
    make_client: Callable[..., ZoomClient],
) -> None:
    pool = tuple(f"host{n}@rdv.example" for n in range(6))
    fake.hosts = pool
    settings = zoom_settings(make_settings, pool)
    rooms = await imported(db, settings, grid(slots=3, per_slot=3), clock)
    provider = ZoomProvider(make_client(), pool)
    for key, (room_id, start, end) in rooms.items():
        host = await host_pool.assign(db, room_id, settings, now=clock.now())
        request = RoomRequest(key, key, start, end, metadata={"host": host})
        await provider.create_room(request)
    assert len(fake.meetings) == 9


async def test_a_room_keeps_its_host_and_an_ended_room_frees_its_own(
    db: Any, make_settings: Callable[..., Settings], clock: ManualClock
) -> None:
    rooms = await imported(db, zoom_settings(make_settings), grid(slots=1, per_slot=3), clock)
    settings = zoom_settings(make_settings, HOSTS[:2])  # then a host leaves the pool
    (first, _, _), (second, _, _), (third, _, _) = rooms.values()
    one = await host_pool.assign(db, first, settings, now=clock.now())
    two = await host_pool.assign(db, second, settings, now=clock.now())
    assert await host_pool.assign(db, first, settings, now=clock.now()) == one  # asked again
    with pytest.raises(host_pool.NoHostFree, match="add hosts to RDV_ZOOM_HOSTS") as full:
        await host_pool.assign(db, third, settings, now=clock.now())
    assert "2 of 2 hold another meeting" in str(full.value)
    async with db() as s, s.begin():
        await s.execute(update(m.Room).where(m.Room.id == second).values(state="ended"))
    assert await host_pool.assign(db, third, settings, now=clock.now()) == two


async def test_creates_are_counted_per_utc_day_and_spread_over_the_pool(
    db: Any, make_settings: Callable[..., Settings], clock: ManualClock
) -> None:
    settings = zoom_settings(make_settings)
    rooms = await imported(db, settings, grid(slots=6, per_slot=1, every=60), clock)
    day = datetime(2021, 4, 7, 23, 0, tzinfo=UTC)
    chosen = [await host_pool.assign(db, r, settings, now=day) for r, _, _ in rooms.values()]
    assert chosen == list(HOSTS) * 2  # none overlaps: the least used host each time
    next_day = day + timedelta(hours=2)
    await host_pool.assign(db, next(iter(rooms.values()))[0], settings, now=next_day)
    async with db() as s:
        assert await host_pool.usage(s, date(2021, 4, 7)) == dict.fromkeys(HOSTS, 2)
        assert await host_pool.usage(s, date(2021, 4, 8)) == {HOSTS[0]: 1}


async def test_a_host_at_its_daily_limit_is_passed_over(
    db: Any, make_settings: Callable[..., Settings], clock: ManualClock
) -> None:
    settings = zoom_settings(make_settings, HOSTS[:2])
    rooms = await imported(db, settings, grid(slots=1, per_slot=1), clock)
    (room_id, _, _) = next(iter(rooms.values()))
    today = clock.now().date()
    async with db() as s, s.begin():
        s.add(ZoomHostDay(host=HOSTS[0], day=today, requests=host_pool.DAILY_LIMIT))
    assert await host_pool.assign(db, room_id, settings, now=clock.now()) == HOSTS[1]
    async with db() as s, s.begin():
        await s.execute(
            update(ZoomHostDay)
            .where(ZoomHostDay.host == HOSTS[1])
            .values(requests=host_pool.DAILY_LIMIT)
        )
    with pytest.raises(host_pool.NoHostFree, match="used up the 100 meeting creates"):
        await host_pool.assign(db, room_id, settings, now=clock.now())


# -- the import check -----------------------------------------------------------------------------
def validated(document: dict[str, Any], settings: Settings) -> Any:
    return validate(RawProgram(document), check_provider=provider_check(settings))


def test_the_peak_counts_meetings_open_at_once_and_touching_is_not_overlapping() -> None:
    at = datetime(2021, 4, 8, 9, 0, tzinfo=UTC)
    hour = timedelta(hours=1)
    assert zoom_hosts.peak([]) == (0, None)
    assert zoom_hosts.peak([(at, at + hour), (at + hour, at + 2 * hour)]) == (1, at)
    spans = [(at, at + 2 * hour), (at + hour, at + 3 * hour), (at + hour / 2, at + hour * 1.5)]
    assert zoom_hosts.peak(spans) == (3, at + hour)


def test_an_import_needing_more_hosts_than_the_pool_says_how_many(
    make_settings: Callable[..., Settings],
) -> None:
    settings = zoom_settings(make_settings, HOSTS[:2])
    problem = zoom_hosts.pool_problem(validated(grid(slots=2, per_slot=3), settings), settings)
    assert problem is not None
    # Back-to-back slots overlap: people may come 10 minutes early and rooms close 10 after.
    assert problem.endswith("RDV_ZOOM_HOSTS has 2 hosts: 6 hosts are needed")
    assert "2021-04-08 09:20" in problem  # in the event's time zone (Paris)
    assert zoom_hosts.pool_problem(validated(grid(slots=2, per_slot=1), settings), settings) is None
    spaced = grid(slots=2, per_slot=2, every=60)  # an hour apart: a host does both
    assert zoom_hosts.pool_problem(validated(spaced, settings), settings) is None
    on_jitsi = grid(slots=2, per_slot=3)
    on_jitsi["event"]["provider"] = "jitsi"
    assert zoom_hosts.pool_problem(validated(on_jitsi, settings), settings) is None


async def test_the_import_check_counts_other_events_on_the_same_pool(
    db: Any, make_settings: Callable[..., Settings], clock: ManualClock
) -> None:
    settings = zoom_settings(make_settings)
    await imported(db, settings, grid(slots=1, per_slot=2, slug="first-day"), clock)
    second = validated(grid(slots=1, per_slot=2, slug="second-day"), settings)
    async with db() as s:
        problem = await zoom_hosts.check_program(s, second, settings)
        assert problem is not None
        assert problem.endswith(
            "has 3 hosts: 4 hosts are needed; at that moment other events hold hosts: "
            '"first-day" (2)'
        )
        again = validated(grid(slots=1, per_slot=3, slug="first-day"), settings)
        assert (
            await zoom_hosts.check_program(s, again, settings) is None
        )  # its own rooms are replaced


async def test_an_import_through_the_api_that_needs_more_hosts_is_refused(
    make_api: Callable[..., Any],
) -> None:
    api = await make_api(
        zoom_account_id=ACCOUNT,
        zoom_client_id=CLIENT_ID,
        zoom_client_secret=CLIENT_SECRET,
        zoom_hosts=HOSTS[:2],
    )
    response = await api.put_program(grid(slots=2, per_slot=2))
    assert response.status == 422
    (problem,) = (await response.json())["error"]["details"]
    assert problem["message"].endswith("RDV_ZOOM_HOSTS has 2 hosts: 4 hosts are needed")
