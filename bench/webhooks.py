"""Measures the webhook door: a bare aiohttp app's rate on this machine, then `rdv serve` taking
signed JaaS deliveries on SQLite and PostgreSQL (requests/s, p50/p99, ratio to the bare app), then
a burst of 20,000 deliveries with 10 % exact duplicates: how many were lost or counted twice."""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import multiprocessing as mp
import os
import platform
import random
import secrets
import signal
import socket
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

# Only SQL text here: importing the project from this file is fragile, since bench/ comes first on
# sys.path when it runs and its name hides the `webhooks` package.
import output
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

ROOT = Path(__file__).resolve().parent.parent
MEETINGS, BURST, DUPLICATES, RATIO, STEADY_S = 2_000, 20_000, 2_000, 0.5, 10.0
SECRET, APP = "bench-jaas-webhook-secret-0123456789", "vpaas-magic-cookie-bench"
JOINED, LEFT = "PARTICIPANT_JOINED", "PARTICIPANT_LEFT"
Row = output.Row
READY = (
    "SELECT (SELECT count(*) FROM rooms WHERE state = 'ready'),"
    " (SELECT count(*) FROM mail_messages WHERE status IN ('pending', 'sending'))"
)
BURST_COUNTS = (
    "SELECT count(*), count(DISTINCT dedupe_key), count(attendee_id) FROM provider_events"
    " WHERE dedupe_key LIKE 'burst-%'"
)
Seats = list[tuple[str, int]]  # (the room's name at the provider, an attendee id) per seat


def program(starts: datetime) -> bytes:
    """MEETINGS two-person meetings, all at `starts`, for `rdv import`."""
    when = [(starts + timedelta(minutes=d)).isoformat(timespec="minutes") for d in (0, 30)]
    orgs = [{"key": f"o{i}", "name": f"Org {i}", "kind": ("company", "buyer")[i]} for i in (0, 1)]
    people = [
        {"key": f"p{i}", "name": f"P {i}", "email": f"p{i}@o{i % 2}.example"}
        | {"organisation": f"o{i % 2}"}
        for i in range(2 * MEETINGS)
    ]
    sessions = [
        {"key": f"m{i}", "kind": "meeting", "title": f"M {i}", "start": when[0], "end": when[1]}
        | {"attendees": [f"p{2 * i}", f"p{2 * i + 1}"]}
        for i in range(MEETINGS)
    ]
    event = {"slug": "bench-webhooks", "title": "Bench", "timezone": "UTC", "locale": "en"}
    event |= {"organiser": {"name": "Bench", "email": "rdv@bench.example"}}
    document = {"event": event, "organisations": orgs, "people": people, "sessions": sessions}
    return json.dumps(document).encode()


Delivery = tuple[str, str, int, str, float | None]  # key, room, seat, event type, event time


def request(port: int, key: str, room: str, seat: int, kind: str, at: float | None) -> bytes:
    """One JaaS delivery as 8x8 sends it, signed now: `X-Jaas-Signature: t=…,v1=base64(HMAC(
    "{t}.{body}"))`, with the seat id our join links put in the JWT as the participant's `id`."""
    now = time.time()
    data = {"conference": f"{room}@conference.bench.8x8.vc", "isBreakout": False}
    data |= {"id": f"rdv-a{seat}", "name": f"P {seat}", "participantId": key[-12:]}
    envelope = {"idempotencyKey": key, "customerId": "bench", "appId": APP, "eventType": kind}
    envelope |= {"sessionId": room, "timestamp": int((at or now) * 1000), "fqn": f"{APP}/{room}"}
    body = json.dumps(envelope | {"data": data}, separators=(",", ":")).encode()
    mac = hmac.new(SECRET.encode(), f"{int(now)}.".encode() + body, hashlib.sha256).digest()
    head = f"POST /webhooks/jitsi HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
    head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    head += f"X-Jaas-Signature: t={int(now)},v1={base64.b64encode(mac).decode()}\r\n\r\n"
    return head.encode() + body


