"""Measures the program import (10,000 people, 5,000 meetings): time, peak memory, re-imports, and
the same program imported from a workbook against its JSON file (bench/forms.py)."""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import json
import os
import platform
import random
import resource
import sys
import tempfile
import time
import tracemalloc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import forms
import output
import probe
from output import Row, widen
from sqlalchemy.engine import make_url

from orchestrator.db.engine import create_engine, session_factory
from orchestrator.db.migrate import upgrade
from orchestrator.program.changes import ChangeSet
from orchestrator.program.load import load_bytes
from orchestrator.program.problems import ProgramError
from orchestrator.program.service import import_program, provider_check
from orchestrator.program.validate import validate
from orchestrator.settings import Settings

PEOPLE, ORGS, MEETINGS, SEED = 10_000, 2_000, 5_000, 2021
DAYS = ("2021-04-07", "2021-04-08", "2021-04-09")
SLOTS_PER_DAY, SLOT_MINUTES = 16, 30  # 09:00 to 17:00, back-to-back half hours
FIRST, NAMES = ("Élise", "Mathieu", "Zoé", "Karim", "Anne", "Loïc"), ("Martin", "Bernard", "Durand")
TARGETS = {"first": 5.0, "rss": 300.0, "one": 1.5}


def slot_times(slot: int) -> tuple[str, str]:
    day, index = divmod(slot, SLOTS_PER_DAY)
    start = datetime.fromisoformat(DAYS[day]) + timedelta(hours=9, minutes=SLOT_MINUTES * index)
    end = start + timedelta(minutes=SLOT_MINUTES)
    return start.isoformat(timespec="minutes"), end.isoformat(timespec="minutes")


EVENT = {"slug": "bench-import", "title": "Banc d'essai", "timezone": "Europe/Paris"}
ORGANISER = {"name": "Bench", "email": "rdv@bench.example"}


def build_program(rng: random.Random) -> tuple[dict[str, Any], dict[str, set[int]], list[int]]:
    """A program where each meeting pairs a company person with a buyer person, nobody twice at
    once; also returns each person's busy slots and each meeting's slot."""
    kinds = ("buyer", "company", "company", "company")  # a quarter of organisations buy
    orgs = [{"key": f"org-{i:04d}", "name": f"Org {i}", "kind": kinds[i % 4]} for i in range(ORGS)]
    people: list[dict[str, str]] = []
    side: dict[str, list[tuple[str, str]]] = {"company": [], "buyer": []}
    for i in range(PEOPLE):
        org, key, name = rng.choice(orgs), f"p{i:05d}", f"{rng.choice(FIRST)} {rng.choice(NAMES)}"
        mail = f"{key}@{org['key']}.example"
        people.append({"key": key, "name": name, "email": mail, "organisation": org["key"]})
        side[org["kind"]].append((key, org["name"]))
    busy: dict[str, set[int]] = {p["key"]: set() for p in people}
    sessions: list[dict[str, Any]] = []
    slot_of: list[int] = []
    pairs: set[tuple[str, str]] = set()
    while len(sessions) < MEETINGS:
        (a, a_org), (b, b_org) = rng.choice(side["company"]), rng.choice(side["buyer"])
        taken = busy[a] | busy[b]
        free = [s for s in range(len(DAYS) * SLOTS_PER_DAY) if s not in taken]
        if (a, b) in pairs or not free:
            continue
        slot = rng.choice(free)
        busy[a].add(slot)
        busy[b].add(slot)
        pairs.add((a, b))
        slot_of.append(slot)
        meeting = {"key": f"b2b-{len(sessions):05d}", "kind": "meeting", "attendees": [a, b]}
        start, end = slot_times(slot)
        sessions.append(meeting | {"title": f"{a_org} × {b_org}", "start": start, "end": end})
    event = EVENT | {"locale": "fr", "organiser": ORGANISER}
    program = {"event": event, "organisations": orgs, "people": people, "sessions": sessions}
    return program, busy, slot_of


def to_bytes(program: dict[str, Any], **event: str) -> bytes:
    document = program | {"event": program["event"] | event}
    return json.dumps(document, ensure_ascii=False).encode()


