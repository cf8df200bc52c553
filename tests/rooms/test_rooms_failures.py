"""When the provider stumbles: retries with backoff that honour Retry-After end in a ready room;
a provider that keeps failing leaves the room `failed`, reported to organisers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import select
from support.fake_bbb import STATE, FakeBBB, create_app
from support.service import Api, ManualClock, session_of, small_program

from orchestrator import appkeys
from orchestrator.db import models as m
from orchestrator.rooms.lifecycle import RoomLifecycle

BBB_SECRET = "fake-bbb-shared-secret-0123456789"
SLUG = "meet-the-buyers"
M1_START = datetime(2021, 4, 8, 8, 30, tzinfo=UTC)


@pytest.fixture
async def bbb(aiohttp_server: Any) -> tuple[str, FakeBBB]:
    server = await aiohttp_server(create_app(BBB_SECRET))
    return str(server.make_url("/bigbluebutton/api")), server.app[STATE]


@pytest.fixture
async def service(make_api: Callable[..., Any], bbb: tuple[str, FakeBBB]) -> Api:
    api: Api = await make_api(bbb_url=bbb[0], bbb_secret=BBB_SECRET)
    program = small_program()
    program["event"]["provider"] = "bigbluebutton"
    session_of(program, "m2")["provider"] = "jitsi"
    await api.import_ok(program)
    return api


def lifecycle_of(api: Api, waits: list[float]) -> RoomLifecycle:
    """The app's lifecycle, with sleeps recorded instead of slept."""
    app: web.Application = api.client.app  # type: ignore[assignment]
    lifecycle = app[appkeys.LIFECYCLE]

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    lifecycle.sleep = sleep
    return lifecycle


async def rooms(api: Api) -> dict[str, dict[str, Any]]:
    response = await api.client.get(f"/api/v1/events/{SLUG}/rooms", headers=api.headers(SLUG))
    return {room["session"]: room for room in (await response.json())["rooms"]}


async def test_a_500_then_a_429_with_retry_after_then_success_ends_ready(
    service: Api, bbb: tuple[str, FakeBBB], clock: ManualClock
) -> None:
    _, fake = bbb
    fake.fail(500, (429, 7))
    waits: list[float] = []
    clock.set(M1_START - timedelta(minutes=20))

    await lifecycle_of(service, waits).reconcile()

    m1 = (await rooms(service))["m1"]
    assert (m1["state"], m1["provider"], m1["error"]) == ("ready", "bigbluebutton", None)
    assert len(waits) == 2
    assert 0.5 <= waits[0] <= 1.5  # first backoff, with jitter
    assert waits[1] >= 7  # the provider asked for 7 seconds
    assert len(fake.created) == 1


async def test_a_provider_that_keeps_failing_leaves_the_room_failed_and_says_why(
    service: Api, bbb: tuple[str, FakeBBB], clock: ManualClock
) -> None:
    _, fake = bbb
    fake.fail(*([503] * 5))
    waits: list[float] = []
    clock.set(M1_START - timedelta(minutes=20))

    tally = await lifecycle_of(service, waits).reconcile()

    assert tally.failed == 1
    m1 = (await rooms(service))["m1"]
    assert m1["state"] == "failed"
    assert "503" in m1["error"]
    assert (await rooms(service))["m2"]["state"] == "ready"  # on Jitsi, unaffected
    assert len(waits) == 4


async def test_a_failed_room_is_created_when_someone_opens_their_link(
    service: Api, bbb: tuple[str, FakeBBB], clock: ManualClock, db: Any
) -> None:
    _, fake = bbb
    fake.fail(*([503] * 5))
    clock.set(M1_START - timedelta(minutes=20))
    await lifecycle_of(service, []).reconcile()
    assert (await rooms(service))["m1"]["state"] == "failed"
    async with db() as s:
        token = await s.scalar(
            select(m.Attendee.token)
            .join(m.Person, m.Person.id == m.Attendee.person_id)
            .join(m.Session)
            .where(m.Person.key == "ana", m.Session.key == "m1")
        )
    clock.set(M1_START - timedelta(minutes=5))

    response = await service.client.get(f"/j/{token}", allow_redirects=False)

    assert response.status == 302
    assert "role=MODERATOR" in response.headers["Location"]  # Ana is a buyer
    assert (await rooms(service))["m1"]["state"] == "ready"


async def test_moving_a_meeting_later_waits_for_its_new_time(
    service: Api, bbb: tuple[str, FakeBBB], clock: ManualClock
) -> None:
    _, fake = bbb
    await service.patch(SLUG, "m1", {"start": "2021-04-08T15:00", "end": "2021-04-08T15:30"})
    clock.set(M1_START - timedelta(minutes=20))
    lifecycle = lifecycle_of(service, [])
    await lifecycle.reconcile()
    assert (await rooms(service))["m1"]["state"] == "scheduled"
    clock.set(datetime(2021, 4, 8, 12, 29, tzinfo=UTC))  # 14:29 in Paris: not yet
    await lifecycle.reconcile()
    assert (await rooms(service))["m1"]["state"] == "scheduled"
    clock.set(datetime(2021, 4, 8, 12, 30, tzinfo=UTC))  # 30 minutes ahead of 15:00
    await lifecycle.reconcile()
    assert (await rooms(service))["m1"]["state"] == "ready"
    assert len(fake.created) == 1
