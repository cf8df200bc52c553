"""The workbook form of a program (.xlsx): the sheet `event` (field, value), then `organisations`,
`people`, `sessions` and optionally `requests` and `availability`, with the CSV form's columns
under a header row. It reads into the same document as the JSON form, and every problem is placed
at its cell (`people!C5: malformed email "x"`).

Values are read by calamine (python-calamine): openpyxl, which writes the workbooks, takes 2 to 3
s to read the 10,000-person program where calamine takes a tenth of a second. What calamine does
not tell (formulas, a sheet's reach) comes from `xlsx`; a formula is refused, never evaluated.
"""

from __future__ import annotations

import io
import zipfile

from python_calamine import CalamineError, CalamineWorkbook

from . import xlsx
from .cells import column_letter
from .problems import Collector, ProgramError
from .raw import RawProgram
from .sheet_rows import EVENT, Grid, SheetReader
from .sheets import AVAILABILITY, NEEDS, ORGANISATIONS, PEOPLE, REQUESTS, SESSIONS

REQUIRED_SHEETS = (EVENT, PEOPLE.name, SESSIONS.name)
OPTIONAL_SHEETS = (ORGANISATIONS.name, REQUESTS.name, AVAILABILITY.name, NEEDS.name)
MAX_SHEET_CELLS = 2_000_000
"""The most cells a sheet may span from A1 to its last cell (the reader lays them all out)."""
_SHEETS_NAMED = (
    f"a program workbook has the sheets {', '.join(REQUIRED_SHEETS)}, and optionally "
    f"{', '.join(OPTIONAL_SHEETS)}"
)


def is_workbook(members: dict[str, bytes]) -> bool:
    return xlsx.WORKBOOK_PART in members


def read_workbook(members: dict[str, bytes], name: str) -> RawProgram:
    """The program in the workbook whose zip members are `members`; every problem found while
    reading (sheets, columns, formulas, cells that are no value) is reported at once."""
    try:
        parts = xlsx.sheet_parts(members)
    except xlsx.Damaged as error:
        raise ProgramError.single(name, f"not a workbook this service can read: {error}") from None
    problems = Collector()
    sheets = _chosen_sheets(parts, problems)
    for canonical, actual in list(sheets.items()):
        try:
            scan = xlsx.scan_sheet(members[parts[actual]])
        except (KeyError, xlsx.Damaged) as error:
            raise ProgramError.single(actual, f"cannot be read: {error}") from None
        if scan.rows * scan.columns > MAX_SHEET_CELLS:
            problems.add(
                actual,
                f"its cells reach {column_letter(scan.columns)}{scan.rows}, more than "
                f"{MAX_SHEET_CELLS:,} cells from A1; delete what lies below or to the right of "
                "the program",
            )
            del sheets[canonical]
        for formula in scan.formulas:
            shown = f' ("{formula.shown()}")' if formula.text else ""
            problems.add(
                f"{actual}!{formula.cell}", f"formulas are not read, type the value{shown}"
            )
    grids = _grids(members, sheets, name)
    program = SheetReader(problems).program(grids, sheets)
    problems.raise_if_any()
    return program


def _chosen_sheets(parts: dict[str, str], problems: Collector) -> dict[str, str]:
    """The program's sheets found in the workbook, by their name here (matched whatever their
    case) to their name there; each unknown sheet and each missing one is a problem."""
    chosen: dict[str, str] = {}
    for actual in parts:
        canonical = actual.strip().lower()
        if canonical in REQUIRED_SHEETS or canonical in OPTIONAL_SHEETS:
            chosen[canonical] = actual
        else:
            problems.add(actual, f"unknown sheet ({_SHEETS_NAMED})")
    for required in REQUIRED_SHEETS:
        if required not in chosen:
            problems.add(required, f"missing sheet ({_SHEETS_NAMED})")
    return chosen


def _grids(members: dict[str, bytes], sheets: dict[str, str], name: str) -> dict[str, Grid]:
    """Each sheet's values from A1, a row a list. calamine reads a copy of the archive made from
    the members as unpacked, so that it inflates nothing the archive checks did not count."""
    copy = io.BytesIO()
    with zipfile.ZipFile(copy, "w", zipfile.ZIP_STORED) as archive:
        for member, data in members.items():
            archive.writestr(member, data)
    copy.seek(0)
    try:
        with CalamineWorkbook.from_filelike(copy) as book:
            return {
                canonical: book.get_sheet_by_name(actual).to_python(skip_empty_area=False)
                for canonical, actual in sheets.items()
            }
    except CalamineError as error:
        raise ProgramError.single(
            name, f"not a workbook this service can read ({type(error).__name__}: {error})"
        ) from None
