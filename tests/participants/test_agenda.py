"""A participant's agenda, opened from the link in their invite: one upcoming, one open, one
ended with its replay and one cancelled session, each saying so; usable on a phone, with a
keyboard and a screen reader, and without JavaScript."""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from support.accessibility import blocking_violations
from support.browser import screenshot_path
from support.service import Api, ManualClock, session_of, small_program

from orchestrator.db import models as m

SLUG = "meet-the-buyers"
VIDEO = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"


@pytest.fixture
async def day(make_api: Callable[..., Any], clock: ManualClock, db: Any) -> tuple[Api, str]:
    """Dan's day: the plenary is over (with a replay), m3 is open, m4 is upcoming, m5 was
    cancelled. Returns the API and Dan's agenda path."""
    api: Api = await make_api()
    program = small_program()
    for key, start in (("m4", "2021-04-08T12:00"), ("m5", "2021-04-08T14:00")):
        program["sessions"].append(
            {
                "key": key,
                "kind": "meeting",
                "title": f"Acme × Water, part {key[-1]}",
                "start": start,
                "end": start[:-5] + f"{int(start[-5:-3]):02d}:30",
                "attendees": ["dan", "ana"],
            }
        )
    session_of(program, "m3")["title"] = "Acme × Roads"
    await api.import_ok(program)
    await api.delete(SLUG, "m5")
    clock.set(datetime(2021, 4, 8, 9, 5, tzinfo=UTC))  # 11:05 in Paris: m3 is on
    await api.client.post(
        f"/api/v1/events/{SLUG}/sessions/plenary/replays",
        json={"url": VIDEO},
        headers=api.headers(SLUG),
    )
    async with db() as session:
        token = await session.scalar(select(m.Person.feed_token).where(m.Person.key == "dan"))
    return api, f"/me/{token}"


async def test_each_session_says_where_it_stands_without_javascript(
    day: tuple[Api, str], db: Any
) -> None:
    api, path = day
    response = await api.client.get(path)
    assert response.status == 200
    page = html.unescape(await response.text())
    sections = page.split('<li class="session ')[1:]
    states = [section.split('"', 1)[0] for section in sections]
    assert states == ["state-ended", "state-open", "state-upcoming", "state-cancelled"]
    ended, open_now, upcoming, cancelled = sections
    assert f'href="{VIDEO}"' in ended
    async with db() as session:
        m3_token = await session.scalar(
            select(m.Attendee.token)
            .join(m.Person, m.Person.id == m.Attendee.person_id)
            .join(m.Session)
            .where(m.Person.key == "dan", m.Session.key == "m3")
        )
    assert f'href="https://rdv.test/j/{m3_token}"' in open_now
    assert "Join now" in open_now
    assert "You meet: Ben Okafor, Roads" in open_now
    assert "Upcoming" in upcoming
    assert "Cancelled" in cancelled
    assert 'href="webcal://rdv.test/calendar/' in page
    assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")


async def test_a_session_can_be_downloaded_on_its_own(day: tuple[Api, str]) -> None:
    api, path = day
    response = await api.client.get(f"{path}/m4.ics")
    assert response.status == 200
    body = (await response.read()).decode()
    assert body.count("BEGIN:VEVENT") == 1
    assert "SUMMARY:Acme × Water\\, part 4" in body
    assert (await api.client.get(f"{path}/m1.ics")).status == 404  # not one of Dan's


async def test_an_unknown_agenda_link_is_not_found(day: tuple[Api, str]) -> None:
    api, _ = day
    assert (await api.client.get("/me/not-a-token")).status == 404


async def test_the_agenda_in_a_browser_on_a_phone_passes_an_accessibility_check(
    browser: Any, day: tuple[Api, str]
) -> None:
    api, path = day
    url = str(api.client.make_url(path))
    context = await browser.new_context(
        viewport={"width": 390, "height": 844}, bypass_csp=True, timezone_id="America/New_York"
    )
    page = await context.new_page()
    await page.goto(url)
    join = page.get_by_role("link", name="Join now")
    assert await join.count() == 1
    assert "/j/" in (await join.get_attribute("href") or "")
    local = page.locator(".state-open .local")
    assert "In your time zone:" in await local.inner_text()
    countdown = page.locator(".state-upcoming .countdown").first
    assert "Opens in" in await countdown.inner_text()
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, "the agenda scrolls sideways on a phone"
    assert await blocking_violations(page) == []
    await page.keyboard.press("Tab")
    focused = await page.evaluate("document.activeElement.textContent")
    assert focused.strip()
    await page.screenshot(path=str(screenshot_path("agenda-phone.png")), full_page=True)
    await context.close()
