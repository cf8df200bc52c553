"""A scheduling run over HTTP: its options and what it placed, or why not."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, UnsetType

from ...program.schedule import DEFAULT_TIME_LIMIT
from .common import DateTime, Model
from .events import ChangeSet

LONGEST = 600  # seconds: a request that waits longer is better run as `rdv schedule`


class ScheduleOptions(Model):
    """All optional; an empty body schedules with the defaults."""

    move: Annotated[
        bool, msgspec.Meta(description="may move meetings whose invites have not gone out")
    ] = False
    dry_run: Annotated[bool, msgspec.Meta(description="answer the schedule, write nothing")] = False
    time_limit: Annotated[
        float,
        msgspec.Meta(
            gt=0,
            le=LONGEST,
            description=f"seconds the solver may search (at most {LONGEST})",
            extra={"expects": f"a number of seconds above 0, at most {LONGEST}"},
        ),
    ] = DEFAULT_TIME_LIMIT


class ScheduledMeeting(Model):
    """A request's meeting after the run."""

    key: str
    request: Annotated[int, msgspec.Meta(description="position in the program's requests")]
    from_: str = msgspec.field(name="from")
    to: str
    start: DateTime
    end: DateTime
    attendees: list[str]
    change: Literal["new", "kept", "moved", "stuck"]
    before: Annotated[
        DateTime | UnsetType, msgspec.Meta(description="where a moved meeting was")
    ] = UNSET
    why: Annotated[
        str | UnsetType, msgspec.Meta(description="why it moved, or should but cannot")
    ] = UNSET


class UnplacedRequest(Model):
    """A request left without a meeting, and why."""

    request: int
    place: str
    from_: str = msgspec.field(name="from")
    to: str
    reason: Literal[
        "no_common_availability",
        "past",
        "busy",
        "max_per_person",
        "max_parallel",
        "conflict",
        "taken",
        "time_limit",
        "nobody",
    ]
    message: str
    removed: Annotated[bool, msgspec.Meta(description="its earlier meeting was cancelled")]


class Schedule(Model):
    """What was placed, and why the rest was not; `changes` is null on a dry run or when there
    was nothing to schedule."""

    method: Annotated[str, msgspec.Meta(description="exact CP-SAT, or split by window")]
    optimal: Annotated[bool, msgspec.Meta(description="the placement is proven best")]
    seconds: float
    requests: int
    placed: int
    weighted: Annotated[int, msgspec.Meta(description="placed requests weighted by priority")]
    total_weight: int
    bound: Annotated[int | None, msgspec.Meta(description="no schedule weighs more")]
    dry_run: bool
    meetings: list[ScheduledMeeting]
    unplaced: list[UnplacedRequest]
    changes: ChangeSet | None
