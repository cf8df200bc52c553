"""The workbook form of a program (.xlsx), as an organiser keeps it in Excel or LibreOffice: it
means exactly what the JSON form means, whether times are typed as text or as the spreadsheet's
own dates, and every problem is placed at its cell (`people!C5`)."""

from __future__ import annotations

import copy
import io
import json
import re
import time
import zipfile
from datetime import datetime
from datetime import time as dtime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from support.archives import zipped
from support.service import EXAMPLE_JSON, EXAMPLE_SLUG, example_program, small_program
from support.stored import event_content
from support.workbooks import edited, row_of, workbook_of

from orchestrator.commands import import_file
from orchestrator.db import models as m
from orchestrator.program.export import export_document
from orchestrator.program.load import load_path, load_upload
from orchestrator.program.model import Program
from orchestrator.program.problems import ProgramError
from orchestrator.program.raw import RawProgram
from orchestrator.program.service import provider_check
from orchestrator.program.validate import validate
from orchestrator.program.workbook_export import export_workbook, template_workbook
from orchestrator.settings import Settings

SHEETS = (
    "a program workbook has the sheets event, people, sessions, and optionally organisations, "
    "requests, availability, needs"
)
SESSION_COLUMNS = (
    "key, kind, title, start, end, attendees, provider, speakers, stream_url, streamed"
)


def validated(data: bytes, name: str = "lyon.xlsx") -> Program:
    return validate(load_upload(data, name), check_provider=provider_check(Settings()))


def problems(data: bytes) -> list[str]:
    """Every problem found in the workbook, whether reading or validating it."""
    with pytest.raises(ProgramError) as caught:
        validated(data)
    return [str(problem) for problem in caught.value.problems]


