"""Signing in and acting from the dashboard in Chromium: the login link's page is pressed with the
keyboard on a phone, the card's button opens a room hours early, a form on another site neither
signs the organiser out nor opens rooms, and every page met on the way (the sign-in page, the
dashboard, a room not open yet, a refusal) passes axe-core in English and in French."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from support.accessibility import blocking_violations
from support.browser import screenshot_path
from support.service import Api, ManualClock, small_program
from support.signin import login_path

from orchestrator.db import models as m

SLUG = "meet-the-buyers"
M1_START = datetime(2021, 4, 8, 8, 30, tzinfo=UTC)
ELSEWHERE = "http://elsewhere.example"


@pytest.fixture
async def service(make_api: Callable[..., Any], clock: ManualClock) -> tuple[Api, str]:
    """The small event three hours before its first meeting; the API and the base URL."""
    api: Api = await make_api(public_url="http://rdv.test")  # no Secure cookie over plain http
    await api.import_ok(small_program())
    clock.set(M1_START - timedelta(hours=3))
    return api, str(api.client.make_url("/")).rstrip("/")


async def phone(browser: Any, locale: str = "en-GB") -> Any:
    """A page on a phone-sized screen; the CSP is bypassed for axe-core's injected script."""
    context = await browser.new_context(
        viewport={"width": 390, "height": 844}, bypass_csp=True, locale=locale
    )
    return await context.new_page()


async def assert_usable(page: Any) -> None:
    assert await blocking_violations(page) == []
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"{page.url} scrolls sideways on a phone"


async def signed_in(page: Any, base: str, db: Any, clock: ManualClock) -> None:
    await page.goto(base + await login_path(db, clock, SLUG, base_url=base))
    await page.locator("main form button").click()  # "Sign in", "Se connecter"
    await page.wait_for_url(f"{base}/dashboard/{SLUG}")


async def test_an_organiser_signs_in_with_the_keyboard_on_a_phone(
    browser: Any, service: tuple[Api, str], db: Any, clock: ManualClock
) -> None:
    _, base = service
    page = await phone(browser)
    await page.goto(base + await login_path(db, clock, SLUG, base_url=base))
    assert await page.locator("h1").inner_text() == "Sign in to Meet the buyers"
    await assert_usable(page)
    await page.screenshot(path=str(screenshot_path("signin-phone.png")), full_page=True)

    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.textContent") == "Sign in"
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{base}/dashboard/{SLUG}")
    await assert_usable(page)  # the dashboard, with its sign-out and join buttons


async def test_the_cards_button_opens_a_room_early_and_drops_the_organiser_in(
    browser: Any, service: tuple[Api, str], db: Any, clock: ManualClock
) -> None:
    _, base = service
    page = await phone(browser)
    await page.route(
        "https://meet.jit.si/**",
        lambda route: route.fulfill(status=200, content_type="text/html", body="<p>Jitsi</p>"),
    )
    await signed_in(page, base, db, clock)
    card = page.locator("#card-m1")
    await card.get_by_role("button", name="Join as organiser").click()
    await page.wait_for_url("https://meet.jit.si/meet-the-buyers-m1-*")
    async with db() as session:
        state = await session.scalar(
            select(m.Room.state).join(m.Session).where(m.Session.key == "m1")
        )
    assert state == "ready"


async def test_a_form_on_another_site_neither_signs_out_nor_opens_rooms(
    browser: Any, service: tuple[Api, str], db: Any, clock: ManualClock
) -> None:
    _, base = service
    page = await phone(browser)
    forms = f"""<!DOCTYPE html><html lang="en"><title>Win a prize</title><main>
        <form method="post" action="{base}/logout"><button>Claim</button></form>
        <form method="post" action="{base}/dashboard/{SLUG}/rooms/m1/join">
        <button>Open</button></form></main></html>"""
    await page.route(
        f"{ELSEWHERE}/**",
        lambda route: route.fulfill(status=200, content_type="text/html", body=forms),
    )
    await signed_in(page, base, db, clock)
    for button in ("Claim", "Open"):
        await page.goto(f"{ELSEWHERE}/prize")
        await page.get_by_role("button", name=button).click()
        await page.wait_for_load_state()
        assert await page.locator("h1").inner_text() == "This request came from another site"
        await assert_usable(page)

    await page.goto(f"{base}/dashboard/{SLUG}")
    assert await page.locator("#card-m1").count() == 1  # still signed in
    assert "state-scheduled" in (await page.locator("#card-m1").get_attribute("class") or "")


async def test_a_room_not_open_yet_and_a_hammered_link_say_so_in_french(
    browser: Any, service: tuple[Api, str], db: Any, clock: ManualClock
) -> None:
    """The room's page speaks the event's language; a refusal, which knows nobody yet, the
    browser's."""
    api, base = service
    program = small_program()
    program["event"]["locale"] = "fr"
    await api.import_ok(program)
    page = await phone(browser, locale="fr-FR")
    await signed_in(page, base, db, clock)
    await page.goto(f"{base}/dashboard/{SLUG}/rooms/m1/join")
    assert "Cette salle s'ouvre d'elle-même le" in await page.locator("main").inner_text()
    await assert_usable(page)

    async with db() as session:
        feed = await session.scalar(select(m.Person.feed_token).where(m.Person.key == "ana"))
    for _ in range(60):  # a reload loop gone wrong, all in the same minute
        assert (await api.client.get(f"/me/{feed}")).status == 200
    response = await page.goto(f"{base}/me/{feed}")
    assert response.status == 429
    assert await page.locator("h1").inner_text() == "Trop de demandes"
    await assert_usable(page)
