"""Figures of a schedule (weighted count, idle slots) and a check that it breaks no rule; the
solvers, the benchmark and the tests all judge a schedule with these."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping

from .model import Instance, Meeting


def weighted(instance: Instance, meetings: Mapping[int, Meeting]) -> int:
    return sum(instance.demands[index].priority for index in meetings)


def total_weight(instance: Instance) -> int:
    return sum(demand.priority for demand in instance.demands)


def idle_slots(instance: Instance, meetings: Mapping[int, Meeting]) -> int:
    """Slots inside a person's day (between their first and last meeting) where they wait.

    A day's span counts slot positions only, so a break between two windows is not waiting; the
    sessions that do not move count as busy."""
    taken: dict[int, set[int]] = defaultdict(set)
    for meeting in meetings.values():
        for person in meeting.people:
            taken[person].add(meeting.slot)
    total = 0
    for person, slots in taken.items():
        busy = slots | instance.busy[person]
        by_day: dict[int, list[int]] = defaultdict(list)
        for slot in busy:
            by_day[instance.slots[slot].day].append(slot)
        for day_slots in by_day.values():
            total += max(day_slots) - min(day_slots) + 1 - len(day_slots)
    return total


def people_met(meetings: Mapping[int, Meeting]) -> int:
    return len({person for meeting in meetings.values() for person in meeting.people})


def violations(instance: Instance, meetings: Mapping[int, Meeting]) -> list[str]:
    """Every broken rule, in words; empty for a valid schedule."""
    found: list[str] = []
    seen: set[tuple[int, int]] = set()
    per_person: Counter[int] = Counter()
    per_slot: Counter[int] = Counter()
    for index, meeting in meetings.items():
        demand = instance.demands[index]
        for side, person in zip(demand.sides, meeting.people, strict=True):
            if person not in side:
                found.append(f"demand {index}: person {person} is not on its side")
            if meeting.slot not in instance.free(person):
                found.append(f"demand {index}: person {person} is not free at {meeting.slot}")
            if (person, meeting.slot) in seen:
                found.append(f"person {person} is in two meetings at {meeting.slot}")
            seen.add((person, meeting.slot))
            per_person[person] += 1
        per_slot[meeting.slot] += 1
    for person, count in per_person.items():
        capacity = instance.capacity(person)
        if capacity is not None and count > capacity:
            found.append(f"person {person} has {count} meetings, over max_per_person")
    for slot, count in per_slot.items():
        room = instance.room(slot)
        if room is not None and count > room:
            found.append(f"slot {slot} holds {count} meetings, over max_parallel")
    return found