def move_one_meeting(program: dict[str, Any], busy: dict[str, set[int]], slot_of: list[int]) -> str:
    """Moves the first meeting whose next half hour (same day) is free for both; returns its key."""
    for session, slot in zip(program["sessions"], slot_of, strict=True):
        nxt = slot + 1
        if nxt % SLOTS_PER_DAY and all(nxt not in busy[p] for p in session["attendees"]):
            session["start"], session["end"] = slot_times(nxt)
            return str(session["key"])
    raise SystemExit("no meeting can move by 30 minutes")


def max_rss_mb() -> float:
    """The process's peak resident set so far (ru_maxrss: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)


@asynccontextmanager
async def postgres_database(url: str) -> AsyncIterator[str]:
    """A throwaway database next to the one `url` names, dropped afterwards."""
    import asyncpg

    base, name = make_url(url), f"rdv_bench_{os.getpid()}"
    admin = await asyncpg.connect(
        base.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    )
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def run(url: str) -> list[Row]:
    program, busy, slot_of = build_program(random.Random(SEED))
    data = to_bytes(program)
    settings = Settings(database_url=url, secret_key="x" * 32)
    engine = create_engine(url)
    rows: list[Row] = []

    def row(figure: str, value: float, unit: str, target: float | None = None) -> None:
        goal = f"< {target:g} {unit}" if target is not None else "-"
        ok = value < target if target is not None else None
        shown = f"{value:.3f} {unit}" if unit == "s" else f"{value:.1f} {unit}"
        rows.append(widen((figure, shown, goal, output.holds(ok))))

    async def timed_import(blob: bytes) -> tuple[float, ChangeSet]:
        started = time.perf_counter()
        changes = await import_program(
            session_factory(engine), settings, load_bytes(blob), now=datetime.now(UTC)
        )
        return time.perf_counter() - started, changes

    try:
        await upgrade(engine)  # not measured
        print(
            f"program: {len(data) / 1e6:.1f} MB JSON, {len(program['people'])} people, "
            f"{len(program['organisations'])} organisations, {len(program['sessions'])} meetings"
        )
        gc.collect()
        rss_before = max_rss_mb()
        seconds, changes = await timed_import(data)
        rss_growth = max_rss_mb() - rss_before
        if len(changes.sessions_created) != MEETINGS or len(changes.people.added) != PEOPLE:
            raise SystemExit(f"first import did not create everything: {changes.summary()[:3]}")
        row("first import; baseline: the same without database", seconds, "s", TARGETS["first"])
        row("peak RSS growth during first import", rss_growth, "MB", TARGETS["rss"])

        seconds, changes = await timed_import(data)
        if not changes.empty:
            raise SystemExit(f"unchanged re-import is not empty: {changes.summary()[:5]}")
        row("re-import, unchanged (change set empty)", seconds, "s")

        key = move_one_meeting(program, busy, slot_of)
        seconds, changes = await timed_import(to_bytes(program))
        changed = [(c.key, c.fields) for c in changes.sessions_changed]
        if changed != [(key, ("start", "end"))] or not replace(changes, sessions_changed=()).empty:
            raise SystemExit(
                f"one-change re-import: expected only {key} (start, end) changed, got "
                f"{changes.summary()[:5]}"
            )
        row(f"re-import, one meeting moved ({key})", seconds, "s", TARGETS["one"])

        started = time.perf_counter()
        raw = load_bytes(data)
        parsed = time.perf_counter()
        validate(raw, check_provider=provider_check(settings))
        done = time.perf_counter()
        row("baseline: parse only (load_bytes, json.loads)", parsed - started, "s")
        row("baseline: validate only (no database)", done - parsed, "s")
        # The first import against what needs no database: the share the database work takes.
        figure, value, _, _, goal, ok = rows[0]
        base = done - started
        rows[0] = (
            figure,
            value,
            f"{base:.3f} s",
            f"{float(value.split()[0]) / base:.1f}x",
            goal,
            ok,
        )

        # Python-heap peak of a first import, on a fresh event (apart: tracemalloc slows it down).
        traced = to_bytes(program, slug="bench-import-traced")
        gc.collect()
        tracemalloc.start()
        seconds, _ = await timed_import(traced)
        peak = tracemalloc.get_traced_memory()[1] / 1024 / 1024
        tracemalloc.stop()
        row("tracemalloc peak, first import (fresh event)", peak, "MB")
        row("  (that import's time under tracemalloc)", seconds, "s")
    finally:
        await engine.dispose()
    return rows


def next_week(program: dict[str, Any]) -> dict[str, Any]:
    """The program with its days moved a week ahead of today: its invites are all due."""
    first = datetime.fromisoformat(DAYS[0]).date()
    shift = datetime.now(UTC).date() + timedelta(days=7) - first
    moved = json.loads(json.dumps(program))
    for session in moved["sessions"]:
        for name in ("start", "end"):
            session[name] = (datetime.fromisoformat(session[name]) + shift).isoformat()
    moved["event"] = {**moved["event"], "slug": "bench-import-live"}
    return moved


async def import_while_serving(url: str, folder: Path) -> list[Row]:
    """`rdv import` of the 10,000 people with their invites, while `rdv serve` answers the probe's
    webhooks and personal links: no answer may wait more than 0.5 s on the import."""
    program, _, _ = build_program(random.Random(SEED))
    (folder / "live.json").write_bytes(to_bytes(next_week(program)))
    answers = probe.Answers()
    async with probe.serving(url, folder) as (port, env):
        places = await probe.seats(url)
        watching = asyncio.create_task(probe.probe(port, places, answers))
        await asyncio.sleep(1.0)  # the answers before: the baseline
        started = time.perf_counter()
        job = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "orchestrator", "import", str(folder / "live.json"),
            env=env, cwd=probe.ROOT, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _, errors = await job.communicate()
        ended = time.perf_counter()
        await asyncio.sleep(1.0)
        watching.cancel()
    if job.returncode:
        raise SystemExit(f"rdv import failed: {errors.decode()[-500:]}")
    during = sorted(answers.between(started, ended))
    before = sorted(answers.between(0, started))
    failed = sum(1 for _, status in during if status not in (200, 302))
    slowest = during[-1][0] if during else 0.0

    def p99(found: list[tuple[float, int]]) -> float:
        return found[min(len(found) - 1, int(len(found) * 0.99))][0] * 1000 if found else 0.0

    rows = [
        widen(("rdv import with invites, while serving", f"{ended - started:.1f} s", "-", "-")),
        (
            "  probe answers during it: max; baseline: p99 before it",
            f"{slowest * 1000:.0f} ms",
            f"{p99(before):.0f} ms",
            "-",
            "< 500 ms",
            output.holds(slowest < 0.5),
        ),
        widen(("  probe answers during it", f"{len(during)}, p99 {p99(during):.0f} ms", "-", "-")),
        widen(("  probe answers not 200 or 302", str(failed), "0", output.holds(not failed))),
    ]
    return rows


async def main(postgres: str | None) -> list[Row]:
    program, _, _ = build_program(random.Random(SEED))
    counts = {"people": PEOPLE, "sessions": MEETINGS}
    if postgres:
        async with postgres_database(postgres) as url:
            rows = await run(url)
        with tempfile.TemporaryDirectory(prefix="rdv-bench-") as folder:
            fresh = functools.partial(postgres_database, postgres)
            rows += await forms.compare(program, Path(folder), fresh, **counts)
        async with postgres_database(postgres) as url:
            with tempfile.TemporaryDirectory(prefix="rdv-bench-") as folder:
                return rows + await import_while_serving(url, Path(folder))
    with tempfile.TemporaryDirectory(prefix="rdv-bench-") as folder:
        rows = await run(f"sqlite+aiosqlite:///{folder}/bench.sqlite3")
        rows += await forms.compare(
            program, Path(folder), forms.sqlite_databases(Path(folder)), **counts
        )
        url = f"sqlite+aiosqlite:///{folder}/live.sqlite3"
        return rows + await import_while_serving(url, Path(folder))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="postgresql+asyncpg://… (a throwaway database is created there, dropped after)",
    )
    args = parser.parse_args()
    backend = "PostgreSQL" if args.postgres else "SQLite"
    print(f"backend: {backend}, Python {platform.python_version()}")
    try:
        table = asyncio.run(main(args.postgres))
    except ProgramError as error:  # the import failed: say why, exit non-zero
        sys.exit("\n".join([f"import refused: {error}", *error.lines(10)]))
    output.emit(f"import ({backend})", table)
