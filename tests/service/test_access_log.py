"""The access log never holds a personal token: every spelling of a personal or sign-in link
that a client can send (doubled slashes, dot segments, capitals, an encoded slash inside the
token) is logged with `[token]` in its place, through the AccessLogger `rdv serve` uses."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from support.service import Api, ManualClock, small_program

from orchestrator.app import create_app
from orchestrator.db import models as m
from orchestrator.serve import running
from orchestrator.settings import Settings
from orchestrator.signin import create_link

SLUG = "meet-the-buyers"


async def _get(port: int, target: str) -> int:
    """Sends `GET target` byte for byte (a client would tidy the path up); the status."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {target} HTTP/1.1\r\nHost: rdv.test\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    status = int((await reader.readline()).split()[1])
    await reader.read()
    writer.close()
    await writer.wait_closed()
    return status


@pytest.fixture
async def tokens(api: Api, db: Any, clock: ManualClock) -> dict[str, str]:
    await api.import_ok(small_program())
    async with db() as session, session.begin():
        join = await session.scalar(
            select(m.Attendee.token)
            .join(m.Person, m.Person.id == m.Attendee.person_id)
            .join(m.Session)
            .where(m.Person.key == "ana", m.Session.key == "m1")
        )
        feed = await session.scalar(select(m.Person.feed_token).where(m.Person.key == "ana"))
        login = await create_link(
            session, slug=SLUG, role="organiser", now=clock.now(), base_url=""
        )
    return {"join": join, "feed": feed, "login": login.removeprefix("/login/")}


SPELLINGS = [
    "/j/{join}",
    "//j/{join}",
    "/./j/{join}",
    "/J/{join}",
    "/x/../j/{join}",
    "/j//{join}",
    "/%6A/{join}",
    "/j/{join}%2Fmore",
    "/j/{join}?utm=x",
    "/me/{feed}",
    "/./me/{feed}",
    "/me/{feed}/m1.ics",
    "/ME/{feed}/m1.ics",
    "//calendar/{feed}.ics",
    "/room/{join}",
    "/login/{login}",
    "/LOGIN/{login}",
    "http://rdv.test/j/{join}",
]


async def test_no_spelling_of_a_personal_link_puts_its_token_in_the_access_log(
    make_settings: Callable[..., Settings],
    clock: ManualClock,
    tokens: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="rdv.access")
    settings = make_settings()
    app = create_app(settings, clock=clock, migrate=False, background=False)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    async with running(app, settings, sock=sock):
        for spelling in SPELLINGS:
            await _get(port, spelling.format(**tokens))
    lines = [
        json.loads(record.getMessage()) for record in caplog.records if record.name == "rdv.access"
    ]
    assert len(lines) == len(SPELLINGS)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for name, value in tokens.items():
        assert value not in logged, f"the {name} token is in the log"
    assert {"/j/[token]", "/me/[token]", "/me/[token]/m1.ics", "/login/[token]"} <= {
        line["path"] for line in lines
    }