async def exchange(port: int, stream: Any, data: bytes) -> tuple[Any, int, bytes]:
    """One request on a keep-alive connection (opened if None); status 0 when it broke."""
    try:
        stream = stream or await asyncio.open_connection("127.0.0.1", port)
        stream[1].write(data)
        head = await stream[0].readuntil(b"\r\n\r\n")
        length = head.lower().partition(b"content-length:")[2].partition(b"\r\n")[0]
        return stream, int(head[9:12]), await stream[0].readexactly(int(length or 0))
    except ConnectionRefusedError:
        raise  # nothing listens any more: the run is broken (the parent gets an EOFError)
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        return None, 0, b""


def steady(seats: Seats) -> Iterator[Delivery]:
    """Unique deliveries for STEADY_S seconds: joins, then the leaves."""
    tag, deadline = secrets.token_hex(4), time.perf_counter() + STEADY_S
    for i in itertools.count():
        if time.perf_counter() > deadline:
            return
        kind = (JOINED, LEFT)[i // len(seats) % 2]
        yield (f"steady-{tag}-{i:08d}", *seats[i % len(seats)], kind, None)


def burst(seats: Seats) -> Iterator[Delivery]:
    """BURST joins, DUPLICATES of them exact copies (the same body), shuffled."""
    rng, tag, at = random.Random(5), secrets.token_hex(4), time.time()
    distinct: list[Delivery] = [
        (f"burst-{tag}-{i:08d}", *seats[i % len(seats)], JOINED, at + i / 1000)
        for i in range(BURST - DUPLICATES)
    ]
    return iter(rng.sample(distinct + rng.sample(distinct, DUPLICATES), BURST))


async def fire(
    port: int, deliveries: Iterator[Delivery], workers: int, tries: int
) -> dict[str, Any]:
    """`workers` keep-alive connections, each sending the next delivery once the last one is
    answered. A non-2xx answer or a broken connection is tried again after an exponential
    back-off, as providers do, up to `tries` attempts in all."""
    statuses, acked, latencies, given_up = Counter[int](), Counter[str](), [], [0]

    async def worker() -> None:
        stream = None
        for delivery in deliveries:
            for attempt in range(tries):
                data = request(port, *delivery)  # signed now, as providers sign each attempt
                started = time.perf_counter()
                stream, status, answer = await exchange(port, stream, data)
                latencies.append(time.perf_counter() - started)
                statuses[status] += 1
                if 200 <= status < 300:
                    acked.update(json.loads(answer))
                    break
                if attempt + 1 < tries:
                    await asyncio.sleep(min(0.1 * 2**attempt, 5.0))
            else:
                given_up[0] += 1

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    failed = sum(n for status, n in statuses.items() if not 200 <= status < 300)
    tally = {"retries": failed - given_up[0], "given up": given_up[0], "acked": acked}
    elapsed = {"elapsed": time.perf_counter() - began, "latencies": latencies}
    return tally | elapsed | {"statuses": statuses}


def load_child(port: int, seats: Seats, mode: str, workers: int, out: Any) -> None:
    """The load generator, in a process of its own; sends its figures back through `out`."""
    steadily = mode == "steady"
    deliveries = steady(seats) if steadily else burst(seats)
    out.send(
        asyncio.run(fire(port, deliveries, workers if steadily else 128, 1 if steadily else 12))
    )


def bare_child(out: Any) -> None:
    """The machine's limit: an aiohttp app answering 200 to the same POSTs, doing nothing else."""
    from aiohttp import web

    async def receive(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"accepted": 1, "duplicates": 0})

    async def serve() -> None:
        app = web.Application()
        app.router.add_post("/webhooks/{provider}", receive)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        listening = socket.create_server(("127.0.0.1", 0))
        await web.SockSite(runner, listening).start()
        out.send(listening.getsockname()[1])
        await asyncio.Event().wait()

    asyncio.run(serve())


async def in_child(target: Any, *args: Any) -> tuple[Any, Any]:
    """Starts `target(*args, pipe)` in a spawned process; returns it and its first message."""
    context = mp.get_context("spawn")
    ours, theirs = context.Pipe()
    process = context.Process(target=target, args=(*args, theirs), daemon=True)
    process.start()
    theirs.close()  # a child that dies is then an EOFError here, not a hang
    return process, await asyncio.to_thread(ours.recv)


