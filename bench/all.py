"""`make bench`: every benchmark of bench/, one after the other, then their figures as one table.

Each script runs as a child process with its own output shown as it goes; its rows (figure,
value, baseline measured in the same run, ratio, target, holds) are collected through
$RDV_BENCH_ROWS. PostgreSQL runs are added where the local server answers. The closing table is
Markdown, so the README can show it as printed, with the machine it ran on.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


def postgres_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=1).close()
    except OSError:
        return False
    return True


def plan(only: set[str], postgres: bool) -> list[tuple[str, list[str]]]:
    """(name, arguments) of every run, in order; `only` keeps those whose name starts so."""
    runs = [
        ("import", ["import.py"]),
        ("mail", ["mail.py"]),
        ("webhooks", ["door.py", "--postgres", POSTGRES if postgres else ""]),
        ("storm", ["storm.py", "--postgres", POSTGRES if postgres else ""]),
        ("dashboard", ["dashboard.py", *(["--postgres", POSTGRES] if postgres else [])]),
        ("schedule", ["schedule.py"]),
        ("replies", ["replies.py"]),
        ("suggest", ["suggest.py"]),
        ("workspace", ["workspace.py", "--postgres", POSTGRES if postgres else ""]),
        ("outbound", ["outbound.py"]),
    ]
    if postgres:
        runs[1:1] = [("import-postgres", ["import.py", "--postgres", POSTGRES])]
        runs[3:3] = [("mail-postgres", ["mail.py", "--postgres", POSTGRES])]
        runs.append(("outbound-postgres", ["outbound.py", "--postgres", POSTGRES]))
    return [run for run in runs if not only or any(run[0].startswith(o) for o in only)]


def machine() -> str:
    model = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{os.cpu_count()} cores ({model}), {memory:.0f} GiB, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}"
    )


def markdown(rows: list[tuple[str, list[str]]]) -> str:
    head = "| bench | figure | value | baseline | ratio | target | holds |"
    lines = [head, "| --- | --- | --- | --- | --- | --- | --- |"]
    for bench, row in rows:
        cells = [bench, *(cell.strip().replace("|", "/") for cell in row)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("only", nargs="*", help="run only these (import, mail, webhooks, …)")
    args = parser.parse_args()
    postgres = postgres_up()
    runs = plan(set(args.only), postgres)
    started = datetime.now(UTC)
    failed: list[str] = []
    with tempfile.NamedTemporaryFile("r", suffix=".jsonl", encoding="utf-8") as collected:
        env = os.environ | {"RDV_BENCH_ROWS": collected.name}
        for name, arguments in runs:
            print(f"\n=== {name}: {' '.join(arguments)}", flush=True)
            began = time.monotonic()
            result = subprocess.run([sys.executable, str(HERE / arguments[0]), *arguments[1:]],
                                    env=env, cwd=HERE.parent, check=False)  # fmt: skip
            print(f"=== {name}: {time.monotonic() - began:.0f} s, exit {result.returncode}")
            if result.returncode:
                failed.append(name)
        rows = [json.loads(line) for line in collected.read().splitlines() if line]
    print(f"\n## Benchmarks, {started:%Y-%m-%d %H:%M} UTC\n\nMachine: {machine()}.")
    if not postgres:
        print("PostgreSQL: not reachable on 127.0.0.1:5432, SQLite only.")
    print()
    print(markdown([(row["bench"], row["row"]) for row in rows]))
    misses = sum(row["row"][5] == "NO" for row in rows)
    print(f"\n{len(rows)} figures, {misses} target(s) missed", end="")
    print(f"; failed to run: {', '.join(failed)}" if failed else "")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
