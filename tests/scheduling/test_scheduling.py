"""The scheduler on hand-made meeting days whose best schedule is known: what it places, where,
and why it leaves a request out, read as the organiser would read it."""

from __future__ import annotations

import itertools
import random
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from support.service import small_program

from orchestrator.program.model import Program
from orchestrator.program.raw import RawProgram
from orchestrator.program.validate import validate
from orchestrator.scheduling import measure
from orchestrator.scheduling.explain import explain
from orchestrator.scheduling.greedy import solve_greedy
from orchestrator.scheduling.instance import Plan, build
from orchestrator.scheduling.model import Meeting, Solution
from orchestrator.scheduling.split import solve, solve_split

PARIS = ZoneInfo("Europe/Paris")


def meeting_day(**schedule: Any) -> dict[str, Any]:
    """The small event with its plenary at 9:00 and no meetings yet: the morning after it is
    cut into four slots (10:00, 10:30, 11:00, 11:30) of 20 minutes with 10 between."""
    program = small_program()
    program["sessions"] = program["sessions"][:1]
    program["schedule"] = {
        "windows": [["2021-04-08T10:00", "2021-04-08T11:50"]],
        "slot_minutes": 20,
        "gap_minutes": 10,
        **schedule,
    }
    program["requests"] = []
    return program


def ask(program: dict[str, Any], source: str, target: str, priority: int = 1) -> None:
    program["requests"].append({"from": source, "to": target, "priority": priority})


def plan_of(document: dict[str, Any]) -> tuple[Program, Plan]:
    program = validate(RawProgram(document), check_provider=lambda name: None)
    assert program.requests is not None
    plan = build(
        program.requests,
        people=program.people,
        organisations=program.organisations,
        fixed=program.sessions,
        existing={},
        tz=PARIS,
        move=False,
    )
    return program, plan


def solved(plan: Plan) -> Solution:
    solution = solve(plan.instance, time_limit=5, workers=2)
    assert measure.violations(plan.instance, solution.meetings) == []
    return solution


