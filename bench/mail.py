"""Measures mail: queuing 20,000 invites (an import of 10,000 people in 10,000 meetings), then
composing and delivering them through the outbox to an SMTP sink.

Baselines in the same run: composing one message with the email library alone (the same texts
and calendar, no database, no iCalendar or text to build), and the sink's raw acceptance rate
with a trivial client."""

from __future__ import annotations

import argparse
import asyncio
import email
import json
import multiprocessing as mp
import os
import platform
import resource
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.utils import make_msgid
from multiprocessing.connection import Connection
from typing import Any

import aiosmtplib
import output
from output import Row, widen
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from calendars.i18n import Catalogues
from calendars.text import Writer
from calendars.transport import parse_mail_url, transport_for
from orchestrator.clock import SystemClock
from orchestrator.db.engine import create_engine, session_factory
from orchestrator.db.mail import MailMessage
from orchestrator.db.migrate import upgrade
from orchestrator.mail.compose import Composed, Composers
from orchestrator.mail.invites import InviteComposer
from orchestrator.mail.outbox import OutboxSender
from orchestrator.program.load import load_bytes
from orchestrator.program.service import import_program
from orchestrator.settings import Settings

SIDE, ORGS, CONNECTIONS = 5_000, 2_000, 4  # 2 x 5,000 people, each in 2 meetings: 20,000 invites
INVITES = 4 * SIDE
DAYS, SLOTS = ("2021-04-07", "2021-04-08"), 16  # one meeting each per day, 09:00 to 17:00
IMPORTED_AT = datetime(2021, 3, 31, tzinfo=UTC)  # a week ahead: no meeting is over yet
Counters = tuple[Any, Any]  # shared multiprocessing Values: messages, octets


def max_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)


class Counter:
    """The sink's whole handler: counts and accepts, keeps nothing."""

    def __init__(self, counters: Counters) -> None:
        self.messages, self.octets = counters

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.value += 1
        self.octets.value += len(envelope.content)
        return "250 OK"


def sink(counters: Counters, ready: Connection) -> None:
    """Runs in its own process until terminated; no Controller thread, no getfqdn lookup."""
    from aiosmtpd.smtp import SMTP

    async def serve() -> None:
        handler = Counter(counters)
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: SMTP(handler, hostname="sink", ident="sink", loop=loop), "127.0.0.1", 0
        )
        ready.send(server.sockets[0].getsockname()[1])
        await asyncio.Event().wait()

    asyncio.run(serve())


