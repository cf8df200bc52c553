"""From a validated program and the meetings placed before to the solver's numbered instance.

Meetings placed before are judged first, those whose invites went out first: one that is still
possible stays where it is and becomes as fixed as any session of the program; one that is not
must move, unless its invites went out and moving was not allowed (it then stays, reported).
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from ..program.model import (
    Interval,
    OrganisationSpec,
    PersonSpec,
    Request,
    Requests,
    Rules,
    SessionSpec,
)
from .model import Demand, Instance, Meeting, Slot


@dataclass(frozen=True, slots=True)
class Existing:
    """A meeting the scheduler placed before, as it is now."""

    session: SessionSpec
    invited: bool


@dataclass
class Plan:
    """The instance and what the service needs to turn an answer into sessions and words."""

    instance: Instance
    requests: Mapping[int, Request]
    people: Sequence[PersonSpec]
    organisations: Mapping[str, OrganisationSpec]
    spans: Mapping[str, tuple[Interval, ...]]
    tz: ZoneInfo
    windows: tuple[Interval, ...]
    max_parallel: int | None
    max_per_person: int | None
    demand_of: dict[int, int] = field(default_factory=dict)
    skipped: dict[int, str] = field(default_factory=dict)
    kept: dict[int, Existing] = field(default_factory=dict)
    stuck: dict[int, tuple[Existing, str]] = field(default_factory=dict)
    displaced: dict[int, tuple[Existing, str]] = field(default_factory=dict)
    existing: dict[int, Existing] = field(default_factory=dict)
    blockers: dict[tuple[int, int], str] = field(default_factory=dict)
    # Each person's slots by availability alone, those already begun included (for the reasons).
    within: tuple[frozenset[int], ...] = ()


def cut(rules: Rules, tz: ZoneInfo) -> tuple[Slot, ...]:
    """Slots of `slot_minutes` from the start of each window, `gap_minutes` apart."""
    length, step = (
        timedelta(minutes=rules.slot_minutes),
        timedelta(minutes=rules.slot_minutes + rules.gap_minutes),
    )
    days: dict[object, int] = {}
    slots: list[Slot] = []
    for number, (start, end) in enumerate(rules.windows):
        moment = start
        while moment + length <= end:
            day = days.setdefault(moment.astimezone(tz).date(), len(days))
            slots.append(Slot(moment, moment + length, day, number))
            moment += step
    return tuple(slots)


class _Calendar:
    """Finds the slots an interval overlaps or contains, by bisection on slot starts."""

    def __init__(self, slots: tuple[Slot, ...]) -> None:
        self.slots = slots
        self.starts = [slot.start for slot in slots]

    def overlapping(self, start: datetime, end: datetime) -> range:
        first = bisect.bisect_right(self.starts, start) - 1
        if first < 0 or self.slots[first].end <= start:
            first += 1
        return range(first, bisect.bisect_left(self.starts, end))

    def within(self, spans: tuple[Interval, ...]) -> frozenset[int]:
        found: set[int] = set()
        for start, end in spans:
            found.update(
                t
                for t in self.overlapping(start, end)
                if self.slots[t].end <= end and self.slots[t].start >= start
            )
        return frozenset(found)


def build(
    requests: Requests,
    *,
    people: Sequence[PersonSpec],
    organisations: Sequence[OrganisationSpec],
    fixed: Sequence[SessionSpec],
    existing: Mapping[int, Existing],
    tz: ZoneInfo,
    move: bool,
    not_before: datetime | None = None,
) -> Plan:
    """`existing` maps a request's index to the meeting placed for it before; no new meeting
    starts before `not_before` (now, when scheduling for real)."""
    rules = requests.rules
    slots = cut(rules, tz)
    calendar = _Calendar(slots)
    past = frozenset(
        t for t, slot in enumerate(slots) if not_before is not None and slot.start < not_before
    )
    number = {person.key: index for index, person in enumerate(people)}
    members: dict[str, list[int]] = defaultdict(list)
    for index, person in enumerate(people):
        if person.organisation is not None:
            members[person.organisation].append(index)
    spans = {person.key: requests.availability.get(person.key, rules.windows) for person in people}
    cache: dict[tuple[Interval, ...], frozenset[int]] = {}
    within = [cache.setdefault(spans[p.key], calendar.within(spans[p.key])) for p in people]
    trimmed: dict[frozenset[int], frozenset[int]] = {}
    available = [trimmed.setdefault(slots_in, slots_in - past) for slots_in in within]
    busy: list[set[int]] = [set() for _ in people]
    load, used = [0] * len(people), [0] * len(slots)
    intervals: dict[int, list[Interval]] = defaultdict(list)
    plan = Plan(
        Instance((), (), (), (), (), (), ()),
        {request.index: request for request in requests.requests},
        people,
        {organisation.key: organisation for organisation in organisations},
        spans,
        tz,
        rules.windows,
        rules.max_parallel,
        rules.max_per_person,
    )

    def occupy(session: SessionSpec) -> None:
        overlapped = calendar.overlapping(session.starts_at, session.ends_at)
        for key in session.attendees:
            person = number[key]
            intervals[person].append((session.starts_at, session.ends_at))
            for slot in overlapped:
                busy[person].add(slot)
                plan.blockers.setdefault((person, slot), session.key)
            if session.kind == "meeting":
                load[person] += 1
        if session.kind == "meeting":
            for slot in overlapped:
                used[slot] += 1

    for session in fixed:
        occupy(session)
    sides = {index: _sides(request, number, members) for index, request in plan.requests.items()}
    fixed_keys = {session.key for session in fixed}
    order = sorted(
        existing.items(), key=lambda item: (not item[1].invited, -plan.requests[item[0]].priority)
    )
    for index, found in order:
        plan.existing[index] = found
        why = _infeasible(
            found.session, sides[index], plan, number, intervals, load, used, calendar
        )
        if why is None and not (move and not found.invited):
            plan.kept[index] = found
            occupy(found.session)
        elif why is not None and found.invited and not move:
            plan.stuck[index] = (found, why)
            occupy(found.session)
        elif why is not None:
            plan.displaced[index] = (found, why)
    demands: list[Demand] = []
    current: dict[int, Meeting] = {}
    for index, request in plan.requests.items():
        if request.session_key in fixed_keys:
            plan.skipped[index] = f'already in the program as session "{request.session_key}"'
        elif index in plan.kept or index in plan.stuck:
            continue
        elif not sides[index][0] or not sides[index][1]:
            empty = request.source if not sides[index][0] else request.target
            name = plan.organisations[empty].name if empty in plan.organisations else empty
            plan.skipped[index] = f"{name} has nobody in the program to take the meeting"
        else:
            found_meeting = existing.get(index)
            if found_meeting is not None and index not in plan.displaced:
                meeting = _on_grid(found_meeting.session, calendar, sides[index], number)
                if meeting is not None:
                    current[len(demands)] = meeting
            plan.demand_of[index] = len(demands)
            demands.append(Demand(index, request.priority, sides[index]))
    plan.within = tuple(within)
    plan.instance = Instance(
        slots,
        tuple(person.key for person in people),
        tuple(available),
        tuple(frozenset(slots_taken) for slots_taken in busy),
        tuple(load),
        tuple(used),
        tuple(demands),
        rules.max_parallel,
        rules.max_per_person,
        current,
    )
    return plan


def _sides(
    request: Request, number: Mapping[str, int], members: Mapping[str, list[int]]
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    if request.organisations:
        return tuple(members.get(request.source, ())), tuple(members.get(request.target, ()))
    return (number[request.source],), (number[request.target],)


def _on_grid(
    session: SessionSpec,
    calendar: _Calendar,
    sides: tuple[tuple[int, ...], tuple[int, ...]],
    number: Mapping[str, int],
) -> Meeting | None:
    slots = calendar.overlapping(session.starts_at, session.ends_at)
    if len(slots) != 1 or len(session.attendees) != 2:
        return None
    slot = calendar.slots[slots[0]]
    if (slot.start, slot.end) != (session.starts_at, session.ends_at):
        return None
    first, second = (number.get(key, -1) for key in session.attendees)
    if first in sides[1] and second in sides[0]:
        first, second = second, first
    return Meeting(slots[0], (first, second))


def _infeasible(
    session: SessionSpec,
    sides: tuple[tuple[int, ...], tuple[int, ...]],
    plan: Plan,
    number: Mapping[str, int],
    intervals: Mapping[int, list[Interval]],
    load: list[int],
    used: list[int],
    calendar: _Calendar,
) -> str | None:
    """Why a meeting placed before cannot stay where it is now, or None when it can."""
    names = {person.key: person.name for person in plan.people}
    attendees = [number.get(key) for key in session.attendees]
    if None in attendees or len(attendees) != 2:
        return "its attendees are no longer the ones requested"
    first, second = attendees
    if not (
        (first in sides[0] and second in sides[1]) or (first in sides[1] and second in sides[0])
    ):
        return "its attendees are no longer the ones requested"
    start, end = session.starts_at, session.ends_at
    if not any(a <= start and end <= b for a, b in plan.windows):
        return "it is outside the schedule's windows now"
    for key in session.attendees:
        person = number[key]
        if not any(a <= start and end <= b for a, b in plan.spans[key]):
            return f"{names[key]} is no longer available then"
        if any(a < end and start < b for a, b in intervals[person]):
            return f"{names[key]} is now in another session then"
        if plan.max_per_person is not None and load[person] >= plan.max_per_person:
            return f"{names[key]} would pass max_per_person ({plan.max_per_person})"
    if plan.max_parallel is not None and any(
        used[slot] >= plan.max_parallel for slot in calendar.overlapping(start, end)
    ):
        return f"all {plan.max_parallel} parallel places are taken then"
    return None
