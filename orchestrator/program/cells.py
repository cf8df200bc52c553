"""The cells that problems in a workbook are placed at: a table row's fields by their columns
(`people!C5`), and the event sheet's fields and the meeting windows by the rows that hold them."""

from __future__ import annotations


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
