"""Measures the webhook door. Its baseline is a minimal durable door (bench/durable.py: the same
signature check, each delivery stored with group commit through the same driver before the
answer), measured in the same run on SQLite and on PostgreSQL; then `rdv serve` on the same kind
of database under the same steady load (requests/s, ratio to the durable door), paced at 1,000
deliveries a second (answer times), and a burst of 20,000 deliveries with 10 % exact duplicates
(how many were lost or counted twice). On PostgreSQL, two `rdv serve` share the steady load. A
bare aiohttp app that stores nothing shows the machine's HTTP limit."""

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
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

# Only SQL text here: importing the project from this file is fragile, since bench/ comes first on
# sys.path when it runs and its name hides the `webhooks` package.
import durable
import output
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

ROOT = Path(__file__).resolve().parent.parent
MEETINGS, BURST, DUPLICATES, RATIO, STEADY_S = 2_000, 20_000, 2_000, 0.5, 10.0
PACED_RATE, PACED_S, PACED_P99_MS, PACED_CONNECTIONS = 1_000, 10.0, 100.0, 500
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


class Figures(NamedTuple):
    """A load's requests/s answered 2xx, "p50 / p99 ms", and how many were not 2xx."""

    rate: float
    latency: str
    bad: int


def fake_seats() -> Seats:
    """Seats for the baselines, which store what they get without looking it up."""
    return [(f"bench-room-{i // 2}", i + 1) for i in range(2 * MEETINGS)]


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
    event: dict[str, Any] = {
        "slug": "bench-webhooks",
        "title": "Bench",
        "timezone": "UTC",
        "locale": "en",
    }
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
    envelope: dict[str, Any] = {
        "idempotencyKey": key,
        "customerId": "bench",
        "appId": APP,
        "eventType": kind,
    }
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


