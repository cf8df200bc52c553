"""Measures the start of a slot at a 9,000-person event: 3,000 two-person meetings open at once
(the other 3,000 people in a plenary at the same time), and within 60 s, open loop, 6,000 clicks
on personal links (/j/TOKEN) and 6,000 signed JaaS joins, one of each per meeting seat, while 20
dashboards follow the event's stream. Per route: answer p50/p99/max and errors; every click checked
to lead into its own room; the delay from a join's delivery to every dashboard showing that person
in the room. On SQLite, then on PostgreSQL."""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import math
import multiprocessing as mp
import os
import platform
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlsplit

import aiohttp
import jwt

# Only SQL text here, as in bench/door.py: the load is measured without the project's code in
# the load generator's process.
import output
from output import Row
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

ROOT = Path(__file__).resolve().parent.parent
SLUG, MEETINGS, PLENARY, DASHBOARDS = "bench-storm", 3_000, 3_000, 20
STORM_S, LAG_S, BEFORE_S = 60.0, 3.0, 30.0  # the storm, click-to-join lag, storm start - slot
BASELINE_S, DRAIN_S, TARGET_MS = 10.0, 30.0, 200.0
SECRET, APP = "bench-storm-jaas-webhook-secret-0123", "vpaas-magic-cookie-storm"
APP_SECRET, HOST = "bench-storm-jitsi-app-secret-0123456", "8x8.vc"
ROUTES = {"click": "GET /j/TOKEN, 302", "webhook": "signed JaaS join, 2xx"}  # in load() order
MS = "{:.0f} / {:.0f} / {:.0f} ms".format
PRESENT = re.compile(r'mark-present"><span class="mark">[^<]*</span>\s*<span class="name">([^<]*)<')
READY = (
    "SELECT (SELECT count(*) FROM rooms WHERE state = 'ready'),"
    " (SELECT count(*) FROM mail_messages WHERE status IN ('pending', 'sending')),"
    " (SELECT count(*) FROM mail_plans)"
)
SEATS = (
    "SELECT r.external_id, a.id, a.token, p.name, s.key FROM attendees a"
    " JOIN sessions s ON s.id = a.session_id JOIN rooms r ON r.session_id = s.id"
    " JOIN people p ON p.id = a.person_id ORDER BY a.id"
)
MATCHED = (
    "SELECT count(DISTINCT e.attendee_id) FROM provider_events e"
    " JOIN attendees a ON a.id = e.attendee_id JOIN sessions s ON s.id = a.session_id"
    " WHERE s.kind = 'meeting'"
)


class Seat(NamedTuple):
    """One attendee of one session, as the load and the checks need it."""

    room: str  # the room's name at the provider (rooms.external_id)
    attendee: int  # attendees.id: the seat is `rdv-a<id>` in the provider's token and events
    token: str  # the personal link's token
    name: str  # the person's name, as the dashboard's card shows it
    session: str  # the session's key


class Shot(NamedTuple):
    """One request of the load, on time.monotonic (the same clock in every process)."""

    attendee: int
    due: float  # when the open-loop schedule wanted it sent
    sent: float
    answered: float
    status: int  # 0: the connection broke
    location: str  # where a click redirected


Job = tuple[float, Seat]  # (seconds after the load's start, seat)
Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


def program(starts: datetime) -> bytes:
    """MEETINGS meetings (a company person and a buyer person, so one of them moderates) and a
    plenary of PLENARY other people, all from `starts` for half an hour, for `rdv import`."""
    when = {"start": starts.isoformat(timespec="minutes")}
    when["end"] = (starts + timedelta(minutes=30)).isoformat(timespec="minutes")
    kinds = ("company", "buyer", "company")
    orgs = [{"key": f"o{i}", "name": f"Org {i}", "kind": kinds[i]} for i in range(3)]
    people = [
        {"key": f"p{i}", "name": f"P {i}", "email": f"p{i}@o{i % 2}.example"}
        | {"organisation": f"o{i % 2}"}
        for i in range(2 * MEETINGS)
    ]
    people += [
        {"key": f"q{i}", "name": f"Q {i}", "email": f"q{i}@o2.example", "organisation": "o2"}
        for i in range(PLENARY)
    ]
    sessions = [
        {"key": f"m{i:04d}", "kind": "meeting", "title": f"M {i}", **when}
        | {"attendees": [f"p{2 * i}", f"p{2 * i + 1}"]}
        for i in range(MEETINGS)
    ]
    plenary = {"key": "plenary", "kind": "plenary", "title": "Plenary", **when}
    sessions.append(plenary | {"attendees": [f"q{i}" for i in range(PLENARY)]})
    event: dict[str, Any] = {"slug": SLUG, "title": "Storm", "timezone": "UTC", "locale": "en"}
    event |= {"organiser": {"name": "Bench", "email": "rdv@bench.example"}}
    document = {"event": event, "organisations": orgs, "people": people, "sessions": sessions}
    return json.dumps(document).encode()


