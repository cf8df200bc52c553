"""Meeting requests in a program are checked like the rest of it: every problem at once, each
at its place, nothing imported when there is one."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from support.service import small_program

from orchestrator.program.load import load_bytes, load_path
from orchestrator.program.problems import ProgramError
from orchestrator.program.validate import validate


def with_requests(**sections: Any) -> dict[str, Any]:
    program = small_program()
    program["schedule"] = {
        "windows": [["2021-04-08T10:30", "2021-04-08T12:30"]],
        "slot_minutes": 20,
        "gap_minutes": 5,
    }
    program.update(sections)
    return program


def problems(document: Any) -> list[str]:
    with pytest.raises(ProgramError) as caught:
        validate(load_bytes(json.dumps(document).encode()), check_provider=lambda name: None)
    return [str(problem) for problem in caught.value.problems]


def test_valid_requests_keep_their_order_keys_and_absolute_times() -> None:
    program = with_requests(
        availability={"ben": [["2021-04-08T11:00", "2021-04-08T12:00"]]},
        requests=[
            {"from": "chloe", "to": "ben", "priority": 3},
            {"from": "globex", "to": "water", "key": "b2b-07"},
        ],
    )
    program["schedule"].update(max_parallel=20, max_per_person=6)

    found = validate(load_bytes(json.dumps(program).encode()), check_provider=lambda name: None)

    assert found.requests is not None
    rules = found.requests.rules
    assert rules.windows == (
        (datetime(2021, 4, 8, 8, 30, tzinfo=UTC), datetime(2021, 4, 8, 10, 30, tzinfo=UTC)),
    )
    assert (rules.slot_minutes, rules.gap_minutes) == (20, 5)
    assert (rules.max_parallel, rules.max_per_person) == (20, 6)
    assert found.requests.availability["ben"][0][0] == datetime(2021, 4, 8, 9, 0, tzinfo=UTC)
    first, second = found.requests.requests
    assert (first.source, first.target, first.priority, first.session_key) == (
        "chloe",
        "ben",
        3,
        "chloe.ben",
    )
    assert not first.organisations
    assert (second.organisations, second.priority, second.session_key) == (True, 1, "b2b-07")


def test_every_problem_of_the_requests_is_reported_at_once_with_its_place() -> None:
    program = with_requests(
        availability={
            "zoe": [["2021-04-08T10:30", "2021-04-08T11:00"]],
            "ben": [["2021-04-08T12:00", "2021-04-08T11:00"]],
        },
        requests=[
            {"from": "chloe", "to": "nobody"},
            {"from": "chloe", "to": "water"},
            {"from": "ana", "to": "ana"},
            {"from": "ana", "to": "ben", "priority": 4},
            {"from": "ben", "to": "ana"},
            {"from": "dan", "to": "eve", "room": "A"},
            {"from": "acme", "to": "roads", "key": "m1"},
            {"from": "globex", "to": "roads", "key": "m1"},
        ],
    )
    program["schedule"]["windows"].append(["2021-04-08T12:00", "2021-04-08T12:10"])
    program["schedule"]["max_parallel"] = 0

    assert problems(program) == [
        "schedule.max_parallel: max_parallel must be between 1 and 1000000, not 0",
        "schedule.windows[1]: overlaps another window",
        "schedule.windows[1]: shorter than one slot of 20 minutes",
        'availability.zoe: unknown person "zoe"',
        "availability.ben[0]: the time does not end after it starts",
        'requests[0].to: unknown person or organisation "nobody"',
        "requests[1]: a request names two people or two organisations, not one of each",
        'requests[2].to: "ana" cannot meet itself',
        "requests[3].priority: priority must be 1, 2 or 3 (3 = must meet)",
        "requests[4]: the same pair is requested at requests[3]",
        'requests[5].room: unknown field "room" (allowed: from, to, priority, key)',
        'requests[7].key: duplicate meeting key "m1" (also at requests[6])',
    ]


def test_requests_without_a_schedule_are_refused() -> None:
    program = small_program()
    program["requests"] = [{"from": "chloe", "to": "ben"}]

    assert problems(program) == [
        "schedule: missing schedule: requests need windows and slot_minutes"
    ]


def test_a_folder_names_the_requests_in_event_json(tmp_path: Path) -> None:
    program = with_requests(requests=[{"from": "chloe", "to": "zed"}])
    head = {name: program[name] for name in ("event", "organisations", "schedule", "requests")}
    (tmp_path / "event.json").write_text(json.dumps(head), encoding="utf-8")
    (tmp_path / "people.csv").write_text(
        "key,name,email,organisation\n"
        + "".join(
            f"{p['key']},{p['name']},{p['email']},{p['organisation']}\n" for p in program["people"]
        ),
        encoding="utf-8",
    )
    (tmp_path / "sessions.csv").write_text(
        "key,kind,title,start,end,attendees\n"
        "plenary,plenary,Opening,2021-04-08T09:00,2021-04-08T10:00,*\n",
        encoding="utf-8",
    )

    with pytest.raises(ProgramError) as caught:
        validate(load_path(tmp_path), check_provider=lambda name: None)

    assert [str(problem) for problem in caught.value.problems] == [
        'event.json: requests[0].to: unknown person or organisation "zed"'
    ]
