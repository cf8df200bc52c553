"""The linear relaxation of the placement model, solved with GLOP, as CP-SAT's starting point.

On meeting schedules the relaxation is nearly always integral (every person's slot choices form a
matching), so rounding it and repairing the rest is usually already optimal: CP-SAT then only has
to prove it, which its own LP does quickly. Finding that solution is what CP-SAT's search is slow
at on these models.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ortools.linear_solver import pywraplp

from .model import Instance, Meeting

ONE = 1 - 1e-6
Row = Callable[[str, int, int, float], pywraplp.Constraint]


def weights(instance: Instance) -> list[int]:
    """Each demand's worth with must-meet requests first: one must-meet outweighs all others."""
    others = sum(demand.priority for demand in instance.demands) + 1
    return [demand.priority + (others if demand.must else 0) for demand in instance.demands]


@dataclass(frozen=True, slots=True)
class Relaxation:
    """The meetings the relaxation places whole, every demand's fractional share, and the
    relaxation's optimum rounded down: a ceiling no schedule's `value` can pass."""

    whole: dict[int, Meeting]
    share: dict[int, float]
    bound: int


def value(instance: Instance, meetings: Mapping[int, Meeting]) -> int:
    """What the placement stage maximises: `weights`, times one more than the meetings that
    could stay where they are, plus one for each that does."""
    worth = weights(instance)
    keep = len(instance.current) + 1
    current = instance.current
    stays = sum(
        1
        for index, meeting in meetings.items()
        if index in current and current[index].slot == meeting.slot
    )
    return sum(worth[index] for index in meetings) * keep + stays


def relax(
    instance: Instance,
    x: Mapping[tuple[int, int], object],
    z: Mapping[tuple[int, int, int, int], object],
    *,
    seconds: float,
) -> Relaxation | None:
    """None when GLOP finds no optimum in time. `x` and `z` give CP-SAT's variables."""
    solver = pywraplp.Solver.CreateSolver("GLOP")
    if solver is None:
        return None
    solver.SetTimeLimit(max(1, int(seconds * 1000)))
    worth = weights(instance)
    keep = len(instance.current) + 1
    columns: dict[tuple[int, int], pywraplp.Variable] = {}
    takers: dict[tuple[int, int, int, int], pywraplp.Variable] = {}
    rows: dict[tuple[str, int, int], pywraplp.Constraint] = {}

    def row(kind: str, first: int, second: int, limit: float) -> pywraplp.Constraint:
        found = rows.get((kind, first, second))
        if found is None:
            found = rows[kind, first, second] = solver.Constraint(-solver.infinity(), limit)
        return found

    objective = solver.Objective()
    for index, slot in x:
        column = columns[index, slot] = solver.NumVar(0, 1, "")
        current = instance.current.get(index)
        stays = current is not None and current.slot == slot
        objective.SetCoefficient(column, worth[index] * keep + (1 if stays else 0))
        row("demand", index, 0, 1).SetCoefficient(column, 1)
        room = instance.room(slot)
        if room is not None:
            row("slot", slot, 0, room).SetCoefficient(column, 1)
        first, second = instance.demands[index].sides
        if len(first) == 1 and len(second) == 1:
            _seat(instance, row, column, first[0], slot)
            _seat(instance, row, column, second[0], slot)
    for (index, side, person, slot), _ in z.items():
        taker = takers[index, side, person, slot] = solver.NumVar(0, 1, "")
        balance = rows.get(("balance", index * 2 + side, slot))
        if balance is None:
            balance = rows["balance", index * 2 + side, slot] = solver.Constraint(0, 0)
            balance.SetCoefficient(columns[index, slot], -1)
        balance.SetCoefficient(taker, 1)
        _seat(instance, row, taker, person, slot)
    objective.SetMaximization()
    if solver.Solve() != pywraplp.Solver.OPTIMAL:
        return None
    optimum = objective.Value()
    # Rounded down after a margin well above GLOP's tolerances: a ceiling, never too low.
    ceiling = math.floor(optimum + max(1e-6, abs(optimum) * 1e-7))
    whole: dict[int, Meeting] = {}
    share: dict[int, float] = defaultdict(float)
    chosen: dict[int, dict[int, int]] = defaultdict(dict)
    for (index, side, person, _), taker in takers.items():
        if taker.solution_value() >= ONE:
            chosen[index][side] = person
    for (index, slot), column in columns.items():
        value = column.solution_value()
        share[index] += value
        if value >= ONE:
            first, second = instance.demands[index].sides
            if len(first) == 1 and len(second) == 1:
                whole[index] = Meeting(slot, (first[0], second[0]))
            elif len(chosen[index]) == 2:
                whole[index] = Meeting(slot, (chosen[index][0], chosen[index][1]))
    return Relaxation(whole, dict(share), ceiling)


def _seat(instance: Instance, row: Row, column: pywraplp.Variable, person: int, slot: int) -> None:
    row("seat", person, slot, 1).SetCoefficient(column, 1)
    capacity = instance.capacity(person)
    if capacity is not None:
        row("cap", person, 0, capacity).SetCoefficient(column, 1)