def click(port: int, seat: Seat) -> bytes:
    """A person's browser following their link: a connection of its own, closed after, through
    the TLS proxy of the README, which names the person's own address in X-Forwarded-For (so
    the per-address rate limit counts each person, not the proxy)."""
    address = f"198.18.{seat.attendee // 256 % 256}.{seat.attendee % 256}"  # RFC 2544's range
    head = f"GET /j/{seat.token} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
    return f"{head}X-Forwarded-For: {address}\r\nConnection: close\r\n\r\n".encode()


def joined(port: int, seat: Seat) -> bytes:
    """The JaaS PARTICIPANT_JOINED for this seat as 8x8 sends it, signed now: `X-Jaas-Signature:
    t=…,v1=base64(HMAC("{t}.{body}"))`, the seat's id as our link's JWT gave it to the provider."""
    now, key = time.time(), secrets.token_hex(8)
    data: dict[str, Any] = {
        "conference": f"{seat.room}@conference.{APP}.8x8.vc",
        "isBreakout": False,
    }
    data |= {"id": f"rdv-a{seat.attendee}", "name": seat.name, "participantId": key}
    envelope: dict[str, Any] = {"idempotencyKey": key, "customerId": "bench", "appId": APP}
    envelope |= {"eventType": "PARTICIPANT_JOINED", "sessionId": seat.room}
    envelope |= {"timestamp": int(now * 1000), "fqn": f"{APP}/{seat.room}", "data": data}
    body = json.dumps(envelope, separators=(",", ":")).encode()
    mac = hmac.new(SECRET.encode(), f"{int(now)}.".encode() + body, hashlib.sha256).digest()
    head = f"POST /webhooks/jitsi HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
    head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    head += f"X-Jaas-Signature: t={int(now)},v1={base64.b64encode(mac).decode()}\r\n\r\n"
    return head.encode() + body


def header(head: bytes, name: bytes) -> str:
    """A header's value in a raw response head ('' when absent)."""
    for line in head.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == name:
            return value.strip().decode("latin-1")
    return ""


async def exchange(
    port: int, stream: Stream | None, data: bytes
) -> tuple[Stream | None, int, bytes]:
    """One request on `stream` (a new connection when None): the connection, the status (0 when
    it broke) and the response head."""
    try:
        reader, writer = stream or await asyncio.open_connection("127.0.0.1", port)
        writer.write(data)
        head = await reader.readuntil(b"\r\n\r\n")
        await reader.readexactly(int(header(head, b"content-length") or 0))
        return (reader, writer), int(head[9:12]), head
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
        return None, 0, b""


async def fire(port: int, route: str, jobs: Sequence[Job], t0: float) -> list[Shot]:
    """Open loop: each job leaves at t0 + its offset whether or not earlier ones were answered,
    so a slow server meets the same arrivals as a fast one. Webhooks reuse idle keep-alive
    connections (a provider keeps its own); clicks each open one (each is another person)."""
    keep, build = (True, joined) if route == "webhook" else (False, click)
    idle: list[Stream] = []
    shots: list[Shot] = []

    async def one(due: float, seat: Seat) -> None:
        data = build(port, seat)
        sent = time.monotonic()
        stream, status, head = await exchange(port, idle.pop() if idle else None, data)
        answered = time.monotonic()
        if stream is not None and keep:
            idle.append(stream)
        elif stream is not None:
            stream[1].close()
        shots.append(Shot(seat.attendee, due, sent, answered, status, header(head, b"location")))

    tasks = []
    for offset, seat in jobs:
        await asyncio.sleep(max(0.0, t0 + offset - time.monotonic()))
        tasks.append(asyncio.create_task(one(t0 + offset, seat)))
    await asyncio.gather(*tasks)
    for _, writer in idle:
        writer.close()
    return shots


