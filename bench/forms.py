"""The program import from a workbook against the same from its JSON file: `load_path` and
`import_program` of the 10,000-person program, each on a fresh database and in a process of its
own, so that its peak RSS (`ru_maxrss`) is its own and no earlier import has warmed anything.
`bench/import.py` runs it; run alone (`forms.py FILE URL`), it is one such child, printing its
figures as JSON."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import resource
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import output
from output import Row, widen

from orchestrator.db.engine import create_engine, session_factory
from orchestrator.db.migrate import upgrade
from orchestrator.program.load import load_path
from orchestrator.program.service import import_program
from orchestrator.program.workbook_export import export_workbook
from orchestrator.settings import Settings

HERE = Path(__file__).resolve().parent
TARGETS = {"ratio": 2.0, "rss": 300.0}
ROUNDS = 2  # each form imported twice, alternately; the faster counts (the machine is shared)

Databases = Callable[[], AbstractAsyncContextManager[str]]
"""Makes a fresh, empty database and yields its URL; drops it afterwards where it can."""


def max_rss_mb() -> float:
    """The process's peak resident set so far (ru_maxrss: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)


def rss_mb(field: str) -> float | None:
    """VmRSS (now) or VmHWM (the peak since the last reset) from /proc, None where there is none."""
    try:
        status = Path("/proc/self/status").read_text(encoding="ascii")
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return None


def reset_peak() -> None:
    """Starts the peak (VmHWM) again from now, on Linux: the migrations before the import may
    have peaked higher than the import itself."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5", encoding="ascii")


def sqlite_databases(folder: Path) -> Databases:
    @asynccontextmanager
    async def fresh() -> AsyncIterator[str]:
        path = folder / f"forms-{uuid.uuid4().hex[:8]}.sqlite3"
        try:
            yield f"sqlite+aiosqlite:///{path}"
        finally:
            path.unlink(missing_ok=True)

    return fresh


async def one_import(path: Path, url: str) -> dict[str, Any]:
    """The child's work: migrations (not timed), then the file read and imported."""
    engine = create_engine(url)
    try:
        await upgrade(engine)
        settings = Settings(database_url=url, secret_key="x" * 32)
        gc.collect()
        reset_peak()
        before = rss_mb("VmRSS") or max_rss_mb()
        started = time.perf_counter()
        raw = load_path(path)
        loaded = time.perf_counter()
        changes = await import_program(
            session_factory(engine), settings, raw, now=datetime.now(UTC)
        )
        done = time.perf_counter()
        growth = (rss_mb("VmHWM") or max_rss_mb()) - before
    finally:
        await engine.dispose()
    return {
        "load": loaded - started,
        "import": done - loaded,
        "rss": growth,
        "people": len(changes.people.added),
        "sessions": len(changes.sessions_created),
    }


async def in_child(path: Path, url: str) -> dict[str, Any]:
    job = await asyncio.create_subprocess_exec(
        sys.executable, str(HERE / "forms.py"), str(path), url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, errors = await job.communicate()
    if job.returncode:
        raise SystemExit(f"import of {path.name} failed: {errors.decode()[-800:]}")
    figures: dict[str, Any] = json.loads(out)
    return figures


async def compare(
    program: dict[str, Any], folder: Path, databases: Databases, *, people: int, sessions: int
) -> list[Row]:
    """Rows: the workbook written, and its first import against the JSON file's."""
    json_path, xlsx_path = folder / "forms.json", folder / "forms.xlsx"
    json_path.write_bytes(json.dumps(program, ensure_ascii=False).encode())
    started = time.perf_counter()
    data = export_workbook(program)
    written = time.perf_counter() - started
    xlsx_path.write_bytes(data)
    print(
        f"workbook: {len(data) / 1e6:.1f} MB .xlsx, JSON: {json_path.stat().st_size / 1e6:.1f} MB"
    )
    best: dict[str, dict[str, Any]] = {}
    for _ in range(ROUNDS):
        for form, path in (("json", json_path), ("xlsx", xlsx_path)):
            async with databases() as url:
                figures = await in_child(path, url)
            if (figures["people"], figures["sessions"]) != (people, sessions):
                raise SystemExit(f"{path.name} did not create everything: {figures}")
            total = figures["load"] + figures["import"]
            if form not in best or total < best[form]["load"] + best[form]["import"]:
                best[form] = figures
    json_total = best["json"]["load"] + best["json"]["import"]
    xlsx_total = best["xlsx"]["load"] + best["xlsx"]["import"]
    ratio = xlsx_total / json_total
    return [
        widen(("workbook written (export_workbook)", f"{written:.3f} s", "-", "-")),
        (
            "first import from a workbook, fresh database; baseline: from the JSON file",
            f"{xlsx_total:.3f} s",
            f"{json_total:.3f} s",
            f"{ratio:.1f}x",
            f"< {TARGETS['ratio']:g}x",
            output.holds(ratio < TARGETS["ratio"]),
        ),
        (
            "  of which load_path (reading the file); baseline: the JSON file's",
            f"{best['xlsx']['load']:.3f} s",
            f"{best['json']['load']:.3f} s",
            f"{best['xlsx']['load'] / best['json']['load']:.0f}x",
            "-",
            "-",
        ),
        widen(
            (
                "peak RSS growth during the workbook import",
                f"{best['xlsx']['rss']:.1f} MB",
                f"< {TARGETS['rss']:g} MB",
                output.holds(best["xlsx"]["rss"] < TARGETS["rss"]),
            )
        ),
    ]


if __name__ == "__main__":
    print(json.dumps(asyncio.run(one_import(Path(sys.argv[1]), sys.argv[2]))))
