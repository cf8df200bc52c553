"""The organiser follows participants' requests in the workspace: every company against every
directorate with what came of what was asked, the requests waiting first; answers for a
directorate that does not; then previews where the accepted requests would be placed, nothing
written, and applies it: the meetings are written and both sides get their invites."""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from support.accessibility import blocking_violations
from support.mailsink import MailSink
from support.matchmaking import OPEN_DAY, post, requests_open
from support.service import Api, ManualClock
from support.signin import login_path
from test_workspace import BASE, SLUG, csrf_of, page, sign_in

from orchestrator.db import models as m


@pytest.fixture
async def api(make_api: Callable[..., Any], sink: MailSink, clock: ManualClock) -> Api:
    api: Api = await make_api(mail_url=sink.url, public_url=BASE)
    await api.import_ok(requests_open())
    clock.set(OPEN_DAY)
    return api


async def requests_of(db: Any, person: str) -> str:
    async with db() as session:
        token = await session.scalar(select(m.Person.feed_token).where(m.Person.key == person))
    return f"/me/{token}/requests"


def words(text: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", text)).split())


async def test_the_organiser_answers_for_a_directorate_previews_and_applies_the_day(
    api: Api, db: Any, sink: MailSink, clock: ManualClock
) -> None:
    await post(api, f"{await requests_of(db, 'chloe')}/ask", to="water", message="Capteurs")
    await post(api, f"{await requests_of(db, 'eve')}/ask", to="roads", message="Marquage")
    await api.deliver_mail()
    sink.clear()
    await sign_in(api.client, db, clock)

    shown = await page(api.client, f"/admin/{SLUG}/requests")
    text = words(shown)
    assert "Companies and directorates" in text
    assert "Acme Sensors waiting" in text  # the matrix: Acme asked Water and Waste
    assert "Chloé Martin, Acme Sensors → Water and Waste" in text
    ids = re.findall(r"/requests/(\d+)/answer", shown)
    assert len(ids) == 2

    token = csrf_of(shown)
    accepted = await api.client.post(
        f"/admin/{SLUG}/requests/{ids[0]}/answer",
        data={"csrf": token, "answer": "accepted"},
        allow_redirects=False,
    )
    assert accepted.status == 303
    assert "done=request-accepted" in accepted.headers["Location"]
    declined = await api.client.post(
        f"/admin/{SLUG}/requests/{ids[1]}/answer",
        data={"csrf": token, "answer": "declined", "reason": "Hors périmètre"},
        allow_redirects=False,
    )
    assert declined.status == 303
    await api.deliver_mail()
    told = {(message.recipient, message.subject) for message in sink.received}
    assert ("chloe@acme.example", "Water and Waste accepted your meeting request") in told
    assert ("eve@globex.example", "Roads a décliné votre demande de rendez-vous") in told
    sink.clear()
    again = await api.client.post(
        f"/admin/{SLUG}/requests/{ids[0]}/answer",
        data={"csrf": token, "answer": "declined"},
        allow_redirects=False,
    )
    assert "why=accepted" in again.headers["Location"]

    started = await api.client.post(
        f"/admin/{SLUG}/requests/preview", data={"csrf": token}, allow_redirects=False
    )
    assert "done=previewing" in started.headers["Location"]
    preview = words(await run_over(api))
    assert "placed 1 of 1 meeting requests" in preview
    assert "dry run: nothing was written" in preview
    assert not [s for s in (await api.get_event(SLUG))["sessions"] if s["key"].startswith("re")]
    applied = await api.client.post(
        f"/admin/{SLUG}/requests/schedule", data={"csrf": token}, allow_redirects=False
    )
    assert applied.status == 303
    assert "done=scheduling" in applied.headers["Location"]
    assert "The meetings are written and their invites queued." in await run_over(api)
    (placed,) = [s for s in (await api.get_event(SLUG))["sessions"] if s["key"].startswith("re")]
    people = {attendee["key"] for attendee in placed["attendees"]}
    assert "ana" in people  # Water and Waste's one buyer; accepted for it: any Acme person
    assert people & {"chloe", "dan"}
    await api.deliver_mail()
    invited = {m.recipient for m in sink.received if m.method == "REQUEST"}
    assert "chloe@acme.example" in invited
    assert "ana@water.example" in invited
    ready = {
        m.recipient
        for m in sink.received
        if m.subject == "Your agenda for Meet the buyers is ready"
    }
    assert "ana@water.example" in ready  # once, beside the invite
    assert len(ready) == 2
    after = words(await page(api.client, f"/admin/{SLUG}/requests"))
    assert "Acme Sensors placed" in after
    audit = words(await page(api.client, f"/admin/{SLUG}/audit"))
    assert "Meeting request answered" in audit
    assert "Meetings scheduled" in audit


async def test_a_follow_up_reader_sees_the_requests_but_nothing_to_press(
    api: Api, db: Any, clock: ManualClock, browser: Any
) -> None:
    await post(api, f"{await requests_of(db, 'chloe')}/ask", to="water", message="Capteurs")
    await sign_in(api.client, db, clock, role="followup")
    shown = await page(api.client, f"/admin/{SLUG}/requests")
    assert "Chloé Martin" in shown
    assert "/answer" not in shown
    assert "Preview the placement" not in shown
    base = str(api.client.make_url("/")).rstrip("/")
    context = await browser.new_context(viewport={"width": 390, "height": 844}, bypass_csp=True)
    reader = await context.new_page()
    await reader.goto(base + await login_path(db, clock, SLUG, role="followup", base_url=base))
    await reader.get_by_role("button", name="Sign in").click()
    await reader.wait_for_load_state()
    await reader.goto(f"{base}/admin/{SLUG}/requests")
    assert "Chloé Martin" in await reader.locator("main").inner_text()
    assert await blocking_violations(reader) == []
    await context.close()


async def run_over(api: Api) -> str:
    """The requests page once the scheduling run the workspace started is over; while it runs,
    the page says how it goes (its phase, then the best placement so far)."""
    for _ in range(600):
        state = await (await api.client.get(f"/admin/{SLUG}/requests/run")).json()
        if not state["running"]:
            return await page(api.client, f"/admin/{SLUG}/requests")
        assert state["said"]
        await asyncio.sleep(0.05)
    raise AssertionError("the scheduling run did not end")


async def test_a_preview_started_in_the_browser_shows_how_it_goes_then_the_placement(
    api: Api, db: Any, clock: ManualClock, browser: Any
) -> None:
    await post(api, f"{await requests_of(db, 'chloe')}/ask", to="water", message="Capteurs")
    await sign_in(api.client, db, clock)
    shown = await page(api.client, f"/admin/{SLUG}/requests")
    (request_id,) = re.findall(r"/requests/(\d+)/answer", shown)
    await api.client.post(
        f"/admin/{SLUG}/requests/{request_id}/answer",
        data={"csrf": csrf_of(shown), "answer": "accepted"},
        allow_redirects=False,
    )
    base = str(api.client.make_url("/")).rstrip("/")
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    organiser = await context.new_page()
    await organiser.goto(base + await login_path(db, clock, SLUG, base_url=base))
    await organiser.get_by_role("button", name="Sign in").click()
    await organiser.wait_for_load_state()
    await organiser.goto(f"{base}/admin/{SLUG}/requests")
    await organiser.get_by_role("button", name="Preview the placement (nothing is written)").click()
    status = organiser.get_by_role("status").filter(has_text=re.compile("placement|waits|event"))
    await status.first.wait_for(timeout=5000)  # the phase the scheduler is in, as it runs
    assert await blocking_violations(organiser) == []
    placement = organiser.locator("pre.preview")
    await placement.wait_for(timeout=30000)  # the page comes back by itself once it is over
    assert "placed 1 of 1 meeting requests" in await placement.inner_text()
    assert await organiser.get_by_role("button", name=re.compile("^Apply")).count() == 1
    await context.close()
