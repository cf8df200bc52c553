"""The dashboard in a real browser: an organiser signs in with the button of a login link's page,
watches a room turn live when the provider says someone joined, sees the late alert when the clock
passes the mark, a hostile name stays text, a changed program shows on the open page, a quiet room
counts its minutes on, and an erased person leaves the open page."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from support.browser import screenshot_path
from support.deliveries import JITSI_SECRET, headers, occupant, seat
from support.service import TEST_SECRET, ManualClock, small_program
from support.signin import login_path

from orchestrator import appkeys
from orchestrator.participants.erasure import forget

SLUG = "meet-the-buyers"
M1_START = datetime(2021, 4, 8, 8, 30, tzinfo=UTC)
HOSTILE = "<img src=x onerror=alert(1)>"


@pytest.fixture
async def api(make_api: Callable[..., Any]) -> Any:
    """The service as conftest's `api`, but taking self-hosted Jitsi's webhooks."""
    return await make_api(jitsi_webhook_secret=JITSI_SECRET, public_url="http://rdv.test")


async def sign_in(page: Any, api: Any, db: Any, clock: ManualClock) -> str:
    """Opens an organiser's login link in `page` and presses its button, which lands on the
    dashboard; the base URL."""
    base = str(api.client.make_url("/")).rstrip("/")
    await page.goto(base + await login_path(db, clock, SLUG, base_url=base))
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"{base}/dashboard/{SLUG}")
    return base


async def test_an_organiser_watches_a_room_turn_live_and_sees_who_is_late(
    browser: Any, api: Any, clock: ManualClock, db: Any
) -> None:
    program = small_program()
    next(p for p in program["people"] if p["key"] == "chloe")["name"] = HOSTILE
    await api.import_ok(program)
    clock.set(M1_START - timedelta(minutes=20))
    app = api.client.app
    await app[appkeys.LIFECYCLE].reconcile()
    await app[appkeys.FEED].tick()

    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    base = await sign_in(page, api, db, clock)
    assert page.url == f"{base}/dashboard/{SLUG}"
    card = page.locator("#card-m1")
    await card.wait_for()
    assert "mark-present" not in (await card.inner_html())

    room_key, ana, _ = await seat(db, "ana", "m1")
    clock.set(M1_START - timedelta(minutes=1))
    response = await api.client.post(
        "/webhooks/jitsi",
        headers=headers(),
        data=occupant("joined", room_key, ana, "Ana Lopez", clock.now()),
    )
    assert response.status == 200
    present = page.locator("#card-m1 .mark-present", has_text="Ana Lopez")
    await present.wait_for(timeout=1000)  # within a second of the webhook
    assert "state-live" in (await page.locator("#card-m1").get_attribute("class") or "")

    clock.set(M1_START + timedelta(minutes=5, seconds=1))
    await app[appkeys.FEED].tick()
    alert = page.locator("#alerts .alert-late", has_text=HOSTILE)
    await alert.wait_for(timeout=2000)
    assert await alert.count() >= 1
    assert HOSTILE in await page.locator("#card-m1").inner_text()
    assert await page.locator("#card-m1 img").count() == 0  # shown as text, never as markup
    assert dialogs == []
    await page.screenshot(path=str(screenshot_path("dashboard.png")), full_page=True)

    phone = await browser.new_page(viewport={"width": 390, "height": 844})
    await phone.context.add_cookies(await page.context.cookies())
    await phone.goto(f"{base}/dashboard/{SLUG}")
    width = await phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, "the dashboard scrolls sideways on a phone"
    await phone.screenshot(path=str(screenshot_path("dashboard-phone.png")), full_page=True)


async def test_a_changed_program_shows_on_an_open_dashboard(
    browser: Any, api: Any, clock: ManualClock, db: Any
) -> None:
    program = small_program()
    await api.import_ok(program)
    clock.set(M1_START - timedelta(minutes=20))
    page = await browser.new_page()
    base = await sign_in(page, api, db, clock)
    await page.goto(f"{base}/dashboard/{SLUG}?company=acme")
    await page.locator("#card-m1").wait_for()

    added = dict(next(s for s in program["sessions"] if s["key"] == "m1"))
    added |= {"key": "m4", "title": "Acme × Roads", "attendees": ["dan", "ben"]}
    added |= {"start": "2021-04-08T11:30", "end": "2021-04-08T12:00"}
    program["sessions"] = [s for s in program["sessions"] if s["key"] != "m1"] + [added]
    await api.import_ok(program)

    await page.locator("#card-m4").wait_for(timeout=5000)  # the new room, without a reload
    assert await page.locator("#card-m1").count() == 0  # the cancelled one is gone
    assert page.url.endswith("?company=acme")  # the filter still applies


async def test_a_quiet_room_counts_its_minutes_on(
    browser: Any, api: Any, clock: ManualClock, db: Any
) -> None:
    await api.import_ok(small_program())
    app = api.client.app
    clock.set(M1_START - timedelta(minutes=20))
    await app[appkeys.LIFECYCLE].reconcile()
    clock.set(M1_START + timedelta(minutes=2))
    await app[appkeys.FEED].tick()
    page = await browser.new_page()
    await sign_in(page, api, db, clock)
    minutes = page.locator("#card-m1 .elapsed")
    assert await minutes.inner_text() == "2 min in"

    clock.set(M1_START + timedelta(minutes=12))  # nothing happens in m1; someone joins m2
    room_key, eve, _ = await seat(db, "eve", "m2")
    body = occupant("joined", room_key, eve, "Eve Durand", clock.now())
    assert (await api.client.post("/webhooks/jitsi", headers=headers(), data=body)).ok
    await page.locator("#card-m2 .mark-present").wait_for(timeout=2000)
    assert await minutes.inner_text() == "12 min in"


async def test_an_erased_person_leaves_an_open_dashboard(
    browser: Any, api: Any, clock: ManualClock, db: Any
) -> None:
    await api.import_ok(small_program())
    clock.set(M1_START - timedelta(minutes=20))
    page = await browser.new_page()
    await sign_in(page, api, db, clock)
    board = page.locator("#dashboard")
    assert "Ana Lopez" in await board.inner_text()

    async with db() as session, session.begin():
        assert await forget(
            session, slug=SLUG, email="ana@water.example", now=clock.now(), secret=TEST_SECRET
        )
    await page.locator("#dashboard", has_not_text="Ana Lopez").wait_for(timeout=5000)
