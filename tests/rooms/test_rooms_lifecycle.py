"""A room's life with the clock moved by hand: provisioned ahead of its session, opened through
personal links within their window, closed after the end; cancelled sessions close their room."""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select
from support.service import Api, ManualClock, small_program

from orchestrator import appkeys
from orchestrator.db import models as m

SLUG = "meet-the-buyers"
M1_START = datetime(2021, 4, 8, 8, 30, tzinfo=UTC)  # 10:30 in Paris


async def token_of(db: Any, person: str, session: str) -> str:
    async with db() as s:
        token = await s.scalar(
            select(m.Attendee.token)
            .join(m.Person, m.Person.id == m.Attendee.person_id)
            .join(m.Session, m.Session.id == m.Attendee.session_id)
            .where(m.Person.key == person, m.Session.key == session)
        )
    assert token
    return str(token)


async def room_states(api: Api) -> dict[str, str]:
    response = await api.client.get(f"/api/v1/events/{SLUG}/rooms", headers=api.headers(SLUG))
    assert response.status == 200
    return {room["session"]: room["state"] for room in (await response.json())["rooms"]}


async def test_a_meeting_room_lives_from_lead_time_to_after_the_end(
    api: Api, app: web.Application, clock: ManualClock, db: Any, client: TestClient[Any, Any]
) -> None:
    await api.import_ok(small_program())
    lifecycle = app[appkeys.LIFECYCLE]
    chloe = f"/j/{await token_of(db, 'chloe', 'm1')}"

    clock.set(M1_START - timedelta(hours=1))
    await lifecycle.reconcile()
    assert (await room_states(api))["m1"] == "scheduled"
    early = await client.get(chloe, allow_redirects=False)
    assert early.status == 200
    text = await early.text()
    assert "Your link opens at Thursday, April 8, 2021 10:20" in text.replace("\u202f", " ")

    clock.set(M1_START - timedelta(minutes=30))
    tally = await lifecycle.reconcile()
    assert tally.provisioned >= 1
    assert (await room_states(api))["m1"] == "ready"

    clock.set(M1_START - timedelta(minutes=5))
    response = await client.get(chloe, allow_redirects=False)
    assert response.status == 302
    assert response.headers["Location"].startswith("https://meet.jit.si/meet-the-buyers-m1-")
    assert "Chlo%C3%A9%20Martin" in response.headers["Location"]

    clock.set(M1_START + timedelta(minutes=30, seconds=1))
    ended = await client.get(chloe, allow_redirects=False)
    assert ended.status == 410
    assert "This session has ended." in await ended.text()
    clock.set(M1_START + timedelta(minutes=41))
    assert (await lifecycle.reconcile()).closed >= 1
    assert (await room_states(api))["m1"] == "ended"

    async with db() as s:
        outcomes = (await s.scalars(select(m.LinkClick.outcome).order_by(m.LinkClick.id))).all()
    assert outcomes == ["early", "joined", "ended"]


async def test_a_cancelled_session_says_so_and_its_room_is_closed(
    api: Api, app: web.Application, clock: ManualClock, db: Any, client: TestClient[Any, Any]
) -> None:
    await api.import_ok(small_program())
    clock.set(M1_START - timedelta(minutes=20))
    await app[appkeys.LIFECYCLE].reconcile()
    assert (await room_states(api))["m1"] == "ready"

    await api.delete(SLUG, "m1")
    assert (await app[appkeys.LIFECYCLE].reconcile()).closed == 1

    async with db() as s:
        room = await s.scalar(select(m.Room).join(m.Session).where(m.Session.key == "m1"))
    assert room is not None
    assert (room.state, room.provisioned_with) == ("cancelled", None)
    page = await client.get(f"/j/{await token_of(db, 'ana', 'm1')}", allow_redirects=False)
    assert page.status == 410
    assert "This session is cancelled." in await page.text()


async def test_a_link_opened_before_the_lead_time_provisions_the_room_on_the_spot(
    api: Api, clock: ManualClock, db: Any, client: TestClient[Any, Any]
) -> None:
    await api.import_ok(small_program())
    clock.set(M1_START - timedelta(minutes=9))  # inside the join window, no pass ran yet
    response = await client.get(f"/j/{await token_of(db, 'ana', 'm1')}", allow_redirects=False)
    assert response.status == 302
    assert (await room_states(api))["m1"] == "ready"


async def test_a_removed_attendees_link_and_a_guessed_link_get_the_same_404(
    api: Api, clock: ManualClock, db: Any, client: TestClient[Any, Any]
) -> None:
    program = small_program()
    await api.import_ok(program)
    chloe = f"/j/{await token_of(db, 'chloe', 'm1')}"
    await api.patch(SLUG, "m1", {"attendees": ["dan", "ana"]})
    clock.set(M1_START - timedelta(minutes=5))

    removed = await client.get(chloe, allow_redirects=False)
    guessed = await client.get("/j/AAAAAAAAAAAAAAAAAAAAAAAA", allow_redirects=False)

    assert removed.status == guessed.status == 404
    assert await removed.text() == await guessed.text()


async def test_join_pages_speak_the_persons_language(
    api: Api, clock: ManualClock, db: Any, client: TestClient[Any, Any]
) -> None:
    await api.import_ok(small_program())
    clock.set(M1_START - timedelta(hours=2))
    page = await client.get(f"/j/{await token_of(db, 'eve', 'm2')}")
    text = html.unescape(await page.text())
    assert '<html lang="fr">' in text
    assert "Votre lien s'ouvre le jeudi 8 avril 2021" in text
    assert page.headers["Content-Security-Policy"].startswith("default-src 'self'")


async def test_each_room_is_created_once_however_many_passes_run(
    api: Api, app: web.Application, clock: ManualClock, db: Any
) -> None:
    await api.import_ok(small_program())
    clock.set(M1_START - timedelta(minutes=25))
    for _ in range(3):
        await app[appkeys.LIFECYCLE].reconcile()
    async with db() as s:
        attempts = await s.scalar(select(func.sum(m.Room.attempts)))
        ready = await s.scalar(select(func.count()).where(m.Room.state == "ready"))
    assert ready == 2  # m1 and m2 are within the lead time; m3 is not yet, the plenary is over
    assert attempts == 2


async def test_a_room_stays_open_for_the_closing_grace_the_organisers_set(
    make_api: Any, clock: ManualClock
) -> None:
    """RDV_CLOSE_GRACE=25m: a meeting that overruns keeps its room 25 minutes past its end."""
    api = await make_api(close_grace=timedelta(minutes=25))
    await api.import_ok(small_program())
    assert api.client.app is not None
    lifecycle = api.client.app[appkeys.LIFECYCLE]
    m1_end = M1_START + timedelta(minutes=30)

    clock.set(M1_START - timedelta(minutes=30))
    await lifecycle.reconcile()
    clock.set(m1_end + timedelta(minutes=20))  # past the default 10 minutes
    await lifecycle.reconcile()
    assert (await room_states(api))["m1"] == "ready"
    assert await lifecycle.next_due() == m1_end + timedelta(minutes=25)

    clock.set(m1_end + timedelta(minutes=25))
    assert (await lifecycle.reconcile()).closed >= 1
    assert (await room_states(api))["m1"] == "ended"
