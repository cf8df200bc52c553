"""Measures the outbound webhooks' sender: the rate at which `WebhookSender.deliver_due()`
delivers stored messages to a bare aiohttp receiver on 4 connections, against a bare aiohttp
client posting the same signed bodies to it in the same run; then a burst of 20,000 events
delivered, none lost and none sent twice (counted by `webhook-id` at the receiver, each
signature and body checked against what was stored)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import multiprocessing as mp
import os
import platform
import resource
import socket
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from functools import partial
from multiprocessing.connection import Connection
from pathlib import Path
from typing import NamedTuple

import aiohttp
from aiohttp import web

# Run as a script, bench/ comes first on sys.path: the project's folder goes before it.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import output
from output import Row, widen
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.event import listen, remove
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from orchestrator.clock import SystemClock
from orchestrator.db import models as m
from orchestrator.db.engine import create_engine, session_factory
from orchestrator.db.migrate import upgrade
from orchestrator.db.outbound import (
    Change,
    OutboundDelivery,
    OutboundMessage,
    OutboundSubscription,
    emit,
)
from orchestrator.outbound.sender import Sent, WebhookSender
from webhooks.outbound import EVENT_TYPES, headers, moment, new_secret

CONNECTIONS, RATIO, PER_TRANSACTION = 4, 0.5, 200
CLOCK = SystemClock()
Received = list[tuple[str, str, str, bytes]]  # webhook-id, -timestamp, -signature, body


class Tally(NamedTuple):
    """What the receiver got of the messages sent: none lost, none twice, none altered."""

    received: int
    lost: int
    twice: int
    bad: int  # a wrong signature, a body not the one stored, or an id never sent

    def clean(self) -> bool:
        return not (self.lost or self.twice or self.bad)


class Delivered(NamedTuple):
    """A delivery run: its seconds, what the senders said they did, what the receiver got, and
    the statements and transactions it took per message."""

    seconds: float
    sent: Sent
    tally: Tally
    statements: float
    transactions: float


def receive(pipe: Connection) -> None:
    """The receiver, in a process of its own: 204 to every POST, keeping the headers and body;
    each time the pipe asks, hands over what it got since and forgets it."""

    async def serve() -> None:
        got: Received = []

        async def hook(request: web.Request) -> web.Response:
            h = request.headers
            webhook_id, stamp = h.get("webhook-id", ""), h.get("webhook-timestamp", "")
            got.append((webhook_id, stamp, h.get("webhook-signature", ""), await request.read()))
            return web.Response(status=204)

        app = web.Application()
        app.router.add_post("/hook", hook)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        listening = socket.create_server(("127.0.0.1", 0))
        await web.SockSite(runner, listening).start()
        pipe.send(listening.getsockname()[1])
        while await asyncio.to_thread(pipe.recv):
            pipe.send(got)
            got.clear()

    asyncio.run(serve())


class Receiver:
    """The receiver's process, seen from here."""

    def __init__(self) -> None:
        context = mp.get_context("spawn")
        self.pipe, theirs = context.Pipe()
        self.process = context.Process(target=receive, args=(theirs,), daemon=True)
        self.process.start()
        self.pid = self.process.pid or 0
        theirs.close()  # a receiver that dies is then an EOFError here, not a hang
        self.url = f"http://127.0.0.1:{self.pipe.recv()}/hook"

    def take(self) -> Received:
        self.pipe.send(True)
        got: Received = self.pipe.recv()
        return got

    def stop(self) -> None:
        with contextlib.suppress(OSError):  # it has stopped already
            self.pipe.send(False)
        self.process.join(5)
        self.process.kill()


def check(got: Received, sent: dict[str, bytes], secret: str) -> Tally:
    ids = Counter(webhook_id for webhook_id, *_ in got)
    bad = sum(
        body != sent.get(webhook_id)
        or not stamp.isdigit()
        or signature != headers(secret, webhook_id, int(stamp), body)["webhook-signature"]
        for webhook_id, stamp, signature, body in got
    )
    twice = sum(n - 1 for n in ids.values())
    return Tally(len(got), len(sent.keys() - ids.keys()), twice, bad)


