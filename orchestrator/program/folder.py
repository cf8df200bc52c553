"""The folder form of a program: `event.json` (the event, organisations and meeting requests),
`people.csv` and `sessions.csv`, read from a folder or from a zip of one. Problems are placed by
file and line (`people.csv line 4, email`)."""

from __future__ import annotations

import csv
import io
from pathlib import Path, PurePosixPath
from typing import Any

from .decode import decode, parse_json
from .problems import Collector, Place, ProgramError
from .raw import RawProgram
from .sheets import LIST_COLUMNS, PEOPLE, SESSIONS, Table, cell_list

FILES = ("event.json", "people.csv", "sessions.csv")
# What event.json may hold in the folder form: the event, organisations, meeting requests, needs.
FOLDER_HEAD = ("event", "organisations", "schedule", "availability", "requests", "needs")
FOLDER_NAMES = ", ".join(f'"{name}"' for name in FOLDER_HEAD)


def read_folder(folder: Path) -> RawProgram:
    problems = Collector()
    contents: dict[str, bytes] = {}
    for name in FILES:
        try:
            contents[name] = (folder / name).read_bytes()
        except FileNotFoundError:
            problems.add(name, f"missing from the folder {folder}")
        except OSError as error:
            problems.add(name, f"cannot read: {error.strerror}")
    problems.raise_if_any()
    return _program(contents)


def read_zipped_folder(members: dict[str, bytes], name: str) -> RawProgram:
    """The folder form from a zip's members: the three files at its top, or in its one top folder
    (as zipping a folder makes them). Other files are left alone, like in a folder."""
    files = {path: data for path, data in members.items() if not _litter(path)}
    if "event.json" in files:
        top = ""
    else:
        tops = sorted(
            path.removesuffix("event.json")
            for path in files
            if PurePosixPath(path).name == "event.json" and path.count("/") == 1
        )
        if len(tops) > 1:
            raise ProgramError.single(
                name, f"several folders hold an event.json ({', '.join(tops)}); zip only one"
            )
        if not tops:
            raise ProgramError.single(name, _missing_head(files))
        top = tops[0]
    problems = Collector()
    contents: dict[str, bytes] = {}
    for file in FILES:
        if top + file in files:
            contents[file] = files[top + file]
        else:
            where = f"the folder {top} of " if top else ""
            problems.add(file, f"missing from {where}the archive {name}")
    problems.raise_if_any()
    return _program(contents)


def _litter(path: str) -> bool:
    """What a Mac or a file manager adds when it zips a folder: never part of the program."""
    file = PurePosixPath(path).name
    return path.startswith("__MACOSX/") or file.startswith("._") or file == ".DS_Store"


def _missing_head(files: dict[str, bytes]) -> str:
    if files.get("mimetype", b"").startswith(b"application/vnd.oasis.opendocument.spreadsheet"):
        return "an OpenDocument spreadsheet (.ods): save it as an Excel workbook (.xlsx)"
    return (
        "neither a workbook (no xl/workbook.xml) nor a zipped program folder (no event.json at "
        "its top or in its one top folder)"
    )


def _program(contents: dict[str, bytes]) -> RawProgram:
    problems = Collector()
    document: dict[str, Any] = {}
    places: dict[str, list[Place]] = {}
    try:
        head = parse_json(contents["event.json"], "event.json")
    except ProgramError as error:
        problems.problems.extend(error.problems)
        head = {}
    if isinstance(head, dict):
        organisations = head.get("organisations")
        if isinstance(organisations, list):
            places["organisations"] = [
                Place(f"event.json: organisations[{index}]") for index in range(len(organisations))
            ]
        requests = head.get("requests")
        if isinstance(requests, list):
            places["requests"] = [
                Place(f"event.json: requests[{index}]") for index in range(len(requests))
            ]
        for key, value in head.items():
            if key in FOLDER_HEAD:
                document[key] = value
            else:
                problems.add(
                    "event.json",
                    f'unknown field "{key}" (the folder form holds only {FOLDER_NAMES} here; '
                    "people and sessions go in the CSV files)",
                )
    else:
        problems.add("event.json", "expected a JSON object with event and organisations")
    for table in (PEOPLE, SESSIONS):
        name = f"{table.name}.csv"
        try:
            rows, row_places = _read_csv(contents[name], name, table, problems)
        except ProgramError as error:
            problems.problems.extend(error.problems)
            continue
        document[table.name] = rows
        places[table.name] = row_places
    problems.raise_if_any()
    return RawProgram(document, places, Place("event.json: event"), in_folder=True)


def _read_csv(
    data: bytes, name: str, table: Table, problems: Collector
) -> tuple[list[dict[str, Any]], list[Place]]:
    text = decode(data, name)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [cell.strip() for cell in next(reader)]
    except StopIteration:
        raise ProgramError.single(name, "empty file: expected a header line") from None
    except csv.Error as error:
        raise ProgramError.single(f"{name} line 1", f"malformed CSV: {error}") from None
    missing = [column for column in table.required if column not in header]
    extra = [column for column in header if column not in table.columns]
    repeated = sorted({column for column in header if header.count(column) > 1})
    if missing:
        problems.add(f"{name} line 1", f"missing columns: {', '.join(missing)}")
    if extra:
        allowed = ", ".join(table.columns)
        problems.add(f"{name} line 1", f"unknown columns: {', '.join(extra)} (allowed: {allowed})")
    if repeated:
        problems.add(f"{name} line 1", f"repeated columns: {', '.join(repeated)}")
    if missing or extra or repeated:
        return [], []
    rows: list[dict[str, Any]] = []
    places: list[Place] = []
    start = reader.line_num + 1  # a quoted cell may span lines: report where the row starts
    try:
        for cells in reader:
            line, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) != len(header):
                problems.add(
                    f"{name} line {line}", f"{len(cells)} cells where the header has {len(header)}"
                )
                continue
            row: dict[str, Any] = {}
            for column, cell in zip(header, cells, strict=True):
                value = cell.strip()
                if value:
                    row[column] = cell_list(value) if column in LIST_COLUMNS else value
            rows.append(row)
            places.append(Place(f"{name} line {line}", separator=", "))
    except csv.Error as error:
        problems.add(f"{name} line {reader.line_num}", f"malformed CSV: {error}")
    return rows, places
