"""Fault injection against real parts: `rdv serve` killed at random moments of an import with
provisioning and mail, or in the middle of a batch of mail, and PostgreSQL restarted in the middle
of a webhook burst. Nothing is lost; nothing is done twice, but for the mail in flight at a kill."""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import signal
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from conftest import POSTGRES_URL
from sqlalchemy import func, select, text
from support.deliveries import JITSI_SECRET, headers, occupant
from support.mailsink import MailSink, free_port
from support.service import TEST_SECRET

from orchestrator.db import models as m
from orchestrator.db.attendance import ProviderEventRow
from orchestrator.db.engine import create_engine
from orchestrator.db.mail import MailMessage
from orchestrator.mail.outbox import CONCURRENCY

pytestmark = pytest.mark.slow
SLUG = "faults"


def program(start: datetime, meetings: int) -> dict[str, Any]:
    people = [
        {"key": f"p{n}", "name": f"Person {n}", "email": f"p{n}@example.org"}
        for n in range(2 * meetings)
    ]
    sessions = [
        {
            "key": f"m{n:03d}",
            "kind": "meeting",
            "title": f"Meeting {n}",
            "start": start.isoformat(),
            "end": (start + timedelta(minutes=30)).isoformat(),
            "attendees": [f"p{2 * n}", f"p{2 * n + 1}"],
        }
        for n in range(meetings)
    ]
    return {
        "event": {
            "slug": SLUG,
            "title": "Faults",
            "timezone": "UTC",
            "organiser": {"name": "Org", "email": "org@example.org"},
        },
        "people": people,
        "sessions": sessions,
    }


def environment(database_url: str, mail_url: str) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("RDV_")},
        "RDV_DATABASE_URL": database_url,
        "RDV_SECRET_KEY": TEST_SECRET,
        "RDV_MAIL_URL": mail_url,
        "RDV_JITSI_WEBHOOK_SECRET": JITSI_SECRET,
    }


