"""The workspace in Chromium: an organiser on a phone finds a meeting with the keyboard, moves it
and reads the move in the audit log; every page passes axe-core and fits a phone, in English and
in French; a follow-up reader finds nothing to press."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from support.accessibility import blocking_violations
from support.browser import screenshot_path
from support.mailsink import MailSink
from support.service import Api, ManualClock, small_program
from support.signin import login_path
from support.workbooks import edited, row_of

from orchestrator import appkeys
from orchestrator.db.mail import MailMessage

SLUG = "meet-the-buyers"
SECTIONS = ("sessions", "people", "mail", "audit")


@pytest.fixture
async def service(make_api: Callable[..., Any], sink: MailSink) -> tuple[Api, str]:
    # Plain http, so that the cookie comes back; mail goes to a real SMTP sink.
    api: Api = await make_api(public_url="http://rdv.test", mail_url=sink.url)
    return api, str(api.client.make_url("/")).rstrip("/")


async def mail_out(api: Api, sink: MailSink) -> list[Any]:
    """What the sender sends now, as the SMTP server receives it."""
    sink.clear()
    app = api.client.app
    assert app is not None
    await api.plan_mail()
    await app[appkeys.OUTBOX].deliver_due()
    return list(sink.received)


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
    browser: Any, service: tuple[Api, str], db: Any, clock: ManualClock, sink: MailSink
) -> None:
    api, base = service
    await api.import_ok(small_program())
    await mail_out(api, sink)  # the invitations
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
    move = meeting.get_by_role("group", name="Move (times in Europe/Paris)")
    await move.get_by_label("Start", exact=True).fill("11:30")
    await move.get_by_label("End", exact=True).fill("12:00")
    await meeting.get_by_role("button", name="Move", exact=True).press("Enter")
    await page.wait_for_url(f"{base}/admin/{SLUG}/sessions?q=Roads&done=moved")
    assert await page.locator("#session-m1").count() == 0  # still the meetings searched for
    updates = await mail_out(api, sink)
    assert sorted(m.recipient for m in updates) == ["ben@roads.example", "dan@acme.example"]
    assert {int(m.event["SEQUENCE"]) for m in updates} == {1}

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
    async with page.expect_download() as template:
        await page.get_by_role("link", name="the template workbook").click()
    assert (await template.value).suggested_filename == "rdv-program-template.xlsx"
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


async def test_an_organiser_cancels_resends_retries_and_erases_and_reads_it_all_in_the_log(
    browser: Any, service: tuple[Api, str], db: Any, clock: ManualClock, sink: MailSink
) -> None:
    api, base = service
    await api.import_ok(small_program())
    await mail_out(api, sink)
    page = await phone(browser)
    await sign_in(page, base, db, clock, "organiser")
    await page.goto(f"{base}/admin/{SLUG}/sessions")

    m2 = page.locator("#session-m2")
    await m2.locator("summary").click()
    await m2.get_by_role("button", name="Cancel this session").click()
    await page.wait_for_url("**done=cancelled")
    cancelled = await mail_out(api, sink)
    assert sorted(m.recipient for m in cancelled) == ["ben@roads.example", "eve@globex.example"]
    assert {m.method for m in cancelled} == {"CANCEL"}

    m1 = page.locator("#session-m1")
    await m1.locator("summary").click()
    await m1.get_by_label("Resend the invite to").select_option("ana")
    await m1.get_by_role("button", name="Resend", exact=True).click()
    await page.wait_for_url("**done=resent")
    assert [m.recipient for m in await mail_out(api, sink)] == ["ana@water.example"]

    async with db() as session, session.begin():  # Dan's server refused his plenary invite
        refused = await session.scalar(
            select(MailMessage).where(MailMessage.recipient == "dan@acme.example").limit(1)
        )
        assert refused is not None
        refused.status, refused.last_error = "failed", "550 no such mailbox"
    await page.get_by_role("link", name="Mail").click()
    await page.get_by_role("link", name="failed (1)").click()
    assert "550 no such mailbox" in await page.locator("main").inner_text()
    await assert_usable(page)
    await page.get_by_role("button", name="Retry this message").click()
    await page.wait_for_url("**done=retried")
    assert [m.recipient for m in await mail_out(api, sink)] == ["dan@acme.example"]

    await page.get_by_role("link", name="People").click()
    eve = page.locator("#person-eve")
    await eve.locator("summary").click()
    await eve.get_by_role("button", name="Erase Eve Durand").click()
    await page.wait_for_url("**done=erased")
    assert "Eve Durand" not in await page.locator("main").inner_text()

    await page.get_by_role("link", name="Audit log").click()
    log = await page.locator(".records").inner_text()
    for done in ("Person erased", "Mail retried", "Invite sent again", "Session cancelled"):
        assert done in log
    await assert_usable(page)
