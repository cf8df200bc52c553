"""Measures the webhook door: a bare aiohttp app's rate on this machine, then `rdv serve` taking
signed JaaS deliveries on SQLite and PostgreSQL (requests per second, p50/p99, ratio to the bare
app), then a burst of 20,000 deliveries with 10 % exact duplicates: how many lost or counted twice."""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from orchestrator.db import models as m
from orchestrator.db.attendance import ProviderEventRow
from orchestrator.db.engine import create_engine
from orchestrator.db.mail import MailMessage

ROOT = Path(__file__).resolve().parent.parent
MEETINGS, BURST, DUPLICATES, RATIO = 2_000, 20_000, 2_000, 0.5
SECRET, APP = "bench-jaas-webhook-secret-0123456789", "vpaas-magic-cookie-bench"
Row = tuple[str, str, str, str, str, str]


def program(starts: datetime) -> bytes:
    """MEETINGS two-person meetings, all starting at `starts` (within RDV_ROOM_LEAD: rooms are
    provisioned as soon as `rdv serve` starts)."""
    when = [(starts + timedelta(minutes=d)).isoformat(timespec="minutes") for d in (0, 30)]
    orgs = [
        {"key": f"o{i}", "name": f"Org {i}", "kind": ("company", "buyer")[i % 2]} for i in (0, 1)
    ]
    people = [
        {"key": f"p{i}", "name": f"Person {i}", "email": f"p{i}@o{i % 2}.example"}
        | {"organisation": f"o{i % 2}"}
        for i in range(2 * MEETINGS)
    ]
    sessions = [
        {"key": f"m{i}", "kind": "meeting", "title": f"Meeting {i}", "start": when[0]}
        | {"end": when[1], "attendees": [f"p{2 * i}", f"p{2 * i + 1}"]}
        for i in range(MEETINGS)
    ]
    event = {"slug": "bench-webhooks", "title": "Bench", "timezone": "UTC", "locale": "en"}
    event["organiser"] = {"name": "Bench", "email": "rdv@bench.example"}  # type: ignore[assignment]
    document = {"event": event, "organisations": orgs, "people": people, "sessions": sessions}
    return json.dumps(document).encode()


def request(port: int, key: str, room: str, seat: int, kind: str = "PARTICIPANT_JOINED") -> bytes:
    """One JaaS delivery as 8x8 sends it: X-Jaas-Signature `t=…,v1=base64(HMAC("{t}.{body}"))`."""
    now = time.time()
    data = {
        "conference": f"{room}@conference.bench.8x8.vc",
        "isBreakout": False,
        "id": f"rdv-a{seat}",
    }
    data |= {"name": f"Person {seat}", "participantId": key[-12:], "moderator": False}
    body = json.dumps(
        {"idempotencyKey": key, "customerId": "bench", "appId": APP, "eventType": kind}
        | {"sessionId": room, "timestamp": int(now * 1000), "fqn": f"{APP}/{room}", "data": data},
        separators=(",", ":"),
    ).encode()
    mac = hmac.new(SECRET.encode(), f"{int(now)}.".encode() + body, hashlib.sha256).digest()
    head = f"POST /webhooks/jitsi HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
    head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    head += f"X-Jaas-Signature: t={int(now)},v1={base64.b64encode(mac).decode()}\r\n\r\n"
    return head.encode() + body


async def exchange(stream: tuple[Any, Any], data: bytes) -> tuple[int, bytes]:
    reader, writer = stream
    writer.write(data)
    head = await reader.readuntil(b"\r\n\r\n")
    length = head.lower().partition(b"content-length:")[2].partition(b"\r\n")[0]
    return int(head[9:12]), await reader.readexactly(int(length or 0))