def org(i: int) -> int:
    return (2 * i + i // SIDE) % ORGS  # companies' people in even organisations, buyers' in odd


def program() -> bytes:
    """Company person c meets buyer person (7c + offset) mod 5,000 once a day, at slot c mod 16."""
    people = [
        {"key": f"p{i:05d}", "name": f"{('Élise', 'Zoé', 'Karim')[i % 3]} Durand-{i}"}
        | {"email": f"p{i:05d}@org{org(i)}.example", "organisation": f"org-{org(i)}"}
        | ({"locale": "en"} if i % 3 == 0 else {})
        for i in range(2 * SIDE)
    ]
    sessions = []
    for day, offset in enumerate((0, 2477)):
        for c in range(SIDE):
            b = SIDE + (7 * c + offset) % SIDE
            start = datetime.fromisoformat(DAYS[day]) + timedelta(hours=9, minutes=30 * (c % SLOTS))
            times = [(start + timedelta(minutes=m)).isoformat(timespec="minutes") for m in (0, 30)]
            title = f"Org {org(c)} & Fils × Org {org(b)} & Fils"
            sessions.append(
                {"key": f"b2b-{day}-{c:04d}", "kind": "meeting", "title": title}
                | {"start": times[0], "end": times[1], "attendees": [f"p{c:05d}", f"p{b:05d}"]}
            )
    kinds = ("company", "buyer")
    orgs = [
        {"key": f"org-{i}", "name": f"Org {i} & Fils", "kind": kinds[i % 2]} for i in range(ORGS)
    ]
    organiser = {"name": "Banc d'essai", "email": "rdv@bench.example"}
    event: dict[str, Any] = {"slug": "bench-mail", "title": "Rencontres d'affaires"}
    event |= {"timezone": "Europe/Paris", "locale": "fr", "organiser": organiser}
    document = {"event": event, "organisations": orgs, "people": people, "sessions": sessions}
    return json.dumps(document, ensure_ascii=False).encode()


async def queue_invites(url: str) -> tuple[float, float, int]:
    """Imports the program with the composer hooked in, as `rdv import` does."""
    engine = create_engine(url)
    settings = Settings(database_url=url, secret_key="x" * 32, mail_from="rdv@bench.example")
    composer, queued = InviteComposer(settings, Writer(Catalogues())), [0.0, 0]

    async def timed_queue(db: Any, changes: Any, now: datetime) -> int:
        started = time.perf_counter()
        queued[1] = await composer.queue(db, changes, now)
        queued[0] = time.perf_counter() - started
        return int(queued[1])

    try:
        await upgrade(engine)
        raw, started = load_bytes(program()), time.perf_counter()
        await import_program(
            session_factory(engine), settings, raw, now=IMPORTED_AT, on_change=timed_queue
        )
        return time.perf_counter() - started, queued[0], int(queued[1])
    finally:
        await engine.dispose()


def queue_child(url: str, out: Connection) -> None:
    out.send((*asyncio.run(queue_invites(url)), max_rss_mb()))


async def raw_rate(port: int, sample: tuple[str, str, bytes], count: int) -> float:
    """A trivial client: CONNECTIONS persistent connections, one message after another on each."""
    sender, recipient, body = sample
    clients = [aiosmtplib.SMTP(hostname="127.0.0.1", port=port) for _ in range(CONNECTIONS)]
    await asyncio.gather(*(client.connect() for client in clients))

    async def pump(client: aiosmtplib.SMTP, n: int) -> None:
        for _ in range(n):
            await client.sendmail(sender, [recipient], body)

    shares = [count // CONNECTIONS + (i < count % CONNECTIONS) for i in range(CONNECTIONS)]
    started = time.perf_counter()
    await asyncio.gather(*(pump(client, n) for client, n in zip(clients, shares, strict=True)))
    seconds = time.perf_counter() - started
    await asyncio.gather(*(client.quit() for client in clients))
    return count / seconds


class TimedComposers(Composers):
    """The outbox's composers, with the time they take counted."""

    seconds = 0.0

    async def compose(self, db: Any, waiting: Any, now: datetime) -> dict[int, Composed | str]:
        started = time.perf_counter()
        try:
            return await super().compose(db, waiting, now)
        finally:
            self.seconds += time.perf_counter() - started


def email_library_alone(body: bytes, count: int = 2000) -> float:
    """Seconds to build one message like `body` with the email library's own message API alone,
    from its parts made already (the texts and the calendar read back from it): what composing
    an invite costs with nothing but the standard library, the baseline of our composition."""
    read = email.message_from_bytes(body, policy=policy.default)
    parts = {
        part.get_content_type(): part.get_content()
        for part in read.walk()
        if not part.is_multipart()
    }
    calendar = parts["text/calendar"].encode()
    started = time.perf_counter()
    for _ in range(count):
        message = EmailMessage()
        for name in ("From", "To", "Reply-To", "Subject", "Date"):
            message[name] = str(read[name])
        message["Message-ID"] = make_msgid("rdv", domain="bench.example")
        message.set_content(parts["text/plain"], cte="quoted-printable")
        message.add_alternative(parts["text/html"], subtype="html", cte="quoted-printable")
        message.add_alternative(
            calendar,
            maintype="text",
            subtype="calendar",
            cte="base64",
            params={"method": "REQUEST", "charset": "UTF-8"},
        )
        message.add_attachment(
            calendar, maintype="application", subtype="ics", filename="invite.ics", cte="base64"
        )
        message.as_bytes(policy=policy.SMTP)
    return (time.perf_counter() - started) / count


async def measure(url: str, port: int, counters: Counters, raw_count: int) -> dict[str, float]:
    engine = create_engine(url)
    db = session_factory(engine)
    figures: dict[str, float] = {}
    try:
        transport = transport_for(parse_mail_url(f"smtp://127.0.0.1:{port}"))
        settings = Settings(database_url=url, secret_key="x" * 32, mail_from="rdv@bench.example")
        composers = TimedComposers([InviteComposer(settings, Writer(Catalogues()))])
        outbox = OutboxSender(db, transport, SystemClock(), composers)
        rss_before, sent = max_rss_mb(), 0
        started = time.perf_counter()
        while (done := await outbox.deliver_due()).claimed:
            if done.retrying or done.failed:
                raise SystemExit(f"delivery trouble: {done}")
            sent += done.sent
        elapsed = time.perf_counter() - started
        figures["outbox"] = sent / elapsed
        figures["sending"] = sent / (elapsed - composers.seconds)
        figures["compose"] = composers.seconds / sent
        figures["rss"], figures["growth"] = max_rss_mb(), max_rss_mb() - rss_before
        await transport.aclose()
        received, figures["octets"] = counters[0].value, counters[1].value
        async with db() as session:
            size = await session.scalar(select(func.avg(func.length(MailMessage.body))))
            nearest = func.abs(func.length(MailMessage.body) - size)  # a typical invite
            row = (await session.execute(select(MailMessage).order_by(nearest).limit(1))).scalar()
            assert row is not None
            assert row.body is not None
            sample, figures["size"] = (row.sender, row.recipient, row.body), float(size or 0)
        figures["alone"] = email_library_alone(row.body)
        # The faster of two raw runs, so a busy moment cannot flatter the ratio.
        figures["raw"] = max([await raw_rate(port, sample, raw_count) for _ in range(2)])
        async with db() as session:
            query = select(MailMessage.status, func.count()).group_by(MailMessage.status)
            states = {status: n for status, n in await session.execute(query)}
    finally:
        await engine.dispose()
    if sent != INVITES or received != INVITES or states != {"sent": INVITES}:
        raise SystemExit(f"expected {INVITES} sent: sender {sent}, sink {received}, rows {states}")
    return figures


@asynccontextmanager
async def postgres_database(url: str) -> AsyncIterator[str]:
    """A throwaway database next to the one `url` names, dropped afterwards."""
    import asyncpg  # type: ignore[import-untyped]

    base, name = make_url(url), f"rdv_bench_mail_{os.getpid()}"
    admin = await asyncpg.connect(
        base.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    )
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def run_in_child(target: Any, *args: Any, timeout: float) -> Any:
    """Runs `target(*args, pipe)` in a fresh process and returns what it sent."""
    here, there = mp.Pipe(duplex=False)
    child = SPAWN.Process(target=target, args=(*args, there), daemon=True)
    child.start()
    deadline = time.monotonic() + timeout
    while not here.poll(0.2):
        if not child.is_alive() or time.monotonic() > deadline:
            child.kill()
            raise SystemExit(f"{target.__name__} failed (exit {child.exitcode}) or timed out")
    return here.recv(), child


async def run(url: str, port: int, counters: Counters, raw_count: int) -> list[Row]:
    (total, queue, count, child_rss), child = await asyncio.to_thread(
        run_in_child, queue_child, url, timeout=600
    )
    child.join()
    if count != 2 * SIDE:  # the mail plan names sessions; the sender makes the invites
        raise SystemExit(f"the import planned mail for {count} sessions, expected {2 * SIDE}")
    figures = await measure(url, port, counters, raw_count)
    print(
        f"invites: {INVITES} from a plan of {count} sessions, {figures['size'] / 1024:.1f} KiB on "
        "average; "
        f"sink received {figures['octets'] / 1e6:.0f} MB from the outbox"
    )
    ratio, rss = figures["sending"] / figures["raw"], figures["rss"]
    raw, sending = f"{figures['raw']:.0f} msg/s", f"{figures['sending']:.0f} msg/s"
    compose, alone = figures["compose"] * 1000, figures["alone"] * 1000
    slower = compose / alone
    return [
        (
            f"queue {INVITES:,} invites: import + its mail plan (one transaction)",
            *(f"{total:.1f} s", "-", "-", "< 20 s", output.holds(total < 20)),
        ),
        (
            "compose one invite (in the sender); baseline: email library alone",
            f"{compose:.2f} ms",
            f"{alone:.2f} ms",
            f"{slower:.1f}x",
            "<= 3x",
            output.holds(slower <= 3),
        ),
        (
            "outbox delivery rate, composed; baseline: raw aiosmtplib, 4 conns",
            *(sending, raw, f"{ratio:.2f}", ">= 0.5", output.holds(ratio >= 0.5)),
        ),
        widen(
            ("  composing and delivering, end to end", f"{figures['outbox']:.0f} msg/s", "-", "-")
        ),
        widen(
            ("peak RSS, delivering process", f"{rss:.0f} MB", "< 300 MB", output.holds(rss < 300))
        ),
        widen(("  growth during delivery", f"{figures['growth']:.1f} MB", "-", "-")),
        widen(("  of which recording the mail plan", f"{queue:.1f} s", "-", "-")),
        widen(("  peak RSS of that child", f"{child_rss:.0f} MB", "-", "-")),
    ]


async def main(postgres: str | None, port: int, counters: Counters, raw_count: int) -> Any:
    if postgres:
        async with postgres_database(postgres) as url:
            return await run(url, port, counters, raw_count)
    with tempfile.TemporaryDirectory(prefix="rdv-bench-") as folder:
        return await run(f"sqlite+aiosqlite:///{folder}/bench.sqlite3", port, counters, raw_count)


SPAWN = mp.get_context("spawn")

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--postgres", metavar="URL", help="postgresql+asyncpg://… (throwaway db)")
    parser.add_argument("--raw", type=int, default=10_000, help="messages per raw-rate run")
    args = parser.parse_args()
    backend = "PostgreSQL" if args.postgres else "SQLite"
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())  # other work skews the rates
    print(f"backend: {backend}, Python {platform.python_version()}, load average {load}")
    counters = (SPAWN.Value("q", 0, lock=False), SPAWN.Value("q", 0, lock=False))
    port, sink_process = run_in_child(sink, counters, timeout=30)
    try:
        table = asyncio.run(main(args.postgres, port, counters, args.raw))
    finally:
        sink_process.terminate()
        sink_process.join()
    output.emit(f"mail ({backend})", table)
