"""Measures calendar replies read from the reply mailbox: 1,000 replies waiting in a real IMAP
folder (a throwaway Dovecot) read and applied to their seats by `ReplyReader.read_once()`, against
a bare IMAP fetch of the same messages in the same run.

The event has 500 two-person meetings (1,000 seats); each seat gets one reply, as Gmail, Outlook,
Apple Mail and Thunderbird send them (tests/fixtures/replies/), sent to that seat's own reply
address with the invite's UID and SEQUENCE, so every one of them is taken."""

from __future__ import annotations

import argparse
import asyncio
import email
import inspect
import json
import os
import platform
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import output
import pytest
from output import Row, widen
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.event import listens_for

from calendars.replies import Reply, replies_in
from orchestrator.db import models as m
from orchestrator.db.engine import create_engine, session_factory
from orchestrator.db.migrate import upgrade
from orchestrator.mail.inbound import BATCH, HANDLED, ReplyReader, fetch
from orchestrator.participants.replies import reply_address, reply_key
from orchestrator.participants.seats import session_uid
from orchestrator.program.load import load_bytes
from orchestrator.program.service import import_program
from orchestrator.settings import Settings

# tests/support: the throwaway Dovecot of the tests, and replies as the clients send them.
sys.path.append(str(Path(__file__).resolve().parent.parent / "tests"))
from support import dovecot as mailserver
from support.replies import fixture

MEETINGS, ORGS, SLOTS = 500, 100, 16  # 1,000 people, each in one meeting: 1,000 seats
DAYS = ("2021-04-07", "2021-04-08")
IMPORTED_AT = datetime(2021, 3, 31, tzinfo=UTC)  # a week ahead: every meeting can be answered
REPLY_ADDRESS = "replies@bench.example"
TARGET = 30.0  # seconds for the 1,000 replies (issue 20)
SHAPES = (  # (fixture, the answer it gives): the four clients, every answer, a counter-proposal
    ("gmail-accepted.eml", "accepted"),
    ("outlook-declined-with-comment.eml", "declined"),
    ("apple-tentative.eml", "tentative"),
    ("thunderbird-accepted.eml", "accepted"),
    ("gmail-declined.eml", "declined"),
    ("outlook-accepted.eml", "accepted"),
    ("apple-declined.eml", "declined"),
    ("thunderbird-declined-with-comment.eml", "declined"),
    ("outlook-counter.eml", "declined"),  # a new time proposed counts as a decline
)


def program() -> bytes:
    """Company person c meets buyer person 500 + c, at slot c mod 16 of one of two days."""
    people = [
        {"key": f"p{i:04d}", "name": f"{('Élise', 'Zoé', 'Karim')[i % 3]} Durand-{i}"}
        | {"email": f"p{i:04d}@org{i % ORGS}.example", "organisation": f"org-{i % ORGS}"}
        for i in range(2 * MEETINGS)
    ]
    sessions = []
    for c in range(MEETINGS):
        day, slot = divmod(c % (2 * SLOTS), SLOTS)
        start = datetime.fromisoformat(DAYS[day]) + timedelta(hours=9, minutes=30 * slot)
        times = [(start + timedelta(minutes=n)).isoformat(timespec="minutes") for n in (0, 30)]
        sessions.append(
            {"key": f"b2b-{c:03d}", "kind": "meeting", "title": f"Org {c % ORGS} × Org {c % ORGS}"}
            | {
                "start": times[0],
                "end": times[1],
                "attendees": [f"p{c:04d}", f"p{MEETINGS + c:04d}"],
            }
        )
    kinds = ("company", "buyer")  # companies' people in even organisations, buyers' in odd
    orgs = [{"key": f"org-{i}", "name": f"Org {i}", "kind": kinds[i % 2]} for i in range(ORGS)]
    organiser = {"name": "Banc d'essai", "email": "rdv@bench.example"}
    event: dict[str, Any] = {"slug": "bench-replies", "title": "Rencontres d'affaires"}
    event |= {"timezone": "Europe/Paris", "locale": "fr", "organiser": organiser}
    document = {"event": event, "organisations": orgs, "people": people, "sessions": sessions}
    return json.dumps(document, ensure_ascii=False).encode()


@contextmanager
def dovecot() -> Iterator[mailserver.Dovecot]:
    """The tests' `dovecot` fixture as a context manager: its own Dovecot on a free port, stopped
    and removed afterwards. A skip (not installed, not root) ends the run with its reason."""
    started = inspect.unwrap(mailserver.dovecot)  # the generator under pytest's fixture wrapper
    try:
        yield from started()
    except (pytest.skip.Exception, pytest.fail.Exception) as why:
        raise SystemExit(f"no Dovecot to measure against: {why.msg}") from None


