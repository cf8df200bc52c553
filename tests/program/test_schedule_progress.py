"""`rdv schedule` on a generated event, watched: on a terminal it shows what it is doing (the
phase, the best placement so far with its bound and gap, the time left); in a pipe, as in CI or
a log, one line per phase and nothing animated. What it prints on stdout, the schedule, is the
same either way."""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
PHASES = ("reading the event", "a first placement", "writing the meetings")


def generated(companies: int = 16, buyers: int = 8, requests: int = 44) -> dict[str, Any]:
    """An event ten years ahead (the command schedules from the real now): companies and buyers
    of organisations of their own, and requests between them for a day of 20-minute slots."""
    rng = random.Random(24)
    organisations = [
        {"key": f"c{n}", "name": f"Company {n}", "kind": "company"} for n in range(companies)
    ] + [{"key": f"b{n}", "name": f"Directorate {n}", "kind": "buyer"} for n in range(buyers)]
    people = [
        {
            "key": f"p-{org['key']}",
            "name": f"Person {org['name']}",
            "email": f"{org['key']}@x.example",
            "organisation": org["key"],
        }
        for org in organisations
    ]
    pairs = rng.sample([(c, b) for c in range(companies) for b in range(buyers)], requests)
    return {
        "event": {
            "slug": "generated-day",
            "title": "A generated day",
            "timezone": "Europe/Paris",
            "organiser": {"name": "Cluster", "email": "rdv@cluster.example"},
        },
        "organisations": organisations,
        "people": people,
        "sessions": [],
        "schedule": {
            "windows": [
                ["2031-04-08T09:00", "2031-04-08T12:00"],
                ["2031-04-08T14:00", "2031-04-08T17:00"],
            ],
            "slot_minutes": 20,
            "gap_minutes": 10,
            "max_per_person": 6,
        },
        "requests": [
            {"from": f"p-c{c}", "to": f"p-b{b}", "priority": rng.choice((1, 1, 2, 3))}
            for c, b in pairs
        ],
    }  # fmt: skip


def environment(database_url: str) -> dict[str, str]:
    found = {name: value for name, value in os.environ.items() if not name.startswith("RDV_")}
    return found | {"RDV_DATABASE_URL": database_url, "COLUMNS": "120", "TERM": "xterm"}


async def rdv(database_url: str, *args: str, stderr: int | None = None) -> tuple[int, str, str]:
    """A command in a process of its own: its stdout, and its stderr unless it goes to
    `stderr` (a pseudo-terminal)."""
    run = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "orchestrator",
        *args,
        cwd=ROOT,
        env=environment(database_url),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE if stderr is None else stderr,
    )
    if stderr is not None:
        os.close(stderr)
    out, err = await run.communicate()
    return run.returncode or 0, out.decode(), (err or b"").decode()


async def on_a_terminal(database_url: str, *args: str) -> tuple[int, str, str]:
    """A command whose stderr is a pseudo-terminal: its stdout, and what the terminal showed."""
    leader, follower = os.openpty()
    seen = bytearray()

    def read() -> None:
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the terminal closed with the process
                return
            if not chunk:
                return
            seen.extend(chunk)

    reader = asyncio.get_running_loop().run_in_executor(None, read)
    status, out, _ = await rdv(database_url, *args, stderr=follower)
    await reader
    os.close(leader)
    return status, out, seen.decode(errors="replace")


SCHEDULE = ("schedule", "generated-day", "--time-limit", "6")


async def test_on_a_terminal_it_shows_how_it_goes_and_in_a_pipe_a_line_per_phase(
    database_url: str, tmp_path: Path
) -> None:
    program = tmp_path / "generated.json"
    program.write_text(json.dumps(generated()), encoding="utf-8")
    status, imported, err = await rdv(database_url, "import", str(program))
    assert status == 0, err
    assert [line.split(":")[0] for line in err.splitlines()] == [
        "reading generated.json",
        "checking the program",
        "writing the event",
        "recording what to tell people (invites, updates)",
    ]  # a line per phase on stderr; stdout says what changed
    assert imported.startswith("generated-day: created")

    status, out, shown = await on_a_terminal(database_url, *SCHEDULE, "--dry-run")
    assert status == 0, shown
    assert out.startswith("generated-day: placed")
    assert ESCAPES.search(shown), "nothing live on the terminal"
    plain = ESCAPES.sub("", shown)
    for phase in PHASES[:2]:  # a dry run writes nothing
        assert phase in plain, plain
    assert re.search(r"best so far \d+.*bound \d+, gap \d+(\.\d)?%", plain), plain
    assert re.search(r"\d+ s left", plain), plain

    # For real, in a pipe: a plain line per phase, the meetings written at the end.
    status, piped, lines = await rdv(database_url, *SCHEDULE)
    assert status == 0, lines
    assert piped.startswith("generated-day: placed")  # stdout keeps the schedule alone
    assert not ESCAPES.search(lines)
    assert "\r" not in lines
    said = lines.splitlines()
    assert all(sum(line.startswith(phase) for line in said) == 1 for phase in PHASES), said
    assert len(said) == len(set(said))  # one line per phase: no line said twice
