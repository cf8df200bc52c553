"""Chloé (Acme) cannot meet Ana at 10:30, but her colleague Agnès can: on her agenda page she says
"a colleague comes instead" and names her. Agnès gets the seat, the invite and a link of her
own; Ana's invite is updated; Chloé's link for that meeting says where the seat went. On the
day Agnès comes, and the report counts Acme as having met Water and Waste. An import of the
same program afterwards does not undo it."""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from support.accessibility import blocking_violations
from support.browser import screenshot_path
from support.deliveries import JITSI_SECRET, headers, occupant, provisioned, seat
from support.mailsink import MailSink
from support.service import Api, ManualClock, small_program
from support.signin import login_path

from orchestrator.db import models as m

SLUG = "meet-the-buyers"
M1_START = datetime(2021, 4, 8, 8, 30, tzinfo=UTC)  # 10:30 in Paris


@pytest.fixture
async def api(make_api: Callable[..., Any], sink: MailSink, clock: ManualClock) -> Api:
    api: Api = await make_api(
        mail_url=sink.url, jitsi_webhook_secret=JITSI_SECRET, public_url="http://rdv.test"
    )
    await api.import_ok(small_program())
    clock.set(M1_START - timedelta(hours=2))
    await api.deliver_mail()
    sink.clear()
    return api


async def agenda_of(db: Any, person: str) -> str:
    async with db() as session:
        token = await session.scalar(select(m.Person.feed_token).where(m.Person.key == person))
    return f"/me/{token}"


async def hand_over(api: Api, agenda: str, session: str, **form: str) -> Any:
    return await api.client.post(f"{agenda}/{session}/handover", data=form, allow_redirects=False)


async def agnes_and_ana_meet(api: Api, db: Any, clock: ManualClock) -> None:
    """The day: both walk into m1's room at 10:30 and stay 22 minutes (Jitsi's webhooks)."""
    clock.set(M1_START + timedelta(minutes=1))
    room = await provisioned(api, db, "m1")
    for person, name in (("agnes.collomb", "Agnès Collomb"), ("ana", "Ana Lopez")):
        _, seat_id, _ = await seat(db, person, "m1")
        for kind, at in (("joined", M1_START), ("left", M1_START + timedelta(minutes=22))):
            body = occupant(kind, room, seat_id, name, at)
            assert (await api.client.post("/webhooks/jitsi", headers=headers(), data=body)).ok


def attendees(event: dict[str, Any], session: str) -> set[str]:
    found = next(s for s in event["sessions"] if s["key"] == session)
    return {attendee["key"] for attendee in found["attendees"]}


async def test_a_new_colleague_gets_the_seat_the_invite_and_counts_for_the_company(
    api: Api, db: Any, sink: MailSink, clock: ManualClock
) -> None:
    _, _, old_seat = await seat(db, "chloe", "m1")
    async with db() as session:
        old_link = await session.scalar(select(m.Attendee.token).where(m.Attendee.id == old_seat))
    chloe = await agenda_of(db, "chloe")

    sent = await hand_over(api, chloe, "m1", name=" Agnès  Collomb ", email="Agnes@Acme.example")
    assert sent.status == 303
    assert sent.headers["Location"] == f"{chloe}?handed=m1"
    page = html.unescape(await (await api.client.get(sent.headers["Location"])).text())
    assert "Agnès Collomb has your seat" in page
    assert 'id="session-m1"' not in page  # no longer on her agenda
    assert 'id="session-m3"' not in page  # (Dan's, never hers)

    event = await api.get_event(SLUG)
    assert attendees(event, "m1") == {"agnes.collomb", "ana"}
    assert attendees(event, "plenary") >= {"chloe"}  # only that meeting changed hands

    await api.deliver_mail()
    by = {(message.recipient, message.method) for message in sink.received}
    assert ("agnes@acme.example", "REQUEST") in by  # her invite, her own link
    assert ("chloe@acme.example", "CANCEL") in by
    assert ("ana@water.example", "REQUEST") in by  # the update: whom she meets now
    invite = next(msg for msg in sink.received if msg.recipient == "agnes@acme.example")
    assert "/j/" in invite.text
    assert old_link not in invite.raw.decode(errors="replace")
    update = next(msg for msg in sink.received if msg.recipient == "ana@water.example")
    assert "Agnès Collomb" in update.text

    moved = await api.client.get(f"/j/{old_link}", allow_redirects=False)
    assert moved.status == 410
    assert "You handed this seat to Agnès Collomb" in html.unescape(await moved.text())

    await agnes_and_ana_meet(api, db, clock)
    clock.set(M1_START + timedelta(hours=1))

    log = await api.client.get(
        f"/api/v1/events/{SLUG}/attendance?session=m1", headers=api.headers(SLUG)
    )
    rows = {row["person"]: row for row in (await log.json())["attendance"]}
    assert "chloe" not in rows  # her seat is Agnès's: she is no no-show
    assert rows["agnes.collomb"]["role"] == "substitute"
    assert rows["agnes.collomb"]["substitute_for"] == "chloe"
    assert rows["agnes.collomb"]["status"] != "no-show"
    report = await (
        await api.client.get(f"/api/v1/events/{SLUG}/report", headers=api.headers(SLUG))
    ).json()
    assert report["meetings_held"] == 1
    assert report["companies_met"] == 1  # Acme, through Agnès
    assert report["directorates"] == 1


