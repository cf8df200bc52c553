"""Plays the plan on the day's clock: each delivery when its moment comes, each line of the story
as it happens."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from .clock import DemoClock
from .jitsi import EventSync
from .scenario import Beat, Plan, Visit

Act = Callable[[], Awaitable[str | None]]

# Within one instant: rooms fill, people join, leave, rooms empty, then the story says so.
ROOM_CREATED, JOINED, LEFT, ROOM_DESTROYED, STORY = range(5)


@dataclass(order=True, frozen=True)
class Step:
    at: datetime
    order: int
    act: Act = field(compare=False)


def steps(
    plan: Plan, jitsi: EventSync, publish_replay: Act, clock: DemoClock, zone: ZoneInfo
) -> list[Step]:
    """Every delivery and line of the day, in the order of the day."""
    found: list[Step] = []
    rooms: dict[str, list[Visit]] = {}
    for visit in plan.visits:
        if visit.joined is not None and visit.left is not None:
            rooms.setdefault(visit.sitting.key, []).append(visit)
            found.append(Step(visit.joined, JOINED, _occupant(jitsi, "joined", visit)))
            found.append(Step(visit.left, LEFT, _occupant(jitsi, "left", visit)))
    for visits in rooms.values():
        opened = min(v.joined for v in visits if v.joined)
        emptied = max(v.left for v in visits if v.left)
        found.append(Step(opened, ROOM_CREATED, _room(jitsi, "created", visits[0], opened)))
        found.append(Step(emptied, ROOM_DESTROYED, _room(jitsi, "destroyed", visits[0], emptied)))
    twice = plan.duplicate
    assert twice.joined is not None
    found.append(Step(twice.joined, JOINED, _duplicate(jitsi, twice)))
    found += [Step(beat.at, STORY, _tell(beat, clock, zone)) for beat in plan.beats]
    found.append(Step(plan.replay_at, STORY, publish_replay))
    return sorted(found)  # stable: the duplicate comes after the first delivery


async def play(found: list[Step], clock: DemoClock, say: Callable[[datetime, str], None]) -> None:
    for step in found:
        await asyncio.sleep(clock.real_seconds_until(step.at))
        line = await step.act()
        if line:
            say(step.at, line)


def _occupant(jitsi: EventSync, kind: str, visit: Visit) -> Act:
    async def act() -> None:
        await jitsi.post(jitsi.occupant(kind, visit))

    return act


def _room(jitsi: EventSync, kind: str, visit: Visit, at: datetime) -> Act:
    async def act() -> None:
        await jitsi.room(kind, visit.sitting, at)

    return act


def _duplicate(jitsi: EventSync, visit: Visit) -> Act:
    """The same join delivered once more, as providers do when an acknowledgement is lost."""

    async def act() -> str:
        answer = await jitsi.post(jitsi.occupant("joined", visit))
        return (
            f"Jitsi delivers {visit.person.name}'s join a second time: acknowledged, "
            f"{answer.get('accepted', '?')} new events, {answer.get('duplicates', '?')} duplicate"
        )

    return act


def _tell(beat: Beat, clock: DemoClock, zone: ZoneInfo) -> Act:
    async def act() -> str:
        if beat.next_at is None:
            return beat.text
        wait = clock.real_seconds_until(beat.next_at)
        return f"{beat.text}; next slot at {beat.next_at.astimezone(zone):%H:%M} (in {wait:.0f} s)"

    return act
