"""The follow-up report of the seed event after a day where everyone came except to three
rendez-vous: the page agrees with the API, the matrix names who was missing, and the printed PDF
carries the figures and the list to follow up."""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from support.browser import screenshot_path
from support.deliveries import JITSI_SECRET, headers, occupant
from support.service import EXAMPLE_SLUG, Api, ManualClock, example_program
from support.tools import reason, which

from orchestrator import appkeys
from orchestrator.db import models as m
from orchestrator.signin import create_link

DAY = datetime(2021, 4, 8, 6, 0, tzinfo=UTC)  # 08:00 in Lyon
MISSED = ("b2b-05", "b2b-17", "b2b-33")  # the buyer never comes to these


async def pdf_text(pdf: Path) -> str:
    process = await asyncio.create_subprocess_exec(
        "pdftotext", str(pdf), "-", stdout=asyncio.subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0
    return out.decode()


async def play_the_day(api: Api, clock: ManualClock, db: Any) -> dict[str, str]:
    """Provisions every room at its time and posts a join and a leave for every expected person
    (but the buyers of MISSED). Returns who was missing, per meeting."""
    app = api.client.app
    for quarter in range(0, 40):
        clock.set(DAY + timedelta(minutes=15 * quarter))
        await app[appkeys.LIFECYCLE].reconcile()
    async with db() as session:
        rows = (
            await session.execute(
                select(
                    m.Session.key,
                    m.Session.starts_at,
                    m.Session.ends_at,
                    m.Room.room_key,
                    m.Attendee.id,
                    m.Person.name,
                    m.Organisation.kind,
                )
                .join(m.Room, m.Room.session_id == m.Session.id)
                .join(m.Attendee, m.Attendee.session_id == m.Session.id)
                .join(m.Person, m.Person.id == m.Attendee.person_id)
                .join(m.Organisation, m.Organisation.id == m.Person.organisation_id)
            )
        ).all()
    missing: dict[str, str] = {}
    for key, starts, ends, room, attendee, name, kind in rows:
        if key in MISSED and kind == "buyer":
            missing[key] = name
            continue
        for verb, at in (("joined", starts), ("left", ends)):
            response = await api.client.post(
                "/webhooks/jitsi",
                headers=headers(),
                data=occupant(verb, room, f"rdv-a{attendee}", name, at),
            )
            assert response.status == 200
    clock.set(DAY + timedelta(hours=12))
    return missing


@pytest.fixture
async def day(
    make_api: Callable[..., Any], clock: ManualClock, db: Any
) -> tuple[Api, dict[str, str]]:
    api: Api = await make_api(jitsi_webhook_secret=JITSI_SECRET, public_url="http://rdv.test")
    await api.import_ok(example_program())
    return api, await play_the_day(api, clock, db)


async def sign_in(api: Api, db: Any, clock: ManualClock, base: str = "http://rdv.test") -> str:
    async with db() as session, session.begin():
        return await create_link(
            session, slug=EXAMPLE_SLUG, role="followup", now=clock.now(), base_url=base
        )


async def test_the_report_page_agrees_with_the_api_and_names_who_was_missing(
    day: tuple[Api, dict[str, str]], clock: ManualClock, db: Any
) -> None:
    api, missing = day
    link = await sign_in(api, db, clock)
    landing = await api.client.post(link.removeprefix("http://rdv.test"), allow_redirects=False)
    assert landing.headers["Location"] == f"/events/{EXAMPLE_SLUG}/report"
    page = html.unescape(await (await api.client.get(f"/events/{EXAMPLE_SLUG}/report")).text())
    assert "minutes de présence : le temps passé dans la salle, de l'ouverture des liens" in page
    assert "par les deux parties entre le début et la fin du rendez-vous" in page  # the median
    figures = await (
        await api.client.get(
            f"/api/v1/events/{EXAMPLE_SLUG}/report", headers=api.headers(EXAMPLE_SLUG, "followup")
        )
    ).json()
    assert (
        figures["plenary_participants"],
        figures["meetings_held"],
        figures["meetings_not_held"],
    ) == (116, 38, 3)
    for element, name in (
        ("plenary", "plenary_participants"),
        ("held", "meetings_held"),
        ("companies", "companies_met"),
        ("representatives", "buyer_representatives"),
        ("directorates", "directorates"),
    ):
        assert f'id="figure-{element}">{figures[name]}<' in page
    # The seed event speaks French.
    not_held = re.findall(
        r'class="meeting not-held" data-session="([^"]+)">\s*✗ non tenu, '
        r"manquait : ([^<]+?)\s*<",
        page,
    )
    assert sorted(not_held) == sorted((key, name) for key, name in missing.items())
    assert page.count('class="meeting held"') == 38
    assert "<svg" in page
    assert "<script" not in page
    csv = await api.client.get(f"/events/{EXAMPLE_SLUG}/report/no-shows.csv")
    text = (await csv.read()).decode("utf-8-sig")
    assert sorted(line.split(",")[0] for line in text.splitlines()[1:]) == sorted(missing.values())


async def test_the_report_needs_a_sign_in(day: tuple[Api, dict[str, str]]) -> None:
    api, _ = day
    assert (await api.client.get(f"/events/{EXAMPLE_SLUG}/report")).status == 401
    assert (await api.client.get(f"/events/{EXAMPLE_SLUG}/report/attendance.csv")).status == 401


@pytest.mark.skipif(which("pdftotext") is None, reason=reason("pdftotext"))
async def test_the_printed_report_carries_the_figures_and_the_follow_up_list(
    browser: Any, day: tuple[Api, dict[str, str]], clock: ManualClock, db: Any
) -> None:
    api, missing = day
    base = str(api.client.make_url("/")).rstrip("/")
    page = await browser.new_page(viewport={"width": 1200, "height": 900})
    await page.goto(await sign_in(api, db, clock, base))
    await page.locator("main form button").click()  # the sign-in page's button
    await page.wait_for_url(f"{base}/events/{EXAMPLE_SLUG}/report")
    figures = await (
        await api.client.get(
            f"/api/v1/events/{EXAMPLE_SLUG}/report", headers=api.headers(EXAMPLE_SLUG)
        )
    ).json()
    assert await page.locator("#figure-held").inner_text() == str(figures["meetings_held"])
    assert await page.locator("#figure-plenary").inner_text() == "116"
    await page.screenshot(path=str(screenshot_path("report.png")), full_page=True)
    pdf = screenshot_path("report.pdf")
    await page.pdf(path=str(pdf), format="A4", print_background=True)
    text = await pdf_text(pdf)
    words = " ".join(text.split())
    assert "Chiffres clés" in words
    for label in ("Participants à la", "Rendez-vous", "Entreprises", "Directions"):
        assert label in words
    for name in (
        "plenary_participants",
        "meetings_held",
        "companies_met",
        "buyer_representatives",
        "directorates",
    ):
        assert f" {figures[name]} " in f" {words} "
    assert "Rendez-vous non tenus" in words
    for name in missing.values():
        assert name in text
