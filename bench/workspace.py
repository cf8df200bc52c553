"""Measures the organisers' workspace on a large event: the sessions and people pages of the
10,000-person, 5,000-meeting program of bench/import.py, as a signed-in organiser opens them
(first page, a search, a filter, a far page), answer times p50/p95/max per page."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import platform
import random
import socket
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import output
from aiohttp import web
from output import Row

from orchestrator.db.engine import create_engine, session_factory
from orchestrator.db.migrate import upgrade
from orchestrator.program.load import load_bytes
from orchestrator.program.service import import_program
from orchestrator.settings import Settings
from orchestrator.signin import create_link

imported = importlib.import_module("import")  # bench/import.py: its generated program
ROUNDS, TARGET_MS = 40, 200.0
SLUG = "bench-import"


def pages(program: dict[str, Any]) -> dict[str, str]:
    """What an organiser opens: each page, by what it shows."""
    person = program["people"][4321]
    organisation = program["organisations"][7]["key"]
    surname = person["name"].split()[-1]
    return {
        "sessions, first page": f"/admin/{SLUG}/sessions",
        "sessions, searched by attendee": f"/admin/{SLUG}/sessions?q={surname}",
        "sessions, one organisation": f"/admin/{SLUG}/sessions?organisation={organisation}",
        "sessions, one day, ready": f"/admin/{SLUG}/sessions?day=2021-04-08&state=scheduled",
        "sessions, page 60": f"/admin/{SLUG}/sessions?page=60",
        "people, first page": f"/admin/{SLUG}/people",
        "people, searched": f"/admin/{SLUG}/people?q={person['key']}",
        "people, page 150": f"/admin/{SLUG}/people?page=150",
    }


def app_factory() -> Any:
    """The app factory, imported with bench/ off the path (a bench module's name must not hide
    a package of the project)."""
    here = Path(__file__).resolve().parent
    sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != here]
    from orchestrator.app import create_app

    return create_app


async def serve(settings: Settings) -> tuple[web.AppRunner, int]:
    app = app_factory()(settings, migrate=False, background=False)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    listening = socket.create_server(("127.0.0.1", 0))
    await web.SockSite(runner, listening).start()
    return runner, listening.getsockname()[1]


async def run(url: str) -> list[Row]:
    program, _, _ = imported.build_program(random.Random(imported.SEED))
    base_url = "http://127.0.0.1"
    settings = Settings(database_url=url, secret_key="x" * 32, public_url=base_url)
    engine = create_engine(url)
    await upgrade(engine)
    db = session_factory(engine)
    started = time.perf_counter()
    await import_program(
        db, settings, load_bytes(imported.to_bytes(program)), now=datetime.now(UTC)
    )
    print(f"imported {len(program['people'])} people, {len(program['sessions'])} meetings "
          f"in {time.perf_counter() - started:.1f} s")  # fmt: skip
    async with db() as session, session.begin():
        link = await create_link(
            session, slug=SLUG, role="organiser", now=datetime.now(UTC), base_url=base_url
        )
    await engine.dispose()
    runner, port = await serve(settings)
    rows: list[Row] = []
    try:
        jar = aiohttp.CookieJar(unsafe=True)  # the cookie of an IP address host, kept
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}", cookie_jar=jar) as client:
            signed = await client.post(link.removeprefix(base_url), allow_redirects=False)
            assert signed.status == 303, signed.status
            for path in pages(program).values():  # a server that has run a while
                async with client.get(path) as answer:
                    await answer.read()
            for name, path in pages(program).items():
                took = []
                for _ in range(ROUNDS):
                    begun = time.perf_counter()
                    async with client.get(path) as answer:
                        await answer.read()
                        if answer.status != 200:
                            raise SystemExit(f"{path}: {answer.status}")
                    took.append((time.perf_counter() - begun) * 1000)
                took.sort()
                p95 = took[int(0.95 * (len(took) - 1))]
                shown = f"p50 {statistics.median(took):.0f}, p95 {p95:.0f}, max {took[-1]:.0f} ms"
                ok = p95 < TARGET_MS
                rows.append((name, shown, "-", "-", f"p95 < {TARGET_MS:.0f} ms", output.holds(ok)))
    finally:
        await runner.cleanup()
    return rows


async def main(postgres: str) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="rdv-bench-workspace-") as folder:
        rows = [
            (f"SQLite: {f}", *rest)
            for f, *rest in await run(f"sqlite+aiosqlite:///{Path(folder) / 'w.sqlite3'}")
        ]
    if postgres:
        async with imported.postgres_database(postgres) as url:
            rows += [(f"PostgreSQL: {f}", *rest) for f, *rest in await run(url)]
    return [tuple(row) for row in rows]  # type: ignore[misc]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--postgres",
        metavar="URL",
        default="postgresql+asyncpg://postgres@127.0.0.1:5432/test",
        help="server for the throwaway database ('' skips PostgreSQL)",
    )
    args = parser.parse_args()
    loadavg = ", ".join(f"{n:.2f}" for n in os.getloadavg())
    print(f"Python {platform.python_version()}, {os.cpu_count()} cores, load average {loadavg}")
    output.emit("workspace", asyncio.run(main(args.postgres)))