def load_child(port: int, route: str, jobs: Sequence[Job], t0: float, out: Any) -> None:
    """A load generator in a process of its own (not on the loop that measures the streams)."""
    out.send(asyncio.run(fire(port, route, jobs, t0)))


@dataclass
class View:
    """What one dashboard stream showed: when each person first appeared in the room, and
    when the stream told the page to load again (a new program), which shows everything."""

    first: dict[str, float] = field(default_factory=dict)
    reloads: list[float] = field(default_factory=list)
    messages: int = 0

    def read(self, message: bytes, received: float) -> None:
        head, _, data = message.partition(b"data: ")
        if b"event: update" not in head:
            return
        self.messages += 1
        update = json.loads(data)
        if update.get("reason") in ("program", "forget"):
            self.reloads.append(received)
        for name in PRESENT.findall((update.get("card") or {}).get("html", "")):
            self.first.setdefault(name, received)

    def shown(self, name: str, answered: float) -> float | None:
        """When this page showed `name` in the room: on its card, or by a reload once the
        join was stored."""
        reload = next((at for at in self.reloads if at >= answered), None)
        return min((t for t in (self.first.get(name), reload) if t is not None), default=None)


async def follow(response: aiohttp.ClientResponse, view: View) -> None:
    """Reads a stream until cancelled; one that fails shows as a page short of updates."""
    buffer = b""
    with contextlib.suppress(aiohttp.ClientError):
        async for chunk in response.content.iter_any():
            received, buffer = time.monotonic(), buffer + chunk
            *messages, buffer = buffer.split(b"\n\n")
            for message in messages:
                view.read(message, received)


async def watch(port: int, cookie: str, n: int, pipe: Any) -> None:
    """n streams of the event, signed in as its organiser; sends how many opened, then
    (given the joins stored: name, sent, answered) waits until every page showed every one, at
    most DRAIN_S, and sends back the delays."""
    url = f"http://127.0.0.1:{port}/dashboard/{SLUG}/stream"
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(), connector=connector) as http:
        get = (http.get(url, headers={"Cookie": cookie}) for _ in range(n))
        opened = await asyncio.gather(*get)
        streams = [response for response in opened if response.status == 200]
        views = [View() for _ in streams]
        tasks = [asyncio.create_task(follow(s, v)) for s, v in zip(streams, views, strict=True)]
        pipe.send(len(streams))
        joins: list[tuple[str, float, float]] = await asyncio.to_thread(pipe.recv)
        for _ in range(int(DRAIN_S * 5)):
            if all_shown(views, joins):
                break
            await asyncio.sleep(0.2)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    pipe.send(delays(views, joins))


def all_shown(views: Sequence[View], joins: Sequence[tuple[str, float, float]]) -> bool:
    return all(
        view.shown(name, answered) is not None for view in views for name, _, answered in joins
    )


def delays(views: Sequence[View], joins: Sequence[tuple[str, float, float]]) -> dict[str, Any]:
    """Per (page, join): from the delivery's sending to the page showing the person in the
    room. Percentiles over every pair; pairs never shown; pages that showed every join."""
    found, missed, complete = [], 0, 0
    for view in views:
        mine = [view.shown(name, answered) for name, _, answered in joins]
        found += [(at - sent) * 1000 for at, (_, sent, _) in zip(mine, joins, strict=True) if at]
        missed += mine.count(None)
        complete += None not in mine
    messages = [view.messages for view in views] or [0]
    shape = {"complete": complete, "messages": (min(messages), max(messages))}
    return {"ms": percentiles(found), "pairs": len(found), "missed": missed} | shape


def watch_child(port: int, cookie: str, n: int, pipe: Any) -> None:
    asyncio.run(watch(port, cookie, n, pipe))


def percentiles(values: Sequence[float]) -> tuple[float, float, float]:
    """p50, p99 and max (nan when there is none)."""
    ordered = sorted(values)
    if not ordered:
        return math.nan, math.nan, math.nan
    p50, p99, top = (ordered[int(q * (len(ordered) - 1))] for q in (0.5, 0.99, 1.0))
    return p50, p99, top


async def in_child(target: Callable[..., None], *args: Any) -> tuple[Any, Any, Any]:
    """`target(*args, pipe)` in a spawned process: the process, our end, its first message."""
    context = mp.get_context("spawn")
    ours, theirs = context.Pipe()
    process = context.Process(target=target, args=(*args, theirs), daemon=True)
    process.start()
    theirs.close()  # a child that dies is an EOFError here, not a hang
    return process, ours, await asyncio.to_thread(ours.recv)


