"""A program workbook's sheets, as rows of values from A1, turned into the program's document:
each item placed at its cells, and each cell that holds no value a program can take a problem."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

from .cells import FieldCells, RowCells, cell
from .problems import Collector, Place
from .raw import RawProgram
from .sheets import (
    AVAILABILITY,
    EVENT_FIELDS,
    EVERYONE,
    LIST_COLUMNS,
    NEEDS,
    NUMBER_FIELDS,
    ORGANISATIONS,
    PEOPLE,
    REQUESTS,
    SCHEDULE_FIELDS,
    SESSIONS,
    Table,
    cell_list,
)

EVENT = "event"
TABLES = (ORGANISATIONS, PEOPLE, SESSIONS, REQUESTS, NEEDS)
_EVENT_NAMES = ", ".join((*EVENT_FIELDS, *SCHEDULE_FIELDS))

Grid = Sequence[Sequence[Any]]


class SheetReader:
    """Turns the sheets' cells into the document's values, adding a problem for each cell that
    holds no value a program can take."""

    def __init__(self, problems: Collector) -> None:
        self.problems = problems

    def program(self, grids: dict[str, Grid], sheets: dict[str, str]) -> RawProgram:
        """The document of the sheets in `grids` (each by its name here; `sheets` gives its name
        in the workbook), with the places of its items and sections."""
        document: dict[str, Any] = {}
        places: dict[str, list[Place]] = {}
        event_cells = FieldCells({}, EVENT)
        schedule: dict[str, Any] = {}
        schedule_cells: dict[str, str] = {}
        if EVENT in sheets:
            document[EVENT], schedule, event_cells, schedule_cells = self.event(
                grids[EVENT], sheets[EVENT]
            )
        for table in TABLES:
            if table.name in sheets:
                rows, row_places = self.table(grids[table.name], table, sheets[table.name])
                if rows or table.name not in (REQUESTS.name, NEEDS.name):
                    document[table.name], places[table.name] = rows, row_places
        availability_cells = FieldCells({}, AVAILABILITY.name)
        windows: list[list[Any]] = []
        if AVAILABILITY.name in sheets:
            actual = sheets[AVAILABILITY.name]
            windows, periods, availability_cells, window_cells = self.availability(
                grids[AVAILABILITY.name], actual
            )
            schedule_cells.update(window_cells)
            if periods:
                document[AVAILABILITY.name] = periods
        if windows:
            schedule["windows"] = windows
        if schedule:
            document["schedule"] = schedule
        return RawProgram(
            document,
            places,
            event_place=Place(EVENT, cells=event_cells),
            sections={
                "schedule": Place("schedule", cells=FieldCells(schedule_cells, EVENT)),
                AVAILABILITY.name: Place(AVAILABILITY.name, cells=availability_cells),
            },
        )

    def event(
        self, grid: Grid, sheet: str
    ) -> tuple[dict[str, Any], dict[str, Any], FieldCells, dict[str, str]]:
        """The event, the schedule's fields, and the cells both are placed at."""
        rows: dict[str, int] = {}
        event: dict[str, Any] = {}
        organiser: dict[str, Any] = {}
        schedule: dict[str, Any] = {}
        first = 1 if grid and _text(grid[0][0] if grid[0] else "").lower() == "field" else 0
        stray: set[int] = set()
        for index in range(first, len(grid)):
            number, values = index + 1, grid[index]
            self.stray(values, {1, 2}, sheet, number, stray, "the event sheet has two columns")
            field = _text(values[0]) if values else ""
            value = values[1] if len(values) > 1 else ""
            if not field:
                if _text(value):
                    self.problems.add(cell(sheet, 1, number), "a value without its field name")
                continue
            where = cell(sheet, 1, number)
            if field not in EVENT_FIELDS and field not in SCHEDULE_FIELDS:
                self.problems.add(where, f'unknown field "{field}" (known: {_EVENT_NAMES})')
                continue
            if field in rows:
                self.problems.add(
                    where, f'"{field}" given twice (also at {cell(sheet, 1, rows[field])})'
                )
                continue
            rows[field] = number
            converted = self.value(value, field, sheet, 2, number)
            if converted is None:
                continue
            if field in SCHEDULE_FIELDS:
                schedule[field] = converted
            elif EVENT_FIELDS[field][0] == "organiser":
                organiser[EVENT_FIELDS[field][1]] = converted
            else:
                event[EVENT_FIELDS[field][0]] = converted
        event["organiser"] = organiser

        def placed(field: str) -> str:
            return cell(sheet, 2, rows[field]) if field in rows else f"{sheet} (no {field} row)"

        event_cells = {".".join(path): placed(field) for field, path in EVENT_FIELDS.items()}
        schedule_cells = {field: placed(field) for field in SCHEDULE_FIELDS}
        return event, schedule, FieldCells(event_cells, sheet), schedule_cells

    def table(
        self, grid: Grid, table: Table, sheet: str
    ) -> tuple[list[dict[str, Any]], list[Place]]:
        """The rows under the header row, each with the cells its fields are placed at."""
        columns = self.header(grid, table, sheet)
        if columns is None:
            return [], []
        width = max(columns.values())
        fields = [(field, column - 1) for field, column in columns.items()]
        named = set(columns.values())
        unnamed = [i for i in range(len(grid[0])) if i + 1 not in named]  # rows are as wide
        stray: set[int] = set()
        rows: list[dict[str, Any]] = []
        places: list[Place] = []
        for index in range(1, len(grid)):
            values = grid[index]
            if values.count("") == len(values):
                continue
            number = index + 1
            if unnamed:
                self.stray(
                    values, named, sheet, number, stray, "a value in a column without a header"
                )
            item: dict[str, Any] = {}
            for field, at in fields:
                if at < len(values) and values[at] != "":
                    converted = self.value(values[at], field, sheet, at + 1, number)
                    if converted is not None:
                        item[field] = converted
            rows.append(item)
            places.append(Place(sheet, cells=RowCells(sheet, number, columns, width)))
        return rows, places

    def header(self, grid: Grid, table: Table, sheet: str) -> dict[str, int] | None:
        """Each column's field, from row 1; None when the header has a problem."""
        allowed = ", ".join(table.columns)
        columns: dict[str, int] = {}
        clean = True
        for index, value in enumerate(grid[0] if grid else ()):
            name = _text(value)
            if not name:
                continue
            where = cell(sheet, index + 1, 1)
            if name not in table.columns:
                self.problems.add(where, f'unknown column "{name}" (allowed: {allowed})')
                clean = False
            elif name in columns:
                also = cell(sheet, columns[name], 1)
                self.problems.add(where, f'repeated column "{name}" (also at {also})')
                clean = False
            else:
                columns[name] = index + 1
        missing = [column for column in table.required if column not in columns]
        if not columns and clean:
            self.problems.add(sheet, f"empty sheet: row 1 names the columns ({allowed})")
            return None
        if missing:
            self.problems.add(
                sheet, f"missing columns in row 1: {', '.join(missing)} (allowed: {allowed})"
            )
        return columns if clean and not missing else None

    def availability(
        self, grid: Grid, sheet: str
    ) -> tuple[list[list[Any]], dict[str, list[list[Any]]], FieldCells, dict[str, str]]:
        """The windows (rows of person `*`), each person's periods, and the cells of both."""
        rows, places = self.table(grid, AVAILABILITY, sheet)
        windows: list[list[Any]] = []
        periods: dict[str, list[list[Any]]] = {}
        named: dict[str, str] = {}
        window_cells: dict[str, str] = {"windows": f'{sheet} (no rows for person "{EVERYONE}")'}
        for item, place in zip(rows, places, strict=True):
            person, span = item.get("person"), [item.get("start"), item.get("end")]
            if person is None:
                self.problems.add(place / "person", f'missing person (a key, or "{EVERYONE}")')
                continue
            cells, path = named, str(person)
            if person == EVERYONE:
                cells, path = window_cells, f"windows[{len(windows)}]"
                if not windows:
                    cells["windows"] = str(place / "person")
                windows.append(span)
            else:
                cells.setdefault(path, str(place / "person"))
                path = f"{path}[{len(periods.setdefault(path, []))}]"
                periods[str(person)].append(span)
            cells[path] = str(place)
            cells[f"{path}[0]"] = str(place / "start")
            cells[f"{path}[1]"] = str(place / "end")
        return windows, periods, FieldCells(named, sheet), window_cells

    def stray(
        self,
        values: Sequence[Any],
        named: set[int],
        sheet: str,
        row: int,
        reported: set[int],
        message: str,
    ) -> None:
        """A problem at a value in a column the sheet does not name, once a column."""
        for index, value in enumerate(values):
            column = index + 1
            if value != "" and column not in named and column not in reported:
                reported.add(column)
                self.problems.add(cell(sheet, column, row), message)

    def value(self, value: Any, field: str, sheet: str, column: int, row: int) -> Any:
        """The value of a cell, None (and a problem at the cell) when it holds none."""
        try:
            return _converted(value, field)
        except _NotAValue as why:
            self.problems.add(cell(sheet, column, row), str(why))
            return None


