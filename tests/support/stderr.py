"""What a command says on stderr besides its problems: the line per phase of its progress,
written where stderr is no terminal (orchestrator/progress.py)."""

from __future__ import annotations

import re

PHASE = re.compile(
    r"^(reading \S+|checking the program|writing the event: .*|recording what to tell people.*"
    r"|reading the event|a first placement.*|searching for the best placement.*"
    r"|shortening waits.*|writing the meetings|choosing a window.*|placing the .*)$"
)


def problems(stderr: str) -> list[str]:
    """The lines of stderr that are not progress: the problems, and the command's last word."""
    return [line for line in stderr.splitlines() if not PHASE.match(line)]


def phases(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if PHASE.match(line)]
