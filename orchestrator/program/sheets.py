"""The tables of a program as a spreadsheet holds them, shared by the folder form's CSV files and
the workbook's sheets: which columns each has, and how a cell's text becomes a program value."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Table:
    """One kind of row: the sheet (or CSV file) it lives in and its columns, in writing order."""

    name: str
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()

    @property
    def columns(self) -> tuple[str, ...]:
        return self.required + self.optional


ORGANISATIONS = Table(
    "organisations", ("key", "name", "kind"), ("description", "themes", "website")
)
PEOPLE = Table("people", ("key", "name", "email", "organisation"), ("locale",))
SESSIONS = Table(
    "sessions",
    ("key", "kind", "title", "start", "end", "attendees"),
    ("provider", "speakers", "stream_url", "streamed"),
)
REQUESTS = Table("requests", ("from", "to"), ("priority", "key"))
NEEDS = Table("needs", ("key", "organisation", "title"), ("description", "themes"))
"""The buyers' needs the program pre-fills (`prefill.py`)."""
AVAILABILITY = Table("availability", ("person", "start", "end"))
"""Rows of person "*" are the schedule's windows: when anyone may meet."""

LIST_COLUMNS = ("attendees", "speakers", "themes")
TIME_COLUMNS = ("start", "end")
EVERYONE = "*"

EVENT_FIELDS: dict[str, tuple[str, ...]] = {
    "slug": ("slug",),
    "title": ("title",),
    "timezone": ("timezone",),
    "locale": ("locale",),
    "provider": ("provider",),
    "organiser_name": ("organiser", "name"),
    "organiser_email": ("organiser", "email"),
}
"""The event sheet's fields, and where each goes in the program's `event`."""
SCHEDULE_NUMBERS = (
    "slot_minutes",
    "gap_minutes",
    "max_parallel",
    "max_per_person",
    "max_requests_per_person",
)
SCHEDULE_FIELDS = (*SCHEDULE_NUMBERS, "refill", "requests_open", "requests_close")
"""The event sheet's fields for meeting requests: they go in the program's `schedule`."""
NUMBER_FIELDS = (*SCHEDULE_NUMBERS, "priority")


def cell_list(text: str) -> str | list[str]:
    """A list cell: `*` for everyone, else keys separated by `;`."""
    if text == EVERYONE:
        return text
    return [item.strip() for item in text.split(";") if item.strip()]
