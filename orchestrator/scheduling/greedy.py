"""The baseline other platforms use: each request, most important first, in the earliest slot
where both sides are free. Also fills what a time-limited solver left open."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

from .model import Instance, Meeting, Solution


class Tracker:
    """Who is taken when, meetings per person and per slot, as meetings are added."""

    def __init__(self, instance: Instance) -> None:
        self.instance = instance
        self.taken: list[set[int]] = [set() for _ in instance.people]
        self.count = [0] * len(instance.people)
        self.parallel = [0] * len(instance.slots)

    def add(self, meeting: Meeting) -> None:
        for person in meeting.people:
            self.taken[person].add(meeting.slot)
            self.count[person] += 1
        self.parallel[meeting.slot] += 1

    def person_open(self, person: int, slot: int) -> bool:
        capacity = self.instance.capacity(person)
        return (
            (capacity is None or self.count[person] < capacity)
            and slot in self.instance.available[person]
            and slot not in self.instance.busy[person]
            and slot not in self.taken[person]
        )

    def slot_open(self, slot: int) -> bool:
        room = self.instance.room(slot)
        return room is None or self.parallel[slot] < room

    def first_fit(self, index: int) -> Meeting | None:
        """The earliest slot where one person of each side is free, and who takes it."""
        first, second = self.instance.demands[index].sides
        for slot in self._candidates(first, second):
            if not self.slot_open(slot):
                continue
            left = next((p for p in first if self.person_open(p, slot)), None)
            if left is None:
                continue
            right = next((p for p in second if p != left and self.person_open(p, slot)), None)
            if right is not None:
                return Meeting(slot, (left, right))
        return None

    def _candidates(self, first: tuple[int, ...], second: tuple[int, ...]) -> list[int]:
        available = self.instance.available
        if len(first) == 1 and len(second) == 1:
            return sorted(available[first[0]] & available[second[0]])
        left = frozenset[int]().union(*(available[person] for person in first))
        right = frozenset[int]().union(*(available[person] for person in second))
        return sorted(left & right)


def order(instance: Instance) -> list[int]:
    """Most important first, then as the organiser listed them."""
    return sorted(
        range(len(instance.demands)),
        key=lambda i: (-instance.demands[i].priority, instance.demands[i].request),
    )


def fill(
    instance: Instance, meetings: Mapping[int, Meeting], indices: Iterable[int] | None = None
) -> dict[int, Meeting]:
    """`meetings` plus every further demand placed at its earliest open slot."""
    tracker = Tracker(instance)
    result = dict(meetings)
    for meeting in result.values():
        tracker.add(meeting)
    for index in order(instance) if indices is None else indices:
        if index in result:
            continue
        found = tracker.first_fit(index)
        if found is not None:
            tracker.add(found)
            result[index] = found
    return result


def keep_current(instance: Instance) -> dict[int, Meeting]:
    """The movable meetings that can stay where they are, in priority order."""
    tracker = Tracker(instance)
    kept: dict[int, Meeting] = {}
    for index in order(instance):
        meeting = instance.current.get(index)
        if meeting is None or not tracker.slot_open(meeting.slot):
            continue
        if all(tracker.person_open(person, meeting.slot) for person in meeting.people):
            tracker.add(meeting)
            kept[index] = meeting
    return kept


def solve_greedy(instance: Instance) -> Solution:
    started = time.perf_counter()
    meetings = fill(instance, keep_current(instance))
    return Solution(meetings, "greedy", seconds=time.perf_counter() - started)
