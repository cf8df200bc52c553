"""The example event's dashboard on the screens organisers have: on a 1366x768 laptop, the
plenary of 116 people is three counts (everyone's name behind a toggle) and at least twelve
meeting rooms show without scrolling, a room with a problem standing out in words, not only in
colour; on a phone nothing scrolls sideways. Screenshots of both are kept in test-output/."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from support.accessibility import blocking_violations
from support.browser import screenshot_path
from support.deliveries import JITSI_SECRET, headers, occupant, seat
from support.service import EXAMPLE_SLUG, ManualClock, example_program
from support.signin import login_path

from orchestrator import appkeys
from orchestrator.db import models as m

MEETINGS = datetime(2021, 4, 8, 8, 30, tzinfo=UTC)  # the first slot, 10:30 in Paris


async def test_the_example_event_fits_on_a_laptop_screen_and_on_a_phone(
    browser: Any, make_api: Callable[..., Any], clock: ManualClock, db: Any
) -> None:
    api = await make_api(jitsi_webhook_secret=JITSI_SECRET, public_url="http://rdv.test")
    await api.import_ok(example_program())
    app = api.client.app
    clock.set(MEETINGS - timedelta(minutes=30))
    await app[appkeys.LIFECYCLE].reconcile()
    # In the first slot everyone but one room's buyer came on time; it is past the late mark.
    async with db() as s:
        rows = (
            await s.execute(
                select(m.Session.key, m.Person.key, m.Organisation.kind)
                .join(m.Attendee, m.Attendee.session_id == m.Session.id)
                .join(m.Person, m.Person.id == m.Attendee.person_id)
                .join(m.Organisation, m.Organisation.id == m.Person.organisation_id)
                .where(m.Session.starts_at == MEETINGS, m.Session.kind == "meeting")
                .order_by(m.Session.key)
            )
        ).all()
    meetings = sorted({key for key, _, _ in rows})
    waiting = meetings[0]
    clock.set(MEETINGS)
    for session, person, kind in rows:
        if session == waiting and kind == "buyer":
            continue
        room_key, seat_id, _ = await seat(db, person, session)
        sent = await api.client.post(
            "/webhooks/jitsi",
            headers=headers(),
            data=occupant("joined", room_key, seat_id, person, clock.now()),
        )
        assert sent.status == 200
    clock.set(MEETINGS + timedelta(minutes=6))
    await app[appkeys.FEED].tick()

    context = await browser.new_context(viewport={"width": 1366, "height": 768}, bypass_csp=True)
    page = await context.new_page()
    base = str(api.client.make_url("/")).rstrip("/")
    await page.goto(base + await login_path(db, clock, EXAMPLE_SLUG, base_url=base))
    await page.get_by_role("button").first.click()
    await page.wait_for_url(f"{base}/dashboard/{EXAMPLE_SLUG}")

    await page.screenshot(path=str(screenshot_path("dashboard-laptop.png")))
    plenary = page.locator("#card-pleniere")
    assert await plenary.locator(".tally dd").count() >= 3  # in the room, late, absent
    assert not await plenary.locator(".seats").is_visible()  # 116 names behind the toggle
    height = (await plenary.bounding_box() or {"height": 999})["height"]
    assert height < 200, f"the plenary card is {height}px tall"
    shown = await page.evaluate(
        """() => [...document.querySelectorAll('.cards .card')]
              .filter(card => card.getBoundingClientRect().bottom <= window.innerHeight).length"""
    )
    assert shown >= 12, f"only {shown} meeting rooms show on a 1366x768 screen"
    problem = page.locator(f"#card-{waiting}")
    assert "problem" in (await problem.get_attribute("class") or "")
    assert await problem.locator(".problems-note").inner_text() != ""  # said in words
    calm = page.locator(f"#card-{meetings[1]}")
    assert "problem" not in (await calm.get_attribute("class") or "")

    await plenary.locator("summary").click()
    assert await plenary.locator(".seat").count() == 116
    assert await blocking_violations(page) == []

    phone = await context.new_page()
    await phone.set_viewport_size({"width": 390, "height": 844})
    await phone.goto(f"{base}/dashboard/{EXAMPLE_SLUG}")
    width = await phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, "the dashboard scrolls sideways on a phone"
    await phone.screenshot(path=str(screenshot_path("dashboard-phone-example.png")), full_page=True)
    await context.close()
