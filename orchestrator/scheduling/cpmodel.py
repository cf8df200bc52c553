"""The CP-SAT model of a schedule: a variable per (request, slot) and, for a request between
organisations, per person who may take each side; the rules as constraints; the two objectives
(requests placed by priority, idle slots) to set one after the other."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ortools.sat.python import cp_model

from .model import Instance, Meeting
from .relax import weights

Literal = cp_model.IntVar
PORTFOLIO = ("default_lp", "max_lp", "core", "quick_restart", "reduced_costs", "pseudo_costs")


@dataclass(frozen=True, slots=True)
class Stage:
    value: int
    bound: int
    optimal: bool


class Model:
    """Variables: `x[d, t]` when demand d meets at slot t; for a demand between organisations
    also `z[d, side, p, t]` when person p takes that side. `at[p, t]` lists what puts p at t."""

    def __init__(self, instance: Instance) -> None:
        self.instance = instance
        self.cp = cp_model.CpModel()
        self.x: dict[tuple[int, int], Literal] = {}
        self.z: dict[tuple[int, int, int, int], Literal] = {}
        self.at: dict[tuple[int, int], list[Literal]] = defaultdict(list)
        self.chains: list[tuple[int, list[int], list[Literal], list[Literal]]] = []
        free = [
            instance.free(p) if instance.capacity(p) != 0 else frozenset()
            for p in range(len(instance.people))
        ]
        open_slots = {t for t in range(len(instance.slots)) if instance.room(t) != 0}
        for index, demand in enumerate(instance.demands):
            first, second = demand.sides
            if len(first) == 1 and len(second) == 1:
                a, b = first[0], second[0]
                for slot in sorted(free[a] & free[b] & open_slots):
                    literal = self.cp.new_bool_var("")
                    self.x[index, slot] = literal
                    self.at[a, slot].append(literal)
                    self.at[b, slot].append(literal)
            else:
                self._organisations(index, first, second, free, open_slots)
        self._constraints()

    def _organisations(
        self,
        index: int,
        first: tuple[int, ...],
        second: tuple[int, ...],
        free: list[frozenset[int]],
        open_slots: set[int],
    ) -> None:
        left: dict[int, list[int]] = defaultdict(list)
        right: dict[int, list[int]] = defaultdict(list)
        for side, people in ((left, first), (right, second)):
            for person in people:
                for slot in free[person] & open_slots:
                    side[slot].append(person)
        for slot in sorted(left.keys() & right.keys()):
            literal = self.cp.new_bool_var("")
            self.x[index, slot] = literal
            for number, side in enumerate((left, right)):
                takers = []
                for person in side[slot]:
                    taker = self.cp.new_bool_var("")
                    self.z[index, number, person, slot] = taker
                    self.at[person, slot].append(taker)
                    takers.append(taker)
                self.cp.add(sum(takers) == literal)

    def _constraints(self) -> None:
        instance = self.instance
        by_demand: dict[int, list[Literal]] = defaultdict(list)
        by_slot: dict[int, list[Literal]] = defaultdict(list)
        for (index, slot), literal in self.x.items():
            by_demand[index].append(literal)
            by_slot[slot].append(literal)
        for literals in by_demand.values():
            if len(literals) > 1:
                self.cp.add_at_most_one(literals)
        by_person: dict[int, list[Literal]] = defaultdict(list)
        for (person, _slot), literals in self.at.items():
            by_person[person].extend(literals)
            if len(literals) > 1:
                self.cp.add_at_most_one(literals)
        for slot, literals in by_slot.items():
            room = instance.room(slot)
            if room is not None and len(literals) > room:
                self.cp.add(sum(literals) <= room)
        for person, literals in by_person.items():
            capacity = instance.capacity(person)
            if capacity is not None and len(literals) > capacity:
                self.cp.add(sum(literals) <= capacity)

    # -- objectives ------------------------------------------------------------------------------
    def placement(self) -> cp_model.LinearExprT:
        """Requests placed, must-meet first then by priority; among equals, meetings kept where
        they are (`KEEP` times the placement, plus one per meeting that stays)."""
        worth = weights(self.instance)
        keep = len(self.instance.current) + 1
        current = self.instance.current
        items = list(self.x.items())
        return cp_model.LinearExpr.weighted_sum(
            [literal for _, literal in items],
            [
                worth[index] * keep + (1 if index in current and current[index].slot == slot else 0)
                for (index, slot), _ in items
            ],
        )

    def idle(self) -> tuple[cp_model.LinearExprT, int]:
        """Idle slots of everyone's days (up to a constant), and the most there can be.

        Along a person's day, `s` turns on at their first meeting and stays on, `e` stays on until
        their last; with `s + e >= 1` the sum of both is the day's length plus its span, so the
        span less the meetings is what they wait."""
        instance = self.instance
        days: dict[tuple[int, int], set[int]] = defaultdict(set)
        for person, slot in self.at:
            days[person, instance.slots[slot].day].add(slot)
        for person, busy in enumerate(instance.busy):
            for slot in busy:
                if (person, instance.slots[slot].day) in days:
                    days[person, instance.slots[slot].day].add(slot)
        terms: list[cp_model.LinearExprT] = []
        largest = 0
        for (person, _day), slots in days.items():
            if len(slots) < 2:
                continue
            span = list(range(min(slots), max(slots) + 1))
            starts = [self.cp.new_bool_var("") for _ in span]
            ends = [self.cp.new_bool_var("") for _ in span]
            for position, slot in enumerate(span):
                started, ending = starts[position], ends[position]
                self.cp.add(started + ending >= 1)
                if position:
                    self.cp.add(started >= starts[position - 1])
                    self.cp.add(ending <= ends[position - 1])
                if slot in instance.busy[person]:
                    self.cp.add(started == 1)
                    self.cp.add(ending == 1)
                for literal in self.at.get((person, slot), ()):
                    self.cp.add_implication(literal, started)
                    self.cp.add_implication(literal, ending)
                    terms.append(-literal)
            terms.extend(starts)
            terms.extend(ends)
            self.chains.append((person, span, starts, ends))
            largest += len(span)
        return sum(terms), largest

    # -- solving ---------------------------------------------------------------------------------
    def hint(self, meetings: Mapping[int, Meeting]) -> None:
        self.cp.clear_hints()  # type: ignore[no-untyped-call]
        chosen = {(index, meeting.slot) for index, meeting in meetings.items()}
        takers = {
            (index, side, person, meeting.slot)
            for index, meeting in meetings.items()
            for side, person in enumerate(meeting.people)
        }
        present: set[tuple[int, int]] = set()
        for pair, literal in self.x.items():
            self.cp.add_hint(literal, pair in chosen)
        for seat, literal in self.z.items():
            self.cp.add_hint(literal, seat in takers)
        for meeting in meetings.values():
            for person in meeting.people:
                present.add((person, meeting.slot))
        for person, span, starts, ends in self.chains:
            busy = [
                slot in self.instance.busy[person] or (person, slot) in present for slot in span
            ]
            for position in range(len(span)):
                self.cp.add_hint(starts[position], any(busy[: position + 1]))
                self.cp.add_hint(ends[position], any(busy[position:]) or not any(busy))

    def run(
        self,
        objective: cp_model.LinearExprT,
        *,
        maximize: bool,
        seconds: float,
        workers: int,
        on_solution: Callable[[float, float], None] | None = None,
    ) -> tuple[Stage, dict[int, Meeting]] | None:
        """The best solution within `seconds`; `on_solution(value, bound)` hears of each better
        one as the search finds it (from the solver's threads)."""
        if maximize:
            self.cp.maximize(objective)
        else:
            self.cp.minimize(objective)
        solver = cp_model.CpSolver()
        parameters(solver, seconds=seconds, workers=workers)
        status = solver.solve(self.cp, _Reporter(on_solution) if on_solution else None)
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return None
        values = solver.response_proto.solution
        value = round(solver.objective_value)
        bound = round(solver.best_objective_bound)
        return Stage(value, bound, status == cp_model.OPTIMAL), self.read(values)

    def read(self, values: list[int]) -> dict[int, Meeting]:
        meetings: dict[int, Meeting] = {}
        demands = self.instance.demands
        for (index, slot), literal in self.x.items():
            if values[literal.index]:
                first, second = demands[index].sides
                if len(first) == 1 and len(second) == 1:
                    meetings[index] = Meeting(slot, (first[0], second[0]))
        chosen: dict[int, dict[int, int]] = defaultdict(dict)
        for (index, side, person, slot), literal in self.z.items():
            if values[literal.index]:
                chosen[index][side] = person
                chosen[index][-1] = slot
        for index, taken in chosen.items():
            meetings[index] = Meeting(taken[-1], (taken[0], taken[1]))
        return meetings


class _Reporter(cp_model.CpSolverSolutionCallback):
    """Tells of each better solution the search finds, with the bound proven so far."""

    def __init__(self, report: Callable[[float, float], None]) -> None:
        super().__init__()
        self.report = report

    def on_solution_callback(self) -> None:
        self.report(self.objective_value, self.best_objective_bound)


def parameters(solver: cp_model.CpSolver, *, seconds: float, workers: int) -> None:
    """With four workers or more, two of them run the LP-heavy searches that prove these
    models; the default portfolio of a few workers rarely closes the gap."""
    solver.parameters.max_time_in_seconds = max(seconds, 0.05)
    solver.parameters.num_workers = workers
    if 4 <= workers < 8:
        solver.parameters.subsolvers.extend(PORTFOLIO[:workers])
