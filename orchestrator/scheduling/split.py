"""Very large events, solved in parts so that they stay inside time and memory.

A counting model (each person's free slots per window, each window's parallel places, the caps;
a request between organisations counted against one person of each side) chooses a window for
every request. It relaxes the whole problem, so its LP optimum is a ceiling for the whole: the
bound reported. Its solution is nearly always whole, and inside one window the meetings it chose
can nearly always be arranged (each slot is a matching between companies and buyers, and
bipartite meetings fit in as many slots as the busiest person has meetings), so each window is
filled by earliest slot and mended by moves. Then every request left is tried anywhere, and the
time that remains shortens people's waits.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from ortools.linear_solver import pywraplp

from ..progress import Progress
from . import greedy
from .model import Instance, Meeting, Solution, restrict
from .relax import weights
from .repair import compact, improve
from .solver import WORKERS, solve_exact

WHOLE = 0.5  # an LP share from which a request counts as placed in that window
SPLIT_ABOVE = 250_000  # candidate (request, slot) pairs beyond which one model is too slow


def candidates(instance: Instance) -> int:
    """How many (request, slot) variables one whole model would need."""
    total = 0
    for demand in instance.demands:
        total += len(_shared(instance, demand.sides))
    return total


def solve(
    instance: Instance,
    *,
    time_limit: float,
    workers: int = WORKERS,
    progress: Progress | None = None,
) -> Solution:
    """One exact model when it is small enough, else by window then repair."""
    if candidates(instance) <= SPLIT_ABOVE:
        return solve_exact(instance, time_limit=time_limit, workers=workers, progress=progress)
    return solve_split(instance, time_limit=time_limit, workers=workers, progress=progress)


def solve_split(
    instance: Instance,
    *,
    time_limit: float,
    workers: int = WORKERS,
    progress: Progress | None = None,
) -> Solution:
    """The counting model's choices window by window, most important first; then the rest
    anywhere; then shorter waits. `workers` is there for the same call as `solve_exact`: the
    LP and the moves run on one core."""
    told = progress or Progress()
    began = time.perf_counter()
    deadline = began + time_limit
    told.phase("choosing a window for each request (linear model)", seconds=time_limit * 0.3)
    windows: dict[int, list[int]] = defaultdict(list)
    for number, slot in enumerate(instance.slots):
        windows[slot.window].append(number)
    chosen, ceiling = _assign(instance, windows, time_limit * 0.3)
    by_window: dict[int, list[int]] = defaultdict(list)
    for index, choice in chosen.items():
        if choice.share >= WHOLE:
            by_window[choice.window].append(index)
    placed = greedy.keep_current(instance)  # on a re-run with --move, what may stay stays
    for index in placed:
        window = chosen[index].window if index in chosen else None
        if window is not None and index in by_window[window]:
            by_window[window].remove(index)
    parts = sorted(by_window)
    told.phase("placing the requests window by window", total=len(parts))
    if ceiling is not None:
        told.solution(0, ceiling)
    for position, window in enumerate(parts):
        budget = (deadline - time.perf_counter()) * 0.3 / (len(parts) - position)
        wanted = sorted(
            by_window[window],
            key=lambda index: (-instance.demands[index].priority, -chosen[index].share),
        )
        part = _narrowed(restrict(instance, windows[window], wanted, placed), wanted, chosen)
        local = improve(part, greedy.fill(part, {}, range(len(wanted))), seconds=budget)
        for number, meeting in local.items():
            placed[wanted[number]] = Meeting(windows[window][meeting.slot], meeting.people)
        told.advance()
    told.phase("placing the rest and shortening waits", seconds=deadline - time.perf_counter())
    placed = greedy.fill(instance, placed)
    placed = improve(instance, placed, seconds=(deadline - time.perf_counter()) * 0.6)
    placed = compact(instance, placed, seconds=(deadline - time.perf_counter()) * 0.9)
    return Solution(
        placed,
        f"split by window + repair ({len(windows)} windows)",
        bound=ceiling,
        seconds=time.perf_counter() - began,
    )


def _narrowed(part: Instance, wanted: Sequence[int], chosen: Mapping[int, Choice]) -> Instance:
    """`part` with each organisation request taken by the people the counting model counted."""
    demands = list(part.demands)
    for number, index in enumerate(wanted):
        takers = chosen[index].takers
        if takers is not None:
            demand = demands[number]
            demands[number] = replace(demand, sides=((takers[0],), (takers[1],)))
    return replace(part, demands=tuple(demands))


def _shared(instance: Instance, sides: tuple[tuple[int, ...], tuple[int, ...]]) -> set[int]:
    left = frozenset[int]().union(*(instance.free(p) for p in sides[0]))
    right = frozenset[int]().union(*(instance.free(p) for p in sides[1]))
    return {slot for slot in left & right if instance.room(slot) != 0}


@dataclass(frozen=True, slots=True)
class Choice:
    """Where the counting model puts a request: its window, its share there and, for a request
    between organisations, the person it counts on each side."""

    window: int
    share: float
    takers: tuple[int, int] | None = None


def _assign(
    instance: Instance, windows: Mapping[int, Sequence[int]], seconds: float
) -> tuple[dict[int, Choice], int | None]:
    """For each request its window (the counting model's LP, each request to its largest
    share), and a ceiling of the weighted count: the LP's optimum by priority.

    A request between organisations counts against one person of each side through a taker
    variable per member, as a request between people does: without them the model lets those
    requests cost nobody's time, and placing them later starves the windows after."""
    solver = pywraplp.Solver.CreateSolver("GLOP")
    assert solver is not None
    solver.SetTimeLimit(max(1000, int(seconds * 1000)))
    infinity = solver.infinity()
    window_of = {slot: window for window, slots in windows.items() for slot in slots}
    spans = {window: frozenset(slots) for window, slots in windows.items()}
    free = [instance.free(person) for person in range(len(instance.people))]
    worth = weights(instance)
    columns: dict[tuple[int, int], pywraplp.Variable] = {}
    takers: dict[tuple[int, int, int], list[tuple[int, pywraplp.Variable]]] = defaultdict(list)
    rows: dict[tuple[int, int], pywraplp.Constraint] = {}
    caps: dict[int, pywraplp.Constraint] = {}
    rooms: dict[int, pywraplp.Constraint] = {}
    objective = solver.Objective()

    def seat(person: int, window: int, column: pywraplp.Variable) -> None:
        if (person, window) not in rows:
            count = len(free[person] & spans[window])
            rows[person, window] = solver.Constraint(-infinity, count)
        rows[person, window].SetCoefficient(column, 1)
        capacity = instance.capacity(person)
        if capacity is not None:
            if person not in caps:
                caps[person] = solver.Constraint(-infinity, capacity)
            caps[person].SetCoefficient(column, 1)

    for index, demand in enumerate(instance.demands):
        shared = {window_of[slot] for slot in _shared(instance, demand.sides)}
        if not shared:
            continue
        once = solver.Constraint(-infinity, 1)
        single = len(demand.sides[0]) == 1 and len(demand.sides[1]) == 1
        for window in sorted(shared):
            column = columns[index, window] = solver.NumVar(0, 1, "")
            objective.SetCoefficient(column, worth[index])
            once.SetCoefficient(column, 1)
            if window not in rooms:
                places = [instance.room(slot) for slot in windows[window]]
                limit = infinity if None in places else sum(room or 0 for room in places)
                rooms[window] = solver.Constraint(-infinity, limit)
            rooms[window].SetCoefficient(column, 1)
            if single:
                seat(demand.sides[0][0], window, column)
                seat(demand.sides[1][0], window, column)
                continue
            for side, people in enumerate(demand.sides):
                balance = solver.Constraint(0, 0)
                balance.SetCoefficient(column, -1)
                for person in people:
                    if free[person] & spans[window]:
                        taker = solver.NumVar(0, 1, "")
                        balance.SetCoefficient(taker, 1)
                        seat(person, window, taker)
                        takers[index, window, side].append((person, taker))
    objective.SetMaximization()
    if solver.Solve() != pywraplp.Solver.OPTIMAL:
        return _earliest(instance, window_of), None
    chosen: dict[int, Choice] = {}
    for (index, window), column in columns.items():
        share = column.solution_value()
        if share > 1e-6 and (index not in chosen or share > chosen[index].share):
            chosen[index] = Choice(window, share, _takers(takers, index, window))
    # The same model weighing each request by its priority alone: its optimum bounds the
    # weighted count of any schedule (the must-meet weighting above only steers the choice).
    for (index, _), column in columns.items():
        objective.SetCoefficient(column, instance.demands[index].priority)
    if solver.Solve() != pywraplp.Solver.OPTIMAL:
        return chosen, None
    optimum = objective.Value()
    return chosen, math.floor(optimum + max(1e-6, abs(optimum) * 1e-7))


def _takers(
    takers: Mapping[tuple[int, int, int], list[tuple[int, pywraplp.Variable]]],
    index: int,
    window: int,
) -> tuple[int, int] | None:
    """The person the LP counts on each side of an organisation request, when it picks one."""
    picked: list[int] = []
    for side in (0, 1):
        best = max(
            takers.get((index, window, side), []),
            key=lambda item: item[1].solution_value(),
            default=None,
        )
        if best is None or best[1].solution_value() < WHOLE:
            return None
        picked.append(best[0])
    return picked[0], picked[1]


def _earliest(instance: Instance, window_of: Mapping[int, int]) -> dict[int, Choice]:
    """Without the LP: each request to the window of its first common slot."""
    chosen: dict[int, Choice] = {}
    for index, demand in enumerate(instance.demands):
        shared = _shared(instance, demand.sides)
        if shared:
            chosen[index] = Choice(window_of[min(shared)], 1.0)
    return chosen