async def replies(url: str, settings: Settings) -> tuple[list[bytes], dict[int, str]]:
    """One reply per seat, to its own reply address, and the answer each seat should end with."""
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as db:
            rows = await db.execute(
                select(m.Attendee.id, m.Person.name, m.Person.email, m.Session, m.Event)
                .join(m.Person, m.Person.id == m.Attendee.person_id)
                .join(m.Session, m.Session.id == m.Attendee.session_id)
                .join(m.Event, m.Event.id == m.Session.event_id)
                .order_by(m.Attendee.id)
            )
            seats = rows.all()
    finally:
        await engine.dispose()
    key, messages, expected = reply_key(settings.secret_key or ""), [], {}
    for i, (seat, name, address, session, event) in enumerate(seats):
        shape, answer = SHAPES[i % len(SHAPES)]
        messages.append(
            fixture(
                shape,
                **{
                    "{uid}": session_uid(event, session, settings.base_url),
                    "{sequence}": str(session.sequence),
                    "{organizer}": reply_address(key, REPLY_ADDRESS, seat),
                    "{attendee}": address,
                    "{attendee_name}": name,
                    "{summary}": session.title,
                },
            )
        )
        expected[seat] = answer
    return messages, expected


def append(server: mailserver.Dovecot, messages: list[bytes]) -> float:
    """Every message into the INBOX on one connection; seconds it took (setup, not measured)."""
    client, started = server.client(), time.perf_counter()
    try:
        for raw in messages:
            status, _ = client.append("INBOX", None, None, raw)
            assert status == "OK", status
    finally:
        client.logout()
    return time.perf_counter() - started


def bare_fetch(server: mailserver.Dovecot) -> tuple[int, int, float]:
    """The least a reader of the folder does, batch for batch as `ReplyReader` reads it: per
    batch of BATCH, a connection (login, SELECT, UID SEARCH) and one UID FETCH of the whole batch
    (BODY.PEEK[], nothing moved); messages, octets and seconds."""
    count = octets = 0
    started = time.perf_counter()
    offset = 0
    while True:
        client = server.client()
        try:
            client.select("INBOX")
            _, found = client.uid("SEARCH", "ALL")
            uids = found[0].split()[offset : offset + BATCH]
            if not uids:
                break
            _, data = client.uid("FETCH", b",".join(uids).decode(), "(BODY.PEEK[])")
            bodies = [part[1] for part in data if isinstance(part, tuple)]
        finally:
            client.logout()
        count, octets, offset = count + len(bodies), octets + sum(map(len, bodies)), offset + BATCH
    return count, octets, time.perf_counter() - started


def parsing_alone(messages: list[bytes]) -> tuple[float, float]:
    """Seconds to read the messages' calendar replies as the reader does
    (`calendars.replies.replies_in` up to the first reply, no database), and to parse them with
    the email library alone under the same policy (compat32), the first step of it."""
    started = time.perf_counter()
    for raw in messages:
        next((r for r in replies_in(raw) if isinstance(r, Reply)), None)
    parsing = time.perf_counter() - started
    started = time.perf_counter()
    for raw in messages:
        email.message_from_bytes(raw)
    return parsing, time.perf_counter() - started


class TimedReader(ReplyReader):
    """The reader, with the time spent applying messages (parse, seat, commit) counted."""

    applying = 0.0

    async def handle(self, raw: bytes, *rest: Any) -> str:
        started = time.perf_counter()
        try:
            return await super().handle(raw, *rest)
        finally:
            self.applying += time.perf_counter() - started


async def answers_in_database(url: str) -> dict[int, tuple[str, str | None]]:
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as db:
            rows = await db.execute(
                select(m.Attendee.id, m.Attendee.answer, m.Attendee.answer_source)
            )
            return {seat: (answer, source) for seat, answer, source in rows}
    finally:
        await engine.dispose()


