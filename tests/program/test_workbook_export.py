"""The template an organiser downloads to start a program: the example event as a workbook,
made for people (bold frozen headers, sized columns, choice lists, real dates and times)."""

from __future__ import annotations

import io
from datetime import datetime

from openpyxl import load_workbook
from support.service import EXAMPLE_JSON

from orchestrator.program.workbook_export import EXAMPLE, template_workbook


def test_the_template_holds_the_example_event_sheet_by_sheet() -> None:
    book = load_workbook(io.BytesIO(template_workbook()))

    assert book.sheetnames == [
        "event",
        "organisations",
        "people",
        "sessions",
        "requests",
        "needs",
        "availability",
    ]
    event = {row[0]: row[1] for row in book["event"].iter_rows(min_row=2, values_only=True)}
    assert event["slug"] == "rdv-commande-publique-2021"
    assert event["organiser_email"] == "rdv@minalogic.example"
    assert event["provider"] is None  # shown, to be filled in when wanted
    assert book["people"].max_row == 1 + 116
    assert book["sessions"].max_row == 1 + 42
    plenary = next(book["sessions"].iter_rows(min_row=2, max_row=2, values_only=True))
    assert plenary[:6] == (
        "pleniere",
        "plenary",
        "Plénière : la commande publique responsable (SPAR)",
        datetime(2021, 4, 8, 9, 0),
        datetime(2021, 4, 8, 10, 0),
        "*",
    )
    assert plenary[7] == "cdumontet;nbrossard"


def test_the_template_is_made_for_people() -> None:
    book = load_workbook(io.BytesIO(template_workbook()))

    for sheet in book.worksheets:
        assert sheet.freeze_panes == "A2", sheet.title
        assert all(cell.font.bold for cell in sheet[1]), sheet.title
    sessions = book["sessions"]
    assert sessions["D2"].number_format == "yyyy-mm-dd hh:mm"
    assert sessions.column_dimensions["C"].width > sessions.column_dimensions["B"].width
    assert sessions.auto_filter.ref == "A1:J43"
    [kinds] = sessions.data_validations.dataValidation
    assert (kinds.formula1, str(kinds.sqref)) == ('"plenary,meeting,follow-up"', "B2:B1048576")


def test_the_packaged_example_is_the_one_in_examples() -> None:
    # The generator writes both; an installed service has no examples/ folder to read.
    assert EXAMPLE.read_bytes() == EXAMPLE_JSON.read_bytes()
