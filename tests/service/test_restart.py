"""`rdv serve` killed with SIGKILL in the middle of provisioning 40 rooms, then started again:
in the end every room is ready and no meeting was created twice on the provider."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support import fake_bbb
from support.mailsink import free_port
from support.service import TEST_SECRET

BBB_SECRET = "fake-bbb-shared-secret-0123456789"
ROOMS = 40


def program(start: datetime) -> dict[str, object]:
    """40 one-to-one meetings at once, on BigBlueButton, starting soon."""
    people = [
        {"key": f"p{n}", "name": f"Person {n}", "email": f"p{n}@example.org"}
        for n in range(2 * ROOMS)
    ]
    sessions = [
        {
            "key": f"m{n:02d}",
            "kind": "meeting",
            "title": f"Meeting {n}",
            "start": start.isoformat(),
            "end": (start + timedelta(minutes=30)).isoformat(),
            "attendees": [f"p{2 * n}", f"p{2 * n + 1}"],
        }
        for n in range(ROOMS)
    ]
    return {
        "event": {
            "slug": "restart",
            "title": "Restart",
            "timezone": "UTC",
            "organiser": {"name": "Org", "email": "org@example.org"},
            "provider": "bigbluebutton",
        },
        "people": people,
        "sessions": sessions,
    }


@pytest.fixture
def bbb(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    state = tmp_path / "bbb.json"
    with fake_bbb.in_a_process(BBB_SECRET, state, create_delay=0.4) as url:
        yield url, state


def counters(state: Path) -> dict[str, object]:
    for _ in range(20):
        try:
            loaded: dict[str, object] = json.loads(state.read_text())
            return loaded
        except (FileNotFoundError, json.JSONDecodeError):
            time.sleep(0.05)
    raise AssertionError("the fake BigBlueButton wrote no state")


def create_calls(state: Path) -> int:
    calls = counters(state)["create_calls"]
    assert isinstance(calls, int)
    return calls


def ready_rooms(database: Path) -> int:
    with sqlite3.connect(database) as connection:
        (count,) = connection.execute("SELECT count(*) FROM rooms WHERE state = 'ready'").fetchone()
    return int(count)


@pytest.mark.slow
def test_killing_serve_mid_provisioning_leaves_every_room_created_exactly_once(
    tmp_path: Path, bbb: tuple[str, Path]
) -> None:
    url, state = bbb
    database = tmp_path / "rdv.sqlite3"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("RDV_")},
        "RDV_DATABASE_URL": f"sqlite+aiosqlite:///{database}",
        "RDV_SECRET_KEY": TEST_SECRET,
        "RDV_BBB_URL": url,
        "RDV_BBB_SECRET": BBB_SECRET,
        "RDV_MAIL_URL": f"file://{tmp_path / 'outbox'}",
        "RDV_PORT": str(free_port()),
    }
    path = tmp_path / "program.json"
    path.write_text(json.dumps(program(datetime.now(UTC) + timedelta(minutes=10))))
    imported = subprocess.run(
        [sys.executable, "-m", "orchestrator", "import", str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert imported.returncode == 0, imported.stderr

    def serve() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "orchestrator", "serve"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    first = serve()
    deadline = time.monotonic() + 30
    while create_calls(state) < 10 and time.monotonic() < deadline:
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait()
    killed_at = ready_rooms(database)
    assert killed_at < ROOMS, "provisioning finished before the kill: slow the fake down"

    second = serve()
    try:
        deadline = time.monotonic() + 60
        while ready_rooms(database) < ROOMS and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=20)
    assert ready_rooms(database) == ROOMS
    created = counters(state)["created"]
    assert isinstance(created, dict)
    assert len(created) == ROOMS
    assert set(created.values()) == {1}