def row(name: str, value: Any, goal: Any = "-", ok: Any = None, *base: str) -> Row:
    """A table line: figure, value, baseline, ratio, target, holds."""
    holds = "-" if ok is None else "yes" if ok else "NO"
    return (name, str(value), *(base or ("-", "-")), str(goal), holds)


def tail(path: Path) -> str:
    return path.read_text(errors="replace")[-3000:]


def figures(result: dict[str, Any]) -> tuple[float, str, int]:
    """Requests per second answered 2xx, "p50 / p99 ms", and how many were not 2xx."""
    lat, statuses = sorted(result["latencies"]), result["statuses"]
    good = sum(n for status, n in statuses.items() if 200 <= status < 300)
    p50, p99 = (lat[int(q * (len(lat) - 1))] * 1000 for q in (0.5, 0.99))
    return good / result["elapsed"], f"{p50:.1f} / {p99:.1f} ms", sum(statuses.values()) - good


async def wait_until_ready(engine: Any, server: Any, log: Path) -> Seats:
    """Every room provisioned and the invites' outbox drained (the port is open by then);
    then the seats."""
    ready = mailing = None
    for _ in range(600):
        if server.returncode is not None:
            raise SystemExit(f"rdv serve stopped early:\n{tail(log)}")
        async with engine.connect() as db:
            ready, mailing = (await db.execute(text(READY))).one()
            seats = await db.execute(
                text("SELECT r.external_id, a.id FROM rooms r JOIN attendees a USING (session_id)")
            )
        if ready == MEETINGS and not mailing:
            return [(str(room), int(seat)) for room, seat in seats]
        await asyncio.sleep(0.5)
    raise SystemExit(f"not ready after 300 s: {ready} of {MEETINGS} rooms, {mailing} mails due")


async def rdv_serve(url: str, folder: Path, workers: int, bare: tuple[float, str]) -> list[Row]:
    """`rdv import` of the program, then `rdv serve` under the steady load and the burst."""
    name = make_url(url).get_backend_name()
    with socket.create_server(("127.0.0.1", 0)) as probe:  # a free port
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("RDV_")}
    env |= {"RDV_DATABASE_URL": url, "RDV_SECRET_KEY": secrets.token_urlsafe(32)}
    env |= {"RDV_JITSI_WEBHOOK_SECRET": SECRET, "RDV_PORT": str(port), "PYTHONPATH": str(ROOT)}
    # Rooms provision at once (within RDV_ROOM_LEAD) and reminders are not due yet: rendering
    # reminder mail in the same process would measure something else.
    env |= {"RDV_MAIL_URL": f"file://{folder}/outbox-{name}", "RDV_ROOM_LEAD": "2h"}
    (folder / "program.json").write_bytes(program(datetime.now(UTC) + timedelta(hours=1)))
    rdv, started = (sys.executable, "-m", "orchestrator"), time.perf_counter()
    log = folder / f"rdv-{name}.log"  # its stderr: the access log has a line per request
    with log.open("wb") as out:
        job = await asyncio.create_subprocess_exec(
            *rdv, "import", str(folder / "program.json"), env=env, cwd=ROOT, stdout=out, stderr=out
        )
        if await job.wait():
            raise SystemExit(f"rdv import failed:\n{tail(log)}")
        print(f"{name}: rdv import of {MEETINGS} meetings: {time.perf_counter() - started:.1f} s")
        server = await asyncio.create_subprocess_exec(
            *rdv, "serve", env=env, cwd=ROOT, stdout=out, stderr=out
        )
    engine = create_async_engine(url)
    try:
        seats = await wait_until_ready(engine, server, log)
        print(f"{name}: {len(seats)} seats in {MEETINGS} rooms ready, outbox empty; loading")
        _, result = await in_child(load_child, port, seats, "steady", workers)
        rate, latency, bad = figures(result)
        shot = (await in_child(load_child, port, seats, "burst", workers))[1]
        async with engine.connect() as db:
            stored, distinct, resolved = (await db.execute(text(BURST_COUNTS))).one()
    finally:
        if server.returncode is None:
            server.send_signal(signal.SIGTERM)
            await server.wait()
        await engine.dispose()
    b, sent, acked = f"rdv serve, {name}", BURST - DUPLICATES, shot["acked"]
    codes = ", ".join(f"{s or 'broken'}: {n}" for s, n in sorted(shot["statuses"].items()))
    answered, tries = (acked["accepted"], acked["duplicates"]), (shot["retries"], shot["given up"])
    per_bare = (f"{bare[0]:.0f}", f"{rate / bare[0]:.2f}")
    expected, ok2 = f"{sent} / {DUPLICATES}", answered == (sent, DUPLICATES)
    ok = rate / bare[0] >= RATIO
    return [
        row(f"{b}: requests/s ({bad} not 2xx)", f"{rate:.0f}", f"≥ {RATIO}", ok, *per_bare),
        row(f"{b}: p50 / p99", latency, "-", None, bare[1], "-"),
        row(f"{b}: burst ({codes}), p50 / p99", f"{shot['elapsed']:.1f} s, {figures(shot)[1]}"),
        row(f"{b}: burst retries / given up", "{} / {}".format(*tries), "- / 0", not tries[1]),
        row(f"{b}: burst lost", sent - distinct, 0, distinct == sent, f"{sent} sent", "-"),
        row(f"{b}: burst double-counted", stored - distinct, 0, stored == distinct),
        row(f"{b}: burst answered new / duplicate", "{} / {}".format(*answered), expected, ok2),
        row(f"{b}: burst events matched to a seat", resolved, sent, resolved == sent),
    ]