def plan(seats: Sequence[Seat], span: float, seed: int) -> tuple[list[Job], list[Job]]:
    """Clicks and joins, one each per seat, evenly spread over `span` seconds in a random order;
    each seat's join follows its click by LAG_S (the browser loads, the provider reports)."""
    order = random.Random(seed).sample(list(seats), len(seats))
    step = (span - LAG_S) / len(order)
    clicks = [(i * step, seat) for i, seat in enumerate(order)]
    return clicks, [(LAG_S + offset, seat) for offset, seat in clicks]


async def load(port: int, seats: Sequence[Seat], span: float, t0: float) -> list[list[Shot]]:
    """The clicks and the joins of `seats`, each route from a process of its own, from t0."""
    clicks, joins = plan(seats, span, len(seats))
    started = [
        in_child(load_child, port, r, j, t0) for r, j in (("click", clicks), ("webhook", joins))
    ]
    return [shots for _, _, shots in await asyncio.gather(*started)]


def into_room(shot: Shot, seat: Seat) -> bool:
    """Whether a click was sent into its seat's room: a 302 to the room's JaaS URL, with a JWT
    for that room and that seat."""
    if shot.status != 302:
        return False
    url = urlsplit(shot.location)
    if (url.scheme, url.netloc, url.path) != ("https", HOST, f"/{APP}/{seat.room}"):
        return False
    try:
        token = parse_qs(url.query)["jwt"][0]
        claims = jwt.decode(token, APP_SECRET, algorithms=["HS256"], audience="jitsi")
    except (KeyError, jwt.InvalidTokenError):
        return False
    user = claims.get("context", {}).get("user", {})
    return bool(claims.get("room") == seat.room and user.get("id") == f"rdv-a{seat.attendee}")


def ok(route: str, status: int) -> bool:
    return status == 302 if route == "click" else 200 <= status < 300


@dataclass
class Server:
    """`rdv serve` for one database, and what the bench needs to talk to it."""

    url: str
    name: str
    port: int
    env: dict[str, str]
    log: Path
    profile: str | None  # where bench/serve_profiled.py writes the storm's profile, if wanted
    process: asyncio.subprocess.Process | None = None

    @property
    def command(self) -> list[str]:
        if self.profile:
            return [sys.executable, str(ROOT / "bench" / "serve_profiled.py"), self.profile]
        return [sys.executable, "-m", "orchestrator", "serve"]

    def signal(self, number: int) -> None:
        """Switches the profile on (SIGUSR1) or writes it (SIGUSR2), when there is one."""
        if self.profile and self.process is not None:
            self.process.send_signal(number)


def environment(url: str, folder: Path, port: int) -> dict[str, str]:
    """rdv's settings: JaaS-like Jitsi rooms in token mode, signed webhooks, mail to files, the
    rooms opened at once (the default lead), no reminder due during the run."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RDV_")}
    return env | {
        "RDV_DATABASE_URL": url, "RDV_SECRET_KEY": secrets.token_urlsafe(32),
        "RDV_PORT": str(port), "RDV_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "RDV_JITSI_DOMAIN": f"{HOST}/{APP}", "RDV_JITSI_APP_ID": APP,
        "RDV_JITSI_APP_SECRET": APP_SECRET, "RDV_JITSI_WEBHOOK_SECRET": SECRET,
        "RDV_MAIL_URL": f"file://{folder}/outbox-{make_url(url).get_backend_name()}",
        "RDV_REMINDER_BEFORE": "0", "PYTHONPATH": str(ROOT),
    }  # fmt: skip


def rdv(env: dict[str, str], *args: str) -> str:
    """An `rdv` command to its end; its output."""
    command = [sys.executable, "-m", "orchestrator", *args]
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, check=False)
    if done.returncode:
        raise SystemExit(f"rdv {args[0]} failed: {done.stderr.decode()[-2000:]}")
    return done.stdout.decode().strip()


async def start(server: Server, folder: Path, lead: float) -> datetime:
    """Imports the program (its slot `lead` minutes ahead, on a whole minute) and starts `rdv
    serve`; returns the slot's start."""
    slot = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=lead + 1)
    (folder / "program.json").write_bytes(program(slot))
    began = time.perf_counter()
    await asyncio.to_thread(rdv, server.env, "import", str(folder / "program.json"))
    print(f"{server.name}: rdv import, {MEETINGS} meetings and a plenary of {PLENARY}: "
          f"{time.perf_counter() - began:.1f} s; the slot starts at {slot:%H:%M} UTC")  # fmt: skip
    with server.log.open("wb") as log:
        server.process = await asyncio.create_subprocess_exec(
            *server.command, env=server.env, cwd=ROOT, stdout=log, stderr=log
        )
    return slot


