"""A newcomer's `make test` on a machine without Chromium (or Janus, Dovecot, poppler): the
tests that need it are skipped, and the run ends saying which tool was missing and how to
install it, so that nobody takes a partial run for a whole one."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


async def test_a_run_without_chromium_ends_naming_it_and_how_to_install_it(tmp_path: Path) -> None:
    environment = dict(os.environ, PATH=str(tmp_path))  # nothing on the PATH: Chromium hidden
    run = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "tests/dashboard/test_signin_browser.py",
        cwd=ROOT,
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await run.communicate()
    printed = out.decode()
    assert run.returncode == 0, printed
    last = printed.strip().splitlines()[-4:]
    assert any(
        line.startswith("Chromium: ") and "apt-get install chromium" in line for line in last
    ), printed
    assert "not run for want of tools" in printed
    assert printed.count("apt-get install chromium") == 1  # named once, however many skipped
