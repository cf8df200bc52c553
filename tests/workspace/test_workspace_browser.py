"""The workspace in Chromium: an organiser on a phone finds a meeting with the keyboard, moves it
and reads the move in the audit log; every page passes axe-core and fits a phone, in English and
in French; a follow-up reader finds nothing to press."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.accessibility import blocking_violations
from support.browser import screenshot_path
from support.service import Api, ManualClock, small_program
from support.signin import login_path
from support.workbooks import edited, row_of

SLUG = "meet-the-buyers"
SECTIONS = ("sessions", "people", "mail", "audit")


@pytest.fixture
async def service(make_api: Callable[..., Any]) -> tuple[Api, str]:
    api: Api = await make_api(public_url="http://rdv.test")  # no Secure cookie over plain http
    return api, str(api.client.make_url("/")).rstrip("/")


async def phone(browser: Any, locale: str = "en-GB") -> Any:
    """A page on a phone-sized screen; the CSP is bypassed for axe-core's injected script."""
    context = await browser.new_context(
        viewport={"width": 390, "height": 844}, bypass_csp=True, locale=locale
    )
    return await context.new_page()


async def sign_in(page: Any, base: str, db: Any, clock: ManualClock, role: str) -> None:
    await page.goto(base + await login_path(db, clock, SLUG, role=role, base_url=base))
    await page.locator("main form button").click()
    await page.wait_for_load_state()


async def assert_usable(page: Any) -> None:
    assert await blocking_violations(page) == [], page.url
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"{page.url} scrolls sideways on a phone"


async def test_an_organiser_moves_a_meeting_with_the_keyboard_on_a_phone(
    browser: Any, service: tuple[Api, str], db: Any, clock: ManualClock
) -> None:
    api, base = service
    await api.import_ok(small_program())
    page = await phone(browser)
    await sign_in(page, base, db, clock, "organiser")
    await page.goto(f"{base}/admin/{SLUG}/sessions")
    await assert_usable(page)

    search = page.get_by_label("Search", exact=True)
    await search.focus()
    await page.keyboard.type("Roads")
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{base}/admin/{SLUG}/sessions?q=Roads*")
    meeting = page.locator("#session-m3")
    assert await page.locator("#session-m1").count() == 0
    await meeting.locator("summary").focus()
    await page.keyboard.press("Enter")  # opens "Change this session"
    await meeting.get_by_label("Start", exact=True).fill("11:30")
    await meeting.get_by_label("End", exact=True).fill("12:00")
    await meeting.get_by_role("button", name="Move", exact=True).press("Enter")
    await page.wait_for_url(f"{base}/admin/{SLUG}/sessions?q=Roads&done=moved")
    assert await page.locator("#session-m1").count() == 0  # still the meetings searched for

    assert (
        "its attendees get the updated invite" in await page.locator("[role=status]").inner_text()
    )
    await assert_usable(page)
    await page.screenshot(path=str(screenshot_path("workspace-sessions.png")), full_page=True)
    await page.get_by_role("link", name="Audit log").click()
    entry = page.locator(".records li").first
    assert "Session moved" in await entry.inner_text()
    assert "m3" in await entry.inner_text()
    for section in SECTIONS:
        await page.goto(f"{base}/admin/{SLUG}/{section}")
        await assert_usable(page)


async def test_the_workspace_speaks_french_and_a_follow_up_reader_only_reads(
    browser: Any, service: tuple[Api, str], db: Any, clock: ManualClock
) -> None:
    api, base = service
    program = small_program()
    program["event"]["locale"] = "fr"
    await api.import_ok(program)
    page = await phone(browser, "fr-FR")
    await sign_in(page, base, db, clock, "followup")

    for section in SECTIONS:
        await page.goto(f"{base}/admin/{SLUG}/{section}")
        await assert_usable(page)
        changing = page.locator("form[method=post][action^='/admin/']:not([action$='/signout'])")
        assert await changing.count() == 0
        assert await page.locator("html").get_attribute("lang") == "fr"
    await page.goto(f"{base}/admin/{SLUG}/sessions")
    text = await page.locator("main").inner_text()
    assert "Connecté comme lecteur du suivi (lecture seule)" in text
    assert "Rechercher" in text
    assert "Modifier cette session" not in text


async def test_an_organiser_fills_the_template_workbook_fixes_three_mistakes_and_applies_it(
    browser: Any, service: tuple[Api, str], db: Any, clock: ManualClock, tmp_path: Any
) -> None:
    api, base = service
    await api.import_ok(small_program())
    page = await phone(browser)
    await sign_in(page, base, db, clock, "organiser")
    await page.goto(f"{base}/admin/{SLUG}/program")
    await assert_usable(page)
    async with page.expect_download() as downloading:
        await page.get_by_role("link", name="download it as a workbook").click()
    download = await downloading.value
    # The event as it stands, as an organiser edits it.
    stored = await asyncio.to_thread(Path(await download.path()).read_bytes)

    def three_mistakes(book: Any) -> None:
        book["people"].cell(row_of(book, "people", "ana"), 3).value = "ana-at-water"
        book["sessions"].cell(row_of(book, "sessions", "m1"), 6).value = "chloe;zed"
        book["sessions"].cell(row_of(book, "sessions", "m2"), 5).value = "2021-04-08 10:00"

    def renamed(book: Any) -> None:
        book["sessions"].cell(row_of(book, "sessions", "m3"), 3).value = "Acme × Roads, round 2"

    wrong, right = tmp_path / "wrong.xlsx", tmp_path / "right.xlsx"
    await asyncio.to_thread(wrong.write_bytes, edited(stored, three_mistakes))
    await asyncio.to_thread(right.write_bytes, edited(stored, renamed))

    await page.get_by_label("Program file").set_input_files(str(wrong))
    await page.get_by_role("button", name="Check the file").press("Enter")
    problems = page.locator("#problems")
    await problems.wait_for()
    listed = await problems.inner_text()
    assert "The file has 3 problems" in listed
    for cell in ("people!C2", "sessions!F3", "sessions!E4"):
        assert cell in listed
    await assert_usable(page)

    await page.get_by_label("Program file").set_input_files(str(right))
    await page.get_by_role("button", name="Check the file").click()
    await page.wait_for_url(f"{base}/admin/{SLUG}/program/*")
    summary = await page.locator("main").inner_text()
    assert "m3: title" in summary
    assert "2 × update" in summary
    await assert_usable(page)
    await page.get_by_role("button", name="Apply this change").click()
    await page.wait_for_url(f"{base}/admin/{SLUG}/sessions?done=applied")
    assert "Acme × Roads, round 2" in await page.locator("#session-m3").inner_text()
    await page.get_by_role("link", name="Audit log").click()
    assert "Program imported" in await page.locator(".records li").first.inner_text()