async def ready(server: Server, engine: AsyncEngine) -> list[Seat]:
    """Waits (at most 10 min) until every room is ready and the invites have left; the seats."""
    began, found = time.perf_counter(), (0, 0, 0)
    while time.perf_counter() - began < 600:
        assert server.process is not None
        if server.process.returncode is not None:
            raise SystemExit(f"rdv serve stopped early:\n{server.log.read_text()[-3000:]}")
        async with engine.connect() as db:
            found = tuple((await db.execute(text(READY))).one())
        if found == (MEETINGS + 1, 0, 0):
            async with engine.connect() as db:
                rows = (await db.execute(text(SEATS))).all()
            print(f"{server.name}: rooms ready, invites sent: {time.perf_counter() - began:.0f} s")
            return [Seat(str(r), int(a), str(t), str(n), str(k)) for r, a, t, n, k in rows]
        await asyncio.sleep(1.0)
    raise SystemExit(f"{server.name}: after 600 s, rooms ready, mails due, plans: {found}")


async def sign_in(server: Server) -> str:
    """The organiser's session cookie, from `rdv login-link` and its button."""
    link = await asyncio.to_thread(rdv, server.env, "login-link", "--event", SLUG)
    async with aiohttp.ClientSession() as http, http.post(link, allow_redirects=False) as got:
        return f"rdv_session={got.cookies['rdv_session'].value}"


def cpu(pid: int) -> float:
    """CPU seconds a process has used so far, from /proc."""
    ticks = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[11:13]
    return sum(map(int, ticks)) / os.sysconf("SC_CLK_TCK")


def served(log: Path, start: int) -> dict[str, list[float]]:
    """The server's own time per route (ms), from the access log lines written after byte
    `start`: what the clients' time is made of, without the network and the queues before it."""
    routes = {"/j/{token}": "click", "/webhooks/{provider}": "webhook"}
    found: dict[str, list[float]] = {"click": [], "webhook": []}
    with log.open("rb") as lines:
        lines.seek(start)
        for line in lines:
            _, brace, rest = line.partition(b" rdv.access {")
            if brace:
                entry = json.loads(b"{" + rest)
                if entry.get("route") in routes:
                    found[routes[entry["route"]]].append(entry["duration_ms"])
    return found


@dataclass
class Outcome:
    """What one database's run measured."""

    name: str
    baseline: dict[str, tuple[float, float, float]]
    shots: dict[str, list[Shot]]
    seats: dict[int, Seat]
    watched: dict[str, Any]
    opened: int
    matched: int
    server_ms: dict[str, list[float]]
    cores: float
    offset: float  # seconds from the slot's start to the storm's


async def quiet(server: Server, seats: Sequence[Seat]) -> dict[str, tuple[float, float, float]]:
    """The baseline on the same server with the dashboards open: a click and a join a second
    for BASELINE_S, on plenary seats (the meeting seats must be nobody's yet for the storm)."""
    shots = await load(
        server.port, seats[: int(BASELINE_S)], BASELINE_S + LAG_S, time.monotonic() + 2
    )
    answers = ([shot.answered - shot.due for shot in route] for route in shots)
    return dict(zip(ROUTES, map(percentiles, answers), strict=True))


