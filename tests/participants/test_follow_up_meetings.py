"""Chloé (Acme) and Ana (Water and Waste) saw a cooperation coming; in June the organisers
add a follow-up meeting for them to the program, months after the day. It is a meeting like
any other: both get the invite that names the other, its room opens on time, their presence
makes it held, and the report counts it as a follow-up, apart from the day's meetings."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from support.accessibility import blocking_violations
from support.deliveries import JITSI_SECRET, headers, occupant, provisioned, seat
from support.mailsink import MailSink
from support.service import Api, ManualClock, small_program

from orchestrator import appkeys
from orchestrator.db import models as m
from orchestrator.mail.outcome_questions import OutcomeQuestions

SLUG = "meet-the-buyers"
JUNE = datetime(2021, 6, 10, 8, 0, tzinfo=UTC)  # 10:00 in Paris


def with_follow_up() -> dict[str, Any]:
    program = small_program()
    program["sessions"].append(
        {
            "key": "suivi-acme-water",
            "kind": "follow-up",
            "title": "Acme × Water: suivi",
            "start": "2021-06-10T10:00",
            "end": "2021-06-10T10:45",
            "attendees": ["chloe", "ana"],
        }
    )
    return program


async def test_a_follow_up_meeting_months_later_is_invited_held_and_counted_apart(
    make_api: Callable[..., Any], db: Any, sink: MailSink, clock: ManualClock
) -> None:
    api: Api = await make_api(
        mail_url=sink.url, jitsi_webhook_secret=JITSI_SECRET, public_url="http://rdv.test"
    )
    clock.set(datetime(2021, 5, 1, tzinfo=UTC))
    await api.import_ok(with_follow_up())
    await api.deliver_mail()
    follow_up = [message for message in sink.received if "suivi" in message.subject]
    assert {message.recipient for message in follow_up} == {
        "chloe@acme.example",
        "ana@water.example",
    }
    chloe = next(message for message in follow_up if message.recipient == "chloe@acme.example")
    assert chloe.method == "REQUEST"
    assert "Ana Lopez" in chloe.text  # whom she meets, as for a meeting

    clock.set(JUNE + timedelta(minutes=1))
    room = await provisioned(api, db, "suivi-acme-water")
    for person, name in (("chloe", "Chloé Martin"), ("ana", "Ana Lopez")):
        _, seat_id, _ = await seat(db, person, "suivi-acme-water")
        for kind, at in (("joined", JUNE), ("left", JUNE + timedelta(minutes=30))):
            body = occupant(kind, room, seat_id, name, at)
            assert (await api.client.post("/webhooks/jitsi", headers=headers(), data=body)).ok
    clock.set(JUNE + timedelta(hours=2))

    report = await (
        await api.client.get(f"/api/v1/events/{SLUG}/report", headers=api.headers(SLUG))
    ).json()
    assert (report["follow_ups_planned"], report["follow_ups_held"]) == (1, 1)
    assert report["meetings_scheduled"] == 3  # the day's meetings, the follow-up apart


async def test_a_follow_up_needs_two_people_as_a_meeting_does(api: Api) -> None:
    program = with_follow_up()
    program["sessions"][-1]["attendees"] = ["chloe"]
    response = await api.put_program(program)
    assert response.status == 422
    problems = (await response.json())["error"]["details"]
    assert problems == [
        {"place": "sessions[4].attendees", "message": "a follow-up needs at least two attendees"}
    ]


async def test_the_pair_plans_its_follow_up_from_the_agenda_one_proposes_the_other_confirms(
    make_api: Callable[..., Any], db: Any, sink: MailSink, clock: ManualClock, browser: Any
) -> None:
    api: Api = await make_api(
        mail_url=sink.url, jitsi_webhook_secret=JITSI_SECRET, public_url="http://rdv.test"
    )
    await api.import_ok(small_program())
    m1 = datetime(2021, 4, 8, 8, 30, tzinfo=UTC)
    clock.set(m1 + timedelta(minutes=1))
    room = await provisioned(api, db, "m1")
    for person in ("chloe", "ana"):
        _, seat_id, _ = await seat(db, person, "m1")
        for kind, at in (("joined", m1), ("left", m1 + timedelta(minutes=22))):
            body = occupant(kind, room, seat_id, person, at)
            assert (await api.client.post("/webhooks/jitsi", headers=headers(), data=body)).ok
    clock.set(m1 + timedelta(minutes=65))  # the room has closed: the meeting was held
    app = api.client.app
    assert app is not None
    asker = OutcomeQuestions(app[appkeys.DB], clock.now, app[appkeys.SETTINGS], app[appkeys.WRITER])
    assert await asker.queue_due() == 2
    await api.deliver_mail()
    sink.clear()
    chloe, ana = await agenda_of(db, "chloe"), await agenda_of(db, "ana")
    assert "Plan a follow-up meeting" in await words(api, chloe)

    proposed = await api.client.post(
        f"{chloe}/m1/follow-up",
        data={"day": "2021-06-10", "start": "10:00", "end": "10:45"},
        allow_redirects=False,
    )
    assert proposed.headers["Location"] == f"{chloe}?planned=proposed"
    said = await words(api, proposed.headers["Location"])
    assert "Your proposal is sent" in said
    assert "You proposed to meet again on Thursday, June 10, 2021" in said
    await api.deliver_mail()
    (mail,) = sink.received
    assert mail.recipient == "ana@water.example"
    assert mail.subject.startswith("Chloé Martin proposes to meet again: Thursday, June 10, 2021")
    sink.clear()
    again = await api.client.post(
        f"{chloe}/m1/follow-up",
        data={"day": "2021-06-11", "start": "10:00", "end": "10:45"},
        allow_redirects=False,
    )
    assert again.headers["Location"] == f"{chloe}?not_planned=pending"

    page = await (await api.client.get(ana)).text()
    assert "Meet again on Thursday, June 10, 2021" in html.unescape(page)
    context = await browser.new_context(viewport={"width": 390, "height": 844}, bypass_csp=True)
    phone = await context.new_page()
    base = str(api.client.make_url("/")).rstrip("/")
    await phone.goto(base + ana)
    assert await blocking_violations(phone) == []  # the question, the proposal, the form
    await phone.goto(base + chloe)
    assert await blocking_violations(phone) == []
    await context.close()
    proposal = re.search(r"/follow-ups/(\d+)/answer", page)
    assert proposal is not None
    own = await api.client.post(
        f"{chloe}/follow-ups/{proposal.group(1)}/answer",
        data={"answer": "confirmed"},
        allow_redirects=False,
    )
    assert own.headers["Location"] == f"{chloe}?not_planned=unknown"  # not hers to confirm
    confirmed = await api.client.post(
        f"{ana}/follow-ups/{proposal.group(1)}/answer",
        data={"answer": "confirmed"},
        allow_redirects=False,
    )
    assert confirmed.headers["Location"] == f"{ana}?planned=confirmed"

    event = await api.get_event(SLUG)
    (follow_up,) = [s for s in event["sessions"] if s["kind"] == "follow-up"]
    assert {a["key"] for a in follow_up["attendees"]} == {"chloe", "ana"}
    assert (follow_up["start"], follow_up["end"]) == (
        "2021-06-10T08:00:00Z",
        "2021-06-10T08:45:00Z",
    )
    await api.deliver_mail()
    assert {m.recipient for m in sink.received if m.method == "REQUEST"} == {
        "chloe@acme.example",
        "ana@water.example",
    }
    assert follow_up["title"] in await words(api, chloe)  # on her agenda


async def agenda_of(db: Any, person: str) -> str:
    async with db() as session:
        token = await session.scalar(select(m.Person.feed_token).where(m.Person.key == person))
    return f"/me/{token}"


async def words(api: Api, path: str) -> str:
    page = await api.client.get(path)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", await page.text())).split())


async def test_a_follow_up_that_clashes_or_lies_in_the_past_is_refused_with_its_reason(
    make_api: Callable[..., Any], db: Any, clock: ManualClock
) -> None:
    api: Api = await make_api(jitsi_webhook_secret=JITSI_SECRET, public_url="http://rdv.test")
    await api.import_ok(with_follow_up())  # Chloé and Ana already meet again on June 10, 10:00
    m1 = datetime(2021, 4, 8, 8, 30, tzinfo=UTC)
    clock.set(m1 + timedelta(minutes=1))
    room = await provisioned(api, db, "m1")
    for person in ("chloe", "ana"):
        _, seat_id, _ = await seat(db, person, "m1")
        for kind, at in (("joined", m1), ("left", m1 + timedelta(minutes=22))):
            body = occupant(kind, room, seat_id, person, at)
            assert (await api.client.post("/webhooks/jitsi", headers=headers(), data=body)).ok
    clock.set(m1 + timedelta(minutes=65))
    chloe, ana = await agenda_of(db, "chloe"), await agenda_of(db, "ana")
    past = await api.client.post(
        f"{chloe}/m1/follow-up",
        data={"day": "2021-04-01", "start": "10:00", "end": "10:30"},
        allow_redirects=False,
    )
    assert past.headers["Location"] == f"{chloe}?not_planned=past"
    assert "The follow-up must be in the future." in await words(api, past.headers["Location"])
    await api.client.post(
        f"{chloe}/m1/follow-up", data={"day": "2021-06-10", "start": "10:15", "end": "10:30"}
    )
    proposal = re.search(r"/follow-ups/(\d+)/answer", await (await api.client.get(ana)).text())
    assert proposal is not None
    clash = await api.client.post(
        f"{ana}/follow-ups/{proposal.group(1)}/answer",
        data={"answer": "confirmed"},
        allow_redirects=False,
    )
    assert clash.headers["Location"] == f"{ana}?not_planned=clash"
    event = await api.get_event(SLUG)
    assert [s["key"] for s in event["sessions"] if s["kind"] == "follow-up"] == ["suivi-acme-water"]


async def test_a_proposal_for_a_meeting_cancelled_since_or_already_answered_says_so(
    make_api: Callable[..., Any], db: Any, clock: ManualClock
) -> None:
    api: Api = await make_api(jitsi_webhook_secret=JITSI_SECRET, public_url="http://rdv.test")
    await api.import_ok(small_program())
    clock.set(datetime(2021, 4, 8, 9, 35, tzinfo=UTC))  # m1 over
    chloe, ana = await agenda_of(db, "chloe"), await agenda_of(db, "ana")

    async def proposed(day: str) -> str:
        times = {"day": day, "start": "10:00", "end": "10:30"}
        await api.client.post(f"{chloe}/m1/follow-up", data=times)
        found = re.search(r"/follow-ups/(\d+)/answer", await (await api.client.get(ana)).text())
        assert found is not None
        return f"{ana}/follow-ups/{found.group(1)}/answer"

    async def answered(path: str, answer: str) -> str:
        sent = await api.client.post(path, data={"answer": answer}, allow_redirects=False)
        return str(sent.headers["Location"])

    first = await proposed("2021-06-10")
    assert await answered(first, "declined") == f"{ana}?planned=declined"
    again = await answered(first, "confirmed")
    assert again == f"{ana}?not_planned=declined"
    assert "This proposal is declined already." in await words(api, again)
    second = await proposed("2021-06-11")
    assert (await api.delete(SLUG, "m1")).status == 200  # the organisers cancel the meeting
    assert await answered(second, "confirmed") == f"{ana}?not_planned=gone"
