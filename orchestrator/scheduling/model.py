"""Plain frozen data: the solver's instance and its answer (the requests it places are the
program's, in `program/model.py`).

The instance numbers people and slots so that the solvers work on small integers; names and
times come back only when the answer is explained or written as sessions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from ..program.model import MUST_MEET


@dataclass(frozen=True, slots=True)
class Slot:
    start: datetime
    end: datetime
    day: int
    window: int


@dataclass(frozen=True, slots=True)
class Demand:
    """A request as the solvers see it: who may take each side (one person each for a request
    between people, any of an organisation's people otherwise) and what it is worth."""

    request: int
    priority: int
    sides: tuple[tuple[int, ...], tuple[int, ...]]

    @property
    def must(self) -> bool:
        return self.priority >= MUST_MEET


@dataclass(frozen=True, slots=True)
class Meeting:
    """Where a demand is placed: a slot and one person of each side."""

    slot: int
    people: tuple[int, int]


@dataclass(frozen=True, slots=True)
class Instance:
    """People and slots by number. `available` comes from availability and the windows; `busy`
    holds the slots already taken by sessions that do not move (fixed, plenary, kept meetings);
    `load` and `used` count those meetings toward `max_per_person` and `max_parallel`.
    `current` is where a movable meeting sits now: keeping it there is preferred."""

    slots: tuple[Slot, ...]
    people: tuple[str, ...]
    available: tuple[frozenset[int], ...]
    busy: tuple[frozenset[int], ...]
    load: tuple[int, ...]
    used: tuple[int, ...]
    demands: tuple[Demand, ...]
    max_parallel: int | None = None
    max_per_person: int | None = None
    current: Mapping[int, Meeting] = field(default_factory=dict)

    def free(self, person: int) -> frozenset[int]:
        return self.available[person] - self.busy[person]

    def room(self, slot: int) -> int | None:
        """Parallel places left at `slot`, or None when unlimited."""
        if self.max_parallel is None:
            return None
        return max(0, self.max_parallel - self.used[slot])

    def capacity(self, person: int) -> int | None:
        """Meetings `person` may still get, or None when unlimited."""
        if self.max_per_person is None:
            return None
        return max(0, self.max_per_person - self.load[person])


@dataclass(frozen=True, slots=True)
class Solution:
    """The placed demands (by position in `Instance.demands`) and what is known of their quality:
    `optimal` when the placement is proven best, `bound` the proven ceiling of the weighted count,
    `idle_optimal` when the idle gaps are proven fewest for that placement."""

    meetings: Mapping[int, Meeting]
    method: str
    optimal: bool = False
    bound: int | None = None
    idle_optimal: bool = False
    seconds: float = 0.0
    notes: tuple[str, ...] = ()


def restrict(
    instance: Instance, slots: Sequence[int], wanted: Sequence[int], placed: Mapping[int, Meeting]
) -> Instance:
    """The instance cut down to `slots` (renumbered in that order) and the demands `wanted`
    (renumbered likewise), with the `placed` meetings as fixed as any session."""
    local = {slot: number for number, slot in enumerate(slots)}
    busy: list[set[int]] = [set() for _ in instance.people]
    load = list(instance.load)
    used = [instance.used[slot] for slot in slots]
    for meeting in placed.values():
        for person in meeting.people:
            load[person] += 1
            if meeting.slot in local:
                busy[person].add(local[meeting.slot])
        if meeting.slot in local:
            used[local[meeting.slot]] += 1
    current: dict[int, Meeting] = {}
    for position, index in enumerate(wanted):
        now = instance.current.get(index)
        if now is not None and now.slot in local:
            current[position] = Meeting(local[now.slot], now.people)
    return Instance(
        tuple(instance.slots[slot] for slot in slots),
        instance.people,
        tuple(frozenset(local[t] for t in spans if t in local) for spans in instance.available),
        tuple(
            frozenset(local[t] for t in spans if t in local) | frozenset(extra)
            for spans, extra in zip(instance.busy, busy, strict=True)
        ),
        tuple(load),
        tuple(used),
        tuple(instance.demands[index] for index in wanted),
        instance.max_parallel,
        instance.max_per_person,
        current,
    )