async def storm(
    server: Server, seats: list[Seat], slot: datetime, engine: AsyncEngine, args: argparse.Namespace
) -> Outcome:
    """Signs in, opens the dashboards, runs the baseline, waits until BEFORE_S before the slot's
    start, then the storm on the meeting seats; and what the pages saw, what was stored."""
    meeting = [seat for seat in seats if seat.session != "plenary"][: args.seats]
    cookie = await sign_in(server)
    watcher, pipe, opened = await in_child(watch_child, server.port, cookie, args.dashboards)
    print(f"{server.name}: {opened} dashboards open; baseline: 1 click and 1 join per second")
    baseline = await quiet(server, [seat for seat in seats if seat.session == "plenary"])
    wait = slot.timestamp() - BEFORE_S - time.time() - 2
    print(f"{server.name}: storm in {max(wait, 0):.0f} s ({BEFORE_S:.0f} s before the slot)")
    await asyncio.sleep(max(wait, 0.0))
    assert server.process is not None
    t0, mark, used = time.monotonic() + 2, server.log.stat().st_size, cpu(server.process.pid)
    offset = time.time() + 2 - slot.timestamp()
    server.signal(signal.SIGUSR1)
    clicks, joins = await load(server.port, meeting, STORM_S, t0)
    server.signal(signal.SIGUSR2)
    cores = (cpu(server.process.pid) - used) / (time.monotonic() - t0)
    by_id = {seat.attendee: seat for seat in meeting}
    pipe.send(
        [(by_id[s.attendee].name, s.sent, s.answered) for s in joins if ok("webhook", s.status)]
    )
    watched = await asyncio.to_thread(pipe.recv)
    watcher.join()
    async with engine.connect() as db:
        matched = int(await db.scalar(text(MATCHED)) or 0)
    return Outcome(
        name=server.name,
        baseline=baseline,
        shots={"click": clicks, "webhook": joins},
        seats=by_id,
        watched=watched,
        opened=opened,
        matched=matched,
        server_ms=served(server.log, mark),
        cores=cores,
        offset=offset,
    )


async def run(url: str, folder: Path, args: argparse.Namespace) -> list[Row]:
    """One database: import, serve, wait for the rooms, the storm; its rows."""
    with socket.create_server(("127.0.0.1", 0)) as free:
        port = free.getsockname()[1]
    name = make_url(url).get_backend_name()
    log, profile = args.logs / f"serve-{name}.log", args.profile and f"{args.profile}.{name}"
    server = Server(url, name, port, environment(url, folder, port), log, profile)
    engine = create_async_engine(url)
    try:
        slot = await start(server, folder, args.lead)
        seats = await ready(server, engine)
        outcome = await storm(server, seats, slot, engine, args)
    finally:
        if server.process is not None and server.process.returncode is None:
            server.process.send_signal(signal.SIGTERM)
            await server.process.wait()
        await engine.dispose()
    return table(outcome)


def table(out: Outcome) -> list[Row]:
    """The rows of one database: per route, the answers and the errors; the checks that every
    click and join reached its seat; what the dashboards showed; the shape of the load."""
    return [
        *(line for route in ROUTES for line in route_rows(out, route)),
        *check_rows(out),
        *dashboard_rows(out),
        *load_rows(out),
    ]


def route_rows(out: Outcome, route: str) -> list[Row]:
    """Answer times from when each request was due (a late sender counts against the server),
    with the quiet baseline measured just before on the same server; errors; the server's own
    time from its access log (the rest is the wait for the loop)."""
    shots = out.shots[route]
    answers = percentiles([(shot.answered - shot.due) * 1000 for shot in shots])
    base = [1000 * value for value in out.baseline[route]]
    bad = Counter(shot.status for shot in shots if not ok(route, shot.status))
    codes = ", ".join(f"{status or 'broken'}: {n}" for status, n in sorted(bad.items()))
    figure = f"{out.name}: {len(shots)} × {ROUTES[route]}: answer p50 / p99 / max; baseline: 1/s"
    ratio = f"{answers[1] / max(base[1], 0.001):.1f}"
    target, holds = f"p99 < {TARGET_MS:.0f} ms", output.holds(answers[1] < TARGET_MS)
    return [
        (figure, MS(*answers), MS(*base), ratio, target, holds),
        row(out, f"{route}s: errors", f"{bad.total()} ({codes or 'none'})", "0", not bad),
        row(out, f"{route}s: server's own time p50 / p99 / max (access log)",
            MS(*percentiles(out.server_ms[route]))),
    ]  # fmt: skip


def check_rows(out: Outcome) -> list[Row]:
    """Every click sent into its own room, every join matched to its seat."""
    into = sum(into_room(shot, out.seats[shot.attendee]) for shot in out.shots["click"])
    total = len(out.seats)
    every = f"{total} / {total}"
    return [
        row(out, "clicks redirected into their own room (URL, JWT room and seat)",
            f"{into} / {total}", every, into == total),
        row(out, "joins matched to their seat (provider_events)", f"{out.matched} / {total}",
            every, out.matched == total),
    ]  # fmt: skip