async def steady(port: int, seats: list[tuple[str, int]], workers: int, seconds: float) -> dict:
    """`workers` keep-alive connections, each sending the next unique delivery when answered."""
    count, latencies, statuses, tag = [0], [], Counter[int](), secrets.token_hex(4)
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        stream = await asyncio.open_connection("127.0.0.1", port)
        while (started := time.perf_counter()) < deadline:
            i = count[0] = count[0] + 1
            room, seat = seats[i % len(seats)]
            kind = ("PARTICIPANT_JOINED", "PARTICIPANT_LEFT")[i // len(seats) % 2]
            status, _ = await exchange(
                stream, request(port, f"steady-{tag}-{i:08d}", room, seat, kind)
            )
            latencies.append(time.perf_counter() - started)
            statuses[status] += 1
        stream[1].close()

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    return {"elapsed": time.perf_counter() - began, "latencies": latencies, "statuses": statuses}


async def burst(port: int, seats: list[tuple[str, int]], workers: int) -> dict:
    """BURST deliveries (joins, DUPLICATES of them exact copies) fired at once; a non-2xx answer
    or a broken connection is retried after a back-off, as providers do."""
    rng, tag = random.Random(5), secrets.token_hex(4)
    distinct = [
        request(port, f"burst-{tag}-{i:08d}", *seats[i % len(seats)])
        for i in range(BURST - DUPLICATES)
    ]
    queue: asyncio.Queue[tuple[bytes, int]] = asyncio.Queue()
    for data in rng.sample(distinct + rng.sample(distinct, DUPLICATES), BURST):
        queue.put_nowait((data, 0))
    left, done, loop = [BURST], asyncio.Event(), asyncio.get_running_loop()
    statuses, acked, retries, latencies = Counter[int](), Counter[str](), [0], []

    async def worker() -> None:
        stream = None
        while True:
            data, attempt = await queue.get()
            started = time.perf_counter()
            try:
                stream = stream or await asyncio.open_connection("127.0.0.1", port)
                status, answer = await exchange(stream, data)
            except (OSError, asyncio.IncompleteReadError):
                status, answer, stream = 0, b"", None
            latencies.append(time.perf_counter() - started)
            statuses[status] += 1
            if 200 <= status < 300:
                acked.update(json.loads(answer))
                left[0] -= 1
                if not left[0]:
                    done.set()
                continue
            retries[0] += 1
            loop.call_later(min(0.1 * 2**attempt, 5.0), queue.put_nowait, (data, attempt + 1))

    began = time.perf_counter()
    tasks = [asyncio.create_task(worker()) for _ in range(workers)]
    await done.wait()
    elapsed = time.perf_counter() - began
    for task in tasks:
        task.cancel()
    return {"elapsed": elapsed, "statuses": statuses, "retries": retries[0], "acked": acked}


def load_child(port: int, seats: list[tuple[str, int]], mode: str, workers: int, out: Any) -> None:
    """The load generator, a process of its own; sends its figures back through `out`."""
    coroutine = steady(port, seats, workers, 10.0) if mode == "steady" else burst(port, seats, 128)
    result = asyncio.run(coroutine)
    result["latencies"] = sorted(result.get("latencies", []))
    out.send(result)


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
        site = web.SockSite(runner, socket.create_server(("127.0.0.1", 0)))
        await site.start()
        out.send(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        await asyncio.Event().wait()

    asyncio.run(serve())


async def in_child(target: Any, *args: Any) -> tuple[Any, Any]:
    """Starts `target(*args, pipe)` in a spawned process; returns it and its first message."""
    ours, theirs = mp.get_context("spawn").Pipe()
    process = mp.get_context("spawn").Process(target=target, args=(*args, theirs), daemon=True)
    process.start()
    theirs.close()  # so that a child that dies is an EOFError here, not a hang
    return process, await asyncio.to_thread(ours.recv)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def figures(result: dict) -> tuple[float, float, float, int]:
    """Requests per second answered 2xx, p50 and p99 in ms, and how many were not 2xx."""
    lat, statuses = result["latencies"], result["statuses"]
    good = sum(n for status, n in statuses.items() if 200 <= status < 300)
    p50, p99 = (lat[int(q * (len(lat) - 1))] * 1000 for q in (0.5, 0.99))
    return good / result["elapsed"], p50, p99, sum(statuses.values()) - good


async def wait_until_ready(engine: Any, server: Any, port: int) -> list[tuple[str, int]]:
    """Every room provisioned, the invites' outbox drained, the port open; then the seats."""
    busy = MailMessage.status.in_(("pending", "sending"))
    for _ in range(600):
        if server.returncode is not None:
            raise SystemExit("rdv serve stopped early; see its log")
        async with engine.connect() as db:
            ready = await db.scalar(select(func.count()).where(m.Room.state == "ready"))
            mailing = await db.scalar(select(func.count()).select_from(MailMessage).where(busy))
        if ready == MEETINGS and not mailing:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
            except OSError:
                pass
            else:
                async with engine.connect() as db:
                    found = await db.execute(
                        select(m.Room.external_id, m.Attendee.id)
                        .join(m.Attendee, m.Attendee.session_id == m.Room.session_id)
                        .order_by(m.Attendee.id)
                    )
                    return [(str(room), int(seat)) for room, seat in found]
        await asyncio.sleep(0.5)
    raise SystemExit(f"rooms not ready after 300 s ({ready} of {MEETINGS}, {mailing} mails due)")


async def rdv_serve(url: str, folder: Path, workers: int, bare: tuple[float, str]) -> list[Row]:
    """Imports the program, starts `rdv serve`, waits for its rooms and outbox, then loads it."""
    name = make_url(url).get_backend_name()
    port, env = free_port(), {k: v for k, v in os.environ.items() if not k.startswith("RDV_")}
    env |= {"RDV_DATABASE_URL": url, "RDV_SECRET_KEY": secrets.token_urlsafe(32)}
    env |= {"RDV_JITSI_WEBHOOK_SECRET": SECRET, "RDV_PORT": str(port), "PYTHONPATH": str(ROOT)}
    env["RDV_MAIL_URL"] = f"file://{folder}/outbox-{name}"
    (folder / "program.json").write_bytes(program(datetime.now(UTC) + timedelta(minutes=5)))
    rdv, log = (sys.executable, "-m", "orchestrator"), (folder / f"rdv-{name}.log").open("wb")
    started = time.perf_counter()
    job = await asyncio.create_subprocess_exec(
        *rdv, "import", str(folder / "program.json"), env=env, cwd=ROOT, stdout=log, stderr=log
    )
    if await job.wait():
        raise SystemExit(f"rdv import failed; see {log.name}")
    print(f"{name}: rdv import of {MEETINGS} meetings: {time.perf_counter() - started:.1f} s")
    server = await asyncio.create_subprocess_exec(
        *rdv, "serve", env=env, cwd=ROOT, stdout=log, stderr=log
    )
    engine = create_engine(url)
    try:
        seats = await wait_until_ready(engine, server, port)
        print(f"{name}: {len(seats)} seats in {MEETINGS} ready rooms, outbox drained; loading")
        rate, p50, p99, bad = figures(
            (await in_child(load_child, port, seats, "steady", workers))[1]
        )
        shot = (await in_child(load_child, port, seats, "burst", workers))[1]
        async with engine.connect() as db:
            burst_rows = ProviderEventRow.dedupe_key.like("burst-%")
            stored, distinct = (
                await db.execute(
                    select(func.count(), func.count(ProviderEventRow.dedupe_key.distinct()))
                    .select_from(ProviderEventRow)
                    .where(burst_rows)
                )
            ).one()
    finally:
        if server.returncode is None:
            server.send_signal(signal.SIGTERM)
            await server.wait()
        await engine.dispose()
        log.close()
    label, sent, acked = f"rdv serve, {name}", BURST - DUPLICATES, shot["acked"]
    codes = ", ".join(f"{s or 'dropped'}: {n}" for s, n in sorted(shot["statuses"].items()))
    return [
        (f"{label}: requests/s ({bad} not 2xx)", f"{rate:.0f}", f"{bare[0]:.0f}")
        + (f"{rate / bare[0]:.2f}", f"≥ {RATIO}", "yes" if rate >= RATIO * bare[0] else "NO"),
        (f"{label}: p50 / p99", f"{p50:.1f} / {p99:.1f} ms", bare[1], "-", "-", "-"),
        (f"{label}: burst of {BURST} ({codes})", f"{shot['elapsed']:.1f} s")
        + (f"{BURST / shot['elapsed']:.0f}/s", "-", "-", "-"),
        (f"{label}: burst retries (non-2xx or dropped)", str(shot["retries"]), "-", "-", "-", "-"),
        (f"{label}: burst lost", str(sent - distinct), f"{sent} sent", "-", "0")
        + ("yes" if distinct == sent else "NO",),
        (f"{label}: burst double-counted", str(stored - distinct), "-", "-", "0")
        + ("yes" if stored == distinct else "NO",),
        (f"{label}: burst answered new / duplicate", f"{acked['accepted']} / {acked['duplicates']}")
        + ("-", "-", f"{sent} / {DUPLICATES}")
        + ("yes" if (acked["accepted"], acked["duplicates"]) == (sent, DUPLICATES) else "NO",),
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
    seats = [(f"bench-room-{i // 2}", i + 1) for i in range(2 * MEETINGS)]
    try:
        result = (await in_child(load_child, port, seats, "steady", args.workers))[1]
    finally:
        bare_server.terminate()
    rate, p50, p99, bad = figures(result)
    bare = (rate, f"{p50:.1f} / {p99:.1f} ms")
    print(f"bare aiohttp app: {rate:.0f} requests/s, p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    rows: list[Row] = [
        (f"bare aiohttp app: requests/s ({bad} not 2xx)", f"{rate:.0f}", "-", "-", "-", "-"),
        ("bare aiohttp app: p50 / p99", bare[1], "-", "-", "-", "-"),
    ]
    with tempfile.TemporaryDirectory(prefix="rdv-bench-webhooks-") as folder:
        sqlite = f"sqlite+aiosqlite:///{folder}/bench.sqlite3"
        rows += await rdv_serve(sqlite, Path(folder), args.workers, bare)
        if args.postgres:
            rows += await postgres(args.postgres, Path(folder), args.workers, bare)
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=32, help="connections of the steady load")
    parser.add_argument(
        "--postgres",
        metavar="URL",
        default="postgresql+asyncpg://postgres@127.0.0.1:5432/test",
        help="where to create the throwaway database ('' skips PostgreSQL)",
    )
    args = parser.parse_args()
    load = ", ".join(f"{n:.2f}" for n in os.getloadavg())
    print(f"Python {platform.python_version()}, {os.cpu_count()} cores, load average {load}")
    table = asyncio.run(main(args))
    head = ("figure", "value", "baseline", "ratio", "target", "holds")
    widths = [max(len(r[i]) for r in (head, *table)) for i in range(6)]
    for line in (head, tuple("-" * w for w in widths), *table):
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)))
