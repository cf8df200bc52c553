"""Local moves on a schedule. `improve` places an open request by moving one or two meetings that
stand in its way to another slot, or, failing that, by bumping a less important one; `compact`
moves meetings to slots that shorten people's waits.

Cheap, they give CP-SAT a strong first solution and mend what a time-limited or split solve left.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator, Mapping

from .greedy import order
from .model import Instance, Meeting


class State:
    """A schedule with an index of who sits where, for quick moves."""

    def __init__(self, instance: Instance, meetings: Mapping[int, Meeting]) -> None:
        self.instance = instance
        self.meetings: dict[int, Meeting] = {}
        self.occupant: dict[tuple[int, int], int] = {}
        self.at: dict[int, set[int]] = defaultdict(set)
        self.count = [0] * len(instance.people)
        for index, meeting in meetings.items():
            self.add(index, meeting)

    def add(self, index: int, meeting: Meeting) -> None:
        self.meetings[index] = meeting
        for person in meeting.people:
            self.occupant[person, meeting.slot] = index
            self.count[person] += 1
        self.at[meeting.slot].add(index)

    def remove(self, index: int) -> Meeting:
        meeting = self.meetings.pop(index)
        for person in meeting.people:
            del self.occupant[person, meeting.slot]
            self.count[person] -= 1
        self.at[meeting.slot].discard(index)
        return meeting

    def room(self, slot: int) -> bool:
        room = self.instance.room(slot)
        return room is None or len(self.at[slot]) < room

    def can_sit(self, person: int, slot: int) -> bool:
        return (
            slot in self.instance.available[person]
            and slot not in self.instance.busy[person]
            and (person, slot) not in self.occupant
        )

    def under_cap(self, person: int) -> bool:
        capacity = self.instance.capacity(person)
        return capacity is None or self.count[person] < capacity

    def relocate(self, index: int, avoid: int) -> bool:
        """Moves a meeting to another slot where its people are free; False if there is none."""
        meeting = self.remove(index)
        for slot in range(len(self.instance.slots)):
            if (
                slot != avoid
                and self.room(slot)
                and all(self.can_sit(person, slot) for person in meeting.people)
            ):
                self.add(index, Meeting(slot, meeting.people))
                return True
        self.add(index, meeting)
        return False

    def options(self, index: int) -> Iterator[tuple[int, int, int]]:
        """(slot, left, right) where the demand's people are available and not fixed-busy."""
        instance = self.instance
        first, second = instance.demands[index].sides
        for slot in range(len(instance.slots)):
            for left in first:
                if slot not in instance.available[left] or slot in instance.busy[left]:
                    continue
                for right in second:
                    if slot in instance.available[right] and slot not in instance.busy[right]:
                        yield slot, left, right

    def insert(self, index: int, *, bump: bool) -> bool:
        """Places the demand, moving what blocks it; with `bump`, may drop one less important
        meeting instead (the caller re-tries that one)."""
        priority = self.instance.demands[index].priority
        for slot, left, right in self.options(index):
            if not (self.under_cap(left) and self.under_cap(right)):
                continue
            blockers = {self.occupant.get((p, slot)) for p in (left, right)} - {None}
            moved: list[tuple[int, Meeting]] = []
            ok = True
            for blocker in blockers:
                assert blocker is not None
                before = self.meetings[blocker]
                if self.relocate(blocker, slot):
                    moved.append((blocker, before))
                else:
                    ok = False
                    break
            if ok and not self.room(slot):
                ok = any(self.relocate(other, slot) for other in list(self.at[slot]))
            if ok:
                self.add(index, Meeting(slot, (left, right)))
                return True
            for blocker, before in reversed(moved):
                self.remove(blocker)
                self.add(blocker, before)
            if bump and len(blockers) == 1:
                (blocker,) = blockers
                assert blocker is not None
                if self.instance.demands[blocker].priority < priority:
                    before = self.remove(blocker)
                    if self.room(slot):
                        self.add(index, Meeting(slot, (left, right)))
                        return True
                    self.add(blocker, before)
        return False


def improve(
    instance: Instance, meetings: Mapping[int, Meeting], *, seconds: float = 5.0
) -> dict[int, Meeting]:
    """`meetings` with open demands placed by moves, until nothing more helps or time is up."""
    deadline = time.perf_counter() + seconds
    state = State(instance, meetings)
    for bump in (False, True, False):
        progress = True
        while progress and time.perf_counter() < deadline:
            progress = False
            for index in order(instance):
                if index in state.meetings:
                    continue
                if time.perf_counter() > deadline:
                    break
                if state.insert(index, bump=bump):
                    progress = True
    return state.meetings


def compact(
    instance: Instance, meetings: Mapping[int, Meeting], *, seconds: float = 5.0
) -> dict[int, Meeting]:
    """`meetings` with single meetings moved, while a move shortens its two people's waits.
    A meeting at its current slot stays there."""
    deadline = time.perf_counter() + seconds
    state = State(instance, meetings)
    day = [slot.day for slot in instance.slots]
    by_day: dict[int, list[int]] = defaultdict(list)
    for number, moment in enumerate(instance.slots):
        by_day[moment.day].append(number)

    def wait(person: int, on: int) -> int:
        taken = [
            t for t in by_day[on] if (person, t) in state.occupant or t in instance.busy[person]
        ]
        return taken[-1] - taken[0] + 1 - len(taken) if taken else 0

    def waits(people: tuple[int, int], days: set[int]) -> int:
        return sum(wait(person, on) for person in people for on in days)

    progress = True
    while progress and time.perf_counter() < deadline:
        progress = False
        for index in list(state.meetings):
            meeting = state.meetings[index]
            current = instance.current.get(index)
            if current is not None and current.slot == meeting.slot:
                continue
            for slot in range(len(instance.slots)):
                if slot == meeting.slot or not state.room(slot):
                    continue
                if not all(state.can_sit(person, slot) for person in meeting.people):
                    continue
                days = {day[slot], day[meeting.slot]}
                before = waits(meeting.people, days)
                state.remove(index)
                state.add(index, Meeting(slot, meeting.people))
                if waits(meeting.people, days) < before:
                    progress = True
                    meeting = state.meetings[index]
                    continue
                state.remove(index)
                state.add(index, meeting)
            if time.perf_counter() > deadline:
                break
    return state.meetings