def where(plan: Plan, solution: Solution) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Each placed request as `from.to` -> (local start, the two people)."""
    placed = {}
    for position, meeting in solution.meetings.items():
        request = plan.requests[plan.instance.demands[position].request]
        start = plan.instance.slots[meeting.slot].start.astimezone(PARIS).strftime("%H:%M")
        people = tuple(plan.instance.people[person] for person in meeting.people)
        placed[f"{request.source}.{request.target}"] = (start, people)
    return placed


def reasons(plan: Plan, solution: Solution) -> dict[str, str]:
    found = explain(plan, solution.meetings, proven=solution.optimal)
    return {
        f"{plan.requests[index].source}.{plan.requests[index].target}": reason.text
        for index, reason in found.items()
    }


def test_greedy_places_three_of_four_where_the_solver_places_all_four() -> None:
    program = meeting_day()
    program["availability"] = {"chloe": [["2021-04-08T10:00", "2021-04-08T10:20"]]}
    ask(program, "ana", "ben")  # both free all morning: greedy takes 10:00
    ask(program, "ana", "chloe")  # Chloé is there at 10:00 only
    ask(program, "dan", "eve")
    ask(program, "dan", "org")
    _, plan = plan_of(program)

    greedy = solve_greedy(plan.instance)
    best = solved(plan)

    assert len(greedy.meetings) == 3
    assert len(best.meetings) == 4
    assert best.optimal
    assert best.bound == measure.weighted(plan.instance, best.meetings) == 4
    assert where(plan, best)["ana.chloe"] == ("10:00", ("ana", "chloe"))
    assert where(plan, best)["ana.ben"][0] != "10:00"


def test_must_meet_requests_go_first_and_nobody_is_in_two_places() -> None:
    program = meeting_day(max_per_person=2)
    ask(program, "ana", "ben", 1)
    ask(program, "ana", "chloe", 1)
    ask(program, "ana", "eve", 3)
    _, plan = plan_of(program)

    best = solved(plan)

    placed = where(plan, best)
    assert "ana.eve" in placed
    assert len(placed) == 2
    starts = [start for start, people in placed.values() if "ana" in people]
    assert len(set(starts)) == len(starts)
    assert set(reasons(plan, best).values()) == {"Ana Lopez reached max_per_person (2)"}


def test_all_parallel_places_taken_is_the_reason_given() -> None:
    program = meeting_day(max_parallel=1)
    program["availability"] = {
        key: [["2021-04-08T11:30", "2021-04-08T11:50"]] for key in ("ana", "ben", "chloe", "dan")
    }
    ask(program, "ana", "ben", 2)
    ask(program, "chloe", "dan", 1)
    _, plan = plan_of(program)

    best = solved(plan)

    assert list(where(plan, best)) == ["ana.ben"]
    assert reasons(plan, best) == {
        "chloe.dan": "all 1 parallel places are taken at every common slot"
    }


def test_no_common_free_slot_names_both_availabilities_in_the_event_zone() -> None:
    program = meeting_day()
    program["schedule"]["windows"].append(["2021-04-08T14:00", "2021-04-08T17:00"])
    # Given with an offset, shown in Paris time: 08:30Z is 10:30 there.
    program["availability"] = {
        "ana": [["2021-04-08T08:30:00+00:00", "2021-04-08T12:00"]],
        "ben": [["2021-04-08T14:00", "2021-04-08T17:00"]],
    }
    ask(program, "ana", "ben")
    _, plan = plan_of(program)

    best = solved(plan)

    assert best.meetings == {}
    assert reasons(plan, best) == {
        "ana.ben": "no common free slot: Ana Lopez is available 10:30–11:50, Ben Okafor 14:00–17:00"
    }


def test_the_plenary_and_fixed_sessions_block_their_people() -> None:
    program = meeting_day()
    program["sessions"][0]["end"] = "2021-04-08T10:45"  # the plenary runs over two slots
    program["sessions"].append(
        {
            "key": "workshop",
            "kind": "plenary",
            "title": "Workshop",
            "start": "2021-04-08T11:00",
            "end": "2021-04-08T12:00",
            "attendees": ["ana"],
        }
    )
    ask(program, "ana", "ben")
    ask(program, "chloe", "dan")
    ask(program, "eve", "org")
    ask(program, "chloe", "eve")
    _, plan = plan_of(program)

    best = solved(plan)

    placed = where(plan, best)
    assert set(placed) == {"chloe.dan", "eve.org", "chloe.eve"}
    assert {start for start, _ in placed.values()} <= {"11:00", "11:30"}
    assert reasons(plan, best) == {
        "ana.ben": "no common free slot: whenever both are available, Ana Lopez or Ben Okafor "
        'is in another session (Ana Lopez in "plenary" at 10:00; Ana Lopez in "plenary" at '
        '10:30; Ana Lopez in "workshop" at 11:00; Ana Lopez in "workshop" at 11:30)'
    }


def test_an_organisation_request_is_met_by_one_person_of_each_side() -> None:
    program = meeting_day()
    # Acme has Chloé and Dan; Chloé is away all morning, so Dan takes it.
    program["availability"] = {"chloe": [["2021-04-08T14:00", "2021-04-08T15:00"]]}
    program["requests"] = [{"from": "acme", "to": "water", "priority": 2, "key": "acme-water"}]
    _, plan = plan_of(program)

    best = solved(plan)

    (placed,) = where(plan, best).values()
    assert placed[1] == ("dan", "ana")


def test_a_person_already_booked_is_replaced_by_a_colleague() -> None:
    program = meeting_day()
    program["availability"] = {
        key: [["2021-04-08T10:00", "2021-04-08T10:20"]] for key in ("chloe", "dan", "ana", "ben")
    }
    ask(program, "chloe", "ben", 3)  # Chloé's only slot is taken by this must-meet
    program["requests"].append({"from": "acme", "to": "water"})
    _, plan = plan_of(program)

    best = solved(plan)

    placed = where(plan, best)
    assert placed["chloe.ben"] == ("10:00", ("chloe", "ben"))
    assert placed["acme.water"] == ("10:00", ("dan", "ana"))


def test_the_split_method_places_what_the_exact_one_does_on_a_small_day() -> None:
    program = meeting_day(max_per_person=3)
    program["schedule"]["windows"].append(["2021-04-08T14:00", "2021-04-08T15:50"])
    people = ["ana", "ben", "chloe", "dan", "eve"]
    for number, source in enumerate(people):
        for target in people[number + 1 :]:
            ask(program, source, target, 1 + (number % 3))
    _, plan = plan_of(program)

    exact = solved(plan)
    split = solve_split(plan.instance, time_limit=5, workers=2)

    assert measure.violations(plan.instance, split.meetings) == []
    assert split.method.startswith("split by window")
    assert measure.weighted(plan.instance, split.meetings) == measure.weighted(
        plan.instance, exact.meetings
    )
    assert split.bound is not None
    assert measure.weighted(plan.instance, exact.meetings) <= split.bound


def test_a_person_with_a_meeting_at_every_common_slot_is_the_conflict_named() -> None:
    program = meeting_day()
    program["availability"] = {
        key: [["2021-04-08T10:00", "2021-04-08T10:20"]] for key in ("ana", "ben", "chloe")
    }
    ask(program, "ana", "ben", 3)
    ask(program, "ana", "chloe", 1)
    _, plan = plan_of(program)

    best = solved(plan)

    assert reasons(plan, best) == {
        "ana.chloe": "Ana Lopez or Chloé Martin already has a meeting at every common free "
        "slot (Ana Lopez at 10:00)"
    }


def test_full_slots_and_booked_people_together_are_both_named() -> None:
    program = meeting_day(max_parallel=2)
    morning, first = (
        ["2021-04-08T10:00", "2021-04-08T10:50"],
        ["2021-04-08T10:00", "2021-04-08T10:20"],
    )
    program["availability"] = {
        "ana": [morning],
        "ben": [morning],
        "chloe": [morning],
        "dan": [first],
        "eve": [first],
        "org": [first],
    }
    ask(program, "dan", "eve", 3)  # 10:00, and
    ask(program, "ben", "org", 3)  # 10:00: both places taken
    ask(program, "ana", "ben", 3)  # 10:30, Ben being busy at 10:00
    ask(program, "ana", "chloe", 1)
    _, plan = plan_of(program)

    best = solved(plan)

    assert reasons(plan, best) == {
        "ana.chloe": "every common free slot is taken: all 2 parallel places at 10:00; other "
        "meetings of Ana Lopez at 10:30"
    }


def test_an_organisation_with_nobody_in_the_program_is_said_so() -> None:
    program = meeting_day()
    program["organisations"].append({"key": "initech", "name": "Initech", "kind": "company"})
    program["requests"] = [{"from": "initech", "to": "water"}]
    _, plan = plan_of(program)

    assert plan.skipped == {0: "Initech has nobody in the program to take the meeting"}


def test_a_request_left_open_by_a_search_cut_short_says_so() -> None:
    program = meeting_day()
    ask(program, "ana", "ben")
    _, plan = plan_of(program)

    assert reasons(plan, Solution({}, "exact CP-SAT")) == {
        "ana.ben": "the search stopped at its time limit before placing it"
    }


def best_by_trying_everything(plan: Plan) -> tuple[int, int]:
    """(must-meet placed, weighted placed) of the best schedule, by trying every placement."""
    instance = plan.instance
    best = (0, 0)
    options = [[None, *range(len(instance.slots))] for _ in instance.demands]
    for choice in itertools.product(*options):
        meetings = {
            index: Meeting(slot, (demand.sides[0][0], demand.sides[1][0]))
            for index, (demand, slot) in enumerate(zip(instance.demands, choice, strict=True))
            if slot is not None
        }
        if not measure.violations(instance, meetings):
            musts = sum(instance.demands[index].must for index in meetings)
            best = max(best, (musts, measure.weighted(instance, meetings)))
    return best


@pytest.mark.parametrize("seed", range(6))
def test_the_solver_matches_trying_every_placement_on_small_random_days(seed: int) -> None:
    rng = random.Random(seed)
    program = meeting_day(max_parallel=2, max_per_person=2)
    program["schedule"]["windows"] = [["2021-04-08T10:00", "2021-04-08T11:20"]]  # 3 slots
    people = ["ana", "ben", "chloe", "dan", "eve"]
    program["availability"] = {
        key: [["2021-04-08T10:00", "2021-04-08T10:50"]] for key in rng.sample(people, 2)
    }
    pairs = rng.sample(list(itertools.combinations(people, 2)), 6)
    for source, target in pairs:
        ask(program, source, target, rng.choice((1, 1, 2, 3)))
    _, plan = plan_of(program)

    best = solved(plan)

    found = (
        sum(plan.instance.demands[index].must for index in best.meetings),
        measure.weighted(plan.instance, best.meetings),
    )
    assert best.optimal
    assert found == best_by_trying_everything(plan)
