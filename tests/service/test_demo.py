"""`rdv demo --once` as a newcomer runs it: from an empty directory, with no RDV_ variable. Every
message in var/outbox/ parses, each person has their invites, the attendance CSV shows what the
simulation played (var/demo-plan.json), and the printed key figures are those of that day."""

from __future__ import annotations

import csv
import email
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import defaultdict
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import icalendar
import pytest

pytestmark = [
    pytest.mark.slow,  # the day itself lasts about a minute
    pytest.mark.skipif(
        bool(os.environ.get("RDV_TEST_DATABASE_URL")),
        reason="the demo always runs on its embedded SQLite: the SQLite run covers it",
    ),
]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, float]:
    """(the directory it ran in, what it printed, how long it took)."""
    where = tmp_path_factory.mktemp("demo")
    env = {name: value for name, value in os.environ.items() if not name.startswith("RDV_")}
    env["PYTHONFAULTHANDLER"] = "1"  # a demo stuck past the timeout shows where, on SIGABRT
    started = time.monotonic()
    with subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "demo", "--once"],
        cwd=where,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as demo:
        try:
            out, err = demo.communicate(timeout=180)
        except subprocess.TimeoutExpired:
            demo.send_signal(signal.SIGABRT)
            out, err = demo.communicate()
            pytest.fail(f"the demo did not end within 180 s:\n{out}\n{err}")
    took = time.monotonic() - started
    assert demo.returncode == 0, out + err
    return where, out, took


def plan_of(where: Path) -> dict[str, Any]:
    plan: dict[str, Any] = json.loads((where / "var" / "demo-plan.json").read_text("utf-8"))
    return plan


def invites(where: Path) -> dict[str, set[str]]:
    """Every .eml parsed; the recipients of each invitation (METHOD:REQUEST), by SUMMARY."""
    found: dict[str, set[str]] = defaultdict(set)
    messages = sorted((where / "var" / "outbox").glob("*.eml"))
    assert messages
    for path in messages:
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        assert isinstance(message, EmailMessage)
        assert not message.defects, path.name
        assert message["To"], path.name
        assert message["Subject"], path.name
        for part in message.walk():
            if part.get_content_type() != "text/calendar":
                continue
            calendar = icalendar.Calendar.from_ical(part.get_payload(decode=True))
            assert calendar["METHOD"] == "REQUEST", path.name
            (event,) = calendar.walk("VEVENT")
            found[str(event["SUMMARY"])].add(message["To"].addresses[0].addr_spec)
    return found


def test_the_demo_tells_the_whole_day_in_under_three_minutes(
    demo: tuple[Path, str, float],
) -> None:
    _, printed, took = demo
    assert took < 180
    assert "/login/" in printed
    assert "workspace, to move, cancel, resend (one-time sign-in link): " in printed
    assert "?next=/admin/" in printed
    assert "a second time: acknowledged, 0 new events, 1 duplicate" in printed
    assert re.search(r"next slot at \d\d:\d\d \(in \d+ s\)", printed)
    assert "the day is over" in printed


def test_every_invite_parses_and_reaches_its_attendees(demo: tuple[Path, str, float]) -> None:
    where, _, _ = demo
    plan = plan_of(where)
    sent = invites(where)
    expected: dict[str, set[str]] = defaultdict(set)
    titles = {session["key"]: session["title"] for session in plan["sessions"]}
    for visit in plan["visits"]:
        if visit["own_seat"]:
            expected[titles[visit["session"]]].add(visit["email"])
    (plenary,) = [s["title"] for s in plan["sessions"] if s["kind"] == "plenary"]
    assert len(sent[plenary]) == 116
    meetings = [title for title in sent if title != plenary]
    assert len(meetings) == 41
    assert sum(len(sent[title]) for title in meetings) == 82
    assert sent == expected


def test_the_attendance_csv_shows_what_was_played(demo: tuple[Path, str, float]) -> None:
    where, _, _ = demo
    plan = plan_of(where)
    text = (where / "var" / "attendance.csv").read_text("utf-8-sig")
    logged = {
        (row["session"], row["email"]): (row["status"], row["substitute for"] or None)
        for row in csv.DictReader(io.StringIO(text))
    }
    played = {
        (visit["session"], visit["email"]): (visit["status"], visit["substitute_for"])
        for visit in plan["visits"]
    }
    assert logged == played
    statuses = [status for status, _ in played.values()]
    assert {"attended", "late", "left-early", "no-show"} <= set(statuses)
    assert statuses.count("left-early") == 1
    assert sum(1 for _, instead in played.values() if instead) == 1


def test_the_printed_key_figures_are_those_of_the_played_day(
    demo: tuple[Path, str, float],
) -> None:
    where, printed, _ = demo
    plan = plan_of(where)
    held = {s["key"] for s in plan["sessions"] if s["held"]}
    meetings = {s["key"] for s in plan["sessions"] if s["kind"] == "meeting"}
    plenary = [v for v in plan["visits"] if v["session"] not in meetings]
    seats = [v for v in plan["visits"] if v["session"] in meetings and v["own_seat"]]
    in_held = [v for v in plan["visits"] if v["session"] in held and v["status"] != "no-show"]
    participants = sum(1 for v in plenary if v["status"] != "no-show")
    no_shows = sum(1 for v in seats if v["status"] == "no-show") / len(seats)
    figures = {
        "plenary participants": f"{participants} (peak {participants} at once)",
        "meetings held": f"{len(held)} of {len(meetings)} ({len(meetings) - len(held)} not held)",
        "companies met": str(
            len({v["organisation"] for v in in_held if v["organisation_kind"] == "company"})
        ),
        "buyer representatives": str(
            len({v["person"] for v in in_held if v["organisation_kind"] == "buyer"})
        ),
        "directorates": str(
            len({v["organisation"] for v in in_held if v["organisation_kind"] == "buyer"})
        ),
        "no-show rate": f"{no_shows:.0%}",
        "plenary replay": "https://www.youtube.com/watch?v=q3Vd8KxLr2M (mailed to 116)",
    }
    for name, value in figures.items():
        assert re.search(rf"^  {name} +{re.escape(value)}$", printed, re.MULTILINE), name
    median = re.search(r"^  median meeting minutes +(\d+)$", printed, re.MULTILINE)
    assert median is not None
    assert 5 <= int(median.group(1)) <= 11