class _NotAValue(ValueError):
    """What a cell holds instead of a value a program can take."""


def _converted(value: Any, field: str) -> Any:
    """A cell's value as the JSON form holds it: text (a number typed in a key column is its
    digits), a list for attendees and speakers, a whole number where one is counted, a date and
    time as ISO text (local to the event's zone, like a naive time in JSON)."""
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if field in LIST_COLUMNS:
            return cell_list(text)
        return int(text) if field in NUMBER_FIELDS and text.isdigit() else text
    if isinstance(value, bool):
        return value if field == "streamed" else str(value).lower()
    if isinstance(value, int | float):
        whole = float(value).is_integer()
        if field in NUMBER_FIELDS:
            return int(value) if whole else value
        text = str(int(value)) if whole else repr(value)
        return cell_list(text) if field in LIST_COLUMNS else text
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        raise _NotAValue("a time of day without its date: type both, 2021-04-08 10:30")
    if isinstance(value, timedelta):
        raise _NotAValue("a duration, not a date and time like 2021-04-08 10:30")
    return str(value)


def _text(value: Any) -> str:
    """A header or field name: its text, stripped."""
    return value.strip() if isinstance(value, str) else "" if value == "" else str(value)


def _iso(moment: datetime) -> str:
    """A spreadsheet's date and time (a fraction of a day, so 10:30 may come back a hair early)
    to the second, as ISO text."""
    moment = (moment + timedelta(microseconds=500_000)).replace(microsecond=0)
    return moment.isoformat(timespec="minutes" if moment.second == 0 else "seconds")
