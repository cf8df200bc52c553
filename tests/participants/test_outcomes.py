"""Right after the day's meetings, the follow-up team wants to know what came of each. Chloé
(Acme) and Ana (Water and Waste) met for twenty minutes; Eve waited alone for Ben. Once the
rooms have closed, Chloé and Ana each get one mail asking what came of it, Eve and Ben none (it
was not held). Chloé's click on "a cooperation is possible" records it, in a browser, with a
comment only the organisers read; a mail scanner fetching the same link records nothing."""

from __future__ import annotations

import html
import re
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
from support.signin import login_path, sign_in

from orchestrator import appkeys
from orchestrator.db import models as m
from orchestrator.db.outcomes import MeetingOutcome, OutcomeCheck
from orchestrator.mail.outcome_questions import OutcomeQuestions

SLUG = "meet-the-buyers"
M1_START = datetime(2021, 4, 8, 8, 30, tzinfo=UTC)


@pytest.fixture
async def api(make_api: Callable[..., Any], sink: MailSink, clock: ManualClock, db: Any) -> Api:
    api: Api = await make_api(
        mail_url=sink.url, jitsi_webhook_secret=JITSI_SECRET, public_url="http://rdv.test"
    )
    await api.import_ok(small_program())
    clock.set(M1_START + timedelta(minutes=1))
    for session, people in (("m1", ("chloe", "ana")), ("m2", ("eve",))):
        room = await provisioned(api, db, session)
        for person in people:
            _, seat_id, _ = await seat(db, person, session)
            for kind, at in (("joined", M1_START), ("left", M1_START + timedelta(minutes=22))):
                body = occupant(kind, room, seat_id, person.title(), at)
                assert (await api.client.post("/webhooks/jitsi", headers=headers(), data=body)).ok
    await api.deliver_mail()
    sink.clear()
    return api


def questions(api: Api, clock: ManualClock) -> OutcomeQuestions:
    app = api.client.app
    assert app is not None
    return OutcomeQuestions(app[appkeys.DB], clock.now, app[appkeys.SETTINGS], app[appkeys.WRITER])


async def test_each_side_of_a_held_meeting_is_asked_once_and_nobody_else(
    api: Api, db: Any, sink: MailSink, clock: ManualClock
) -> None:
    asker = questions(api, clock)
    clock.set(M1_START + timedelta(minutes=35))  # over, but the rooms close a little later
    assert await asker.queue_due() == 0
    clock.set(M1_START + timedelta(minutes=65))  # m1 and m2 closed; m3 still to come

    assert await asker.queue_due() == 2
    assert await asker.queue_due() == 0  # once
    await api.deliver_mail()
    asked = {message.recipient: message for message in sink.received}
    assert set(asked) == {"chloe@acme.example", "ana@water.example"}
    mail = asked["chloe@acme.example"]
    assert mail.subject == "What came of your meeting with Water and Waste?"
    assert "A cooperation is possible: http://rdv.test/o/" in mail.text
    async with db() as session:
        checks = dict(
            (await session.execute(select(OutcomeCheck.session_id, OutcomeCheck.held))).all()
        )
        keys = dict((await session.execute(select(m.Session.id, m.Session.key))).all())
    assert {keys[session_id]: held for session_id, held in checks.items()} == {
        "m1": True,
        "m2": False,  # Eve waited alone: not held, nobody asked
    }


async def test_one_click_records_the_answer_in_a_browser_and_a_scanner_records_nothing(
    api: Api, db: Any, sink: MailSink, clock: ManualClock, browser: Any
) -> None:
    clock.set(M1_START + timedelta(minutes=65))
    await questions(api, clock).queue_due()
    await api.deliver_mail()
    (mail,) = [msg for msg in sink.received if msg.recipient == "chloe@acme.example"]
    link = re.search(r"A cooperation is possible: (\S+)", mail.text)
    assert link is not None
    path = link.group(1).removeprefix("http://rdv.test")

    scanned = await api.client.get(path)  # what a mail scanner does: no script runs
    assert scanned.status == 200
    assert await answer_of(db, "chloe") == (None, None)

    base = str(api.client.make_url("/")).rstrip("/")
    context = await browser.new_context(viewport={"width": 390, "height": 844})
    page = await context.new_page()
    await page.goto(base + path)
    status = page.get_by_role("status")
    await status.wait_for()
    assert "Thank you: your answer is recorded." in await status.inner_text()
    assert "A cooperation is possible" in await status.inner_text()
    assert await answer_of(db, "chloe") == ("cooperation-possible", None)
    await page.get_by_label("A comment for the organisers").fill("Un essai pilote à l'automne")
    await page.get_by_role("button", name="Send my answer").click()
    await page.wait_for_url("**saved=1")
    assert await answer_of(db, "chloe") == ("cooperation-possible", "Un essai pilote à l'automne")
    await page.screenshot(path=str(screenshot_path("outcome.png")), full_page=True)
    await context.close()
    axe = await browser.new_context(bypass_csp=True)
    checked = await axe.new_page()
    await checked.goto(base + path.rsplit("/", 1)[0])
    assert await blocking_violations(checked) == []
    await axe.close()

    async with db() as session:
        feed = await session.scalar(select(m.Person.feed_token).where(m.Person.key == "chloe"))
    agenda = html.unescape(await (await api.client.get(f"/me/{feed}")).text())
    assert "What came of it: your answer is recorded" in agenda


