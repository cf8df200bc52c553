"""The attendance log as CSV that opens cleanly in a spreadsheet: UTF-8 with a BOM, and no cell
that a spreadsheet would run as a formula."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

COLUMNS = (
    ("session", "session"),
    ("local_start", "local start"),
    ("name", "person"),
    ("email", "email"),
    ("organisation", "organisation"),
    ("organisation_kind", "organisation kind"),
    ("first_join", "first join"),
    ("last_leave", "last leave"),
    ("minutes_present", "minutes present"),
    ("status", "status"),
    ("substitute_for", "substitute for"),
    ("sources", "sources"),
    ("answer", "answer ahead"),
    ("answer_reason", "reason given"),
)
# OWASP's CSV injection guidance: a spreadsheet runs a cell whose first non-blank character is
# one of these (blanks before it, a newline, a tab or spaces, hide nothing); a leading tab,
# carriage return or NUL is quoted as well (ASVS 1.2.10).
_FORMULA_START = ("=", "+", "-", "@")
_CONTROL_START = ("\t", "\r", "\0")


def cell(value: Any) -> str:
    """Text a spreadsheet shows as typed: a formula character first (after any blanks) is quoted
    away."""
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        value = " ".join(str(item) for item in value)
    text = str(value)
    if isinstance(value, str) and (
        text.lstrip().startswith(_FORMULA_START) or text.startswith(_CONTROL_START)
    ):
        return "'" + text
    return text


def csv_bytes(columns: Sequence[tuple[str, str]], rows: Iterable[dict[str, Any]]) -> bytes:
    """(field, heading) columns; every cell made safe for spreadsheets."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([title for _, title in columns])
    for row in rows:
        writer.writerow([cell(row.get(name)) for name, _ in columns])
    return "\ufeff".encode() + out.getvalue().encode("utf-8")


def attendance_csv(rows: Iterable[dict[str, Any]]) -> bytes:
    return csv_bytes(COLUMNS, rows)
