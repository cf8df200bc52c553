"""Reads a program file (JSON, or a folder with `event.json`, `people.csv`, `sessions.csv`) into
one JSON-shaped document, remembering where each item came from for error messages."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from .problems import Collector, Place, ProgramError
from .raw import RawProgram

PEOPLE_COLUMNS = ("key", "name", "email", "organisation")
PEOPLE_OPTIONAL = ("locale",)
SESSION_COLUMNS = ("key", "kind", "title", "start", "end", "attendees")
SESSION_OPTIONAL = ("provider", "speakers", "stream_url", "streamed")
LIST_COLUMNS = ("attendees", "speakers")
# What event.json may hold in the folder form: the event, organisations and meeting requests.
FOLDER_HEAD = ("event", "organisations", "schedule", "availability", "requests")
FOLDER_NAMES = ", ".join(f'"{name}"' for name in FOLDER_HEAD)


class _DuplicateField(ValueError):
    pass


def _no_duplicate_fields(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateField(key)
        result[key] = value
    return result


def _decode(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        bad = data[error.start]
        raise ProgramError.single(
            name, f"not UTF-8 text (byte 0x{bad:02x} at offset {error.start}); save it as UTF-8"
        ) from None


def parse_json(data: bytes, name: str = "program") -> Any:
    """JSON from bytes; syntax errors name the line and column, duplicate fields are refused."""
    text = _decode(data, name)
    try:
        return json.loads(text, object_pairs_hook=_no_duplicate_fields)
    except _DuplicateField as error:
        raise ProgramError.single(name, f'field "{error}" appears twice in one object') from None
    except json.JSONDecodeError as error:
        raise ProgramError.single(
            name, f"invalid JSON at line {error.lineno}, column {error.colno}: {error.msg}"
        ) from None
    except RecursionError:
        raise ProgramError.single(name, "JSON nested too deeply") from None


def load_bytes(data: bytes, name: str = "program") -> RawProgram:
    return RawProgram(parse_json(data, name))


def load_path(path: str | Path) -> RawProgram:
    """A program from a JSON file or a folder; a missing or unreadable file is a ProgramError."""
    path = Path(path)
    if path.is_dir():
        return _load_folder(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ProgramError.single(str(path), f"cannot read: {error.strerror}") from None
    return load_bytes(data, path.name)


def _load_folder(folder: Path) -> RawProgram:
    problems = Collector()
    contents: dict[str, bytes] = {}
    for name in ("event.json", "people.csv", "sessions.csv"):
        try:
            contents[name] = (folder / name).read_bytes()
        except FileNotFoundError:
            problems.add(name, f"missing from the folder {folder}")
        except OSError as error:
            problems.add(name, f"cannot read: {error.strerror}")
    problems.raise_if_any()
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
    for section, required, optional in (
        ("people", PEOPLE_COLUMNS, PEOPLE_OPTIONAL),
        ("sessions", SESSION_COLUMNS, SESSION_OPTIONAL),
    ):
        name = f"{section}.csv"
        try:
            rows, row_places = _read_csv(contents[name], name, required, optional, problems)
        except ProgramError as error:
            problems.problems.extend(error.problems)
            continue
        document[section] = rows
        places[section] = row_places
    problems.raise_if_any()
    return RawProgram(document, places, Place("event.json: event"), in_folder=True)


def _read_csv(
    data: bytes,
    name: str,
    required: tuple[str, ...],
    optional: tuple[str, ...],
    problems: Collector,
) -> tuple[list[dict[str, Any]], list[Place]]:
    text = _decode(data, name)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [cell.strip() for cell in next(reader)]
    except StopIteration:
        raise ProgramError.single(name, "empty file: expected a header line") from None
    except csv.Error as error:
        raise ProgramError.single(f"{name} line 1", f"malformed CSV: {error}") from None
    missing = [column for column in required if column not in header]
    extra = [column for column in header if column not in required + optional]
    repeated = sorted({column for column in header if header.count(column) > 1})
    if missing:
        problems.add(f"{name} line 1", f"missing columns: {', '.join(missing)}")
    if extra:
        allowed = ", ".join(required + optional)
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
                if not value:
                    continue
                if column in LIST_COLUMNS and value != "*":
                    row[column] = [item.strip() for item in value.split(";") if item.strip()]
                else:
                    row[column] = value
            rows.append(row)
            places.append(Place(f"{name} line {line}", separator=", "))
    except csv.Error as error:
        problems.add(f"{name} line {reader.line_num}", f"malformed CSV: {error}")
    return rows, places
