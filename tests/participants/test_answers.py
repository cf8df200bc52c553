"""Chloe, invited to meet Ana (Water and Waste) at 10:30, says on her agenda page that she cannot
come, and why. Ana's side and the organisers know before anyone waits in an empty room: the
dashboard shows an alert, the API and the attendance log carry her answer. Nobody can answer for
a seat that is not theirs, nor from another site, nor for a session that is over."""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from support.accessibility import blocking_violations
from support.browser import screenshot_path
from support.mailsink import MailSink
from support.service import Api, ManualClock, small_program
from support.signin import login_path, sign_in

from orchestrator.db import models as m

SLUG = "meet-the-buyers"
M1_START = datetime(2021, 4, 8, 8, 30, tzinfo=UTC)  # 10:30 in Paris


@pytest.fixture
async def api(make_api: Callable[..., Any], clock: ManualClock) -> Api:
    api: Api = await make_api(public_url="http://rdv.test")  # the cookie goes over http
    await api.import_ok(small_program())
    clock.set(M1_START - timedelta(hours=2))
    return api


async def agenda_of(db: Any, person: str) -> str:
    async with db() as session:
        token = await session.scalar(select(m.Person.feed_token).where(m.Person.key == person))
    return f"/me/{token}"


async def answer(api: Api, path: str, key: str, **form: str) -> Any:
    return await api.client.post(f"{path}/{key}/answer", data=form, allow_redirects=False)


def seat_in(event: dict[str, Any], session: str, person: str) -> dict[str, Any]:
    found = next(s for s in event["sessions"] if s["key"] == session)
    return next(a for a in found["attendees"] if a["key"] == person)  # type: ignore[no-any-return]


async def test_a_decline_with_its_reason_reaches_the_api_the_log_and_the_dashboard(
    api: Api, db: Any, clock: ManualClock
) -> None:
    chloe = await agenda_of(db, "chloe")
    page = html.unescape(await (await api.client.get(chloe)).text())
    assert "I'll be there" in page
    assert "I can't come" in page

    sent = await answer(api, chloe, "m1", answer="declined", reason="Ill today,\x07 sorry")
    assert sent.status == 303
    assert sent.headers["Location"] == f"{chloe}?answered=m1#session-m1"
    page = html.unescape(await (await api.client.get(sent.headers["Location"])).text())
    assert "Thank you: your answer is recorded." in page
    assert "Your answer: I can't come." in page

    seat = seat_in(await api.get_event(SLUG), "m1", "chloe")
    assert seat["answer"] == "declined"
    assert seat["answer_source"] == "page"
    assert seat["answer_reason"] == "Ill today, sorry"  # the control character is gone
    assert seat["answered_at"] == clock.now().isoformat().replace("+00:00", "Z")
    assert seat_in(await api.get_event(SLUG), "m1", "ana")["answer"] == "needs-action"

    log = await api.client.get(
        f"/api/v1/events/{SLUG}/attendance?session=m1", headers=api.headers(SLUG)
    )
    rows = {row["person"]: row for row in (await log.json())["attendance"]}
    assert rows["chloe"]["answer"] == "declined"
    assert rows["ana"]["answer"] == "needs-action"
    csv = await api.client.get(
        f"/api/v1/events/{SLUG}/attendance?format=csv", headers=api.headers(SLUG)
    )
    assert "answer ahead" in (await csv.text()).splitlines()[0]

    assert (await sign_in(api.client, db, clock, SLUG)).status == 303
    dashboard = html.unescape(await (await api.client.get(f"/dashboard/{SLUG}")).text())
    assert "Chloé Martin (Acme Sensors) cannot come to Acme × Water (10:30)" in dashboard
    assert "“Ill today, sorry”" in dashboard
    assert "declined ahead" in dashboard


async def test_changing_ones_mind_replaces_the_answer_and_the_alert_goes(
    api: Api, db: Any, clock: ManualClock
) -> None:
    chloe = await agenda_of(db, "chloe")
    await answer(api, chloe, "m1", answer="declined")
    assert (await answer(api, chloe, "m1", answer="accepted")).status == 303
    seat = seat_in(await api.get_event(SLUG), "m1", "chloe")
    assert (seat["answer"], seat["answer_reason"]) == ("accepted", None)
    await sign_in(api.client, db, clock, SLUG)
    dashboard = html.unescape(await (await api.client.get(f"/dashboard/{SLUG}")).text())
    assert "cannot come" not in dashboard
    assert "confirmed" in dashboard


async def test_nobody_answers_for_a_seat_that_is_not_theirs(api: Api, db: Any) -> None:
    dan = await agenda_of(db, "dan")  # Dan is in m3, not in m1
    assert (await answer(api, dan, "m1", answer="declined")).status == 404
    assert (await answer(api, "/me/not-a-token", "m1", answer="declined")).status == 404
    assert (await answer(api, dan, "m3", answer="maybe-later")).status == 400
    event = await api.get_event(SLUG)
    assert {a["answer"] for s in event["sessions"] for a in s["attendees"]} == {"needs-action"}


