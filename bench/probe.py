"""A probe of what participants and providers see while something big happens: `rdv serve` runs
on the database, and the probe sends it a signed webhook and a personal-link click in turn, a few
every second, timing each answer. `bench/import.py` runs it around the import of 10,000 people
with their invites (`rdv import`, as an organiser would while the service runs)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import secrets
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

ROOT = Path(__file__).resolve().parent.parent
SECRET, APP = "probe-jaas-webhook-secret-0123456789", "vpaas-magic-cookie-probe"
MEETINGS, EVERY = 20, 0.025  # seconds between two probes


@dataclass
class Answers:
    """(when it was sent, how long the answer took, status) of every probe."""

    seen: list[tuple[float, float, int]] = field(default_factory=list)

    def between(self, start: float, end: float) -> list[tuple[float, int]]:
        return [(took, status) for sent, took, status in self.seen if start <= sent <= end]


def program(starts: datetime) -> bytes:
    """MEETINGS two-person meetings starting soon, whose rooms and links the probe uses."""
    when = [(starts + timedelta(minutes=d)).isoformat(timespec="minutes") for d in (0, 60)]
    people = [{"key": f"p{i}", "name": f"P {i}", "email": f"p{i}@probe.example"} for i in range(40)]
    sessions = [
        {"key": f"m{i}", "kind": "meeting", "title": f"M {i}", "start": when[0], "end": when[1]}
        | {"attendees": [f"p{2 * i}", f"p{2 * i + 1}"]}
        for i in range(MEETINGS)
    ]
    event = {"slug": "probe", "title": "Probe", "timezone": "UTC", "locale": "en"}
    event |= {"organiser": {"name": "Probe", "email": "rdv@probe.example"}}
    return json.dumps({"event": event, "people": people, "sessions": sessions}).encode()


def jaas(port: int, room: str, seat: int) -> bytes:
    """A signed JaaS join, as 8x8 sends it."""
    now = time.time()
    key = secrets.token_hex(8)
    data = {"conference": f"{room}@conference.probe.8x8.vc", "isBreakout": False}
    data |= {"id": f"rdv-a{seat}", "name": f"P {seat}", "participantId": key}
    envelope = {"idempotencyKey": key, "customerId": "probe", "appId": APP}
    envelope |= {"eventType": "PARTICIPANT_JOINED", "sessionId": room}
    envelope |= {"timestamp": int(now * 1000), "fqn": f"{APP}/{room}", "data": data}
    body = json.dumps(envelope, separators=(",", ":")).encode()
    mac = hmac.new(SECRET.encode(), f"{int(now)}.".encode() + body, hashlib.sha256).digest()
    head = f"POST /webhooks/jitsi HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
    head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    head += f"X-Jaas-Signature: t={int(now)},v1={base64.b64encode(mac).decode()}\r\n\r\n"
    return head.encode() + body


def click(port: int, token: str) -> bytes:
    return f"GET /j/{token} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()


async def ask(port: int, data: bytes) -> int:
    """One request on its own connection; its status (0 when it broke)."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(data)
        head = await reader.readuntil(b"\r\n\r\n")
        length = head.lower().partition(b"content-length:")[2].partition(b"\r\n")[0]
        await reader.readexactly(int(length or 0))
        writer.close()
        return int(head[9:12])
    except (OSError, asyncio.IncompleteReadError, ValueError):
        return 0


@asynccontextmanager
async def serving(url: str, folder: Path) -> AsyncIterator[tuple[int, dict[str, str]]]:
    """`rdv serve` on the database, with the probe event imported and its rooms ready; yields the
    port and the environment (for other `rdv` commands on the same database)."""
    with socket.create_server(("127.0.0.1", 0)) as free:
        port = free.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("RDV_")}
    env |= {"RDV_DATABASE_URL": url, "RDV_SECRET_KEY": secrets.token_urlsafe(32)}
    env |= {"RDV_JITSI_WEBHOOK_SECRET": SECRET, "RDV_PORT": str(port), "PYTHONPATH": str(ROOT)}
    env |= {"RDV_MAIL_URL": f"file://{folder}/outbox", "RDV_ROOM_LEAD": "2h"}
    (folder / "probe.json").write_bytes(program(datetime.now(UTC) + timedelta(minutes=5)))
    rdv = (sys.executable, "-m", "orchestrator")
    log = (folder / "serve.log").open("wb")
    done = await asyncio.create_subprocess_exec(
        *rdv, "import", str(folder / "probe.json"), env=env, cwd=ROOT, stdout=log, stderr=log
    )
    if await done.wait():
        raise SystemExit("rdv import of the probe event failed")
    server = await asyncio.create_subprocess_exec(
        *rdv, "serve", env=env, cwd=ROOT, stdout=log, stderr=log
    )
    try:
        await _ready(url, server)
        yield port, env
    finally:
        if server.returncode is None:
            server.send_signal(signal.SIGTERM)
            await server.wait()
        log.close()


async def _ready(url: str, server: asyncio.subprocess.Process) -> None:
    engine = create_async_engine(url)
    try:
        for _ in range(600):
            if server.returncode is not None:
                raise SystemExit("rdv serve stopped early")
            async with engine.connect() as db:
                ready = await db.scalar(text("SELECT count(*) FROM rooms WHERE state = 'ready'"))
            if ready == MEETINGS:
                return
            await asyncio.sleep(0.5)
    finally:
        await engine.dispose()
    raise SystemExit("the probe's rooms were not ready after 300 s")


async def seats(url: str) -> list[tuple[str, int, str]]:
    """(room name at the provider, attendee id, personal token) of every probe seat."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as db:
            rows = await db.execute(
                text(
                    "SELECT r.external_id, a.id, a.token FROM rooms r"
                    " JOIN attendees a ON a.session_id = r.session_id"
                    " JOIN sessions s ON s.id = r.session_id"
                    " JOIN events e ON e.id = s.event_id WHERE e.slug = 'probe'"
                )
            )
            return [(str(room), int(seat), str(token)) for room, seat, token in rows]
    finally:
        await engine.dispose()


async def probe(port: int, places: list[tuple[str, int, str]], answers: Answers) -> None:
    """A webhook and a click in turn, every EVERY seconds, until cancelled; each timed from when
    it was due, so an answer that holds up the next one counts for both."""
    loop = asyncio.get_running_loop()
    pending: set[asyncio.Task[None]] = set()
    turn = 0

    async def one(data: bytes) -> None:
        sent = time.perf_counter()
        status = await ask(port, data)
        answers.seen.append((sent, time.perf_counter() - sent, status))

    try:
        while True:
            room, seat, token = places[turn % len(places)]
            data = jaas(port, room, seat) if turn % 2 == 0 else click(port, token)
            task = loop.create_task(one(data))
            pending.add(task)
            task.add_done_callback(pending.discard)
            turn += 1
            await asyncio.sleep(EVERY)
    finally:
        for task in pending:
            task.cancel()
