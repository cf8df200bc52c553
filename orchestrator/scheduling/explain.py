"""Why a request was not placed, in the organiser's words, read off the final schedule: nobody
there, no common availability, the common slots already begun, other sessions, a person's cap,
the parallel cap, other meetings."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from ..program.model import Interval
from .greedy import Tracker
from .instance import Plan
from .model import Meeting

SHOWN = 4  # slots named in a reason before "…"


@dataclass(frozen=True, slots=True)
class Reason:
    kind: str
    text: str


class Words:
    """Times as the organiser reads them: local, the date only when the schedule spans days."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.several_days = len({slot.day for slot in plan.instance.slots}) > 1
        self.people = {person.key: person.name for person in plan.people}

    def name(self, key: str, organisation: bool) -> str:
        return self.plan.organisations[key].name if organisation else self.people[key]

    def moment(self, at: datetime) -> str:
        local = at.astimezone(self.plan.tz)
        return local.strftime("%Y-%m-%d %H:%M" if self.several_days else "%H:%M")

    def span(self, interval: Interval) -> str:
        end = interval[1].astimezone(self.plan.tz).strftime("%H:%M")
        return f"{self.moment(interval[0])}–{end}"

    def slots(self, numbers: Iterable[int]) -> str:
        ordered = sorted(numbers)
        shown = ", ".join(self.moment(self.plan.instance.slots[t].start) for t in ordered[:SHOWN])
        return shown + (", …" if len(ordered) > SHOWN else "")

    def availability(self, keys: Iterable[str]) -> str:
        """The times some of `keys` are available, inside the windows, merged."""
        pieces: list[Interval] = []
        for key in keys:
            for start, end in self.plan.spans[key]:
                for window_start, window_end in self.plan.windows:
                    low, high = max(start, window_start), min(end, window_end)
                    if low < high:
                        pieces.append((low, high))
        merged: list[Interval] = []
        for start, end in sorted(pieces):
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
            else:
                merged.append((start, end))
        return ", ".join(self.span(piece) for piece in merged) or "at no time within the windows"


def explain(plan: Plan, meetings: Mapping[int, Meeting], *, proven: bool) -> dict[int, Reason]:
    """A reason for every demand of `plan.instance` that `meetings` leaves out, by request."""
    instance = plan.instance
    tracker = Tracker(instance)
    for meeting in meetings.values():
        tracker.add(meeting)
    words = Words(plan)
    found: dict[int, Reason] = {}
    for index, demand in enumerate(instance.demands):
        if index in meetings:
            continue
        reason = _reason(plan, tracker, words, index)
        if not proven and reason.kind in ("max_per_person", "max_parallel", "conflict", "taken"):
            reason = Reason(
                reason.kind,
                reason.text + " (the search stopped at its time limit: a longer one may fit it)",
            )
        found[demand.request] = reason
    return found


def _reason(plan: Plan, tracker: Tracker, words: Words, index: int) -> Reason:
    instance = plan.instance
    demand = instance.demands[index]
    request = plan.requests[demand.request]
    sides = demand.sides
    names = (
        words.name(request.source, request.organisations),
        words.name(request.target, request.organisations),
    )
    heard = [_union(instance.available[p] for p in side) for side in sides]
    ever = [_union(plan.within[p] for p in side) for side in sides] if plan.within else heard
    if not heard[0] & heard[1] and ever[0] & ever[1]:
        return Reason(
            "past",
            "every slot when both are available has already begun (the last at "
            f"{words.slots([max(ever[0] & ever[1])])})",
        )
    if not heard[0] & heard[1]:
        keys = [[instance.people[p] for p in side] for side in sides]
        return Reason(
            "no_common_availability",
            f"no common free slot: {names[0]} is available {words.availability(keys[0])}, "
            f"{names[1]} {words.availability(keys[1])}",
        )
    free = [_union(instance.free(p) for p in side) for side in sides]
    if not free[0] & free[1]:
        blocked = []
        for slot in sorted(heard[0] & heard[1])[:SHOWN]:
            party = 0 if slot not in free[0] else 1
            session = next(
                (plan.blockers[p, slot] for p in sides[party] if (p, slot) in plan.blockers),
                "another session",
            )
            blocked.append(f'{names[party]} in "{session}" at {words.slots([slot])}')
        return Reason(
            "busy",
            f"no common free slot: whenever both are available, {names[0]} or {names[1]} "
            f"is in another session ({'; '.join(blocked)})",
        )
    for side, name in zip(sides, names, strict=True):
        if plan.max_per_person is not None and all(
            tracker.count[p] >= (instance.capacity(p) or 0) for p in side
        ):
            who = f"everyone of {name}" if len(side) > 1 else name
            return Reason("max_per_person", f"{who} reached max_per_person ({plan.max_per_person})")
    common = sorted(free[0] & free[1])
    full = [slot for slot in common if not tracker.slot_open(slot)]
    held: list[list[int]] = [[], []]
    for slot in common:
        if slot in full:
            continue
        closed = [not any(tracker.person_open(p, slot) for p in side) for side in sides]
        if not any(closed):
            return Reason("time_limit", "the search stopped at its time limit before placing it")
        held[0 if closed[0] else 1].append(slot)
    busy = "; ".join(
        f"{name} at {words.slots(slots)}" for name, slots in zip(names, held, strict=True) if slots
    )
    if not busy:
        return Reason(
            "max_parallel",
            f"all {plan.max_parallel} parallel places are taken at every common slot",
        )
    if not full:
        return Reason(
            "conflict",
            f"{names[0]} or {names[1]} already has a meeting at every common free slot ({busy})",
        )
    return Reason(
        "taken",
        f"every common free slot is taken: all {plan.max_parallel} parallel places at "
        f"{words.slots(full)}; other meetings of {busy}",
    )


def _union(sets: Iterable[frozenset[int]]) -> frozenset[int]:
    return frozenset[int]().union(*sets)