def write(tmp_path: Path, data: bytes, name: str = "lyon.xlsx") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def members_of(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


async def slugs(db: async_sessionmaker[AsyncSession]) -> list[str]:
    async with db() as session:
        return list((await session.scalars(select(m.Event.slug))).all())


# -- the same event as the JSON form ------------------------------------------------------------


def test_the_template_reads_as_the_example_json() -> None:
    assert validated(template_workbook()) == validate(
        load_path(EXAMPLE_JSON), check_provider=provider_check(Settings())
    )


async def test_the_example_imported_from_its_workbook_is_the_one_imported_from_json(
    settings: Settings, db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    await import_file(settings, EXAMPLE_JSON)
    program = example_program()
    program["event"]["slug"] = "lyon-2021-workbook"

    changes = await import_file(settings, write(tmp_path, workbook_of(program)))

    assert changes.event_created
    from_json = await event_content(db, EXAMPLE_SLUG)
    from_workbook = await event_content(db, "lyon-2021-workbook")
    assert from_workbook == from_json
    assert len(from_workbook["sessions"]) == 42
    assert len(from_workbook["attendees"]["pleniere"]) == 116


async def test_the_template_imported_twice_changes_nothing_the_second_time(
    settings: Settings, tmp_path: Path
) -> None:
    path = write(tmp_path, template_workbook())
    first = await import_file(settings, path)

    again = await import_file(settings, path)

    assert first.event_created
    assert len(first.sessions_created) == 42
    assert again.empty, again.summary()


async def test_the_json_after_the_template_changes_nothing(
    settings: Settings, tmp_path: Path
) -> None:
    await import_file(settings, write(tmp_path, template_workbook()))

    changes = await import_file(settings, EXAMPLE_JSON)

    assert changes.empty, changes.summary()


async def test_a_stored_event_exported_as_a_workbook_imports_back_unchanged(
    settings: Settings, db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    await import_file(settings, EXAMPLE_JSON)
    async with db() as session, session.begin():
        document = await export_document(session, EXAMPLE_SLUG)
    assert document is not None
    assert document["sessions"][0]["start"].endswith("+00:00")  # absolute times, in UTC

    changes = await import_file(settings, write(tmp_path, export_workbook(document)))

    assert changes.empty, changes.summary()


def with_requests(**sections: Any) -> dict[str, Any]:
    """The small event with meeting requests: the example's windows and caps, and `sections`."""
    program = small_program()
    program["schedule"] = {
        "windows": [
            ["2021-04-08T10:30", "2021-04-08T12:30"],
            ["2021-04-08T14:00", "2021-04-08T17:00"],
        ],
        "slot_minutes": 20,
        "gap_minutes": 5,
        "max_parallel": 20,
        "max_per_person": 6,
        "refill": "auto",
        "requests_open": "2021-03-15T09:00",
        "requests_close": "2021-04-01T18:00",
        "max_requests_per_person": 4,
    }
    program["availability"] = {"ben": [["2021-04-08T11:00", "2021-04-08T12:00"]]}
    program["requests"] = [
        {"from": "chloe", "to": "ben", "priority": 3},
        {"from": "globex", "to": "water", "key": "b2b-07"},
    ]
    program.update(sections)
    return program


async def test_a_stored_event_with_requests_exports_and_imports_back_unchanged(
    settings: Settings, db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    program = with_requests()
    path = tmp_path / "program.json"
    path.write_text(json.dumps(program), encoding="utf-8")
    await import_file(settings, path)
    async with db() as session, session.begin():
        document = await export_document(session, program["event"]["slug"])
    assert document is not None

    changes = await import_file(settings, write(tmp_path, export_workbook(document)))

    assert changes.empty, changes.summary()
    async with db() as session, session.begin():
        assert await export_document(session, program["event"]["slug"]) == document


def test_requests_availability_and_windows_mean_what_they_mean_in_json() -> None:
    program = with_requests()
    from_json = validate(RawProgram(copy.deepcopy(program)), check_provider=lambda name: None)

    from_workbook = validated(workbook_of(program))

    assert from_workbook == from_json
    assert from_workbook.requests is not None
    assert len(from_workbook.requests.rules.windows) == 2
    assert [request.session_key for request in from_workbook.requests.requests] == [
        "chloe.ben",
        "b2b-07",
    ]


def test_times_typed_as_text_read_like_the_spreadsheets_own_dates() -> None:
    data = workbook_of(small_program())

    def as_text(book: Workbook) -> None:
        sessions = book["sessions"]
        sessions["D3"] = "2021-04-08T10:30"
        sessions["E3"] = "2021-04-08 11:00"
        sessions["D4"] = " 2021-04-08T10:30 "

    assert validated(edited(data, as_text)) == validated(data)


def test_a_key_typed_as_a_number_is_its_digits() -> None:
    program = small_program()
    program["people"][0]["key"] = "42"
    program["sessions"][1]["attendees"] = ["chloe", "42"]

    def numbers(book: Workbook) -> None:
        book["people"]["A2"] = 42
        book["sessions"]["H2"] = 42.0  # the plenary's speaker

    found = validated(edited(workbook_of(program), numbers))

    assert found.people[0].key == "42"
    assert found.sessions[0].speakers == ("42",)


# -- problems, each at its cell ------------------------------------------------------------------


def test_three_mistakes_are_each_placed_at_their_cell() -> None:
    def mistakes(book: Workbook) -> None:
        book["people"][f"C{row_of(book, 'people', 'dan')}"] = "dan-at-acme"
        book["sessions"][f"F{row_of(book, 'sessions', 'm1')}"] = "xyz;ana"
        book["sessions"][f"E{row_of(book, 'sessions', 'm3')}"] = datetime(2021, 4, 8, 10, 45)

    assert problems(edited(workbook_of(small_program()), mistakes)) == [
        'people!C5: malformed email "dan-at-acme"',
        'sessions!F3: unknown person "xyz"',
        'sessions!E5: session "m3" does not end after it starts',
    ]


async def test_a_workbook_with_mistakes_imports_nothing(
    settings: Settings, db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    data = edited(workbook_of(small_program()), lambda book: book["people"].cell(3, 3, "ben"))

    with pytest.raises(ProgramError) as caught:
        await import_file(settings, write(tmp_path, data))

    assert caught.value.lines() == ['people!C3: malformed email "ben"']
    assert await slugs(db) == []


def test_an_overlap_is_placed_at_the_attendees_of_the_later_session() -> None:
    def overlap(book: Workbook) -> None:
        book["sessions"]["D5"] = datetime(2021, 4, 8, 10, 45)  # m3, Ben's second meeting

    assert problems(edited(workbook_of(small_program()), overlap)) == [
        'sessions!F5: Ben Okafor (ben) would be in "m2" and "m3" at the same time'
    ]


def test_formulas_are_refused_as_typed_at_their_cells() -> None:
    def formulas(book: Workbook) -> None:
        book["event"]["B3"] = '=CONCAT("Meet ", "the buyers")'
        book["people"]["C4"] = '=LOWER("CHLOE@ACME.EXAMPLE")'
        book["sessions"]["E3"] = "=D3+1/48"

    assert problems(edited(workbook_of(small_program()), formulas)) == [
        'event!B3: formulas are not read, type the value ("=CONCAT("Meet ", "the buyers")")',
        'people!C4: formulas are not read, type the value ("=LOWER("CHLOE@ACME.EXAMPLE")")',
        'sessions!E3: formulas are not read, type the value ("=D3+1/48")',
    ]


async def test_a_missing_sheet_is_named_and_nothing_is_imported(
    settings: Settings, db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    data = edited(workbook_of(small_program()), lambda book: book.remove(book["sessions"]))

    with pytest.raises(ProgramError) as caught:
        await import_file(settings, write(tmp_path, data))

    assert caught.value.lines() == [f"sessions: missing sheet ({SHEETS})"]
    assert await slugs(db) == []


async def test_an_extra_column_is_named_with_the_allowed_ones_and_nothing_is_imported(
    settings: Settings, db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    def room(book: Workbook) -> None:
        book["sessions"]["K1"] = "room"
        book["sessions"]["K3"] = "Salle B"

    with pytest.raises(ProgramError) as caught:
        await import_file(settings, write(tmp_path, edited(workbook_of(small_program()), room)))

    assert caught.value.lines() == [
        f'sessions!K1: unknown column "room" (allowed: {SESSION_COLUMNS})'
    ]
    assert await slugs(db) == []


def test_a_missing_column_is_named() -> None:
    data = edited(workbook_of(small_program()), lambda book: book["people"].delete_cols(3))

    assert problems(data) == [
        "people: missing columns in row 1: email (allowed: key, name, email, organisation, locale)"
    ]


def test_a_repeated_column_and_a_value_without_a_header_are_placed() -> None:
    def columns(book: Workbook) -> None:
        book["people"]["E1"] = "email"
        book["organisations"]["H4"] = "call back"

    assert problems(edited(workbook_of(small_program()), columns)) == [
        "organisations!H4: a value in a column without a header",
        'people!E1: repeated column "email" (also at people!C1)',
    ]


def test_unknown_sheets_are_named_with_the_known_ones() -> None:
    def sheets(book: Workbook) -> None:
        book.create_sheet("Sheet1")

    assert problems(edited(workbook_of(small_program()), sheets)) == [
        f"Sheet1: unknown sheet ({SHEETS})",
    ]


def test_sheet_names_are_matched_whatever_their_case() -> None:
    data = workbook_of(small_program())

    def capitalised(book: Workbook) -> None:
        for sheet in book.worksheets:
            name = sheet.title
            sheet.title = "renamed"  # openpyxl takes "People" for a copy of "people"
            sheet.title = name.capitalize()

    assert validated(edited(data, capitalised)) == validated(data)


def test_problems_in_the_event_sheet_are_placed_at_its_fields() -> None:
    def event(book: Workbook) -> None:
        sheet = book["event"]
        sheet["B4"] = "Europe/Lyon"
        sheet.delete_rows(row_of(book, "event", "organiser_email"))

    assert problems(edited(workbook_of(small_program()), event)) == [
        'event!B4: unknown time zone "Europe/Lyon" (use an IANA name like Europe/Paris)',
        "event (no organiser_email row): missing email",
    ]


def test_an_unknown_or_repeated_event_field_is_placed_at_its_name() -> None:
    def event(book: Workbook) -> None:
        book["event"].append(["venue", "Lyon"])
        book["event"].append(["title", "Again"])

    assert problems(edited(workbook_of(small_program()), event)) == [
        'event!A17: unknown field "venue" (known: slug, title, timezone, locale, provider, '
        "organiser_name, organiser_email, slot_minutes, gap_minutes, max_parallel, "
        "max_per_person, max_requests_per_person, refill, requests_open, requests_close)",
        'event!A18: "title" given twice (also at event!A3)',
    ]


def test_problems_in_requests_availability_and_windows_are_placed_at_their_cells() -> None:
    program = with_requests(
        availability={"zoe": [["2021-04-08T11:00", "2021-04-08T12:00"]]},
        requests=[{"from": "chloe", "to": "nobody"}],
    )
    program["schedule"]["gap_minutes"] = 1441
    program["schedule"]["windows"][1] = ["2021-04-08T12:00", "2021-04-08T13:00"]

    assert problems(workbook_of(program)) == [
        "event!B10: gap_minutes must be between 0 and 1440, not 1441",
        "availability!A3:C3: overlaps another window",
        'availability!A4: unknown person "zoe"',
        'requests!B2: unknown person or organisation "nobody"',
    ]


def test_a_time_of_day_without_its_date_is_refused() -> None:
    data = edited(
        workbook_of(small_program()), lambda book: book["sessions"].cell(3, 4, dtime(10, 30))
    )

    assert problems(data) == [
        "sessions!D3: a time of day without its date: type both, 2021-04-08 10:30"
    ]


def test_a_cell_far_away_is_refused_before_the_sheet_is_laid_out() -> None:
    data = edited(
        workbook_of(small_program()), lambda book: book["people"].cell(1048576, 16384, "x")
    )
    started = time.perf_counter()

    assert problems(data) == [
        "people: its cells reach XFD1048576, more than 2,000,000 cells from A1; delete what lies "
        "below or to the right of the program"
    ]
    assert time.perf_counter() - started < 2.0


def test_cells_that_give_their_position_after_other_attributes_read_the_same() -> None:
    data = workbook_of(small_program())
    members = members_of(data)
    sheet = "xl/worksheets/sheet3.xml"  # people
    members[sheet] = re.sub(
        rb'<c r="(\w+)" t="inlineStr">', rb'<c t="inlineStr" r="\1">', members[sheet]
    )
    assert b'<c t="inlineStr" r="C5">' in members[sheet]

    assert validated(zipped(members)) == validated(data)


def test_a_cell_without_its_position_is_refused() -> None:
    members = members_of(workbook_of(small_program()))
    sheet = "xl/worksheets/sheet3.xml"  # people
    members[sheet] = members[sheet].replace(b' r="B3"', b"", 1)

    assert problems(zipped(members)) == [
        "people: cannot be read: a cell without its position; save the workbook again from a "
        "spreadsheet"
    ]


def test_a_workbook_part_with_a_document_type_is_refused() -> None:
    members = members_of(workbook_of(small_program()))
    members["xl/workbook.xml"] = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]>'
        + (members["xl/workbook.xml"].split(b"?>", 1)[-1])
    )

    assert problems(zipped(members)) == [
        "lyon.xlsx: not a workbook this service can read: xl/workbook.xml declares a document "
        "type, which no spreadsheet writes"
    ]


def test_needs_and_offer_profiles_mean_in_the_workbook_what_they_mean_in_json() -> None:
    program = small_program()
    program["organisations"][2].update(  # Acme Sensors
        description="Capteurs connectés pour les réseaux d'eau",
        themes=["eau", "capteurs"],
        website="https://acme.example",
    )
    program["needs"] = [
        {
            "key": "eau-1",
            "organisation": "water",
            "title": "Détecter les fuites",
            "description": "Sur tout le réseau",
            "themes": ["eau", "fuites"],
        }
    ]
    from_json = validate(RawProgram(copy.deepcopy(program)), check_provider=lambda name: None)

    from_workbook = validated(workbook_of(program))

    assert from_workbook == from_json
    assert from_workbook.needs[0].themes == ("eau", "fuites")
    assert from_workbook.organisations[2].profile.website == "https://acme.example"
