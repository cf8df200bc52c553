"""The cells that problems in a workbook are placed at: a table row's fields by their columns
(`people!C5`), and the event sheet's fields and the meeting windows by the rows that hold them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_FIRST_STEP = re.compile(r"[^.\[]*")


def column_letter(number: int) -> str:
    """1 is `A`, 26 `Z`, 27 `AA`."""
    letters = ""
    while number > 0:
        number, rest = divmod(number - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def cell(sheet: str, column: int, row: int) -> str:
    """A cell as Excel names it, `people!C5` (column and row from 1)."""
    return f"{sheet}!{column_letter(column)}{row}"


@dataclass(frozen=True, slots=True, eq=False)
class RowCells:
    """One row of a table: a field is placed at its column's cell, the row itself at its span."""

    sheet: str
    row: int
    columns: Mapping[str, int]
    """Each field's column (from 1); one mapping shared by every row of the sheet."""
    width: int

    def at(self, path: str) -> str:
        match = _FIRST_STEP.match(path)
        column = self.columns.get(match.group() if match else "")
        if column is None:
            return f"{cell(self.sheet, 1, self.row)}:{column_letter(self.width)}{self.row}"
        return cell(self.sheet, column, self.row)


@dataclass(frozen=True, slots=True, eq=False)
class FieldCells:
    """Paths to the cells (or words) that name them; a path not named is placed at its nearest
    named parent (`windows[0]` for `windows[0][1]`), else at `fallback`."""

    named: Mapping[str, str]
    fallback: str

    def at(self, path: str) -> str:
        while path:
            if path in self.named:
                return self.named[path]
            cut = path.rfind("[") if path.endswith("]") else path.rfind(".")
            path = path[: max(cut, 0)]
        return self.named.get("", self.fallback)