async def run(url: str) -> list[Row]:
    with dovecot() as server:
        settings = Settings(
            database_url=url,
            secret_key="x" * 32,
            mail_from="rdv@bench.example",
            reply_address=REPLY_ADDRESS,
            inbound_mail_url=server.url,
        )
        engine = create_engine(url)
        try:
            await upgrade(engine)
            await import_program(
                session_factory(engine), settings, load_bytes(program()), now=IMPORTED_AT
            )
        finally:
            await engine.dispose()
        messages, expected = await replies(url, settings)
        appended = await asyncio.to_thread(append, server, messages)
        print(
            f"{len(messages):,} replies ({sum(map(len, messages)) / len(messages) / 1024:.1f} KiB "
            f"on average) appended to the INBOX in {appended:.1f} s; "
            f"answers: {dict(Counter(expected.values()))}"
        )

        # The baseline first, on the same messages before rdv moves them; the faster of two runs,
        # so that a busy moment cannot flatter the ratio.
        fetched, octets, bare = min(
            [await asyncio.to_thread(bare_fetch, server) for _ in range(2)], key=lambda r: r[2]
        )
        if fetched != len(messages):
            raise SystemExit(f"the bare fetch read {fetched} messages, expected {len(messages)}")
        print(
            f"bare fetch: {fetched:,} messages, {octets / 1e6:.1f} MB, {bare:.2f} s (faster of 2)"
        )
        db_engine = create_engine(url)
        statements = [0]  # every statement rdv sends to the database while it reads the replies

        @listens_for(db_engine.sync_engine, "before_cursor_execute")
        def counted(*_: Any) -> None:
            statements[0] += 1

        changed: list[bool] = []
        reader = TimedReader(
            session_factory(db_engine),
            settings,
            lambda: IMPORTED_AT,
            lambda _event, _declined, queued: changed.append(queued),
        )
        # Where rdv's IMAP time goes: its own fetch() of one batch, alone (nothing moved).
        mailbox = reader.mailbox
        assert mailbox is not None
        began = time.perf_counter()
        one_batch = len(await asyncio.to_thread(fetch, mailbox))
        rdv_batch = time.perf_counter() - began
        outcomes: Counter[str] = Counter()
        passes = 0
        try:
            began = time.perf_counter()
            while found := await reader.read_once():
                outcomes += found
                passes += 1
            took = time.perf_counter() - began
        finally:
            await db_engine.dispose()
        left, handled = server.count("INBOX"), server.count(HANDLED)
        stored = await answers_in_database(url)
    parsing, email_alone = parsing_alone(messages)

    total = len(messages)
    applied, unchanged = outcomes["applied"], outcomes["unchanged"]
    ignored = {why: n for why, n in outcomes.items() if why.startswith("ignored")}
    right = sum(stored.get(seat) == (answer, "calendar") for seat, answer in expected.items())
    print(
        f"rdv: {passes} passes of at most {BATCH}; outcomes {dict(outcomes)}; "
        f"{sum(changed)} of them queued decline notices; {statements[0] / total:.1f} statements "
        f"per reply (commits aside); INBOX {left} left, {HANDLED} {handled}"
    )
    if applied != total or left or handled != total or right != total:
        raise SystemExit(
            f"expected {total} replies applied and moved: applied {applied}, unchanged "
            f"{unchanged}, ignored {ignored}, INBOX {left}, {HANDLED} {handled}, "
            f"seats right {right}"
        )
    bare_batch = bare * BATCH / total
    imap = took - reader.applying
    return [
        (
            f"read and apply {total:,} replies (read_once until empty); baseline: bare IMAP fetch",
            f"{took:.2f} s",
            f"{bare:.2f} s",
            f"{took / bare:.1f}x",
            f"< {TARGET:.0f} s",
            output.holds(took < TARGET),
        ),
        (
            "  messages per second; baseline: bare IMAP fetch",
            f"{total / took:.0f} msg/s",
            f"{total / bare:.0f} msg/s",
            f"{bare / took:.2f}",
            "-",
            "-",
        ),
        widen(
            (
                "  applied / unchanged / ignored",
                f"{applied:,} / {unchanged} / {sum(ignored.values())}",
                f"{total:,} / 0 / 0",
                output.holds(applied == total),
            )
        ),
        widen(
            (
                "  seats with their reply's answer, source calendar (database)",
                f"{right:,} / {len(stored):,}",
                f"{total:,}",
                output.holds(right == total),
            )
        ),
        widen(
            (
                "  of which applying (handle: parse, seat, notices, commit)",
                f"{took - imap:.2f} s",
                "-",
                "-",
            )
        ),
        (
            "    parsing alone (replies_in, no db); baseline: email library's parse",
            f"{parsing:.2f} s",
            f"{email_alone:.2f} s",
            f"{parsing / email_alone:.1f}x",
            "-",
            "-",
        ),
        widen(
            (
                "    the rest: addresses, seat, answer, notices, commit",
                f"{took - imap - parsing:.2f} s",
                "-",
                "-",
            )
        ),
        widen(("  of which IMAP (fetch, move, connections, threads)", f"{imap:.2f} s", "-", "-")),
        (
            f"  rdv's fetch() of one batch of {one_batch}; baseline: bare fetch, per batch",
            f"{rdv_batch:.2f} s",
            f"{bare_batch:.2f} s",
            f"{rdv_batch / bare_batch:.1f}x",
            "-",
            "-",
        ),
    ]


@asynccontextmanager
async def postgres_database(url: str) -> AsyncIterator[str]:
    """A throwaway database next to the one `url` names, dropped afterwards."""
    import asyncpg  # type: ignore[import-untyped]

    base, name = make_url(url), f"rdv_bench_replies_{os.getpid()}"
    admin = await asyncpg.connect(
        base.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    )
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def main(postgres: str | None) -> list[Row]:
    if postgres:
        async with postgres_database(postgres) as url:
            return await run(url)
    with tempfile.TemporaryDirectory(prefix="rdv-bench-") as folder:
        return await run(f"sqlite+aiosqlite:///{folder}/bench.sqlite3")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--postgres", metavar="URL", help="postgresql+asyncpg://… (throwaway db)")
    args = parser.parse_args()
    backend = "PostgreSQL" if args.postgres else "SQLite"
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())  # other work skews the rates
    print(f"backend: {backend}, Python {platform.python_version()}, load average {load}")
    output.emit(f"replies ({backend})", asyncio.run(main(args.postgres)))