async def postgres(url: str, folder: Path, workers: int, bare: tuple[float, str]) -> list[Row]:
    """The same on a throwaway database `rdv_bench_<pid>` next to `url`, dropped afterwards."""
    import asyncpg

    base, name = make_url(url), f"rdv_bench_{os.getpid()}"
    admin_url = base.set(drivername="postgresql", database="postgres")
    try:
        admin = await asyncpg.connect(admin_url.render_as_string(hide_password=False), timeout=5)
    except (OSError, asyncpg.PostgresError) as error:
        print(f"PostgreSQL skipped: {url} is unreachable ({error})")
        return []
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        target = base.set(database=name).render_as_string(hide_password=False)
        return await rdv_serve(target, folder, workers, bare)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def main(args: argparse.Namespace) -> list[Row]:
    bare_server, port = await in_child(bare_child)
    try:
        seats = [(f"bench-room-{i // 2}", i + 1) for i in range(2 * MEETINGS)]
        rate, latency, bad = figures((await in_child(load_child, port, seats, "steady", 32))[1])
    finally:
        bare_server.terminate()
    print(f"bare aiohttp app: {rate:.0f} requests/s, p50 / p99 {latency}")
    rows = [row(f"bare app: requests/s ({bad} not 2xx)", f"{rate:.0f}")]
    rows.append(row("bare app: p50 / p99", latency))
    with tempfile.TemporaryDirectory(prefix="rdv-bench-webhooks-") as folder:
        sqlite = f"sqlite+aiosqlite:///{folder}/bench.sqlite3"
        rows += await rdv_serve(sqlite, Path(folder), args.workers, (rate, latency))
        if args.postgres:
            rows += await postgres(args.postgres, Path(folder), args.workers, (rate, latency))
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=32, help="connections of the steady load")
    parser.add_argument(
        "--postgres",
        metavar="URL",
        default="postgresql+asyncpg://postgres@127.0.0.1:5432/test",
        help="server for the throwaway database ('' skips PostgreSQL)",
    )
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # so that `finally` stops rdv serve
    loadavg = ", ".join(f"{n:.2f}" for n in os.getloadavg())
    print(f"Python {platform.python_version()}, {os.cpu_count()} cores, load average {loadavg}")
    table = asyncio.run(main(args))
    output.emit("webhooks", table)
    print(f"load average at the end: {', '.join(f'{n:.2f}' for n in os.getloadavg())}")