async def test_a_form_sent_from_another_site_changes_nothing(api: Api, db: Any) -> None:
    chloe = await agenda_of(db, "chloe")
    forged = await api.client.post(
        f"{chloe}/m1/answer",
        data={"answer": "declined"},
        headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
        allow_redirects=False,
    )
    assert forged.status == 403
    assert seat_in(await api.get_event(SLUG), "m1", "chloe")["answer"] == "needs-action"


async def test_a_session_that_is_over_can_no_longer_be_answered(
    api: Api, db: Any, clock: ManualClock
) -> None:
    chloe = await agenda_of(db, "chloe")
    clock.set(M1_START + timedelta(hours=1))
    page = html.unescape(await (await api.client.get(chloe)).text())
    assert "I can't come" not in page  # no buttons for what is over
    sent = await answer(api, chloe, "m1", answer="declined")
    assert sent.headers["Location"] == f"{chloe}?refused=m1#session-m1"
    page = html.unescape(await (await api.client.get(sent.headers["Location"])).text())
    assert "This session can no longer be answered." in page
    assert seat_in(await api.get_event(SLUG), "m1", "chloe")["answer"] == "needs-action"


async def test_in_a_browser_i_cant_come_turns_the_dashboard_alert_on_within_a_second(
    browser: Any, api: Api, db: Any, clock: ManualClock
) -> None:
    base = str(api.client.make_url("/")).rstrip("/")
    organiser = await browser.new_page(viewport={"width": 1280, "height": 900})
    await organiser.goto(base + await login_path(db, clock, SLUG, base_url=base))
    await organiser.get_by_role("button", name="Sign in").click()
    await organiser.wait_for_url(f"{base}/dashboard/{SLUG}")
    await organiser.locator("#card-m1").wait_for()
    assert await organiser.locator("#alerts .alert-declined").count() == 0

    context = await browser.new_context(viewport={"width": 390, "height": 844}, bypass_csp=True)
    chloe = await context.new_page()
    await chloe.goto(base + await agenda_of(db, "chloe"))
    m1 = chloe.locator(".session", has=chloe.locator("#session-m1"))
    await m1.get_by_text("I can't come").first.click()  # opens the reason
    await m1.get_by_label("Reason").fill("Ill today")
    assert await blocking_violations(chloe) == []
    await m1.get_by_role("button", name="Send: I can't come").click()
    await chloe.get_by_role("status").wait_for()
    assert "Your answer: I can't come." in await m1.inner_text()
    assert await blocking_violations(chloe) == []
    await chloe.screenshot(path=str(screenshot_path("agenda-declined.png")), full_page=True)

    alert = organiser.locator("#alerts .alert-declined", has_text="Chloé Martin")
    await alert.wait_for(timeout=1000)  # within a second of her answer
    assert "Ill today" in await alert.inner_text()
    assert "declined" in (await organiser.locator("#card-m1").get_attribute("class") or "")
    await context.close()


async def test_the_other_side_and_the_organisers_hear_of_a_decline_by_mail(
    make_api: Callable[..., Any], sink: MailSink, clock: ManualClock, db: Any
) -> None:
    api: Api = await make_api(mail_url=sink.url, public_url="http://rdv.test")
    program = small_program()
    next(p for p in program["people"] if p["key"] == "ana")["locale"] = "fr"
    await api.import_ok(program)
    clock.set(M1_START - timedelta(hours=2))
    await api.deliver_mail()
    sink.clear()

    chloe = await agenda_of(db, "chloe")
    await answer(api, chloe, "m1", answer="declined", reason="Malade aujourd'hui")
    await api.deliver_mail()
    # To Ana and to the organisers; Chloé is not told of her own decline.
    by_recipient = {message.recipient: message for message in sink.received}
    assert sorted(by_recipient) == ["ana@water.example", "rdv@cluster.example"]
    notice = by_recipient["ana@water.example"]
    assert notice.subject.startswith(
        "Chloé Martin, Acme Sensors ne pourra pas venir : Acme × Water"
    )
    text = notice.text
    assert "Chloé Martin précise : « Malade aujourd'hui »" in text
    assert f"/me/{await feed_token(db, 'ana')}" in text
    assert "/j/" not in text  # no join link to a meeting that will not happen as planned
    organisers = by_recipient["rdv@cluster.example"].text  # the event's language: English
    assert "Chloé Martin, Acme Sensors cannot come to Acme × Water" in organisers
    assert "Chloé Martin says: “Malade aujourd'hui”" in organisers
    assert f"The dashboard: http://rdv.test/dashboard/{SLUG}" in organisers

    await answer(api, chloe, "m1", answer="accepted")
    await answer(api, chloe, "m1", answer="declined")
    await answer(api, chloe, "m1", answer="accepted")  # taken back before it went out
    await api.deliver_mail()
    assert len(sink.received) == 2