async def test_a_wrong_answer_or_link_changes_nothing(
    api: Api, db: Any, clock: ManualClock
) -> None:
    clock.set(M1_START + timedelta(minutes=65))
    await questions(api, clock).queue_due()
    async with db() as session:
        token = await session.scalar(select(MeetingOutcome.token).limit(1))
    assert (await api.client.get("/o/no-such-link/cooperation-possible")).status == 404
    assert (await api.client.get(f"/o/{token}/agreement-reached")).status == 404  # a later label
    wrong = await api.client.post(f"/o/{token}", data={"answer": "delighted"})
    assert wrong.status == 400
    assert "cooperation-possible" in await wrong.text()
    async with db() as session:
        assert (
            await session.scalar(select(MeetingOutcome.answer).where(MeetingOutcome.token == token))
            is None
        )


async def answer_of(db: Any, person: str) -> tuple[str | None, str | None]:
    async with db() as session:
        row = (
            await session.execute(
                select(MeetingOutcome.answer, MeetingOutcome.comment)
                .join(m.Person, m.Person.id == MeetingOutcome.person_id)
                .where(m.Person.key == person)
            )
        ).one()
    return row.answer, row.comment


async def test_the_follow_up_team_reads_the_counts_and_only_organisers_the_comments(
    api: Api, db: Any, clock: ManualClock
) -> None:
    clock.set(M1_START + timedelta(minutes=65))
    await questions(api, clock).queue_due()
    for person, answer, comment in (
        ("chloe", "cooperation-possible", "Un pilote à l'automne"),
        ("ana", "informative-no-cooperation", ""),
    ):
        async with db() as session:
            token = await session.scalar(
                select(MeetingOutcome.token)
                .join(m.Person, m.Person.id == MeetingOutcome.person_id)
                .where(m.Person.key == person)
            )
        sent = await api.client.post(
            f"/o/{token}", data={"answer": answer, "comment": comment}, allow_redirects=False
        )
        assert sent.status == 303

    for role, comment in (("organiser", "Un pilote à l'automne"), ("followup", "")):
        found = await api.client.get(
            f"/api/v1/events/{SLUG}/outcomes", headers=api.headers(SLUG, role)
        )
        body = await found.json()
        assert body["after"]["asked"] == 2
        assert body["after"]["answered"] == 2
        assert body["after"]["labels"]["cooperation-possible"] == 1
        assert body["after"]["by_company"] == [
            {
                "name": "Acme Sensors",
                "did-not-take-place": 0,
                "insufficient-interest": 0,
                "informative-no-cooperation": 0,
                "cooperation-possible": 1,
            }
        ]
        chloe = next(row for row in body["answers"] if row["person"] == "chloe")
        assert chloe["comment"] == comment  # the organisers' alone

    report = await (
        await api.client.get(f"/api/v1/events/{SLUG}/report", headers=api.headers(SLUG))
    ).json()
    assert (report["outcomes_asked"], report["outcomes_answered"]) == (2, 2)
    assert report["outcomes"]["informative-no-cooperation"] == 1

    signed = await sign_in(api.client, db, clock, SLUG, role="followup")
    page = await api.client.get(f"/events/{SLUG}/report", cookies=signed.cookies)
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", await page.text())).split())
    assert "2 of 2 people asked after a held meeting answered." in text
    assert "Acme Sensors 0 0 0 1" in text
    exported = await api.client.get(f"/events/{SLUG}/report/outcomes.csv", cookies=signed.cookies)
    assert exported.status == 200
    csv = await exported.text()
    assert "cooperation-possible" in csv
    assert "Un pilote" not in csv  # a follow-up reader gets no comment


