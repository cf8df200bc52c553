"""Two `rdv serve` behind a load balancer on one PostgreSQL: each room is created once, each
message sent once, and a webhook reaching one instance shows on a dashboard open on the other."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from conftest import POSTGRES_URL
from sqlalchemy import func, select
from support import fake_bbb
from support.deliveries import JITSI_SECRET, headers, occupant
from support.mailsink import MailSink, free_port
from support.service import TEST_SECRET

from orchestrator.db import models as m
from orchestrator.db.engine import create_engine
from orchestrator.db.mail import MailMessage

pytestmark = pytest.mark.skipif(
    not POSTGRES_URL, reason="several instances need PostgreSQL (set RDV_TEST_DATABASE_URL)"
)
BBB_SECRET = "fake-bbb-shared-secret-0123456789"
SLUG = "two-instances"
MEETINGS = 12


def program(start: datetime) -> dict[str, Any]:
    people = [
        {"key": f"p{n}", "name": f"Person {n}", "email": f"p{n}@example.org"}
        for n in range(2 * MEETINGS + 2)
    ]
    end = start + timedelta(minutes=30)
    sessions = [
        {
            "key": f"m{n:02d}",
            "kind": "meeting",
            "title": f"Meeting {n}",
            "start": start.isoformat(),
            "end": end.isoformat(),
            "attendees": [f"p{2 * n}", f"p{2 * n + 1}"],
            "provider": "bigbluebutton",
        }
        for n in range(MEETINGS)
    ]
    sessions.append(
        {
            "key": "live",
            "kind": "meeting",
            "title": "Live one",
            "provider": "jitsi",
            "start": (start - timedelta(minutes=5)).isoformat(),
            "end": end.isoformat(),
            "attendees": [f"p{2 * MEETINGS}", f"p{2 * MEETINGS + 1}"],
        }
    )
    return {
        "event": {
            "slug": SLUG,
            "title": "Two instances",
            "timezone": "UTC",
            "organiser": {"name": "Org", "email": "org@example.org"},
        },
        "people": people,
        "sessions": sessions,
    }


async def rdv(env: dict[str, str], *args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "orchestrator",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, err.decode()
    return out.decode()


@pytest.fixture
def bbb(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    state = tmp_path / "bbb.json"
    with fake_bbb.in_a_process(BBB_SECRET, state, create_delay=0.2) as url:
        yield url, state


@pytest.fixture
async def instances(
    database_url: str, bbb: tuple[str, Path], sink: MailSink, tmp_path: Path
) -> AsyncIterator[tuple[str, str, dict[str, str]]]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("RDV_")},
        "RDV_DATABASE_URL": database_url,
        "RDV_SECRET_KEY": TEST_SECRET,
        "RDV_BBB_URL": bbb[0],
        "RDV_BBB_SECRET": BBB_SECRET,
        "RDV_JITSI_WEBHOOK_SECRET": JITSI_SECRET,
        "RDV_MAIL_URL": sink.url,
        "RDV_PUBLIC_URL": "http://rdv.test",
    }
    path = tmp_path / "program.json"
    path.write_text(
        json.dumps(program(datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=10)))
    )
    await rdv(env, "import", str(path))
    ports = [free_port(), free_port()]
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "orchestrator",
            "serve",
            env={**env, "RDV_PORT": str(port)},
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        for port in ports
    ]
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    async with aiohttp.ClientSession() as http:
        for base in bases:
            for _ in range(200):
                try:
                    async with http.get(f"{base}/healthz") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.05)
    yield bases[0], bases[1], env
    for process in processes:
        process.terminate()
    for process in processes:
        await asyncio.wait_for(process.wait(), timeout=20)


async def test_two_instances_share_the_work_and_the_dashboard(
    instances: tuple[str, str, dict[str, str]],
    bbb: tuple[str, Path],
    sink: MailSink,
    database_url: str,
) -> None:
    first, second, env = instances
    engine = create_engine(database_url)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            async with engine.connect() as db:
                ready = await db.scalar(select(func.count()).where(m.Room.state == "ready"))
                unsent = await db.scalar(select(func.count()).where(MailMessage.status != "sent"))
                total = await db.scalar(select(func.count()).select_from(MailMessage))
            if ready == MEETINGS + 1 and unsent == 0:
                break
            await asyncio.sleep(0.3)
        assert (ready, unsent) == (MEETINGS + 1, 0)
        created = json.loads(bbb[1].read_text())["created"]
        assert len(created) == MEETINGS
        assert set(created.values()) == {1}
        assert len(sink.received) == total
        assert len({(mail.recipient, mail.subject) for mail in sink.received}) == total

        async with engine.connect() as db:
            room_key, seat = (
                await db.execute(
                    select(m.Room.room_key, m.Attendee.id)
                    .join(m.Session, m.Session.id == m.Room.session_id)
                    .join(m.Attendee, m.Attendee.session_id == m.Session.id)
                    .where(m.Session.key == "live")
                    .limit(1)
                )
            ).one()
    finally:
        await engine.dispose()

    link = (await rdv(env, "login-link", "--event", SLUG)).strip()
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.post(
            second + link.removeprefix("http://rdv.test"), allow_redirects=False
        ) as signed:
            assert signed.status == 303
        async with http.get(f"{second}/dashboard/{SLUG}/stream") as stream:
            await stream.content.readline()  # "retry: …" : the stream is open
            sent = time.monotonic()
            async with http.post(
                f"{first}/webhooks/jitsi",
                headers=headers(),
                data=occupant("joined", room_key, f"rdv-a{seat}", "Live person", datetime.now(UTC)),
            ) as posted:
                assert posted.status == 200
            while True:
                line = await asyncio.wait_for(stream.content.readline(), timeout=1.0)
                if line.startswith(b"data: "):
                    break
            assert time.monotonic() - sent < 1.0
            assert b"mark-present" in line
