"""The folder form of a program (`event.json`, `people.csv`, `sessions.csv`), as an organiser keeps
it in a spreadsheet: it means exactly what the JSON form means, and its problems are placed by file
and line."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from support.service import EXAMPLE_DIR, EXAMPLE_SLUG, Api, example_program, small_program
from support.stored import event_content

from orchestrator.commands import import_file
from orchestrator.db import models as m
from orchestrator.program.load import load_path
from orchestrator.program.model import Program
from orchestrator.program.problems import ProgramError
from orchestrator.program.service import provider_check
from orchestrator.program.validate import validate
from orchestrator.settings import Settings

PEOPLE_COLUMNS = ("key", "name", "email", "organisation", "locale")
SESSION_COLUMNS = (
    "key",
    "kind",
    "title",
    "start",
    "end",
    "attendees",
    "provider",
    "speakers",
    "stream_url",
)
SESSION_ALLOWED = (
    "key, kind, title, start, end, attendees, provider, speakers, stream_url, streamed"
)


def write_folder(folder: Path, program: dict[str, Any]) -> Path:
    """`program` in the folder form, as a spreadsheet would save it."""
    folder.mkdir(parents=True, exist_ok=True)
    head = {"event": program["event"], "organisations": program["organisations"]}
    (folder / "event.json").write_text(json.dumps(head, ensure_ascii=False), encoding="utf-8")
    with (folder / "people.csv").open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(PEOPLE_COLUMNS)
        for person in program["people"]:
            writer.writerow([person.get(column, "") for column in PEOPLE_COLUMNS])
    with (folder / "sessions.csv").open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(SESSION_COLUMNS)
        for session in program["sessions"]:
            cells = []
            for column in SESSION_COLUMNS:
                value = session.get(column, "")
                cells.append(";".join(value) if isinstance(value, list) else value)
            writer.writerow(cells)
    return folder


def small_folder(tmp_path: Path) -> Path:
    """The small event as a folder: people.csv lines 2-7 are ana, ben, chloe, dan, eve, org;
    sessions.csv lines 2-5 are plenary, m1, m2, m3."""
    return write_folder(tmp_path / "meet-the-buyers", small_program())


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def validated(path: Path) -> Program:
    return validate(load_path(path), check_provider=provider_check(Settings()))


def problems(path: Path) -> list[str]:
    """Every problem found in the program at `path`, whether reading or validating it."""
    with pytest.raises(ProgramError) as caught:
        validated(path)
    return [str(problem) for problem in caught.value.problems]


# -- same meaning as the JSON form --------------------------------------------------------------


def test_the_example_folder_validates_to_the_same_program_as_the_example_json() -> None:
    from_folder = validated(EXAMPLE_DIR)
    from_json = validated(EXAMPLE_DIR / "program.json")

    assert from_folder == from_json
    assert len(from_folder.people) == 116
    assert len(from_folder.sessions) == 42


def test_a_program_saved_as_a_folder_means_the_same_as_its_json(tmp_path: Path) -> None:
    json_file = tmp_path / "program.json"
    json_file.write_text(json.dumps(small_program()), encoding="utf-8")

    assert validated(small_folder(tmp_path)) == validated(json_file)


def test_files_saved_with_a_utf8_byte_order_mark_are_accepted(tmp_path: Path) -> None:
    folder = small_folder(tmp_path)
    expected = validated(folder)
    for name in ("event.json", "people.csv", "sessions.csv"):
        path = folder / name
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())

    assert validated(folder) == expected


def test_cells_with_commas_quotes_and_accents_survive_the_csv(tmp_path: Path) -> None:
    program = small_program()
    program["sessions"][1]["title"] = 'Acme, Inc. × "Water & Waste"'
    folder = write_folder(tmp_path / "event", program)

    m1 = next(session for session in validated(folder).sessions if session.key == "m1")

    assert m1.title == 'Acme, Inc. × "Water & Waste"'


def test_empty_cells_leave_optional_values_out(tmp_path: Path) -> None:
    program = validated(small_folder(tmp_path))

    ana = next(person for person in program.people if person.key == "ana")
    m1 = next(session for session in program.sessions if session.key == "m1")

    assert ana.locale is None
    assert (m1.provider, m1.stream_url, m1.speakers) == (None, None, ())


# -- the shape of the files ---------------------------------------------------------------------


def test_a_missing_column_is_named_on_the_header_line(tmp_path: Path) -> None:
    folder = tmp_path / "event"
    write_folder(folder, small_program())
    (folder / "people.csv").write_text(
        "key,name,organisation\nana,Ana Lopez,water\n", encoding="utf-8"
    )

    assert problems(folder) == ["people.csv line 1: missing columns: email"]


def test_an_unknown_extra_column_is_named_with_the_allowed_ones(tmp_path: Path) -> None:
    folder = small_folder(tmp_path)
    lines = (folder / "sessions.csv").read_text(encoding="utf-8").splitlines()
    lines = [lines[0] + ",room"] + [line + ",A" for line in lines[1:]]
    (folder / "sessions.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")

    assert problems(folder) == [
        f"sessions.csv line 1: unknown columns: room (allowed: {SESSION_ALLOWED})"
    ]


def test_a_repeated_column_is_named(tmp_path: Path) -> None:
    folder = small_folder(tmp_path)
    (folder / "people.csv").write_text(
        "key,name,email,organisation,email\nana,Ana Lopez,ana@water.example,water,a@w.example\n",
        encoding="utf-8",
    )

    assert problems(folder) == ["people.csv line 1: repeated columns: email"]


@pytest.mark.parametrize(
    ("row", "cells"),
    [
        ("ben,Ben Okafor,ben@roads.example,roads,,extra", 6),
        ("ben,Ben Okafor,ben@roads.example", 3),
    ],
    ids=["too-many", "too-few"],
)
def test_a_row_with_the_wrong_number_of_cells_is_placed_by_line(
    tmp_path: Path, row: str, cells: int
) -> None:
    folder = small_folder(tmp_path)
    edit(folder / "people.csv", "ben,Ben Okafor,ben@roads.example,roads,", row)

    assert problems(folder) == [f"people.csv line 3: {cells} cells where the header has 5"]


def test_every_broken_row_of_a_csv_is_reported_at_once(tmp_path: Path) -> None:
    folder = small_folder(tmp_path)
    edit(folder / "people.csv", "ben,Ben Okafor,ben@roads.example,roads,", "ben,Ben Okafor")
    edit(folder / "people.csv", "eve,Eve Durand,", "eve,Eve,Durand,")

    assert problems(folder) == [
        "people.csv line 3: 2 cells where the header has 5",
        "people.csv line 6: 6 cells where the header has 5",
    ]


def test_an_empty_csv_file_asks_for_a_header_line(tmp_path: Path) -> None:
    folder = small_folder(tmp_path)
    (folder / "people.csv").write_bytes(b"")

    assert problems(folder) == ["people.csv: empty file: expected a header line"]


def test_a_csv_that_is_not_utf8_is_named_with_its_file(tmp_path: Path) -> None:
    folder = small_folder(tmp_path)
    data = (folder / "people.csv").read_text(encoding="utf-8").encode("latin-1")
    (folder / "people.csv").write_bytes(data)
    offset = data.index(b"\xe9")  # the é of Chloé, as a spreadsheet saving Latin-1 writes it

    assert problems(folder) == [
        f"people.csv: not UTF-8 text (byte 0xe9 at offset {offset}); save it as UTF-8"
    ]


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    folder = small_folder(tmp_path)
    (folder / "sessions.csv").unlink()

    assert problems(folder) == [f"sessions.csv: missing from the folder {folder}"]


def test_an_empty_folder_names_all_three_files(tmp_path: Path) -> None:
    assert problems(tmp_path) == [
        f"event.json: missing from the folder {tmp_path}",
        f"people.csv: missing from the folder {tmp_path}",
        f"sessions.csv: missing from the folder {tmp_path}",
    ]


def test_event_json_holding_sessions_is_refused(tmp_path: Path) -> None:
    folder = small_folder(tmp_path)
    program = small_program()
    head = {"event": program["event"], "organisations": [], "sessions": program["sessions"]}
    (folder / "event.json").write_text(json.dumps(head), encoding="utf-8")

    [problem] = problems(folder)

    assert problem.startswith('event.json: unknown field "sessions"')
    assert "go in the CSV files" in problem


def test_invalid_json_in_event_json_is_placed_by_line_and_column(tmp_path: Path) -> None:
    folder = small_folder(tmp_path)
    (folder / "event.json").write_text('{\n  "event": {"slug": "x",}\n}', encoding="utf-8")

    assert problems(folder) == [
        "event.json: invalid JSON at line 2, column 25: "
        "Expecting property name enclosed in double quotes"
    ]


def test_problems_in_several_files_are_reported_at_once(tmp_path: Path) -> None:
    folder = small_folder(tmp_path)
    head = json.loads((folder / "event.json").read_text(encoding="utf-8"))
    head["people"] = []
    (folder / "event.json").write_text(json.dumps(head), encoding="utf-8")
    (folder / "people.csv").write_bytes(b"key,name,email,organisation\nzoe,Zo\xeb,z@x.example,\n")
    edit(folder / "sessions.csv", "stream_url", "stream")

    reported = problems(folder)

    assert len(reported) == 3
    assert reported[0].startswith('event.json: unknown field "people"')
    assert reported[1] == "people.csv: not UTF-8 text (byte 0xeb at offset 34); save it as UTF-8"
    assert reported[2].startswith("sessions.csv line 1: unknown columns: stream (allowed: ")


# -- problems in the rows -----------------------------------------------------------------------


def test_problems_in_rows_are_placed_by_file_line_and_column(tmp_path: Path) -> None:
    folder = small_folder(tmp_path)
    edit(folder / "people.csv", "dan@acme.example", "dan-at-acme")
    edit(folder / "sessions.csv", "chloe;ana", "xyz;ana")

    assert problems(folder) == [
        'people.csv line 5, email: malformed email "dan-at-acme"',
        'sessions.csv line 3, attendees[0]: unknown person "xyz"',
    ]


def test_a_meeting_at_a_time_that_does_not_exist_names_its_line(tmp_path: Path) -> None:
    folder = small_folder(tmp_path)
    edit(
        folder / "sessions.csv",
        "2021-04-08T10:30,2021-04-08T11:00,chloe;ana",
        "2021-03-28T02:30,2021-03-28T03:30,chloe;ana",
    )

    assert problems(folder) == [
        'sessions.csv line 3, start: session "m1" start 2021-03-28T02:30 does not exist in '
        "Europe/Paris: the clocks go forward that night; pick another time or give an offset"
    ]


def test_an_overlap_is_placed_at_the_line_of_the_later_session(tmp_path: Path) -> None:
    folder = small_folder(tmp_path)
    edit(
        folder / "sessions.csv",
        "2021-04-08T11:00,2021-04-08T11:30",
        "2021-04-08T10:45,2021-04-08T11:15",
    )

    assert problems(folder) == [
        'sessions.csv line 5, attendees: Ben Okafor (ben) would be in "m2" and "m3" '
        "at the same time"
    ]


def test_blank_lines_are_skipped_but_still_counted(tmp_path: Path) -> None:
    folder = small_folder(tmp_path)
    edit(folder / "people.csv", "\nben,", "\n\n,,,,\nben,")  # an empty line and an empty row
    edit(folder / "people.csv", "ben@roads.example", "ben at roads")

    assert problems(folder) == ['people.csv line 5, email: malformed email "ben at roads"']


def test_a_row_spanning_several_lines_is_placed_at_the_line_it_starts_on(tmp_path: Path) -> None:
    program = small_program()
    program["sessions"][1]["title"] = "Acme\nWater"  # a line break typed into a spreadsheet cell
    folder = write_folder(tmp_path / "event", program)

    assert problems(folder) == [
        "sessions.csv line 3, title: title contains a control character (U+000A)"
    ]


# -- importing through the service --------------------------------------------------------------


async def test_importing_either_form_gives_the_same_database_content(
    api: Api, settings: Settings, db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    await api.import_ok(example_program())
    folder = shutil.copytree(EXAMPLE_DIR, tmp_path / "lyon-2021-copy")
    edit(folder / "event.json", f'"slug": "{EXAMPLE_SLUG}"', '"slug": "lyon-2021-copy"')

    changes = await import_file(settings, folder)

    assert changes.event_created
    from_json = await event_content(db, EXAMPLE_SLUG)
    from_folder = await event_content(db, "lyon-2021-copy")
    assert from_folder == from_json
    assert len(from_json["people"]) == 116
    assert len(from_json["sessions"]) == 42
    assert len(from_json["attendees"]["pleniere"]) == 116


async def test_importing_the_folder_after_the_json_changes_nothing(
    api: Api, settings: Settings
) -> None:
    await api.import_ok(example_program())

    changes = await import_file(settings, EXAMPLE_DIR)

    assert changes.empty, changes.summary()


async def test_a_folder_with_a_problem_imports_nothing(
    settings: Settings, db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    folder = small_folder(tmp_path)
    edit(folder / "sessions.csv", "eve;ben", "eve;nobody")

    with pytest.raises(ProgramError) as caught:
        await import_file(settings, folder)

    assert caught.value.lines() == ['sessions.csv line 4, attendees[1]: unknown person "nobody"']
    async with db() as session:
        assert (await session.scalars(select(m.Event.slug))).all() == []


def test_problems_in_event_json_name_the_file(tmp_path: Path) -> None:
    folder = small_folder(tmp_path)
    edit(folder / "event.json", '"timezone": "Europe/Paris"', '"timezone": "Europe/Lyon"')
    edit(folder / "event.json", '"kind": "buyer"', '"kind": "purchaser"')
    assert problems(folder) == [
        'event.json: event.timezone: unknown time zone "Europe/Lyon" (use an IANA name like '
        "Europe/Paris)",
        "event.json: organisations[0].kind: kind must be one of company, buyer, organiser, "
        "not 'purchaser'",
    ]