async def test_a_colleague_already_in_the_event_is_chosen_from_the_list(
    api: Api, db: Any, sink: MailSink
) -> None:
    chloe = await agenda_of(db, "chloe")
    page = html.unescape(await (await api.client.get(chloe)).text())
    assert '<option value="dan">Dan Weber</option>' in page  # Acme's
    assert "Eve Durand" not in page  # Globex is not hers

    sent = await hand_over(api, chloe, "m1", colleague="dan")
    assert sent.headers["Location"] == f"{chloe}?handed=m1"
    assert attendees(await api.get_event(SLUG), "m1") == {"dan", "ana"}
    assert attendees(await api.get_event(SLUG), "m3") == {"dan", "ben"}  # his own, untouched
    await api.deliver_mail()
    assert ("dan@acme.example", "REQUEST") in {(m.recipient, m.method) for m in sink.received}


@pytest.mark.parametrize(
    ("session", "form", "says"),
    [
        ("m1", {"name": "Eve", "email": "eve@globex.example"}, "another organisation"),
        ("m1", {"name": "Agnès", "email": "agnes@"}, "not an email address"),
        ("m1", {"name": "", "email": "agnes@acme.example"}, "name and email"),
        ("m1", {"name": "Me", "email": "chloe@acme.example"}, "your own address"),
        ("m1", {"colleague": "eve"}, "Choose a colleague from the list"),
        ("plenary", {"colleague": "dan"}, "already invited"),
    ],
)
async def test_a_seat_that_cannot_be_handed_over_stays_and_the_page_says_why(
    api: Api, db: Any, session: str, form: dict[str, str], says: str
) -> None:
    chloe = await agenda_of(db, "chloe")
    before = await api.get_event(SLUG)

    sent = await hand_over(api, chloe, session, **form)

    assert sent.status == 303
    assert f"not_handed={session}" in sent.headers["Location"]
    page = html.unescape(await (await api.client.get(sent.headers["Location"])).text())
    assert says in page
    assert await api.get_event(SLUG) == before


async def test_importing_the_same_program_again_keeps_the_colleague_in_the_seat(
    api: Api, db: Any, sink: MailSink
) -> None:
    await hand_over(
        api, await agenda_of(db, "chloe"), "m1", name="Agnès Collomb", email="a@acme.example"
    )
    await api.deliver_mail()
    sink.clear()

    changes = await api.import_ok(small_program())  # still says Chloé meets Ana

    assert changes["sessions"]["changed"] == []
    assert "agnes.collomb" not in changes["people"]["removed"]
    assert attendees(await api.get_event(SLUG), "m1") == {"agnes.collomb", "ana"}
    await api.deliver_mail()
    assert sink.received == []  # nobody hears of anything


async def test_in_a_browser_a_colleague_comes_instead_and_the_report_counts_them(
    browser: Any, api: Api, db: Any, sink: MailSink, clock: ManualClock
) -> None:
    base = str(api.client.make_url("/")).rstrip("/")
    _, _, old_seat = await seat(db, "chloe", "m1")
    async with db() as session:
        old_link = await session.scalar(select(m.Attendee.token).where(m.Attendee.id == old_seat))
    context = await browser.new_context(viewport={"width": 390, "height": 844}, bypass_csp=True)
    chloe = await context.new_page()
    await chloe.goto(base + await agenda_of(db, "chloe"))
    m1 = chloe.locator(".session", has=chloe.locator("#session-m1"))
    await m1.get_by_text("A colleague comes instead").click()
    await m1.get_by_label("Their name").fill("Agnès Collomb")
    await m1.get_by_label("Their email").fill("agnes@acme.example")
    assert await blocking_violations(chloe) == []
    await m1.get_by_role("button", name="Send: my colleague comes instead").click()
    status = chloe.get_by_role("status")
    await status.wait_for()
    assert "Agnès Collomb has your seat" in await status.inner_text()
    assert await blocking_violations(chloe) == []
    await chloe.screenshot(path=str(screenshot_path("agenda-handover.png")), full_page=True)

    await api.deliver_mail()  # Agnès's invite, with her own link
    (invite,) = [msg for msg in sink.received if msg.recipient == "agnes@acme.example"]
    assert invite.method == "REQUEST"
    assert "Acme × Water" in invite.subject

    await chloe.goto(f"{base}/j/{old_link}")
    assert "You handed this seat to Agnès Collomb" in await chloe.locator("main").inner_text()
    assert await blocking_violations(chloe) == []

    await agnes_and_ana_meet(api, db, clock)  # the report, signed in, counts Acme as met
    clock.set(M1_START + timedelta(hours=2))
    desk = await browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    organiser = await desk.new_page()
    await organiser.goto(base + await login_path(db, clock, SLUG, base_url=base))
    await organiser.get_by_role("button", name="Sign in").click()
    await organiser.wait_for_url(f"{base}/dashboard/{SLUG}")
    await organiser.goto(f"{base}/events/{SLUG}/report")
    assert await organiser.locator("#figure-companies").inner_text() == "1"
    meeting = organiser.locator('.meeting[data-session="m1"]')
    assert "held" in (await meeting.get_attribute("class") or "")
    assert "Agnès Collomb → Chloé Martin" in await meeting.inner_text()
    assert await blocking_violations(organiser) == []
    await desk.close()
    await context.close()
