"""An organiser uploads a program in the workspace: every problem is shown in place and nothing
is imported; a good file shows what it would change and the mail it would send, and only
"apply" makes that change, refused if the event changed since the preview."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select
from support.service import Api, ManualClock, session_of, small_program
from support.workbooks import edited, row_of, workbook_of

from orchestrator.db import models as m
from orchestrator.db.mail import MailPlan
from orchestrator.signin import create_link

SLUG = "meet-the-buyers"
BASE = "http://rdv.test"


@pytest.fixture
async def api(make_api: Callable[..., Any], db: Any, clock: ManualClock) -> Api:
    api: Api = await make_api(public_url=BASE)  # plain http, so that the cookie comes back
    return api


async def sign_in(client: TestClient[Any, Any], db: Any, clock: ManualClock, role: str) -> str:
    """Signs in and returns the CSRF token of the program page."""
    async with db() as session, session.begin():
        session.add(m.Event(slug=SLUG, title="Meet the buyers", timezone="Europe/Paris",
                            locale="en", organiser_name="Cluster",
                            organiser_email="rdv@cluster.example"))  # fmt: skip
    async with db() as session, session.begin():
        url = await create_link(
            session, slug=SLUG, role=role, now=clock.now(), base_url=BASE, subject="Claire"
        )
    assert (await client.post(url.removeprefix(BASE), allow_redirects=False)).status == 303
    html = await (await client.get(f"/admin/{SLUG}/program")).text()
    found = re.search(r'name="csrf" value="([0-9a-f]{64})"', html)
    return found.group(1) if found else ""


async def upload(client: TestClient[Any, Any], token: str, content: bytes, name: str) -> Any:
    form = FormData()
    form.add_field("csrf", token)
    form.add_field("file", io.BytesIO(content), filename=name, content_type="application/json")
    return await client.post(f"/admin/{SLUG}/program", data=form, allow_redirects=False)


def with_three_mistakes() -> dict[str, Any]:
    program = small_program()
    program["people"][0]["email"] = "ana-at-water"
    session_of(program, "m1")["attendees"] = ["chloe", "zed"]
    session_of(program, "m2")["end"] = "2021-04-08T10:00"
    return program


async def sessions(db: Any) -> int:
    async with db() as session:
        return await session.scalar(select(func.count()).select_from(m.Session)) or 0


async def test_three_mistakes_are_shown_in_place_then_the_fixed_file_is_previewed_and_applied(
    api: Api, db: Any, clock: ManualClock
) -> None:
    token = await sign_in(api.client, db, clock, "organiser")

    refused = await upload(api.client, token, json.dumps(with_three_mistakes()).encode(), "p.json")

    assert refused.status == 422
    text = await refused.text()
    assert "The file has 3 problems; nothing was changed:" in text
    assert "people[0].email" in text
    assert "sessions[1].attendees[1]" in text
    assert "sessions[2].end" in text
    assert await sessions(db) == 0

    previewed = await upload(api.client, token, json.dumps(small_program()).encode(), "p.json")
    assert previewed.status == 303
    preview = previewed.headers["Location"]
    page = await (await api.client.get(preview)).text()
    assert "Sessions created (4)" in page
    assert "People added (6)" in page
    assert "12 × invitation" in page  # 6 for the plenary, 2 for each of the 3 meetings
    assert "Nothing has changed yet." in page
    assert await sessions(db) == 0  # the preview was rolled back

    applied = await api.client.post(f"{preview}/apply", data={"csrf": token}, allow_redirects=False)

    assert applied.status == 303
    assert applied.headers["Location"] == f"/admin/{SLUG}/sessions?done=applied"
    assert await sessions(db) == 4
    async with db() as session:
        assert await session.scalar(select(func.count()).select_from(MailPlan)) == 1
    gone = await api.client.get(preview)
    assert gone.status == 404  # applied once, not twice


async def test_a_preview_made_stale_by_another_change_is_refused(
    api: Api, db: Any, clock: ManualClock
) -> None:
    token = await sign_in(api.client, db, clock, "organiser")
    await api.import_ok(small_program())
    moved = small_program()
    session_of(moved, "m3")["start"], session_of(moved, "m3")["end"] = (
        "2021-04-08T11:30",
        "2021-04-08T12:00",
    )
    preview = (await upload(api.client, token, json.dumps(moved).encode(), "p.json")).headers[
        "Location"
    ]
    assert "m3: start, end" in await (await api.client.get(preview)).text()
    renamed = small_program()
    session_of(renamed, "m1")["title"] = "Acme × Water, renamed by a colleague"
    await api.import_ok(renamed)

    refused = await api.client.post(f"{preview}/apply", data={"csrf": token})

    assert refused.status == 409
    assert "changed after this preview was made" in await refused.text()
    event = await api.get_event(SLUG)
    m3 = next(s for s in event["sessions"] if s["key"] == "m3")
    assert m3["local_start"] == "2021-04-08T11:00:00+02:00"  # not moved


async def test_a_discarded_preview_changes_nothing_and_a_huge_upload_is_refused_unread(
    api: Api, db: Any, clock: ManualClock
) -> None:
    token = await sign_in(api.client, db, clock, "organiser")
    preview = (
        await upload(api.client, token, json.dumps(small_program()).encode(), "p.json")
    ).headers["Location"]
    discarded = await api.client.post(
        f"{preview}/discard", data={"csrf": token}, allow_redirects=False
    )
    assert discarded.status == 303
    assert await sessions(db) == 0
    assert (await api.client.get(preview)).status == 404

    huge = await upload(api.client, token, b" " * (50 * 1024 * 1024), "big.json")
    assert huge.status == 413
    assert "larger than 20 MB: nothing was read" in await huge.text()
    assert await sessions(db) == 0


async def test_a_follow_up_reader_cannot_upload(api: Api, db: Any, clock: ManualClock) -> None:
    await sign_in(api.client, db, clock, "followup")
    assert (
        'enctype="multipart/form-data"'
        not in await (await api.client.get(f"/admin/{SLUG}/program")).text()
    )
    forged = await upload(api.client, "0" * 64, json.dumps(small_program()).encode(), "p.json")
    assert forged.status == 403
    assert await sessions(db) == 0


async def test_the_template_workbook_downloads_and_a_workbook_s_mistakes_are_placed_at_cells(
    api: Api, db: Any, clock: ManualClock
) -> None:
    template = await api.client.get("/admin/template.xlsx")
    assert template.status == 200
    assert template.headers["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    token = await sign_in(api.client, db, clock, "organiser")
    program = small_program()

    def three_mistakes(book: Any) -> None:
        people = book["people"]
        people.cell(row_of(book, "people", "ana"), 3).value = "ana-at-water"
        sessions = book["sessions"]
        sessions.cell(row_of(book, "sessions", "m1"), 6).value = "chloe;zed"
        sessions.cell(row_of(book, "sessions", "m2"), 5).value = "2021-04-08 10:00"  # ends early

    wrong = edited(workbook_of(program), three_mistakes)
    refused = await upload(api.client, token, wrong, "program.xlsx")

    assert refused.status == 422
    text = await refused.text()
    assert "The file has 3 problems; nothing was changed:" in text, re.findall(
        r"<li>[^<]*</li>", text
    )
    for cell in ("people!C2", "sessions!F3", "sessions!E4"):
        assert f"<li>{cell}: " in text
    formula = edited(
        workbook_of(program),
        lambda book: setattr(
            book["people"].cell(row_of(book, "people", "ben"), 3), "value", "=LOWER(B3)"
        ),
    )
    refused = await upload(api.client, token, formula, "program.xlsx")
    assert "The file has one problem; nothing was changed:" in await refused.text()
    assert "people!C3: formulas are not read" in await refused.text()
    assert await sessions(db) == 0

    previewed = await upload(api.client, token, workbook_of(program), "program.xlsx")
    assert previewed.status == 303
    preview = previewed.headers["Location"]
    assert "Sessions created (4)" in await (await api.client.get(preview)).text()
    await api.client.post(f"{preview}/apply", data={"csrf": token})
    assert await sessions(db) == 4

    stored = await api.client.get(f"/admin/{SLUG}/program.xlsx")
    assert stored.status == 200
    again = await upload(api.client, token, await stored.read(), "program.xlsx")
    page = await (await api.client.get(again.headers["Location"])).text()
    assert "Nothing: the file says what the event already is." in page  # it round-trips
