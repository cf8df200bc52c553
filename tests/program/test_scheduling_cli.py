"""`rdv schedule` after `rdv import`, as the organiser reads it (run in this process: the
command's own code, without paying for a Python start per call)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from test_scheduling_service import requests_day

from orchestrator.cli import main

Command = Callable[..., tuple[int, str, str]]


def future(program: dict[str, Any], path: Path) -> str:
    """The program moved ten years ahead, since the command schedules from the real now."""
    path.write_text(json.dumps(program).replace("2021-04-08", "2031-04-08"), encoding="utf-8")
    return str(path)


@pytest.fixture
def rdv(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Command:
    for name in ("RDV_CONFIG", "RDV_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RDV_DATABASE_URL", database_url)

    def run(*args: str) -> tuple[int, str, str]:
        status = main(list(args))
        out, err = capsys.readouterr()
        return status, out, err

    return run


def test_schedule_prints_the_method_each_meeting_and_each_request_left(
    rdv: Command, tmp_path: Path
) -> None:
    program = requests_day()
    program["availability"] = {"eve": [["2021-04-08T14:00", "2021-04-08T15:00"]]}
    assert rdv("import", future(program, tmp_path / "program.json"))[0] == 0

    status, out, err = rdv("schedule", "meet-the-buyers", "--time-limit", "5")

    assert status == 0, err
    lines = out.splitlines()
    assert lines[0].startswith(
        "meet-the-buyers: placed 2 of 3 meeting requests (weighted 4 of 6, bound 4) "
        "by exact CP-SAT, proven optimal, in "
    )
    assert any(line.startswith("  new    chloe.ana: 2031-04-08 ") for line in lines)
    assert (
        "  not placed requests[1] Eve Durand × Ben Okafor: no common free slot: "
        "Eve Durand is available at no time within the windows, Ben Okafor 10:00–11:50" in lines
    )
    assert lines[-2:] == [
        "meet-the-buyers: updated",
        "  sessions created (2): chloe.ana, acme-roads",
    ]


def test_a_dry_run_writes_nothing_and_an_unknown_event_exits_2(
    rdv: Command, tmp_path: Path
) -> None:
    rdv("import", future(requests_day(), tmp_path / "program.json"))

    dry = rdv("schedule", "meet-the-buyers", "--dry-run", "--time-limit", "5")
    again = rdv("schedule", "meet-the-buyers", "--dry-run", "--time-limit", "5")
    missing = rdv("schedule", "nope")
    negative = rdv("schedule", "meet-the-buyers", "--time-limit", "0")

    assert dry[0] == 0
    assert dry[1].splitlines()[-1] == "dry run: nothing was written"
    assert "  new    chloe.ana: " in dry[1]
    assert "  new    chloe.ana: " in again[1]  # nothing was written the first time
    assert missing[:2] == (2, "")
    assert missing[2].strip().splitlines() == [
        "reading the event",  # how it went, a line per phase (stderr is no terminal here)
        'rdv schedule: no event "nope"',
    ]
    assert negative[0] == 2
    assert "--time-limit must be a positive number of seconds" in negative[2]