async def rdv(env: dict[str, str], *args: str) -> asyncio.subprocess.Process:
    """`rdv ARGS` as a process of its own, quiet."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "orchestrator",
        *args,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def serve(env: dict[str, str]) -> tuple[asyncio.subprocess.Process, str]:
    port = free_port()
    process = await rdv({**env, "RDV_PORT": str(port)}, "serve")
    base = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as http:
        for _ in range(300):
            try:
                async with http.get(f"{base}/healthz") as response:
                    if response.status == 200:
                        return process, base
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.05)
    raise AssertionError("rdv serve did not start")


async def counts(database_url: str) -> dict[str, int]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as db:
            return {
                "rooms": await db.scalar(select(func.count()).select_from(m.Room)) or 0,
                "ready": await db.scalar(select(func.count()).where(m.Room.state == "ready")) or 0,
                "attendees": await db.scalar(select(func.count()).select_from(m.Attendee)) or 0,
                "mail": await db.scalar(select(func.count()).select_from(MailMessage)) or 0,
                "invitations": await db.scalar(
                    select(func.count()).where(MailMessage.kind == "invitation")
                )
                or 0,
                "reminders": await db.scalar(
                    select(func.count()).where(MailMessage.kind == "reminder")
                )
                or 0,
                "unsent": await db.scalar(select(func.count()).where(MailMessage.status != "sent"))
                or 0,
                "events": await db.scalar(select(func.count()).select_from(ProviderEventRow)) or 0,
            }
    finally:
        await engine.dispose()


async def test_killing_serve_at_random_moments_ten_times_leaves_a_consistent_database(
    sink: MailSink, tmp_path: Path
) -> None:
    # A database of its own: on SQLite a restarted instance takes up interrupted work at once
    # (it is the only one); on PostgreSQL it waits for the dead instance's leases to lapse.
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'faults.sqlite3'}"
    env = environment(database_url, sink.url)
    path = tmp_path / "program.json"
    meetings = 30
    path.write_text(
        json.dumps(
            program(datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=5), meetings)
        )
    )
    importer = await rdv(env, "import", str(path))
    # The import itself is killed once, at a random moment; a second one completes it.
    await asyncio.sleep(random.uniform(0.3, 1.2))
    if importer.returncode is None:
        importer.send_signal(signal.SIGKILL)
    await importer.wait()
    again = await rdv(env, "import", str(path))
    assert await again.wait() == 0
    for _ in range(10):
        process, _base = await serve(env)
        await asyncio.sleep(random.uniform(0.05, 1.0))
        process.send_signal(signal.SIGKILL)
        await process.wait()
    process, _base = await serve(env)
    try:
        for _ in range(200):
            found = await counts(database_url)
            if found["ready"] == meetings and found["unsent"] == 0:
                break
            await asyncio.sleep(0.2)
    finally:
        process.send_signal(signal.SIGTERM)
        await process.wait()
    assert found["rooms"] == meetings
    assert found["ready"] == meetings
    assert found["attendees"] == 2 * meetings
    # One invitation and one reminder (the meetings start within the reminder lead) per
    # attendee, each queued once.
    assert (found["invitations"], found["reminders"]) == (2 * meetings, 2 * meetings)
    assert found["unsent"] == 0
    assert len(sink.received) >= found["mail"]  # a kill between send and record may resend
    assert len({(m.recipient, m.subject) for m in sink.received}) == found["mail"]


async def wait_for_mail(sink: MailSink, count: int) -> int:
    for _ in range(3000):
        if len(sink.received) >= count:
            break
        await asyncio.sleep(0.01)
    return len(sink.received)


@pytest.mark.parametrize("delivered_before_the_kill", [60, 152])
async def test_killing_serve_mid_batch_sends_again_at_most_the_mail_that_was_in_flight(
    sink: MailSink, tmp_path: Path, delivered_before_the_kill: int
) -> None:
    # A slow mail server, so that the kill falls well inside the first batch of 200.
    sink.delay = 0.02
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'faults.sqlite3'}"
    env = environment(database_url, sink.url)
    path = tmp_path / "program.json"
    meetings = 120  # 240 invitations; the sender claims 200 at a time
    tomorrow = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    path.write_text(json.dumps(program(tomorrow, meetings)))
    assert await (await rdv(env, "import", str(path))).wait() == 0

    process, _base = await serve(env)
    at_the_kill = await wait_for_mail(sink, delivered_before_the_kill)
    process.send_signal(signal.SIGKILL)
    await process.wait()
    process, _base = await serve(env)
    try:
        for _ in range(600):
            found = await counts(database_url)
            if found["unsent"] == 0:
                break
            await asyncio.sleep(0.1)
    finally:
        process.send_signal(signal.SIGTERM)
        await process.wait()

    assert delivered_before_the_kill <= at_the_kill < 200, "the kill missed the first batch"
    assert found["unsent"] == 0
    message_ids = [str(message.message["Message-ID"]) for message in sink.received]
    assert len(set(message_ids)) == 2 * meetings  # every invitation arrived
    sent_twice = len(message_ids) - len(set(message_ids))
    assert sent_twice <= CONCURRENCY, f"{sent_twice} invitations were sent twice"


@pytest.fixture
def postgres_cluster() -> str:
    if not POSTGRES_URL:
        pytest.skip("restarting the database needs PostgreSQL (RDV_TEST_DATABASE_URL)")
    if shutil.which("pg_ctlcluster") is None or os.geteuid() != 0:
        pytest.skip("restarting PostgreSQL needs pg_ctlcluster, run as root")
    return sorted(os.listdir("/etc/postgresql"))[-1]


async def restart_postgres(version: str) -> None:
    process = await asyncio.create_subprocess_exec(
        "pg_ctlcluster",
        "--skip-systemctl-redirect",
        version,
        "main",
        "restart",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert await process.wait() == 0


async def test_a_postgres_restart_during_a_webhook_burst_loses_nothing_accepted(
    postgres_cluster: str, database_url: str, sink: MailSink, tmp_path: Path
) -> None:
    env = environment(database_url, sink.url)
    path = tmp_path / "program.json"
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=2)
    path.write_text(json.dumps(program(start, 20)))
    importer = await rdv(env, "import", str(path))
    assert await importer.wait() == 0
    process, base = await serve(env)
    engine = create_engine(database_url)
    try:
        for _ in range(100):
            if (await counts(database_url))["ready"] == 20:
                break
            await asyncio.sleep(0.2)
        async with engine.connect() as db:
            seats = (
                await db.execute(
                    text(
                        "SELECT r.room_key, a.id FROM rooms r JOIN attendees a "
                        "ON a.session_id = r.session_id ORDER BY a.id"
                    )
                )
            ).all()
        bodies = [
            occupant("joined", room, f"rdv-a{seat}", f"P{seat}", start + timedelta(seconds=index))
            for index, (room, seat) in enumerate(seats)
        ]
        bodies += [
            occupant(
                "left",
                room,
                f"rdv-a{seat}",
                f"P{seat}",
                start + timedelta(minutes=20, seconds=index),
            )
            for index, (room, seat) in enumerate(seats)
        ]
        refused = 0

        async def deliver(http: aiohttp.ClientSession, body: bytes, delay: float) -> None:
            nonlocal refused
            await asyncio.sleep(delay)  # spread over seconds, so the restart falls inside it
            for _ in range(200):  # a provider retries what was not acknowledged
                try:
                    async with http.post(
                        f"{base}/webhooks/jitsi", data=body, headers=headers()
                    ) as response:
                        if response.status == 200:
                            return
                        assert response.status == 503, response.status
                        refused += 1
                except aiohttp.ClientError:
                    refused += 1
                await asyncio.sleep(0.2)
            raise AssertionError("a delivery was never accepted")

        async with aiohttp.ClientSession() as http:
            burst = asyncio.gather(
                *(deliver(http, body, index * 0.05) for index, body in enumerate(bodies))
            )
            await asyncio.sleep(0.1)
            await restart_postgres(postgres_cluster)
            await burst
        assert refused > 0, "the restart happened after the burst: nothing was tested"
        assert (await counts(database_url))["events"] == len(bodies)
    finally:
        await engine.dispose()
        process.send_signal(signal.SIGTERM)
        await process.wait()
