"""The `rdv` commands, run as real processes: import, token, db upgrade and serve."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from openpyxl import load_workbook
from sqlalchemy import text
from support.service import EXAMPLE_DIR, EXAMPLE_JSON, EXAMPLE_SLUG, TEST_SECRET, small_program
from support.stderr import phases, problems

from orchestrator.db.engine import create_engine
from orchestrator.program.workbook_export import template_workbook
from orchestrator.tokens import mint_api_token, verify_api_token


def rdv(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orchestrator", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def env(database_url: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RDV_")}
    return {**clean, "RDV_DATABASE_URL": database_url}


def test_import_prints_what_changed_then_no_change(env: dict[str, str], tmp_path: Path) -> None:
    first = rdv("import", str(EXAMPLE_JSON), env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[0] == f"{EXAMPLE_SLUG}: created"
    assert "sessions created (42)" in first.stdout
    assert "people added (116)" in first.stdout
    again = rdv("import", str(EXAMPLE_DIR), env=env, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == f"{EXAMPLE_SLUG}: no change"


def test_a_bad_program_prints_one_line_per_problem_and_exits_2(
    env: dict[str, str], tmp_path: Path
) -> None:
    program = small_program()
    program["people"][1]["email"] = "ben(at)roads"
    program["sessions"][2]["start"] = "2021-03-28T02:30"
    path = tmp_path / "program.json"
    path.write_text(json.dumps(program), encoding="utf-8")

    result = rdv("import", str(path), env=env, cwd=tmp_path)

    assert result.returncode == 2
    assert phases(result.stderr) == ["reading program.json", "checking the program"]
    assert problems(result.stderr) == [
        'people[1].email: malformed email "ben(at)roads"',
        'sessions[2].start: session "m2" start 2021-03-28T02:30 does not exist in Europe/Paris: '
        "the clocks go forward that night; pick another time or give an offset",
        "rdv import: 2 problems in the program; nothing was imported",
    ]
    assert result.stdout == ""


def test_import_of_a_workbook_prints_what_changed_then_its_problems_by_cell(
    env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "lyon.xlsx"
    path.write_bytes(template_workbook())

    first = rdv("import", str(path), env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[0] == f"{EXAMPLE_SLUG}: created"
    assert "sessions created (42)" in first.stdout
    again = rdv("import", str(EXAMPLE_JSON), env=env, cwd=tmp_path)
    assert again.stdout.strip() == f"{EXAMPLE_SLUG}: no change"

    book = load_workbook(path)
    book["people"]["C2"] = "helene.martin(at)grandlyon"
    book["sessions"]["D3"] = "=D2+1/48"
    book.save(path)
    bad = rdv("import", str(path), env=env, cwd=tmp_path)
    assert bad.returncode == 2
    assert problems(bad.stderr) == [
        'sessions!D3: formulas are not read, type the value ("=D2+1/48")',
        "rdv import: 1 problem in the program; nothing was imported",
    ]
    book["sessions"]["D3"] = datetime(2021, 4, 8, 10, 30)
    book.save(path)
    bad = rdv("import", str(path), env=env, cwd=tmp_path)
    assert problems(bad.stderr) == [
        'people!C2: malformed email "helene.martin(at)grandlyon"',
        "rdv import: 1 problem in the program; nothing was imported",
    ]


def test_importing_a_missing_file_says_so(env: dict[str, str], tmp_path: Path) -> None:
    result = rdv("import", str(tmp_path / "nope.json"), env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert "nope.json: cannot read: No such file or directory" in result.stderr


def test_token_needs_the_secret_key_and_mints_a_scoped_token(
    env: dict[str, str], tmp_path: Path
) -> None:
    refused = rdv("token", "--role", "organiser", "--event", "x", env=env, cwd=tmp_path)
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1
    assert "RDV_SECRET_KEY is not set" in refused.stderr

    minted = rdv(
        "token",
        "--role",
        "followup",
        "--event",
        EXAMPLE_SLUG,
        "--ttl",
        "2h",
        env={**env, "RDV_SECRET_KEY": TEST_SECRET},
        cwd=tmp_path,
    )
    assert minted.returncode == 0, minted.stderr
    grant = verify_api_token(TEST_SECRET, minted.stdout.strip(), now=datetime.now(UTC))
    assert (grant.role, grant.event, grant.can_write) == ("followup", EXAMPLE_SLUG, False)


def test_serve_refuses_to_start_without_a_secret_key(env: dict[str, str], tmp_path: Path) -> None:
    result = rdv("serve", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("rdv serve: RDV_SECRET_KEY is not set")
    assert result.stderr.count("\n") == 1


def test_a_second_upgrade_is_a_no_op(tmp_path: Path) -> None:
    env = {**os.environ, "RDV_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}"}
    first = rdv("db", "upgrade", env=env, cwd=tmp_path)
    second = rdv("db", "upgrade", env=env, cwd=tmp_path)
    assert first.returncode == second.returncode == 0
    assert not first.stdout.strip().endswith("(already)")
    assert second.stdout.strip().endswith("(already)")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
async def server(env: dict[str, str], tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """`rdv serve` as a real process; yields (process, base URL)."""
    port = _free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "orchestrator",
        "serve",
        env={**env, "RDV_SECRET_KEY": TEST_SECRET, "RDV_PORT": str(port)},
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as http:
        for _ in range(200):
            try:
                async with http.get(f"{base}/healthz") as response:
                    if response.status == 200:
                        break
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.05)
        else:
            process.kill()
            raise AssertionError("rdv serve did not start")

    async def handle() -> tuple[asyncio.subprocess.Process, str]:
        return process, base

    yield handle
    if process.returncode is None:
        process.kill()
        await process.wait()


async def test_serve_logs_one_redacted_line_per_request_and_stops_cleanly_on_sigterm(
    server: Callable[..., Any], database_url: str
) -> None:
    process, base = await server()
    secret_link = "s3cr3t-personal-token"
    token = mint_api_token(
        TEST_SECRET, role="organiser", event="demo", ttl=timedelta(hours=1), now=datetime.now(UTC)
    )
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/j/{secret_link}?utm=x") as response:
            assert response.status == 404
        async with http.get(
            f"{base}/api/v1/events/demo", headers={"Authorization": f"Bearer {token}"}
        ) as response:
            assert response.status == 404

        # An import is in flight when SIGTERM arrives (held up by a transaction of ours that
        # writes the same event): it still completes and gets its answer.
        engine = create_engine(database_url)
        async with engine.connect() as connection:
            transaction = await connection.begin()
            await connection.execute(
                text(
                    "INSERT INTO events (slug, title, timezone, locale, organiser_name, "
                    "organiser_email) VALUES ('demo', 't', 'UTC', 'en', 'o', 'o@x.example')"
                )
            )
            upload = asyncio.create_task(
                http.put(
                    f"{base}/api/v1/events/demo/program",
                    json=small_program("demo"),
                    headers={"Authorization": f"Bearer {token}"},
                )
            )
            await asyncio.sleep(0.5)
            process.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.5)
            assert not upload.done()
            await transaction.rollback()
        await engine.dispose()
        response = await upload
        assert response.status == 201, await response.text()
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=20)
    assert process.returncode == 0
    log = stderr.decode()
    assert secret_link not in log
    assert token not in log
    assert TEST_SECRET not in log
    lines = [
        json.loads(line.split(" rdv.access ", 1)[1])
        for line in log.splitlines()
        if " rdv.access " in line
    ]
    by_route = {line["route"]: line for line in lines}
    assert {"path": "/j/[token]", "status": 404} in [
        {"path": line["path"], "status": line["status"]} for line in lines
    ]
    assert by_route["/api/v1/events/{slug}"]["method"] == "GET"
    assert by_route["/api/v1/events/{slug}/program"]["status"] == 201
    assert all(isinstance(line["duration_ms"], float) for line in lines)
