"""Measures the live dashboard: 200 event-stream clients open while signed Jitsi event_sync webhooks
arrive at 200 per second for 30 s; the delay from webhook accepted to update received, updates
per client, the server's memory. Baseline in the same run: one client, one webhook per second."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import platform
import resource
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import output
from output import Row, widen
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from orchestrator.db import models as m
from orchestrator.db.engine import create_engine
from orchestrator.db.mail import MailMessage

ROOT = Path(__file__).resolve().parent.parent
SLUG, SECRET, MEETINGS, TARGET_MS = "bench-dashboard", "bench-event-sync-secret-0123456", 200, 250
FIRST, LAST = ("Élise", "Mathieu", "Zoé", "Karim", "Ana", "Loïc"), ("Martin", "Durand", "Okafor")
Room = tuple[str, str, list[int]]  # session key, Jitsi room name (external id), attendee ids


def program(starts: datetime) -> bytes:
    """MEETINGS half-hour meetings at `starts`, a company person and a buyer person each."""
    kinds, end = ("company", "buyer"), starts + timedelta(minutes=30)
    orgs = [{"key": f"o{i}", "name": f"Org {i}", "kind": kinds[i % 2]} for i in range(40)]
    people = [
        {"key": f"p{n}", "name": f"{FIRST[n % 6]} {LAST[n % 3]}-{n}", "organisation": f"o{n % 40}"}
        | {"email": f"p{n}@o{n % 40}.example"}
        for n in range(2 * MEETINGS)
    ]
    sessions = [
        {"key": f"m{i:03d}", "kind": "meeting", "title": f"Meeting {i}"}
        | {"start": starts.isoformat(timespec="minutes"), "end": end.isoformat(timespec="minutes")}
        | {"attendees": [f"p{2 * i}", f"p{2 * i + 1}"]}
        for i in range(MEETINGS)
    ]
    event = {"slug": SLUG, "title": "Rencontres", "timezone": "Europe/Paris", "locale": "fr"}
    event["organiser"] = {"name": "Bench", "email": "rdv@bench.example"}  # type: ignore[assignment]
    document = {"event": event, "organisations": orgs, "people": people, "sessions": sessions}
    return json.dumps(document, ensure_ascii=False).encode()


async def send(port: int, rooms: list[Room], counts: list[int], rate: float, seconds: float) -> Any:
    """Open loop: delivery i leaves at i / rate, round robin over the rooms (one per room a second
    at 200/s); logs (room, k, sent, answered, status, new) on time.monotonic (system-wide)."""
    wall, began, plan = time.time() + 0.5, time.monotonic() + 0.5, []
    for i in range(int(rate * seconds)):
        r = i % len(rooms)
        k, (_, room, seats) = counts[r] + i // len(rooms), rooms[r]
        seat, kind = seats[k % 2], ("joined", "left")[k % 4 // 2]
        occupant = {"id": f"rdv-a{seat}", "name": f"Seat {seat}", "email": ""}
        occupant |= {"occupant_jid": f"rdv-a{seat}@meet.example.org/bench"}
        body = {"event_name": f"muc-occupant-{kind}", "room_name": room, "is_breakout": False}
        body |= {"room_jid": f"{room}@conference.meet.example.org", "occupant": occupant}
        occupant[f"{kind}_at"] = int(wall + i / rate)
        plan.append((r, k, json.dumps(body).encode()))
    log: list[tuple[int, int, float, float, int, int]] = []
    headers = {"Authorization": f"Bearer {SECRET}", "Content-Type": "application/json"}
    timeout = aiohttp.ClientTimeout(total=600)  # an unanswered webhook would blur the mapping
    connector = aiohttp.TCPConnector(limit=256)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout, headers=headers) as http:

        async def post(r: int, k: int, body: bytes) -> None:
            sent, status, new = time.monotonic(), 0, 0
            with contextlib.suppress(aiohttp.ClientError, TimeoutError, ValueError):
                async with http.post(f"http://127.0.0.1:{port}/webhooks/jitsi", data=body) as got:
                    status, new = got.status, (await got.json()).get("accepted", 0)
            log.append((r, k, sent, time.monotonic(), status, new))

        tasks = []
        for i, job in enumerate(plan):
            await asyncio.sleep(max(0.0, began + i / rate - time.monotonic()))
            tasks.append(asyncio.create_task(post(*job)))
        await asyncio.gather(*tasks)
    return sorted(log)


def child(role: str, *args: Any) -> None:
    """A spawned process: the webhook sender (it sends back its log) or the stream watcher."""
    *args, pipe = args
    if role == "send":
        pipe.send(asyncio.run(send(*args)))
    else:
        asyncio.run(watch(*args, pipe))


def match(seen: list[dict[str, list[float]]], log: Any, keys: list[str]) -> dict:
    """Each webhook writes one update row and each row reaches each client as one message (built
    after the row was read, so showing that change): the j-th `webhook` message of a room is the
    j-th webhook answered for it (1 s apart per room at 200/s). Delay = received - answered."""
    hooks: dict[int, list[float]] = defaultdict(list)
    for r, _, _, answered, status, new in sorted(log, key=lambda entry: entry[3]):
        if status == 200 and new:
            hooks[r].append(answered)
    delays, missed = [], 0
    for rooms in seen:
        for r, stored in hooks.items():
            got = rooms.get(keys[r], [])
            missed += max(0, len(stored) - len(got))
            delays += [(b - a) * 1000 for a, b in zip(stored, got, strict=False)]
    delays.sort()
    pick = [delays[int(q * (len(delays) - 1))] if delays else float("nan") for q in (0.5, 0.99, 1)]
    return {"p": pick, "n": len(delays), "missed": missed}


async def watch(port: int, cookie: str, n: int, drain: float, pipe: Any) -> None:
    """n event-stream clients in this process; after the load, waits until each has had as many
    `webhook` updates as deliveries were stored (at most `drain` seconds), then matches them."""
    url, timeout = f"http://127.0.0.1:{port}/dashboard/{SLUG}/stream", aiohttp.ClientTimeout()
    http = aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=0))
    get = [http.get(url, headers={"Cookie": cookie}, raise_for_status=True) for _ in range(n)]
    opened = await asyncio.gather(*get, return_exceptions=True)
    streams = [stream for stream in opened if isinstance(stream, aiohttp.ClientResponse)]
    seen: list[dict[str, list[float]]] = [defaultdict(list) for _ in streams]
    counts = [0] * len(streams)

    async def read(i: int, response: aiohttp.ClientResponse) -> None:
        buffer = b""  # a stream that fails or hangs shows as a client short of updates
        with contextlib.suppress(aiohttp.ClientError):
            async for chunk in response.content.iter_any():
                received, buffer = time.monotonic(), buffer + chunk
                *messages, buffer = buffer.split(b"\n\n")
                for head, _, data in (message.partition(b"data: ") for message in messages):
                    update = json.loads(data) if b"event: update" in head else {}
                    if update.get("reason") == "webhook" and (card := update.get("card")):
                        counts[i] += 1
                        seen[i][card["key"]].append(received)

    tasks = [asyncio.create_task(read(i, stream)) for i, stream in enumerate(streams)]
    pipe.send(len(streams))
    expected, log, keys = await asyncio.to_thread(pipe.recv)
    for _ in range(int(drain * 10)):
        if min(counts, default=expected) >= expected:
            break
        await asyncio.sleep(0.1)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await http.close()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result = match(seen, log, keys) | {"counts": counts or [0]}
    pipe.send(result | {"cpu": usage.ru_utime + usage.ru_stime})


async def in_child(target: Any, *args: Any) -> tuple[Any, Any, Any]:
    """`target(*args, pipe)` in a spawned process: the process, our end, its first message."""
    ours, theirs = mp.get_context("spawn").Pipe()
    process = mp.get_context("spawn").Process(target=target, args=(*args, theirs), daemon=True)
    process.start()
    theirs.close()  # a child that dies is an EOFError here, not a hang
    return process, ours, await asyncio.to_thread(ours.recv)


def proc(pid: int) -> dict[str, float]:
    """The server's VmRSS and VmHWM (MB) and CPU seconds so far, from /proc."""
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    found = {ln.split(":")[0]: int(ln.split()[1]) / 1024 for ln in status if ln.startswith("Vm")}
    ticks = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[11:13]
    return found | {"cpu": sum(map(int, ticks)) / os.sysconf("SC_CLK_TCK")}


