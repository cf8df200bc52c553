"""The example event shifted to now and squeezed into a short day: the plenary a minute or two
from now, a pause, then the 41 meetings packed into as few back-to-back slots as their attendees
allow (nobody is in two places at once)."""

from __future__ import annotations

import copy
import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path
from typing import Any

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "lyon-2021" / "program.json"


@dataclass(frozen=True, slots=True)
class Timeline:
    """How long each part of the demo day lasts, in the day's own time."""

    plenary: timedelta = timedelta(minutes=20)
    pause: timedelta = timedelta(minutes=5)
    slot: timedelta = timedelta(minutes=10)


def load_example(path: Path = EXAMPLE) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def shifted(
    example: dict[str, Any], *, slug: str, now: datetime, timeline: Timeline = Timeline()
) -> dict[str, Any]:
    """The program with a new slug and times from now on, written in UTC (absolute)."""
    program = copy.deepcopy(example)
    program["event"]["slug"] = slug
    plenary_start = now.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=2)
    first_slot = plenary_start + timeline.plenary + timeline.pause
    meetings = [s for s in program["sessions"] if s["kind"] == "meeting"]
    slots = pack(meetings)
    for session in program["sessions"]:
        if session["kind"] == "plenary":
            start, end = plenary_start, plenary_start + timeline.plenary
        else:
            start = first_slot + slots[session["key"]] * timeline.slot
            end = start + timeline.slot
        session["start"], session["end"] = start.isoformat(), end.isoformat()
    return program


def pack(meetings: list[dict[str, Any]]) -> dict[str, int]:
    """Each meeting's slot number: in the program's order, the first slot where both attendees
    are free."""
    busy: dict[str, set[int]] = defaultdict(set)
    slots: dict[str, int] = {}
    for meeting in sorted(meetings, key=lambda s: (s["start"], s["key"])):
        people = meeting["attendees"]
        slot = next(n for n in count() if not any(n in busy[p] for p in people))
        for person in people:
            busy[person].add(slot)
        slots[meeting["key"]] = slot
    return slots
