"""The demo's file outbox (`RDV_MAIL_URL=file://DIR`) holds only whole messages: what a crash cut
short mid-write is gone after the next start."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from calendars.transport import FileTransport
from orchestrator.app import create_app
from orchestrator.settings import Settings


def unfinished_write(folder: Path, *, age: float) -> Path:
    """What a `kill -9` between writing a message and renaming it leaves: a hidden temporary file
    made the way the transport makes them, last touched `age` seconds ago."""
    folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=folder, prefix=".", suffix=".tmp")
    os.write(fd, b"From: half a mess")
    os.close(fd)
    then = time.time() - age
    os.utime(name, (then, then))
    return Path(name)


async def test_restarting_the_service_clears_what_a_crash_left_half_written_in_the_outbox(
    aiohttp_client: Any, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    outbox = tmp_path / "outbox"
    sent = outbox / "0000000001.eml"
    unfinished_write(outbox, age=120)
    unfinished_write(outbox, age=3600 * 24)
    sent.write_bytes(b"a whole message\r\n")
    (outbox / "notes.tmp").write_text("the organiser's own file")

    await aiohttp_client(
        create_app(make_settings(mail_url=f"file://{outbox}"), migrate=False, background=False)
    )

    assert sorted(path.name for path in outbox.iterdir()) == ["0000000001.eml", "notes.tmp"]
    assert sent.read_bytes() == b"a whole message\r\n"


def test_a_write_still_in_progress_elsewhere_is_left_alone(tmp_path: Path) -> None:
    # Another instance sharing the folder may be writing this one right now.
    fresh = unfinished_write(tmp_path, age=5)
    stale = unfinished_write(tmp_path, age=61)

    FileTransport(tmp_path)

    assert fresh.exists()
    assert not stale.exists()


def test_a_missing_or_unreadable_folder_does_not_stop_the_start(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("a file where the folder should be")

    assert FileTransport(tmp_path / "missing").sweep(60) == 0
    assert FileTransport(tmp_path / "file").sweep(60) == 0