async def test_a_decline_of_the_plenary_mails_nobody(
    make_api: Callable[..., Any], sink: MailSink, clock: ManualClock, db: Any
) -> None:
    api: Api = await make_api(mail_url=sink.url)
    await api.import_ok(small_program())
    clock.set(M1_START - timedelta(hours=2))
    await api.deliver_mail()
    sink.clear()
    await answer(api, await agenda_of(db, "chloe"), "plenary", answer="declined")
    await api.deliver_mail()
    assert sink.received == []


async def feed_token(db: Any, person: str) -> str:
    return (await agenda_of(db, person)).removeprefix("/me/")


async def test_the_invite_says_where_to_answer_and_a_scanner_opening_it_answers_nothing(
    make_api: Callable[..., Any], sink: MailSink, clock: ManualClock, db: Any
) -> None:
    api: Api = await make_api(mail_url=sink.url, public_url="http://rdv.test")
    await api.import_ok(small_program())
    clock.set(M1_START - timedelta(hours=2))
    await api.deliver_mail()
    invite = next(
        message
        for message in sink.received
        if message.recipient == "chloe@acme.example" and "Acme × Water" in message.subject
    )
    chloe = await agenda_of(db, "chloe")
    link = f"http://rdv.test{chloe}#session-m1"
    assert (
        f"Can you come, or will a colleague come instead? Say so on your agenda: {link}"
        in invite.text
    )
    assert link in str(invite.event.get("DESCRIPTION"))  # the calendar entry says it too

    page = await api.client.get(chloe)  # what a mail scanner does with the link
    assert page.status == 200
    assert 'action="/me/' in await page.text()
    assert seat_in(await api.get_event(SLUG), "m1", "chloe")["answer"] == "needs-action"


async def test_the_report_tells_who_said_ahead_from_who_stayed_away_without_a_word(
    api: Api, db: Any, clock: ManualClock
) -> None:
    await answer(api, await agenda_of(db, "chloe"), "m1", answer="declined", reason="Ill")
    await answer(api, await agenda_of(db, "eve"), "m2", answer="accepted")
    await answer(api, await agenda_of(db, "ben"), "m2", answer="tentative")
    clock.set(M1_START + timedelta(hours=2))  # every meeting is over; nobody came

    report = await (
        await api.client.get(f"/api/v1/events/{SLUG}/report", headers=api.headers(SLUG))
    ).json()
    assert report["seats_confirmed"] == 1  # Eve said yes (and did not come)
    assert report["seats_declined_ahead"] == 1  # Chloé warned
    assert report["no_shows_without_notice"] == 5  # six empty seats, one of them announced
    assert "no decline ahead" in report["definitions"]["no_shows_without_notice"]

    signed = await sign_in(api.client, db, clock, SLUG)
    page = await api.client.get(f"/events/{SLUG}/report", cookies=signed.cookies)
    text = " ".join(html.unescape(await page.text()).split())
    assert "Answers ahead: 1 seats confirmed, 1 declined ahead; 5 no-shows without notice." in text


async def test_an_organiser_records_the_answer_of_someone_who_phoned(
    api: Api, db: Any, clock: ManualClock
) -> None:
    url = f"/api/v1/events/{SLUG}/sessions/m1/attendees/chloe/answer"
    body = {"answer": "declined", "reason": "Called the front desk: ill"}

    followup = await api.client.put(url, json=body, headers=api.headers(SLUG, "followup"))
    assert followup.status == 403  # a followup token only reads
    sent = await api.client.put(url, json=body, headers=api.headers(SLUG))
    assert sent.status == 200
    answered = await sent.json()
    assert (answered["answer"], answered["answer_source"], answered["changed"]) == (
        "declined",
        "organiser",
        True,
    )
    seat = seat_in(await api.get_event(SLUG), "m1", "chloe")
    assert (seat["answer"], seat["answer_reason"]) == ("declined", "Called the front desk: ill")
    again = await (await api.client.put(url, json=body, headers=api.headers(SLUG))).json()
    assert again["changed"] is False

    nobody = f"/api/v1/events/{SLUG}/sessions/m2/attendees/chloe/answer"
    missing = await api.client.put(nobody, json=body, headers=api.headers(SLUG))
    assert missing.status == 404  # Chloé has no seat in m2
    assert "no seat of" in (await missing.json())["error"]["message"]
    clock.set(M1_START + timedelta(hours=1))
    late = await api.client.put(url, json={"answer": "accepted"}, headers=api.headers(SLUG))
    assert late.status == 422
    assert "over" in (await late.json())["error"]["message"]
