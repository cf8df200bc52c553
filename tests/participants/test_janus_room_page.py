"""A Janus rendez-vous end to end: the room is provisioned on a real Janus, the personal link
leads to our join page, and that page carries what the browser needs to join as this seat only."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from support.janus_server import JanusServer, Join
from support.service import Api, ManualClock, small_program

from integrations.base import Room
from orchestrator import appkeys
from orchestrator.db import models as m

SLUG = "meet-the-buyers"
M1_START = datetime(2021, 4, 8, 8, 30, tzinfo=UTC)


@pytest.fixture
async def service(make_api: Any, janus_server: JanusServer) -> Api:
    api: Api = await make_api(janus_url=janus_server.url, default_provider="janus")
    await api.import_ok(small_program())
    return api


async def token_of(db: Any, person: str) -> str:
    async with db() as s:
        token = await s.scalar(
            select(m.Attendee.token)
            .join(m.Person, m.Person.id == m.Attendee.person_id)
            .join(m.Session)
            .where(m.Person.key == person, m.Session.key == "m1")
        )
    return str(token)


def data(page: str, name: str) -> str:
    found = re.search(rf'data-{name}="([^"]*)"', page)
    assert found, name
    return html.unescape(found.group(1))


async def test_the_link_leads_to_our_page_and_the_page_lets_this_seat_in(
    service: Api, clock: ManualClock, db: Any, janus_join: Join, janus_server: JanusServer
) -> None:
    clock.set(M1_START - timedelta(minutes=5))
    chloe = await token_of(db, "chloe")

    redirect = await service.client.get(f"/j/{chloe}", allow_redirects=False)
    assert redirect.status == 302
    assert redirect.headers["Location"] == f"https://rdv.test/room/{chloe}"

    response = await service.client.get(f"/room/{chloe}")
    assert response.status == 200
    page = await response.text()
    assert (
        f"connect-src 'self' {janus_server.url.rsplit('/janus', 1)[0]}"
        in (response.headers["Content-Security-Policy"])
    )
    assert "<script>" not in page  # no inline script
    assert data(page, "display") == "Chloé Martin"
    joined = await janus_join(
        int(data(page, "room")),
        pin=data(page, "pin"),
        token=data(page, "token"),
        seat_number=int(data(page, "seat")),
        display="Chloé Martin",
    )
    assert joined["videoroom"] == "joined"

    app = service.client.app
    assert app is not None
    async with db() as s:
        room = await s.scalar(select(m.Room).join(m.Session).where(m.Session.key == "m1"))
    assert room is not None
    provider = app[appkeys.PROVIDERS].get("janus")
    listed = await provider.list_participants(Room(room.room_key, room.provider_data))
    assert [p.provider_id for p in listed] == [data(page, "seat")]


async def test_another_persons_token_cannot_take_the_seat(
    service: Api, clock: ManualClock, db: Any, janus_join: Join
) -> None:
    clock.set(M1_START - timedelta(minutes=5))
    chloe = await token_of(db, "chloe")
    await service.client.get(f"/j/{chloe}", allow_redirects=False)
    page = await (await service.client.get(f"/room/{chloe}")).text()
    refused = await janus_join(
        int(data(page, "room")),
        pin=data(page, "pin"),
        token="guessed-token",
        seat_number=int(data(page, "seat")),
    )
    assert refused.get("error_code") == 433


async def test_the_room_page_before_the_window_says_when_it_opens(
    service: Api, clock: ManualClock, db: Any
) -> None:
    clock.set(M1_START - timedelta(hours=1))
    response = await service.client.get(f"/room/{await token_of(db, 'chloe')}")
    assert response.status == 200
    assert "Your link opens at" in await response.text()
    assert (await service.client.get("/room/guessed")).status == 404