class Usage:
    """Wall time, this process's CPU (its threads too), the receiver's, and the whole
    machine's, over one phase: a side short of CPU is told from one waiting on another."""

    def __init__(self, receiver_pid: int) -> None:
        self.pid = receiver_pid
        self.began, self.own, self.theirs = time.perf_counter(), own_cpu(), cpu(receiver_pid)
        self.machine = busy()

    def done(self, what: str, count: int) -> float:
        seconds = time.perf_counter() - self.began
        own, theirs = own_cpu() - self.own, cpu(self.pid) - self.theirs
        print(
            f"{what}: {count:,} in {seconds:.2f} s, {count / seconds:.0f}/s; CPU per message "
            f"{own / count * 1e6:.0f} µs here ({own / seconds:.2f} cores), "
            f"{theirs / count * 1e6:.0f} µs in the receiver ({theirs / seconds:.2f}); "
            f"machine {(busy() - self.machine) / seconds:.2f} busy",
            flush=True,
        )
        return seconds


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def cpu(pid: int) -> float:
    """CPU seconds a process has used (0 where /proc is missing)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def busy() -> float:
    """CPU seconds the machine has spent not idle since boot (0 where /proc is missing)."""
    stat = Path("/proc/stat")
    if not stat.exists():
        return 0.0
    ticks = [int(n) for n in stat.read_text().split("\n", 1)[0].split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def changes(first: int, count: int, at: datetime) -> list[Change]:
    """`session.changed` for meetings created by an import, as `program/announce.py` words it."""
    items: list[Change] = []
    for i in range(first, first + count):
        start = at + timedelta(days=7, minutes=30 * (i % 16))
        seated = [
            {"person": f"p{2 * i + side:06d}", "organisation": f"org-{(i + side) % 2000}"}
            | {"role": ("moderator", "participant")[side]}
            for side in (0, 1)
        ]
        session = {"key": f"b2b-{i:06d}", "kind": "meeting", "title": f"Org {i % 2000} × Buyer"}
        session |= {"start": moment(start), "end": moment(start + timedelta(minutes=30))}
        data = {"event": "bench-outbound", "session": session | {"attendees": seated}}
        items.append(("session.changed", data | {"change": "created", "fields": []}))
    return items


async def stored(
    db: async_sessionmaker[AsyncSession], event_id: int, first: int, count: int
) -> tuple[float, dict[str, bytes]]:
    """`count` changes emitted PER_TRANSACTION a transaction, as imports store them; the seconds
    it took, and each stored message's id and body."""
    async with db() as session:
        after = await session.scalar(select(func.coalesce(func.max(OutboundMessage.id), 0)))
    began = time.perf_counter()
    for start in range(first, first + count, PER_TRANSACTION):
        now = CLOCK.now()
        async with db() as session, session.begin():
            size = min(PER_TRANSACTION, first + count - start)
            await emit(session, event_id, changes(start, size, now), now)
    took = time.perf_counter() - began
    async with db() as session:
        rows = await session.execute(
            select(OutboundMessage.message_id, OutboundMessage.body).where(
                OutboundMessage.id > after
            )
        )
        return took, {key: body for key, body in rows}


async def bare_client(url: str, messages: dict[str, bytes], secret: str) -> None:
    """The baseline: a plain aiohttp client, CONNECTIONS workers on as many connections, posting
    the messages signed beforehand (not timed)."""
    stamp = int(time.time())
    signed = iter([(body, headers(secret, key, stamp, body)) for key, body in messages.items()])
    connector = aiohttp.TCPConnector(limit=CONNECTIONS)
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:

        async def work() -> None:
            for body, head in signed:
                async with http.post(url, data=body, headers=head) as answer:
                    answer.raise_for_status()

        await asyncio.gather(*(work() for _ in range(CONNECTIONS)))


async def bare(receiver: Receiver, messages: dict[str, bytes], secret: str, turn: str) -> float:
    """One run of the baseline; its seconds. Every message must arrive once and intact."""
    usage = Usage(receiver.pid)
    await bare_client(receiver.url, messages, secret)
    seconds = usage.done(f"bare aiohttp client, {turn}", len(messages))
    if not check(receiver.take(), messages, secret).clean():
        raise SystemExit("the bare client's messages did not all arrive once and intact")
    return seconds


def plus(a: Sent, b: Sent) -> Sent:
    return Sent(
        a.claimed + b.claimed,
        a.delivered + b.delivered,
        a.retrying + b.retrying,
        a.failed + b.failed,
    )


