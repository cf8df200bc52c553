"""The attendance rules, as pure functions over intervals: statuses, substitutes, held meetings."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ..db.states import AttendanceStatus
from .presence import Interval, clip, merge, overlap, total

HELD_TOGETHER = timedelta(minutes=5)
LEFT_EARLY_MARGIN = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class Window:
    """A session's times and the rules' parameters."""

    starts_at: datetime
    ends_at: datetime
    opens_at: datetime
    closes_at: datetime
    late_after: timedelta
    now: datetime

    @property
    def over(self) -> bool:
        return self.now >= self.ends_at


@dataclass(frozen=True, slots=True)
class Presence:
    """One person's presence in one session, clipped to the session's window."""

    spans: tuple[Interval, ...] = ()
    sources: frozenset[str] = field(default_factory=frozenset)

    @property
    def first_join(self) -> datetime | None:
        return self.spans[0][0] if self.spans else None

    @property
    def last_leave(self) -> datetime | None:
        return self.spans[-1][1] if self.spans else None

    @property
    def minutes(self) -> float:
        return round(total(self.spans).total_seconds() / 60, 1)


def presence(spans: list[Interval], window: Window, sources: frozenset[str]) -> Presence:
    return Presence(tuple(clip(merge(spans), window.opens_at, window.closes_at)), sources)


def status(seen: Presence, window: Window) -> AttendanceStatus:
    """`no-show` (never there; `expected` while it can still happen), `late` (first join after
    start + RDV_LATE_AFTER, or not there yet past that point), `left-early` (gone for good more
    than 5 minutes before the end), `attended`."""
    deadline = window.starts_at + window.late_after
    if not seen.spans:
        if window.over:
            return AttendanceStatus.NO_SHOW
        return AttendanceStatus.LATE if window.now > deadline else AttendanceStatus.EXPECTED
    if seen.first_join is not None and seen.first_join > deadline:
        return AttendanceStatus.LATE
    if seen.sources == {"link"}:  # a click on the stream link: nothing more to know
        return AttendanceStatus.ATTENDED
    last = seen.last_leave
    if last is not None and last < window.ends_at - LEFT_EARLY_MARGIN and last < window.now:
        return AttendanceStatus.LEFT_EARLY
    return AttendanceStatus.ATTENDED


def together(sides: list[list[Interval]]) -> list[Interval]:
    """When every side (the company, the buyer) was in the room at once."""
    if not sides:
        return []
    shared = merge(sides[0])
    for side in sides[1:]:
        shared = overlap(shared, merge(side))
    return shared


def minutes_between(sides: list[list[Interval]], start: datetime, end: datetime) -> float:
    """Minutes every side was in the room at once between `start` and `end`."""
    shared = total(clip(together(sides), start, end))
    return round(shared.total_seconds() / 60, 1)


def held(sides: list[list[Interval]]) -> tuple[bool, float]:
    """A meeting is held when both sides were together for at least 5 minutes."""
    shared = total(together(sides))
    return shared >= HELD_TOGETHER, round(shared.total_seconds() / 60, 1)
