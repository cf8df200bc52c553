"""Workbooks the tests build: a program written by the service's own writer, then changed cell by
cell with openpyxl, as an organiser would change it in a spreadsheet."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from openpyxl import Workbook, load_workbook

from orchestrator.program.workbook_export import export_workbook


def workbook_of(program: dict[str, Any]) -> bytes:
    return export_workbook(program)


def edited(data: bytes, edit: Callable[[Workbook], object]) -> bytes:
    """`data` opened, changed by `edit`, and saved again."""
    book = load_workbook(io.BytesIO(data))
    edit(book)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def row_of(book: Workbook, sheet: str, key: str) -> int:
    """The row whose first cell is `key`."""
    for row in book[sheet].iter_rows(min_col=1, max_col=1):
        if row[0].value == key:
            return int(row[0].row)
    raise AssertionError(f"no row {key!r} in {sheet}")