async def delivered(
    db: async_sessionmaker[AsyncSession],
    receiver: Receiver,
    messages: dict[str, bytes],
    secret: str,
    what: str,
    make: Callable[[], WebhookSender],
    senders: int = 1,
    profile: str | None = None,
) -> Delivered:
    """`deliver_due()` of `senders` senders at once, each until it finds nothing due (cProfile'd
    into `profile` when given)."""
    made = [make() for _ in range(senders)]

    async def passes(sender: WebhookSender) -> Sent:
        total = Sent()
        while (done := await sender.deliver_due()).claimed:
            total = plus(total, done)
        return total

    engine, trips = db.kw["bind"].sync_engine, Counter[str]()

    def counted(kind: str) -> Callable[..., None]:
        return lambda *_: trips.update((kind,))

    listeners = [("before_cursor_execute", counted("statements")), ("commit", counted("commits"))]
    for name, listener in listeners:
        listen(engine, name, listener)
    usage, profiler = Usage(receiver.pid), cProfile.Profile() if profile else None
    if profiler:
        profiler.enable()
    try:
        results = await asyncio.gather(*(passes(sender) for sender in made))
        if profiler and profile:
            profiler.disable()
            profiler.dump_stats(profile)
        seconds = usage.done(what, len(messages))
    finally:
        for sender in made:
            await sender.close()
        for name, listener in listeners:
            remove(engine, name, listener)
    statements, transactions = (trips[kind] / len(messages) for kind in ("statements", "commits"))
    print(f"  per message: {statements:.2f} statements, {transactions:.2f} transactions")
    sent = Sent()
    for result in results:
        sent = plus(sent, result)
    tally = check(receiver.take(), messages, secret)
    return Delivered(seconds, sent, tally, statements, transactions)


def trips(run: Delivered, what: str = " ") -> Row:
    """The database's work per message, informative."""
    name = f"{what} database per message: statements / transactions"
    return widen((name, f"{run.statements:.2f} / {run.transactions:.2f}", "-", "-"))


async def setup(db: async_sessionmaker[AsyncSession], receiver: Receiver) -> tuple[int, str]:
    """One event and its subscription to the receiver (every event type): its id and secret."""
    async with db() as session, session.begin():
        event = m.Event(slug="bench-outbound", title="Bench", timezone="UTC", locale="en")
        event.organiser_name, event.organiser_email = "Bench", "rdv@bench.example"
        session.add(event)
        await session.flush()
        secret = new_secret()
        session.add(
            OutboundSubscription(
                event_id=event.id,
                url=receiver.url,
                secret=secret,
                event_types=list(EVENT_TYPES),
                created_at=CLOCK.now(),
            )
        )
        return event.id, secret


async def rate(
    db: async_sessionmaker[AsyncSession],
    event_id: int,
    secret: str,
    receiver: Receiver,
    args: argparse.Namespace,
) -> tuple[list[Row], bool]:
    """rdv's rate on CONNECTIONS connections against the bare client's, the faster of a run
    before rdv's and one after it, on the same messages."""
    emitting, messages = await stored(db, event_id, 0, args.messages)
    count = len(messages)
    print(f"{count:,} messages stored in {emitting:.2f} s, {PER_TRANSACTION} a transaction")
    before = await bare(receiver, messages, secret, "before rdv")
    what = f"rdv, deliver_due() on {CONNECTIONS} connections"
    four = partial(WebhookSender, db, CLOCK, allow_private=True, concurrency=CONNECTIONS)
    run = await delivered(db, receiver, messages, secret, what, four, profile=args.profile)
    base = min(before, await bare(receiver, messages, secret, "after rdv"))
    took, sent, tally = run.seconds, run.sent, run.tally
    ratio, ok = base / took, tally.clean() and sent.delivered == count
    rows: list[Row] = [
        (
            f"delivery rate, {count:,} messages, {CONNECTIONS} connections; baseline: bare "
            "aiohttp client",
            f"{count / took:,.0f} msg/s",
            f"{count / base:,.0f} msg/s",
            f"{ratio:.2f}",
            f"≥ {RATIO}",
            output.holds(ratio >= RATIO),
        ),
        widen(
            (
                "  delivered / retrying / failed; received: lost / twice / altered",
                f"{sent.delivered:,} / {sent.retrying} / {sent.failed}; "
                f"{tally.lost} / {tally.twice} / {tally.bad}",
                f"{count:,} / 0 / 0; 0 / 0 / 0",
                output.holds(ok),
            )
        ),
        trips(run),
        widen(
            (
                f"  storing them (emit, {PER_TRANSACTION} a transaction)",
                f"{emitting:.2f} s",
                "-",
                "-",
            )
        ),
    ]
    return rows, ok