async def phase(ctx: dict[str, Any], n: int, rate: float, seconds: float, spy: str) -> dict:
    """n clients connected, then webhooks at `rate` for `seconds`; what the clients saw."""
    pid, rooms, counts = ctx["pid"], ctx["rooms"], ctx["counts"]
    watching, pipe, up = await in_child(child, "watch", ctx["port"], ctx["cookie"], n, 60.0)
    start, command = proc(pid), ["record", "--pid", str(pid), "--duration", str(int(seconds))]
    profiler = await asyncio.create_subprocess_exec(
        spy or "true", *command, "--nonblocking", "--format", "raw", "-o", ctx["profile"]
    )
    _, _, log = await in_child(child, "send", ctx["port"], rooms, counts, rate, seconds)
    end = proc(pid)
    for r, *_ in log:
        counts[r] += 1
    written = sum(1 for entry in log if entry[4] == 200 and entry[5])
    pipe.send((written, log, [key for key, _, _ in rooms]))
    result = await asyncio.to_thread(pipe.recv)
    watching.join()
    await profiler.wait()
    acks = sorted(1000 * (answered - sent) for _, _, sent, answered, _, _ in log)
    span = max(e[3] for e in log) - min(e[2] for e in log)
    result |= {"up": up, "written": written, "span": span}
    result |= {"start": start, "end": end, "load": (end["cpu"] - start["cpu"]) / span}
    return result | {"bad": sum(e[4] != 200 for e in log), "ack": (acks[len(acks) // 2], acks[-1])}


def cli(env: dict[str, str], *args: str) -> str:
    command = [sys.executable, "-m", "orchestrator", *args]
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, check=False)
    if done.returncode:
        raise SystemExit(f"rdv {args[0]} failed: {done.stderr.decode()[-2000:]}")
    return done.stdout.decode().strip()


async def ready(ctx: dict[str, Any], env: dict[str, str], server: Any) -> list[Room]:
    """Waits (up to 300 s) for every room `ready` (the rooms API) and the invites sent; returns
    the rooms with their Jitsi names and seats, read from the database."""
    url = f"http://127.0.0.1:{ctx['port']}/api/v1/events/{SLUG}/rooms"
    token = {"Authorization": "Bearer " + cli(env, "token", "--role", "organiser", "--event", SLUG)}
    busy = select(func.count()).where(MailMessage.status.in_(("pending", "sending")))
    async with aiohttp.ClientSession() as http:
        for _ in range(300):
            states: list[str] = []
            if server.returncode is not None:
                raise SystemExit("rdv serve stopped early; see its log")
            with contextlib.suppress(aiohttp.ClientError, KeyError, ValueError):
                async with http.get(url, headers=token) as got:
                    states = [room["state"] for room in (await got.json())["rooms"]]
            async with ctx["engine"].connect() as db:
                if states.count("ready") == MEETINGS and not await db.scalar(busy):
                    break
            await asyncio.sleep(1)
        else:
            raise SystemExit(f"rooms not ready after 300 s: {states.count('ready')} of {MEETINGS}")
        async with http.post(cli(env, "login-link", "--event", SLUG), allow_redirects=False) as got:
            ctx["cookie"] = f"rdv_session={got.cookies['rdv_session'].value}"
    found: dict[tuple[str, str], list[int]] = defaultdict(list)
    async with ctx["engine"].connect() as db:
        for key, room, seat in await db.execute(
            select(m.Session.key, m.Room.external_id, m.Attendee.id)
            .join(m.Room, m.Room.session_id == m.Session.id)
            .join(m.Attendee, m.Attendee.session_id == m.Session.id)
            .where(m.Room.state == "ready")
            .order_by(m.Session.key, m.Attendee.id)
        ):
            found[(key, room)].append(seat)
    return [(key, room, seats) for (key, room), seats in found.items()]


async def run(url: str, folder: Path, args: argparse.Namespace) -> list[Row]:
    """Imports the program, starts `rdv serve`, waits for its rooms, then the two phases."""
    name, probe = make_url(url).get_backend_name(), socket.create_server(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RDV_")} | {
        "RDV_DATABASE_URL": url, "RDV_SECRET_KEY": secrets.token_urlsafe(32),
        "RDV_JITSI_WEBHOOK_SECRET": SECRET, "RDV_PORT": str(port), "RDV_ROOM_LEAD": "10m",
        "RDV_PUBLIC_URL": f"http://127.0.0.1:{port}", "RDV_MAIL_URL": f"file://{folder}/mail-{name}",
        "RDV_REMINDER_BEFORE": "0", "PYTHONPATH": str(ROOT),
    }  # fmt: skip
    (folder / "program.json").write_bytes(program(datetime.now(UTC) + timedelta(minutes=5)))
    cli(env, "import", str(folder / "program.json"))
    log = (folder / f"rdv-{name}.log").open("wb")
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "orchestrator", "serve", env=env, cwd=ROOT, stdout=log, stderr=log
    )
    ctx: dict[str, Any] = {"port": port, "pid": server.pid, "engine": create_engine(url)}
    ctx["profile"] = f"{args.profile}.{name}"
    try:
        ctx["rooms"] = await ready(ctx, env, server)
        ctx["counts"] = [0] * len(ctx["rooms"])
        print(f"{name}: rdv serve (pid {server.pid}) has {len(ctx['rooms'])} rooms ready")
        base = await phase(ctx, 1, 1.0, args.baseline, "")
        load = await phase(ctx, args.clients, args.rate, args.seconds, args.py_spy)
    finally:
        if server.returncode is None:
            server.send_signal(signal.SIGTERM)
            await server.wait()
        await ctx["engine"].dispose()
        log.close()
    return table(name, base, load, args.clients, args.rate)


def table(name: str, base: dict, load: dict, n: int, rate: float) -> list[Row]:
    def row(figure: str, value: str, target: str = "-", holds: bool | None = None) -> Row:
        return widen((f"{name}: {figure}", value, target, output.holds(holds)))

    ms, counts, written = "{:.0f} / {:.0f} / {:.0f} ms".format, load["counts"], load["written"]
    start, end, seen = load["start"], load["end"], f"{load['n']} / {load['missed']}"
    complete = sum(count >= written for count in counts)
    p99, base_p99 = load["p"][1], base["p"][1]
    return [
        (f"{name}: {n} clients, {rate:g} webhooks/s: delay p50 / p99 / max; baseline: 1 client, "
         "1 webhook/s", ms(*load["p"]), ms(*base["p"]), f"{p99 / max(base_p99, 0.001):.1f}",
         f"p99 < {TARGET_MS} ms", output.holds(p99 < TARGET_MS)),
        row("(client, change) pairs: seen / not seen", seen, "0 not seen", not load["missed"]),
        row("webhook updates per client, min / max", f"{min(counts)} / {max(counts)}",
            f"{written} each", min(counts) >= written),
        row("clients connected / with every update", f"{load['up']} / {complete}", f"{n} / {n}",
            complete == n),
        row("webhooks not 200 / answer p50 / max", "{} / {:.0f} / {:.0f} ms".format(
            load["bad"], *load["ack"]), "0 not 200", not load["bad"]),
        row("first send to last answer", f"{load['span']:.1f} s"),
        row("server VmRSS loaded / end / peak VmHWM", "{:.0f} / {:.0f} / {:.0f} MB".format(
            start["VmRSS"], end["VmRSS"], end["VmHWM"])),
        row("server CPU from first send to last answer (cores)", f"{load['load']:.2f}"),
        row("watcher process CPU (s)", f"{load['cpu']:.1f}"),
    ]  # fmt: skip


async def main(args: argparse.Namespace) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="rdv-bench-dashboard-") as folder:
        rows = await run(f"sqlite+aiosqlite:///{folder}/bench.sqlite3", Path(folder), args)
        if not args.postgres:
            return rows
        import asyncpg

        base, name = make_url(args.postgres), f"rdv_bench_dash_{os.getpid()}"
        admin_url = base.set(drivername="postgresql", database="postgres")
        admin = await asyncpg.connect(admin_url.render_as_string(hide_password=False))
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
            target = base.set(database=name).render_as_string(hide_password=False)
            return rows + await run(target, Path(folder), args)
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=200, help="event-stream clients")
    parser.add_argument("--rate", type=float, default=200.0, help="webhooks per second")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the load")
    parser.add_argument("--baseline", type=float, default=10.0, help="seconds of the 1/s baseline")
    parser.add_argument("--postgres", metavar="URL", help="also on a throwaway database there")
    parser.add_argument("--py-spy", default="", metavar="PATH", help="profile the server's load")
    parser.add_argument("--profile", default="/tmp/rdv-dashboard.pyspy", help="py-spy raw output")
    args = parser.parse_args()
    load = ", ".join(f"{n:.2f}" for n in os.getloadavg())
    print(f"Python {platform.python_version()}, {os.cpu_count()} cores, load average {load}")
    table = asyncio.run(main(args))
    print("load average at the end: " + ", ".join(f"{n:.2f}" for n in os.getloadavg()))
    output.emit("dashboard", table)