def dashboard_rows(out: Outcome) -> list[Row]:
    """From a join's sending to each open dashboard showing that person in the room."""
    seen = out.watched
    pairs = out.opened * sum(ok("webhook", shot.status) for shot in out.shots["webhook"])
    shown = not seen["missed"] and seen["pairs"] == pairs
    pages = "{} of {}; {} / {}".format(seen["complete"], out.opened, *seen["messages"])
    return [
        row(out, f"{out.opened} dashboards: join sent → person shown in the room, "
            "p50 / p99 / max", MS(*seen["ms"])),
        row(out, f"(dashboard, join) pairs shown by {DRAIN_S:.0f} s after the storm",
            f"{seen['pairs']} / {pairs}", "all", shown),
        row(out, "dashboards that showed every join; update messages per dashboard min / max",
            pages),
    ]  # fmt: skip


def load_rows(out: Outcome) -> list[Row]:
    """Whether the load was what it says: its span, where it sat around the slot's start, how
    late the senders were on their schedule; and the server's CPU meanwhile."""
    every = [shot for shots in out.shots.values() for shot in shots]
    late = max((shot.sent - shot.due) * 1000 for shot in every)
    span = max(shot.sent for shot in every) - min(shot.sent for shot in every)
    return [
        row(out, "storm: sent over / its start from the slot's start / sender lag max",
            f"{span:.1f} s / {out.offset:+.0f} s / {late:.0f} ms"),
        row(out, "server CPU, from the storm's start to its last answer (cores)",
            f"{out.cores:.2f}"),
    ]  # fmt: skip


def row(out: Outcome, figure: str, value: str, target: str = "-", holds: bool | None = None) -> Row:
    return output.widen((f"{out.name}: {figure}", value, target, output.holds(holds)))


async def postgres(url: str, folder: Path, args: argparse.Namespace) -> list[Row]:
    """The same on a throwaway database `rdv_bench_storm_<pid>` next to `url`, dropped after."""
    import asyncpg  # type: ignore[import-untyped]

    base, name = make_url(url), f"rdv_bench_storm_{os.getpid()}"
    admin_url = base.set(drivername="postgresql", database="postgres")
    try:
        admin = await asyncpg.connect(admin_url.render_as_string(hide_password=False), timeout=5)
    except (OSError, asyncpg.PostgresError) as error:
        print(f"PostgreSQL skipped: {url} is unreachable ({error})")
        return []
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        return await run(
            base.set(database=name).render_as_string(hide_password=False), folder, args
        )
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def main(args: argparse.Namespace) -> list[Row]:
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="rdv-bench-storm-") as folder:
        args.logs = args.logs or Path(folder)
        args.logs.mkdir(parents=True, exist_ok=True)
        if args.sqlite:
            sqlite = f"sqlite+aiosqlite:///{folder}/bench.sqlite3"
            rows += await run(sqlite, Path(folder), args)
        if args.postgres:
            rows += await postgres(args.postgres, Path(folder), args)
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--postgres",
        metavar="URL",
        default="postgresql+asyncpg://postgres@127.0.0.1:5432/test",
        help="server for the throwaway database ('' skips PostgreSQL)",
    )
    parser.add_argument("--no-sqlite", dest="sqlite", action="store_false", help="skip SQLite")
    parser.add_argument(
        "--lead", type=float, default=4.0, help="minutes from the import to the slot's start"
    )
    parser.add_argument(
        "--seats",
        type=int,
        default=2 * MEETINGS,
        help="meeting seats that click and join in the storm (fewer: a lighter load)",
    )
    parser.add_argument("--dashboards", type=int, default=DASHBOARDS, help="open dashboards")
    parser.add_argument(
        "--logs", type=Path, help="where rdv serve's log goes (default: the temporary folder)"
    )
    parser.add_argument(
        "--profile",
        metavar="PATH",
        help="cProfile rdv serve during the storm into PATH.<database> (bench/serve_profiled.py)",
    )
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # so that `finally` stops rdv serve
    loadavg = ", ".join(f"{n:.2f}" for n in os.getloadavg())
    print(f"Python {platform.python_version()}, {os.cpu_count()} cores, load average {loadavg}")
    table_rows = asyncio.run(main(args))
    output.emit("storm", table_rows)
    print(f"load average at the end: {', '.join(f'{n:.2f}' for n in os.getloadavg())}")
