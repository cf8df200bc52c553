"""The folder form zipped, as an organiser uploads it from the browser: it means exactly what the
folder means, whether the files sit at the top of the archive or in the folder that was zipped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from support.archives import zipped, zipped_folder
from support.service import EXAMPLE_DIR, EXAMPLE_JSON, EXAMPLE_SLUG

from orchestrator.commands import import_file
from orchestrator.db import models as m
from orchestrator.program.folder import FILES
from orchestrator.program.load import load_path, load_upload
from orchestrator.program.model import Program
from orchestrator.program.problems import ProgramError
from orchestrator.program.raw import RawProgram
from orchestrator.program.service import provider_check
from orchestrator.program.validate import validate
from orchestrator.settings import Settings


def validated(raw: RawProgram) -> Program:
    return validate(raw, check_provider=provider_check(Settings()))


def problems_in_upload(data: bytes, name: str = "lyon.zip") -> list[str]:
    with pytest.raises(ProgramError) as caught:
        validated(load_upload(data, name))
    return [str(problem) for problem in caught.value.problems]


def example_files() -> dict[str, bytes]:
    return {name: (EXAMPLE_DIR / name).read_bytes() for name in FILES}


def test_the_example_folder_zipped_means_the_same_as_the_example_json() -> None:
    from_json = validated(load_path(EXAMPLE_JSON))

    assert validated(load_upload(zipped(example_files()), "lyon.zip")) == from_json


def test_a_zipped_folder_as_a_mac_zips_it_reads_from_its_one_top_folder() -> None:
    files = {f"lyon-2021/{name}": data for name, data in example_files().items()}
    files["__MACOSX/lyon-2021/._event.json"] = b"\x00\x05\x16\x07 resource fork"
    files["lyon-2021/.DS_Store"] = b"\x00\x00\x00\x01Bud1"
    files["lyon-2021/notes.txt"] = b"call Sandrine about the plenary"

    program = validated(load_upload(zipped(files), "lyon-2021.zip"))

    assert program == validated(load_path(EXAMPLE_JSON))


def test_problems_in_a_zipped_folder_are_placed_by_file_and_line() -> None:
    files = example_files()
    files["people.csv"] = files["people.csv"].replace(
        b"helene.martin@grandlyon.example", b"helene.martin-at-grandlyon"
    )

    assert problems_in_upload(zipped(files)) == [
        'people.csv line 2, email: malformed email "helene.martin-at-grandlyon"'
    ]


def test_a_zip_missing_a_file_names_it_and_the_folder_it_looked_in() -> None:
    files = {f"lyon/{name}": data for name, data in example_files().items()}
    del files["lyon/sessions.csv"]

    assert problems_in_upload(zipped(files)) == [
        "sessions.csv: missing from the folder lyon/ of the archive lyon.zip"
    ]


def test_a_zip_with_two_program_folders_asks_for_one() -> None:
    files = {f"{top}/{name}": data for top in ("a", "b") for name, data in example_files().items()}

    assert problems_in_upload(zipped(files)) == [
        "lyon.zip: several folders hold an event.json (a/, b/); zip only one"
    ]


def test_a_zip_of_something_else_says_what_it_expected() -> None:
    assert problems_in_upload(zipped({"photo.jpg": b"\xff\xd8\xff"})) == [
        "lyon.zip: neither a workbook (no xl/workbook.xml) nor a zipped program folder (no "
        "event.json at its top or in its one top folder)"
    ]


def test_an_opendocument_spreadsheet_is_asked_to_be_saved_as_xlsx() -> None:
    ods = zipped(
        {"mimetype": b"application/vnd.oasis.opendocument.spreadsheet", "content.xml": b"<x/>"}
    )

    assert problems_in_upload(ods, "lyon.ods") == [
        "lyon.ods: an OpenDocument spreadsheet (.ods): save it as an Excel workbook (.xlsx)"
    ]


def test_an_old_xls_workbook_is_asked_to_be_saved_as_xlsx() -> None:
    xls = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)

    assert problems_in_upload(xls, "lyon.xls") == [
        "lyon.xls: an old .xls workbook, or a password-protected one: save it as an Excel "
        "workbook (.xlsx) without a password"
    ]


def test_json_uploads_read_as_before() -> None:
    data = EXAMPLE_JSON.read_bytes()

    assert validated(load_upload(data, "program.json")) == validated(load_path(EXAMPLE_JSON))


async def test_rdv_import_of_a_zipped_folder_imports_the_event(
    settings: Settings, db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    path = tmp_path / "lyon.zip"
    path.write_bytes(zipped_folder(EXAMPLE_DIR, top="lyon-2021"))

    changes = await import_file(settings, path)

    assert changes.event_created
    assert len(changes.sessions_created) == 42
    async with db() as session:
        assert (await session.scalars(select(m.Event.slug))).all() == [EXAMPLE_SLUG]


def test_a_renamed_zip_is_still_read_by_its_content(tmp_path: Path) -> None:
    path = tmp_path / "program.json"
    path.write_bytes(zipped(example_files()))
    expected = json.loads(EXAMPLE_JSON.read_text(encoding="utf-8"))

    assert validated(load_path(path)).event.slug == expected["event"]["slug"]
