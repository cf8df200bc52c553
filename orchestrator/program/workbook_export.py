"""Writes a program document (the JSON form, or a stored event as `export_document` gives it) as
the workbook the reader takes back: made for people, with bold frozen header rows, columns sized
to their content, a choice list where a column takes one of a few words, and times as the
spreadsheet's own dates and times in the event's zone."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import Cell
from openpyxl.styles import Font
from openpyxl.worksheet.datavalidation import DataValidation

from .cells import column_letter
from .sheets import (
    AVAILABILITY,
    EVENT_FIELDS,
    EVERYONE,
    NEEDS,
    ORGANISATIONS,
    PEOPLE,
    REQUESTS,
    SCHEDULE_FIELDS,
    SESSIONS,
    TIME_COLUMNS,
)
from .validate import LOCALES, ORGANISATION_KINDS, SESSION_KINDS

EXAMPLE = Path(__file__).with_name("example_program.json")
"""The example event (examples/lyon-2021/program.json, copied here by its generator)."""
TIME_FORMAT = "yyyy-mm-dd hh:mm"
_WIDTH_LIMITS = (8, 60)
_CHOICES: dict[str, dict[str, tuple[str, ...]]] = {
    ORGANISATIONS.name: {"kind": ORGANISATION_KINDS},
    PEOPLE.name: {"locale": LOCALES},
    SESSIONS.name: {"kind": SESSION_KINDS},
}
_EVENT_HEADER = ("field", "value")

Row = list[Any]


def template_workbook() -> bytes:
    """The example event as a workbook: what an organiser starts a program from."""
    return export_workbook(json.loads(EXAMPLE.read_bytes()))


def export_workbook(document: Mapping[str, Any]) -> bytes:
    """`document` as an .xlsx workbook; importing it gives back the same event."""
    event = document.get("event") or {}
    zone = _zone(event.get("timezone"))
    schedule = document.get("schedule") or {}
    everyone = {person.get("key") for person in document.get("people") or []}
    book = Workbook(write_only=True)
    _sheet(book, "event", _EVENT_HEADER, _event_rows(event, schedule))
    for table in (ORGANISATIONS, PEOPLE, SESSIONS, REQUESTS, NEEDS):
        rows = []
        for item in document.get(table.name) or []:
            if table is SESSIONS and _is_everyone(item.get("attendees"), everyone):
                item = {**item, "attendees": EVERYONE}
            rows.append([_cell(item.get(column), column, zone) for column in table.columns])
        _sheet(book, table.name, table.columns, rows)
    _sheet(book, AVAILABILITY.name, AVAILABILITY.columns, _availability_rows(document, zone))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _is_everyone(attendees: Any, everyone: set[Any]) -> bool:
    """Whether a list names every person: a stored event lists them, a person types `*` (and
    a cell holds at most 32,767 characters)."""
    return isinstance(attendees, list) and len(everyone) > 2 and set(attendees) == everyone


def _event_rows(event: Mapping[str, Any], schedule: Mapping[str, Any]) -> list[Row]:
    rows: list[Row] = []
    for field, path in EVENT_FIELDS.items():
        value: Any = event
        for step in path:
            value = value.get(step) if isinstance(value, Mapping) else None
        rows.append([field, _cell(value, field, None)])
    rows.extend([field, schedule.get(field)] for field in SCHEDULE_FIELDS)
    return rows


def _availability_rows(document: Mapping[str, Any], zone: ZoneInfo | None) -> list[Row]:
    """The windows as rows of person `*`, then each person's periods."""
    windows = (document.get("schedule") or {}).get("windows") or []
    periods = document.get("availability") or {}
    spans = [(EVERYONE, span) for span in windows]
    spans += [(person, span) for person, listed in periods.items() for span in listed]
    rows: list[Row] = []
    for person, span in spans:
        start, end = [*span, None, None][:2] if isinstance(span, list) else (span, None)
        rows.append([person, _cell(start, "start", zone), _cell(end, "end", zone)])
    return rows


def _sheet(book: Workbook, title: str, header: Sequence[str], rows: list[Row]) -> None:
    sheet = book.create_sheet(title)
    sheet.freeze_panes = "A2"
    for index, width in enumerate(_widths(header, rows), start=1):
        sheet.column_dimensions[column_letter(index)].width = width
    last = column_letter(len(header))
    sheet.auto_filter.ref = f"A1:{last}{len(rows) + 1}"
    for column, words in _CHOICES.get(title, {}).items():
        letter = column_letter(header.index(column) + 1)
        choice = DataValidation(
            type="list",
            formula1='"' + ",".join(words) + '"',
            allow_blank=True,
            showErrorMessage=True,
            errorStyle="warning",
        )
        choice.add(f"{letter}2:{letter}1048576")
        sheet.data_validations.append(choice)
    bold = Font(bold=True)
    sheet.append([_styled(sheet, name, font=bold) for name in header])
    for row in rows:
        sheet.append(
            [_styled(sheet, value) if isinstance(value, datetime) else value for value in row]
        )


def _styled(sheet: Any, value: Any, *, font: Font | None = None) -> Cell:
    styled = WriteOnlyCell(sheet, value=value)
    if font is not None:
        styled.font = font
    if isinstance(value, datetime):
        styled.number_format = TIME_FORMAT
    return styled


def _widths(header: Sequence[str], rows: Iterable[Row]) -> list[float]:
    """Each column's width in characters: its longest value, within limits."""
    widths = [len(name) + 4 for name in header]  # room for the filter's arrow
    for row in rows:
        for index, value in enumerate(row):
            length = len(TIME_FORMAT) if isinstance(value, datetime) else len(str(value or ""))
            widths[index] = max(widths[index], length + 2)
    low, high = _WIDTH_LIMITS
    return [float(min(max(width, low), high)) for width in widths]


def _cell(value: Any, column: str, zone: ZoneInfo | None) -> Any:
    """A document value as a cell holds it: lists joined by `;`, times as dates and times."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, list):
        return ";".join(str(item) for item in value)
    if not isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return _moment(value, zone) if column in TIME_COLUMNS else value


def _moment(text: str, zone: ZoneInfo | None) -> datetime | str:
    """An ISO time as the spreadsheet date and time it reads back as: a naive time as it is (it
    is local to the event's zone), an absolute one in the event's zone. One that a local time
    cannot say (it happens twice the night clocks go back), or that is no time, stays text."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    if moment.tzinfo is None:
        return moment
    if zone is None:
        return text
    local = moment.astimezone(zone).replace(tzinfo=None)
    first, second = local.replace(tzinfo=zone, fold=0), local.replace(tzinfo=zone, fold=1)
    return local if first.utcoffset() == second.utcoffset() else text


def _zone(name: Any) -> ZoneInfo | None:
    if not isinstance(name, str) or ".." in name or name.startswith("/"):
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None