async def test_months_later_those_who_saw_a_cooperation_are_asked_again_once_across_a_restart(
    api: Api, db: Any, sink: MailSink, clock: ManualClock, make_api: Callable[..., Any]
) -> None:
    clock.set(M1_START + timedelta(minutes=65))
    await questions(api, clock).queue_due()
    for person, answer in (("chloe", "cooperation-possible"), ("ana", "insufficient-interest")):
        async with db() as session:
            token = await session.scalar(
                select(MeetingOutcome.token)
                .join(m.Person, m.Person.id == MeetingOutcome.person_id)
                .where(m.Person.key == person)
            )
        await api.client.post(f"/o/{token}", data={"answer": answer})
    await api.deliver_mail()
    sink.clear()
    last_end = datetime(2021, 4, 8, 9, 30, tzinfo=UTC)  # m3, the day's last session

    clock.set(last_end + timedelta(days=179))
    assert await questions(api, clock).queue_later() == 0  # not yet
    clock.set(last_end + timedelta(days=180, minutes=1))
    assert await questions(api, clock).queue_later() == 1  # Chloé only: Ana saw none coming
    restarted: Api = await make_api(
        mail_url=sink.url, jitsi_webhook_secret=JITSI_SECRET, public_url="http://rdv.test"
    )
    assert await questions(restarted, clock).queue_due() == 0  # once, also after a restart
    await api.deliver_mail()
    (mail,) = sink.received
    assert mail.recipient == "chloe@acme.example"
    assert mail.subject == "Some months on: what came of your meeting with Water and Waste?"
    link = re.search(r"A negotiation has started: \S+/o/(\S+)/negotiation-started", mail.text)
    assert link is not None
    sent = await api.client.post(f"/o/{link.group(1)}", data={"answer": "negotiation-started"})
    assert sent.status == 200  # followed to the page that says it is recorded
    async with db() as session:
        stages = dict(
            (
                await session.execute(
                    select(MeetingOutcome.stage, MeetingOutcome.answer)
                    .join(m.Person, m.Person.id == MeetingOutcome.person_id)
                    .where(m.Person.key == "chloe")
                )
            ).all()
        )
    assert stages == {"after": "cooperation-possible", "later": "negotiation-started"}


async def test_the_follow_up_page_lists_the_pairs_with_a_next_step(
    api: Api, db: Any, clock: ManualClock, browser: Any
) -> None:
    clock.set(M1_START + timedelta(minutes=65))
    await questions(api, clock).queue_due()
    async with db() as session:
        token = await session.scalar(
            select(MeetingOutcome.token)
            .join(m.Person, m.Person.id == MeetingOutcome.person_id)
            .where(m.Person.key == "chloe")
        )
    await api.client.post(
        f"/o/{token}", data={"answer": "cooperation-possible", "comment": "Pilote en mai"}
    )
    signed = await sign_in(api.client, db, clock, SLUG, role="followup")
    page = await api.client.get(f"/events/{SLUG}/follow-up", cookies=signed.cookies)
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", await page.text())).split())
    assert "Acme × Water" in text
    assert "Chloé Martin , Acme Sensors — chloe@acme.example A cooperation is possible" in text
    assert "Ana Lopez , Water and Waste — ana@water.example no answer yet" in text
    assert "Pilote en mai" not in text  # the organisers' alone
    organiser = await sign_in(api.client, db, clock, SLUG)
    page = await api.client.get(f"/events/{SLUG}/follow-up", cookies=organiser.cookies)
    assert "Pilote en mai" in await page.text()
    report = await api.client.get(f"/events/{SLUG}/report", cookies=organiser.cookies)
    assert 'aria-label="What came of the meetings" class="chart"' in await report.text()

    base = str(api.client.make_url("/")).rstrip("/")
    context = await browser.new_context(bypass_csp=True)
    reader = await context.new_page()
    await reader.goto(base + await login_path(db, clock, SLUG, role="followup", base_url=base))
    await reader.locator("main form button").click()
    await reader.wait_for_load_state()
    await reader.goto(f"{base}/events/{SLUG}/follow-up")
    assert "Acme × Water" in await reader.locator("main").inner_text()
    assert await blocking_violations(reader) == []
    await context.close()
