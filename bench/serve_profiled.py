"""`rdv serve` under cProfile, switched on by SIGUSR1 and written to the file named by the first
argument by SIGUSR2: a benchmark profiles its load, not the start-up and the setup before it
(`bench/storm.py --profile`). cProfile sees the event loop's thread only: the time SQLite spends
in aiosqlite's threads shows as the loop waiting (`select`), not as the query."""

from __future__ import annotations

import cProfile
import signal
import sys
from pathlib import Path
from typing import Any

# Run as a script, bench/ comes first on sys.path: the project's folder takes its place.
sys.path[0] = str(Path(__file__).resolve().parent.parent)


def main(target: str) -> int:
    """Serves until SIGTERM, profiling between SIGUSR1 and SIGUSR2."""
    from orchestrator.cli import main as rdv

    profile = cProfile.Profile()

    def dump(*_: Any) -> None:
        profile.disable()
        profile.dump_stats(target)

    signal.signal(signal.SIGUSR1, lambda *_: profile.enable())
    signal.signal(signal.SIGUSR2, dump)
    return int(rdv(["serve"]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
