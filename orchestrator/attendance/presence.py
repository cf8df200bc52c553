"""Presence intervals from events, ordered by the events' own times, not by arrival.

Duplicates were dropped by the inbox; here a join of someone already in, or a leave of someone
already out, changes nothing, a rejoin opens a new interval, a poll that lists someone opens one
(a lost join), a poll that does not list them closes theirs (a lost leave), and the room's end
closes whatever is still open.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

Interval = tuple[datetime, datetime]
POLLED = "poll"  # the connection name of presence only a poll has seen
# Within one instant: a room starts, people join, polls see them, they leave, the room ends.
ORDER = {"room_started": 0, "joined": 1, "present": 2, "left": 3, "poll": 4, "room_ended": 5}


@dataclass(frozen=True, slots=True)
class Mark:
    """One event as presence sees it; `person` is None for room-level marks. A `poll` mark lists
    everyone the provider showed in the room at that moment."""

    at: datetime
    kind: str
    person: str | None = None
    connection: str | None = None
    listed: frozenset[str] = field(default_factory=frozenset)


def identity(name: str | None, email: str | None, connection: str | None) -> str:
    """Who a participant is when they did not come through one of our seats."""
    if email:
        return "e:" + email.strip().casefold()
    if name:
        return "n:" + " ".join(name.split()).casefold()
    return "c:" + (connection or "?")


def intervals(marks: Iterable[Mark], *, until: datetime) -> dict[str, list[Interval]]:
    """Each person's presence; anything still open at the end is closed at `until`."""
    open_connections: dict[str, set[str]] = defaultdict(set)
    since: dict[str, datetime] = {}
    found: dict[str, list[Interval]] = defaultdict(list)

    def close(person: str, at: datetime, *, still_there: bool = False) -> None:
        open_connections[person].clear()
        start = since.pop(person, None)
        # Someone who joined this very moment is present, even for zero seconds so far.
        if start is not None and (at > start or (still_there and at == start)):
            found[person].append((start, at))

    for mark in sorted(marks, key=lambda mark: (mark.at, ORDER.get(mark.kind, 9))):
        if mark.at > until:
            break
        person = mark.person
        if mark.kind == "room_ended":
            for someone in list(since):
                close(someone, mark.at)
        elif mark.kind == "poll":
            for someone in [p for p in since if p not in mark.listed]:
                close(someone, mark.at)
        elif person is None:
            continue
        elif mark.kind in ("joined", "present"):
            connection = mark.connection or POLLED if mark.kind == "joined" else POLLED
            if person not in since:
                since[person] = mark.at
            if mark.kind == "joined" or not open_connections[person]:
                open_connections[person].add(connection)
        elif mark.kind == "left":
            connections = open_connections[person]
            connections.discard(mark.connection or "")
            connections.discard(POLLED)  # a leave ends presence only a poll had seen
            if not connections and person in since:
                close(person, mark.at)
    for person in list(since):
        close(person, until, still_there=True)
    return {person: merge(spans) for person, spans in found.items()}


def merge(spans: Iterable[Interval]) -> list[Interval]:
    """Overlapping or touching intervals become one."""
    merged: list[Interval] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def clip(spans: Iterable[Interval], start: datetime, end: datetime) -> list[Interval]:
    return [(max(a, start), min(b, end)) for a, b in spans if min(b, end) >= max(a, start)]


def total(spans: Iterable[Interval]) -> timedelta:
    return sum((end - start for start, end in spans), timedelta(0))


def overlap(first: Iterable[Interval], second: Iterable[Interval]) -> list[Interval]:
    """When both were present at once."""
    result = []
    for a_start, a_end in first:
        for b_start, b_end in second:
            start, end = max(a_start, b_start), min(a_end, b_end)
            if end > start:
                result.append((start, end))
    return merge(result)


def peak(spans_by_person: dict[str, list[Interval]]) -> tuple[int, datetime | None]:
    """The most people present at once, and when that was first reached."""
    changes = sorted(
        [(start, 1) for spans in spans_by_person.values() for start, _ in spans]
        + [(end, -1) for spans in spans_by_person.values() for _, end in spans],
        key=lambda change: (change[0], change[1]),
    )
    best, when, current = 0, None, 0
    for moment, step in changes:
        current += step
        if current > best:
            best, when = current, moment
    return best, when
