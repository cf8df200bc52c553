"""A whole event solved exactly, in stages so that each goal is met before the next is weighed:
must-meet requests placed, then requests weighted by priority, then fewest moves and idle slots.
Each stage keeps the value the one before reached and starts from its answer."""

from __future__ import annotations

import time
from collections.abc import Mapping

from ..progress import Progress
from . import greedy
from .cpmodel import Model
from .measure import idle_slots
from .model import Instance, Meeting, Solution, restrict
from .relax import Relaxation, relax, value, weights
from .repair import compact, improve

WORKERS = 4
IDLE_SHARE = 0.1  # of the time limit, kept for the idle slots once the placement is done


def solve_exact(
    instance: Instance,
    *,
    time_limit: float,
    workers: int = WORKERS,
    idle: bool = True,
    progress: Progress | None = None,
) -> Solution:
    """The best schedule found within `time_limit` seconds: the LP relaxation rounded and
    repaired by moves; CP-SAT on the placement unless the relaxation already proves it best;
    then fewer idle slots by moves and by CP-SAT."""
    began = time.perf_counter()
    deadline = began + time_limit
    reserve = min(max(2.0, time_limit * IDLE_SHARE), time_limit / 2) if idle else 0.0
    told = progress or Progress()
    model = Model(instance)
    first = (deadline - began - reserve) * 0.3
    told.phase("a first placement (linear relaxation, then moves)", seconds=first)
    best, relaxed = _start(instance, model, first)
    ceiling = None if relaxed is None else relaxed.bound
    achieved = value(instance, best)
    told.solution(achieved, ceiling)
    if relaxed is not None and achieved < relaxed.bound:
        budget = (deadline - time.perf_counter() - reserve) * 0.3
        best = _around(instance, relaxed.whole, best, seconds=budget, workers=workers)
        achieved = value(instance, best)
    optimal = ceiling is not None and achieved >= ceiling
    if not optimal:
        model.hint(best)
        seconds = deadline - time.perf_counter() - reserve
        told.phase("searching for the best placement (CP-SAT)", seconds=seconds)
        told.solution(achieved, ceiling)
        placed = model.run(
            model.placement(),
            maximize=True,
            seconds=seconds,
            workers=workers,
            on_solution=lambda found, bound: told.solution(found, min(bound, ceiling or bound)),
        )
        if placed is not None and placed[0].value >= achieved:
            stage, best = placed
            achieved = stage.value
            ceiling = stage.bound if ceiling is None else min(ceiling, stage.bound)
            optimal = stage.optimal or achieved >= ceiling
    idle_optimal = False
    if idle:
        told.phase("shortening waits between meetings", seconds=reserve)
        best = compact(instance, best, seconds=reserve / 2)
        model.cp.add(model.placement() >= achieved)
        idle_expr, _ = model.idle()
        model.hint(best)
        left = min(reserve, deadline - time.perf_counter())
        finish = model.run(idle_expr, maximize=False, seconds=left, workers=workers)
        if finish is not None and idle_slots(instance, finish[1]) <= idle_slots(instance, best):
            idle_optimal, best = finish[0].optimal, finish[1]
    best = greedy.fill(instance, best)
    return Solution(
        best,
        "exact CP-SAT",
        optimal=optimal,
        bound=None if ceiling is None else _weighted_bound(instance, best, ceiling),
        idle_optimal=idle_optimal,
        seconds=time.perf_counter() - began,
    )


def _weighted_bound(instance: Instance, meetings: Mapping[int, Meeting], ceiling: int) -> int:
    """The ceiling in requests weighted by priority, for schedules placing as many must-meet
    requests as `meetings` does (what the lexicographic order compares next)."""
    worth = weights(instance)
    must = sum(worth[index] - instance.demands[index].priority for index in meetings)
    return ceiling // (len(instance.current) + 1) - must


def _start(
    instance: Instance, model: Model, seconds: float
) -> tuple[dict[int, Meeting], Relaxation | None]:
    """A first schedule (the LP relaxation's whole meetings, the rest by priority and LP value,
    repaired by moves) and the relaxation."""
    began = time.perf_counter()
    relaxed = relax(instance, model.x, model.z, seconds=seconds * 0.7)
    if relaxed is None:
        start = greedy.fill(instance, greedy.keep_current(instance))
    else:
        rest = sorted(
            range(len(instance.demands)),
            key=lambda i: (-instance.demands[i].priority, -relaxed.share.get(i, 0.0), i),
        )
        start = greedy.fill(instance, relaxed.whole, rest)
    left = seconds - (time.perf_counter() - began)
    return improve(instance, start, seconds=max(left, 0.1)), relaxed


def _around(
    instance: Instance,
    whole: Mapping[int, Meeting],
    best: Mapping[int, Meeting],
    *,
    seconds: float,
    workers: int,
) -> dict[int, Meeting]:
    """The relaxation's whole meetings kept, CP-SAT on the rest: a small model, since the
    relaxation is nearly integral, that often reaches the ceiling at once."""
    wanted = [index for index in range(len(instance.demands)) if index not in whole]
    part = restrict(instance, range(len(instance.slots)), wanted, whole)
    model = Model(part)
    model.hint({n: best[i] for n, i in enumerate(wanted) if i in best})
    found = model.run(model.placement(), maximize=True, seconds=seconds, workers=workers)
    if found is None:
        return dict(best)
    merged = dict(whole)
    merged.update({wanted[n]: meeting for n, meeting in found[1].items()})
    return merged if value(instance, merged) > value(instance, best) else dict(best)
