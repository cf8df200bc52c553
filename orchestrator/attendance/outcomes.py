"""What the attendance log says of each session: the session and its room as the log saw them,
and a line per person (expected, substitute or guest). Plain values, computed by `log.py`, read
by the dashboard, the report, the figures and the announcements."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .roster import Person
from .rules import Presence, Window


@dataclass(frozen=True, slots=True)
class Line:
    """One row of the log: an expected person, a substitute or a guest."""

    person: Person | None
    name: str
    email: str | None
    role: str
    presence: Presence
    status: str
    substitute_for: Person | None = None
    attendee_id: int | None = None
    answer: str = "needs-action"  # what the seat's person said ahead (participants/answers.py)
    answer_reason: str | None = None

    @property
    def organisation_kind(self) -> str | None:
        return self.person.kind if self.person else None


@dataclass(frozen=True, slots=True)
class SessionSeen:
    """What the log says of a session. Plain columns, not the ORM's objects: loading 6,000 of
    those was a third of a whole event's dashboard."""

    id: int
    key: str
    kind: str
    title: str
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True, slots=True)
class RoomSeen:
    """What the log says of a session's room."""

    id: int
    state: str
    provider: str
    error: str | None


@dataclass(frozen=True, slots=True)
class Outcome:
    """A session as it went (or is going)."""

    session: SessionSeen
    room: RoomSeen
    window: Window
    lines: tuple[Line, ...]
    held: bool | None
    together_minutes: float

    @property
    def missing(self) -> list[Line]:
        return [line for line in self.lines if line.status == "no-show" and line.person]