async def burst(
    db: async_sessionmaker[AsyncSession],
    event_id: int,
    secret: str,
    receiver: Receiver,
    args: argparse.Namespace,
) -> tuple[list[Row], bool]:
    """args.burst events stored, then delivered by args.senders senders at once, as the service
    builds them (batch and concurrency left at their defaults)."""
    emitting, messages = await stored(db, event_id, args.messages, args.burst)
    count = len(messages)
    print(f"burst: {count:,} messages stored in {emitting:.2f} s, {PER_TRANSACTION} a transaction")
    what = f"rdv burst, {args.senders} sender(s) at once"
    default = partial(WebhookSender, db, CLOCK, allow_private=True)
    run = await delivered(db, receiver, messages, secret, what, default, args.senders)
    took, sent, tally = run.seconds, run.sent, run.tally
    async with db() as session:
        found = await session.execute(
            select(OutboundDelivery.status, func.count()).group_by(OutboundDelivery.status)
        )
        states = {status: n for status, n in found}
        again = await session.scalar(select(func.count()).where(OutboundDelivery.attempts != 1))
    total, expected = sum(states.values()), args.messages + count
    rows_ok = states.get("delivered") == total == expected and not again
    ok = tally.clean() and rows_ok and sent.delivered == count
    lost, twice, bad = tally.lost, tally.twice, tally.bad
    return [
        widen(
            (
                f"burst: {count:,} events stored, {PER_TRANSACTION} a transaction",
                f"{emitting:.1f} s",
                "-",
                "-",
            )
        ),
        widen(
            (
                f"burst delivered: {args.senders} sender(s), default batch and concurrency",
                f"{took:.1f} s, {count / took:,.0f} msg/s",
                "-",
                "-",
            )
        ),
        trips(run, "burst"),
        widen(
            (
                "burst sender: delivered / retrying / failed",
                f"{sent.delivered:,} / {sent.retrying} / {sent.failed}",
                f"{count:,} / 0 / 0",
                output.holds(sent.delivered == count),
            )
        ),
        widen(("burst lost: ids not received", str(lost), "0", output.holds(not lost))),
        widen(("burst sent twice: ids received again", str(twice), "0", output.holds(not twice))),
        widen(
            (
                "burst altered: signature or body wrong, id never sent",
                str(bad),
                "0",
                output.holds(not bad),
            )
        ),
        widen(
            (
                "all deliveries delivered (database); attempted twice",
                f"{states.get('delivered', 0):,} of {total:,}; {again}",
                f"{expected:,}; 0",
                output.holds(rows_ok),
            )
        ),
    ], ok


async def run(url: str, receiver: Receiver, args: argparse.Namespace) -> tuple[list[Row], bool]:
    engine = create_engine(url)
    try:
        await upgrade(engine)
        db = session_factory(engine)
        event_id, secret = await setup(db, receiver)
        rows, ok = await rate(db, event_id, secret, receiver, args)
        more, fine = await burst(db, event_id, secret, receiver, args)
    finally:
        await engine.dispose()
    return rows + more, ok and fine


@asynccontextmanager
async def postgres_database(url: str) -> AsyncIterator[str]:
    """A throwaway database next to the one `url` names, dropped afterwards."""
    import asyncpg  # type: ignore[import-untyped]

    base, name = make_url(url), f"rdv_bench_outbound_{os.getpid()}"
    admin = await asyncpg.connect(
        base.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    )
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def main(args: argparse.Namespace, receiver: Receiver) -> tuple[list[Row], bool]:
    if args.postgres:
        async with postgres_database(args.postgres) as url:
            return await run(url, receiver, args)
    with tempfile.TemporaryDirectory(prefix="rdv-bench-outbound-") as folder:
        return await run(f"sqlite+aiosqlite:///{folder}/bench.sqlite3", receiver, args)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--postgres", metavar="URL", help="postgresql+asyncpg://… (throwaway db)")
    parser.add_argument("--messages", type=int, default=5_000, help="messages of the rate runs")
    parser.add_argument("--burst", type=int, default=20_000, help="events of the burst")
    parser.add_argument(
        "--senders", type=int, help="senders at once in the burst (2 on PostgreSQL, else 1)"
    )
    parser.add_argument("--profile", metavar="PATH", help="cProfile rdv's rate run into PATH")
    args = parser.parse_args()
    args.senders = args.senders or (2 if args.postgres else 1)
    backend = "PostgreSQL" if args.postgres else "SQLite"
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())  # other work skews the rates
    print(
        f"backend: {backend}, Python {platform.python_version()}, aiohttp {aiohttp.__version__}, "
        f"{os.cpu_count()} cores, load average {load}"
    )
    receiver = Receiver()
    try:
        table, ok = asyncio.run(main(args, receiver))
    finally:
        receiver.stop()
    output.emit(f"outbound ({backend})", table)
    print(f"load average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if not ok:
        raise SystemExit("messages lost, sent twice, altered or left undelivered: see above")