def unique(seats: Seats, prefix: str) -> Iterator[Delivery]:
    """Unique deliveries without end: a join for every seat, then the leaves, and again."""
    tag = secrets.token_hex(4)
    for i in itertools.count():
        kind = (JOINED, LEFT)[i // len(seats) % 2]
        yield (f"{prefix}-{tag}-{i:08d}", *seats[i % len(seats)], kind, None)


def steady(seats: Seats) -> Iterator[Delivery]:
    """Unique deliveries for STEADY_S seconds from the first one taken."""
    deadline = time.perf_counter() + STEADY_S
    return itertools.takewhile(lambda _: time.perf_counter() < deadline, unique(seats, "steady"))


def burst(seats: Seats) -> Iterator[Delivery]:
    """BURST joins, DUPLICATES of them exact copies (the same body), shuffled."""
    rng, tag, at = random.Random(5), secrets.token_hex(4), time.time()
    distinct: list[Delivery] = [
        (f"burst-{tag}-{i:08d}", *seats[i % len(seats)], JOINED, at + i / 1000)
        for i in range(BURST - DUPLICATES)
    ]
    return iter(rng.sample(distinct + rng.sample(distinct, DUPLICATES), BURST))


async def fire(
    ports: Sequence[int], deliveries: Iterator[Delivery], workers: int, tries: int
) -> dict[str, Any]:
    """`workers` keep-alive connections, spread over `ports` in turn, each sending the next
    delivery once the last one is answered. A non-2xx answer or a broken connection is tried
    again after an exponential back-off, as providers do, up to `tries` attempts in all."""
    statuses, acked, latencies, given_up = Counter[int](), Counter[str](), [], [0]

    async def worker(port: int) -> None:
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
    await asyncio.gather(*(worker(ports[i % len(ports)]) for i in range(workers)))
    failed = sum(n for status, n in statuses.items() if not 200 <= status < 300)
    tally = {"retries": failed - given_up[0], "given up": given_up[0], "acked": acked}
    elapsed = {"elapsed": time.perf_counter() - began, "latencies": latencies}
    return tally | elapsed | {"statuses": statuses}


async def pace(port: int, deliveries: Iterable[Delivery], rate: float) -> dict[str, Any]:
    """Open loop: delivery i is due at start + i / rate and leaves then whatever the answers, on
    an idle keep-alive connection when there is one, else on a new one, up to PACED_CONNECTIONS
    (a server that many deliveries behind is far past the target anyway). An answer's time
    counts from when its delivery was due, so sending late counts against the figure, not for
    it."""
    idle: list[Any] = []
    statuses, latencies, opened = Counter[int](), list[float](), [0]
    connections = asyncio.Semaphore(PACED_CONNECTIONS)

    async def send(delivery: Delivery, due: float) -> None:
        async with connections:
            stream = idle.pop() if idle else None
            opened[0] += stream is None
            stream, status, _ = await exchange(port, stream, request(port, *delivery))
            latencies.append(time.perf_counter() - due)
            statuses[status] += 1
            if stream is not None:
                idle.append(stream)

    began, sending = time.perf_counter(), []
    for i, delivery in enumerate(deliveries):
        due = began + i / rate
        if due > time.perf_counter():
            await asyncio.sleep(due - time.perf_counter())
        sending.append(asyncio.create_task(send(delivery, due)))
    elapsed = time.perf_counter() - began
    await asyncio.gather(*sending)
    return {"elapsed": elapsed, "latencies": latencies, "statuses": statuses, "opened": opened[0]}


def load_child(ports: list[int], seats: Seats, mode: str, workers: int, out: Any) -> None:
    """The load generator, in a process of its own; sends its figures back through `out`."""
    if mode == "paced":
        paced = itertools.islice(unique(seats, "paced"), int(PACED_RATE * PACED_S))
        out.send(asyncio.run(pace(ports[0], paced, PACED_RATE)))
    elif mode == "steady":
        out.send(asyncio.run(fire(ports, steady(seats), workers, 1)))
    else:
        out.send(asyncio.run(fire(ports, burst(seats), 128, 12)))


def bare_child(out: Any) -> None:
    """The machine's HTTP limit: an aiohttp app answering 200 to the same POSTs, storing nothing."""
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


def durable_child(url: str, out: Any) -> None:
    """The baseline: bench/durable.py's door storing into `url`, in a process of its own as
    `rdv serve` is; sends its port through `out` once it listens."""
    asyncio.run(durable.serve(url, SECRET, out.send))


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
    given, ratio = base or ("-", "-")
    return (name, str(value), given, ratio, str(goal), holds)


def tail(path: Path) -> str:
    return path.read_text(errors="replace")[-3000:]


def quantile(latencies: Sequence[float], q: float) -> float:
    """The q quantile in ms of sorted latencies (0 when there are none)."""
    return latencies[int(q * (len(latencies) - 1))] * 1000 if latencies else 0.0


def figures(result: dict[str, Any]) -> Figures:
    """Requests per second answered 2xx, "p50 / p99 ms", and how many were not 2xx."""
    lat, statuses = sorted(result["latencies"]), result["statuses"]
    good = sum(n for status, n in statuses.items() if 200 <= status < 300)
    p50, p99 = quantile(lat, 0.5), quantile(lat, 0.99)
    return Figures(
        good / result["elapsed"], f"{p50:.1f} / {p99:.1f} ms", sum(statuses.values()) - good
    )


def busy() -> float:
    """CPU seconds the whole machine has spent not idle since boot (0 where /proc is missing)."""
    stat = Path("/proc/stat")
    if not stat.exists():
        return 0.0
    ticks = [int(n) for n in stat.read_text().split("\n", 1)[0].split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # less idle and iowait


def cpu(pid: int) -> float:
    """CPU seconds a process has used (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def load(
    what: str, servers: Sequence[int], ports: list[int], seats: Seats, mode: str, workers: int
) -> dict[str, Any]:
    """One load against `ports`. Prints the CPU the servers (by pid) used per answer and how many
    cores they kept busy, and how busy the whole machine was: that tells a server short of CPU
    (sharing the cores) from one waiting on something."""
    before, machine, began = [cpu(pid) for pid in servers], busy(), time.perf_counter()
    process, result = await in_child(load_child, ports, seats, mode, workers)
    await asyncio.to_thread(process.join)
    used = [cpu(pid) - was for pid, was in zip(servers, before, strict=True)]
    answers, seconds = sum(result["statuses"].values()), result["elapsed"]
    cores = " + ".join(f"{u / seconds:.2f}" for u in used)
    machine = (busy() - machine) / (time.perf_counter() - began)
    per = sum(used) / max(answers, 1) * 1e6
    print(f"{what}, {mode}: {per:.0f} µs CPU per answer, {cores} cores; machine {machine:.2f} busy")
    return dict(result)


async def baseline(what: str, workers: int, target: Any, *args: Any) -> Figures:
    """The steady load against a baseline server started as `target(*args, pipe)`."""
    server, port = await in_child(target, *args)
    try:
        result = await load(what, [server.pid], [port], fake_seats(), "steady", workers)
    finally:
        server.terminate()
        await asyncio.to_thread(server.join)
    found = figures(result)
    print(f"{what}: {found.rate:.0f} requests/s, p50 / p99 {found.latency}")
    return found


def free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return int(probe.getsockname()[1])


def rdv_env(url: str, folder: Path) -> dict[str, str]:
    """`rdv`'s settings for the run: the database, the JaaS secret, a free port."""
    name = make_url(url).get_backend_name()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RDV_")}
    env |= {"RDV_DATABASE_URL": url, "RDV_SECRET_KEY": secrets.token_urlsafe(32)}
    env |= {"RDV_JITSI_WEBHOOK_SECRET": SECRET, "RDV_PORT": str(free_port())}
    # Rooms provision at once (within RDV_ROOM_LEAD) and reminders are not due yet: rendering
    # reminder mail in the same process would measure something else.
    env |= {"RDV_MAIL_URL": f"file://{folder}/outbox-{name}", "RDV_ROOM_LEAD": "2h"}
    return env | {"PYTHONPATH": str(ROOT)}


def rdv(command: str) -> tuple[str, ...]:
    return (sys.executable, "-m", "orchestrator", command)


async def rdv_import(env: dict[str, str], folder: Path, log: Path) -> None:
    """`rdv import` of the program (its output into `log`)."""
    (folder / "program.json").write_bytes(program(datetime.now(UTC) + timedelta(hours=1)))
    started = time.perf_counter()
    with log.open("ab") as out:
        job = await asyncio.create_subprocess_exec(
            *rdv("import"), str(folder / "program.json"), env=env, cwd=ROOT, stdout=out, stderr=out
        )
    if await job.wait():
        raise SystemExit(f"rdv import failed:\n{tail(log)}")
    name = make_url(env["RDV_DATABASE_URL"]).get_backend_name()
    print(f"{name}: rdv import of {MEETINGS} meetings: {time.perf_counter() - started:.1f} s")


@asynccontextmanager
async def rdv_serve(env: dict[str, str], log: Path) -> AsyncIterator[Any]:
    """`rdv serve` for the body of the `with`, its stderr into `log` (the access log has a line
    per request, as in production); SIGTERM on the way out."""
    with log.open("ab") as out:
        server = await asyncio.create_subprocess_exec(
            *rdv("serve"), env=env, cwd=ROOT, stdout=out, stderr=out
        )
    try:
        yield server
    finally:
        if server.returncode is None:
            server.send_signal(signal.SIGTERM)
            await server.wait()


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


async def wait_listening(port: int, server: Any, log: Path) -> None:
    """Until `rdv serve` accepts connections on `port` (60 s at most)."""
    for _ in range(600):
        if server.returncode is not None:
            raise SystemExit(f"rdv serve stopped early:\n{tail(log)}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        writer.close()
        return
    raise SystemExit(f"rdv serve is not listening on {port} after 60 s:\n{tail(log)}")


def steady_rows(what: str, found: Figures, base: Figures, goal: bool) -> list[Row]:
    """Requests/s and p50 / p99 against a baseline; the ratio's target only where `goal`."""
    ratio = found.rate / base.rate
    target: tuple[str, bool | None] = (f"≥ {RATIO}", ratio >= RATIO) if goal else ("-", None)
    per_base = (f"{base.rate:.0f}", f"{ratio:.2f}")
    return [
        row(f"{what}: requests/s ({found.bad} not 2xx)", f"{found.rate:.0f}", *target, *per_base),
        row(f"{what}: p50 / p99", found.latency, "-", None, base.latency, "-"),
    ]


def paced_row(what: str, result: dict[str, Any]) -> Row:
    """p50 / p99 / max answer time of the paced load; the target wants p99 under PACED_P99_MS
    and every delivery answered 2xx."""
    lat, bad = sorted(result["latencies"]), figures(result).bad
    p50, p99, top = quantile(lat, 0.5), quantile(lat, 0.99), quantile(lat, 1.0)
    print(f"{what}: {len(lat)} sent in {result['elapsed']:.1f} s on {result['opened']} connections")
    name = f"{what}: {PACED_RATE}/s for {PACED_S:.0f} s ({bad} not 2xx), p50 / p99 / max"
    goal = f"p99 < {PACED_P99_MS:.0f} ms, all 2xx"
    return row(name, f"{p50:.1f} / {p99:.1f} / {top:.1f} ms", goal, p99 < PACED_P99_MS and not bad)


def burst_rows(what: str, shot: dict[str, Any], counts: Sequence[int]) -> list[Row]:
    """What the burst lost or counted twice: its answers, and `counts` (rows, distinct keys,
    events matched to a seat) read from provider_events afterwards."""
    stored, distinct, resolved = counts
    sent, acked = BURST - DUPLICATES, shot["acked"]
    codes = ", ".join(f"{s or 'broken'}: {n}" for s, n in sorted(shot["statuses"].items()))
    answered, tries = (acked["accepted"], acked["duplicates"]), (shot["retries"], shot["given up"])
    expected, ok = f"{sent} / {DUPLICATES}", answered == (sent, DUPLICATES)
    b = f"{what}: burst"
    return [
        row(f"{b} ({codes}), p50 / p99", f"{shot['elapsed']:.1f} s, {figures(shot).latency}"),
        row(f"{b} retries / given up", "{} / {}".format(*tries), "- / 0", not tries[1]),
        row(f"{b} lost", sent - distinct, 0, distinct == sent, f"{sent} sent", "-"),
        row(f"{b} double-counted", stored - distinct, 0, stored == distinct),
        row(f"{b} answered new / duplicate", "{} / {}".format(*answered), expected, ok),
        row(f"{b} events matched to a seat", resolved, sent, resolved == sent),
    ]


async def scale_out(
    env: dict[str, str], folder: Path, first: Any, seats: Seats, workers: int, one: Figures
) -> list[Row]:
    """A second `rdv serve` on the same database (a port of its own, no import), the steady load
    split between the two (half the connections each): the combined rate against one's."""
    second_env = env | {"RDV_PORT": str(free_port())}
    ports = [int(env["RDV_PORT"]), int(second_env["RDV_PORT"])]
    log = folder / "rdv-postgresql-2.log"
    async with rdv_serve(second_env, log) as second:
        await wait_listening(ports[1], second, log)
        both = figures(
            await load("2 × rdv serve", [first.pid, second.pid], ports, seats, "steady", workers)
        )
    what = "2 × rdv serve, postgresql"
    print(f"{what}: {both.rate:.0f} requests/s, p50 / p99 {both.latency}")
    return steady_rows(what, both, one, goal=False)


async def measure_rdv(url: str, folder: Path, workers: int, base: Figures) -> list[Row]:
    """`rdv import` of the program, then `rdv serve` under the steady load (against `base`, the
    durable door's figures), two instances (PostgreSQL), the paced load and the burst."""
    env, name = rdv_env(url, folder), make_url(url).get_backend_name()
    log, what, port = folder / f"rdv-{name}.log", f"rdv serve, {name}", int(env["RDV_PORT"])
    await rdv_import(env, folder, log)
    engine = create_async_engine(url)
    try:
        async with rdv_serve(env, log) as server:
            seats = await wait_until_ready(engine, server, log)
            print(f"{name}: {len(seats)} seats in {MEETINGS} rooms ready, outbox empty; loading")
            result = await load(what, [server.pid], [port], seats, "steady", workers)
            one = figures(result)
            print(f"{what}: {one.rate:.0f} requests/s, p50 / p99 {one.latency}")
            rows = steady_rows(what, one, base, goal=True)
            if name == "postgresql":
                rows += await scale_out(env, folder, server, seats, workers, one)
            paced = await load(what, [server.pid], [port], seats, "paced", workers)
            rows.append(paced_row(what, paced))
            shot = await load(what, [server.pid], [port], seats, "burst", workers)
        async with engine.connect() as db:
            counts = (await db.execute(text(BURST_COUNTS))).one()
    finally:
        await engine.dispose()
    return rows + burst_rows(what, shot, counts)


async def database_kind(
    durable_url: str, url: str, folder: Path, workers: int, bare: Figures
) -> list[Row]:
    """The durable door on `durable_url`, then `rdv serve` on `url`: the same kind of database."""
    name = make_url(url).get_backend_name()
    what = f"durable door, {name}"
    base = await baseline(what, workers, durable_child, durable_url)
    rows = steady_rows(what, base, bare, goal=False)
    return rows + await measure_rdv(url, folder, workers, base)


async def postgres(url: str, folder: Path, workers: int, bare: Figures) -> list[Row]:
    """The same on throwaway databases next to `url` (`rdv_bench_<pid>` for rdv serve,
    `rdv_bench_<pid>_durable` for the durable door), dropped afterwards."""
    import asyncpg  # type: ignore[import-untyped]

    base, name = make_url(url), f"rdv_bench_{os.getpid()}"
    admin_url = base.set(drivername="postgresql", database="postgres")
    try:
        admin = await asyncpg.connect(admin_url.render_as_string(hide_password=False), timeout=5)
    except (OSError, asyncpg.PostgresError) as error:
        print(f"PostgreSQL skipped: {url} is unreachable ({error})")
        return []
    names = (name, f"{name}_durable")
    try:
        for database in names:
            await admin.execute(f'CREATE DATABASE "{database}"')
        target, durable_url = (
            base.set(database=d).render_as_string(hide_password=False) for d in names
        )
        return await database_kind(durable_url, target, folder, workers, bare)
    finally:
        for database in names:
            await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()


async def main(args: argparse.Namespace) -> list[Row]:
    bare = await baseline("bare aiohttp app", args.workers, bare_child)
    rows = [row(f"bare app: requests/s ({bare.bad} not 2xx)", f"{bare.rate:.0f}")]
    rows.append(row("bare app: p50 / p99", bare.latency))
    with tempfile.TemporaryDirectory(prefix="rdv-bench-webhooks-") as name:
        folder = Path(name)
        durable_url, url = (f"sqlite+aiosqlite:///{folder}/{f}.sqlite3" for f in ("durable", "rdv"))
        rows += await database_kind(durable_url, url, folder, args.workers, bare)
        if args.postgres:
            rows += await postgres(args.postgres, folder, args.workers, bare)
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=32, help="connections of the steady load")
    parser.add_argument(
        "--postgres",
        metavar="URL",
        default="postgresql+asyncpg://postgres@127.0.0.1:5432/test",
        help="server for the throwaway databases ('' skips PostgreSQL)",
    )
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # so that `finally` stops rdv serve
    loadavg = ", ".join(f"{n:.2f}" for n in os.getloadavg())
    print(f"Python {platform.python_version()}, {os.cpu_count()} cores, load average {loadavg}")
    table = asyncio.run(main(args))
    output.emit("webhooks", table)
    print(f"load average at the end: {', '.join(f'{n:.2f}' for n in os.getloadavg())}")
