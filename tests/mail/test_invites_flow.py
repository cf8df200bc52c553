"""Invites follow the program: imports, moves, swaps and cancellations reach exactly the people
concerned, through a real SMTP server; a mail outage delays mail, never loses or doubles it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from support.calendar_parsers import (
    assert_well_formed,
    icaljs_missing,
    read_icalendar,
    read_icaljs,
    read_vobject,
)
from support.mailsink import MailSink
from support.service import (
    EXAMPLE_SLUG,
    Api,
    ManualClock,
    example_program,
    session_of,
    small_program,
)

from orchestrator import appkeys
from orchestrator.app import create_app
from orchestrator.mail.outbox import Delivery
from orchestrator.settings import Settings

SLUG = "meet-the-buyers"
EMAILS = {
    "ana": "ana@water.example",
    "ben": "ben@roads.example",
    "chloe": "chloe@acme.example",
    "dan": "dan@acme.example",
    "eve": "eve@globex.example",
    "org": "olga@cluster.example",
}


@pytest.fixture
async def service(
    aiohttp_client: Any,
    make_settings: Callable[..., Settings],
    clock: ManualClock,
    token: Callable[..., str],
    sink: MailSink,
) -> tuple[Api, web.Application]:
    app = create_app(make_settings(mail_url=sink.url), clock=clock, migrate=False, background=False)
    client = await aiohttp_client(app)
    return Api(client, token), app


async def deliver(app: web.Application) -> Delivery:
    return await app[appkeys.OUTBOX].deliver_due()


def recipients(sink: MailSink) -> list[str]:
    return sorted(message.recipient for message in sink.received)


async def test_importing_invites_every_attendee_once_with_their_own_link(
    service: tuple[Api, web.Application], sink: MailSink
) -> None:
    api, app = service
    await api.import_ok(small_program())

    delivered = await deliver(app)

    assert delivered == Delivery(claimed=12, sent=12)
    assert len(sink.received) == 12  # 6 for the plenary, 2 for each of the 3 meetings
    chloe = {str(m.event["UID"]): m for m in sink.to(EMAILS["chloe"])}
    assert len(chloe) == 2
    meeting = next(m for m in chloe.values() if str(m.event["SUMMARY"]) == "Acme × Water")
    assert meeting.method == "REQUEST"
    assert meeting.subject.startswith("Invitation: Acme × Water — Thursday, April 8, 2021")
    assert int(meeting.event["SEQUENCE"]) == 0
    assert meeting.event.decoded("DTSTART").isoformat() == "2021-04-08T08:30:00+00:00"
    assert sorted(str(a) for a in meeting.event["ATTENDEE"]) == [
        "mailto:ana@water.example",
        "mailto:chloe@acme.example",
    ]
    join = str(meeting.event["LOCATION"])
    assert join.startswith("https://rdv.test/j/")
    assert join in meeting.text
    assert "Ana Lopez, Water and Waste" in meeting.text
    assert meeting.message["Reply-To"].addresses[0].addr_spec == "rdv@cluster.example"
    # Ana's link to the same meeting is another one: each seat has its own.
    ana = next(m for m in sink.to(EMAILS["ana"]) if str(m.event["SUMMARY"]) == "Acme × Water")
    assert str(ana.event["LOCATION"]) != join
    assert ana.event["UID"] == meeting.event["UID"]


async def test_the_plenary_invite_lists_only_its_recipient(
    service: tuple[Api, web.Application], sink: MailSink
) -> None:
    api, app = service
    await api.import_ok(small_program())
    await deliver(app)
    plenary = [m for m in sink.received if str(m.event["SUMMARY"]) == "Opening plenary"]
    assert len(plenary) == 6
    for message in plenary:
        attendees = message.event["ATTENDEE"]
        assert str(attendees) == f"mailto:{message.recipient}"


async def test_a_french_speaking_attendee_gets_french_mail(
    service: tuple[Api, web.Application], sink: MailSink
) -> None:
    api, app = service
    await api.import_ok(small_program())
    await deliver(app)
    eve = next(m for m in sink.to(EMAILS["eve"]) if str(m.event["SUMMARY"]) == "Globex × Roads")
    assert eve.subject.startswith("Invitation : Globex × Roads — jeudi 8 avril 2021")
    assert "Vous rencontrez :" in eve.text
    assert "Ben Okafor, Roads" in eve.text


async def test_rescheduled_meeting_sends_update_with_higher_sequence_to_its_attendees_only(
    service: tuple[Api, web.Application], sink: MailSink
) -> None:
    api, app = service
    await api.import_ok(small_program())
    await deliver(app)
    sink.clear()

    response = await api.patch(SLUG, "m3", {"start": "2021-04-08T11:30", "end": "2021-04-08T12:00"})
    assert response.status == 200
    await deliver(app)

    assert recipients(sink) == [EMAILS["ben"], EMAILS["dan"]]
    for message in sink.received:
        assert message.method == "REQUEST"
        assert message.subject.startswith("Updated: Acme × Roads")
        assert int(message.event["SEQUENCE"]) == 1
        assert message.event.decoded("DTSTART").isoformat() == "2021-04-08T09:30:00+00:00"


async def test_swapping_an_attendee_cancels_for_the_one_removed_and_updates_the_rest(
    service: tuple[Api, web.Application], sink: MailSink
) -> None:
    api, app = service
    await api.import_ok(small_program())
    await deliver(app)
    sink.clear()

    await api.patch(SLUG, "m1", {"attendees": ["dan", "ana"]})
    await deliver(app)

    assert recipients(sink) == [EMAILS["ana"], EMAILS["chloe"], EMAILS["dan"]]
    [chloe] = sink.to(EMAILS["chloe"])
    assert chloe.method == "CANCEL"
    assert "STATUS" not in chloe.event  # the meeting goes on without her
    assert str(chloe.event["ATTENDEE"]) == "mailto:chloe@acme.example"
    [dan] = sink.to(EMAILS["dan"])
    assert dan.subject.startswith("Invitation: Acme × Water")
    [ana] = sink.to(EMAILS["ana"])
    assert ana.subject.startswith("Updated: Acme × Water")
    assert "Dan Weber, Acme Sensors" in ana.text
    assert {int(m.event["SEQUENCE"]) for m in sink.received} == {1}


async def test_a_cancelled_session_sends_cancel_with_status_cancelled_to_everyone(
    service: tuple[Api, web.Application], sink: MailSink
) -> None:
    api, app = service
    await api.import_ok(small_program())
    await deliver(app)
    sink.clear()

    await api.delete(SLUG, "m2")
    await deliver(app)

    assert recipients(sink) == [EMAILS["ben"], EMAILS["eve"]]
    for message in sink.received:
        assert message.method == "CANCEL"
        assert message.part("text/calendar").get_param("method") == "CANCEL"
        assert str(message.event["STATUS"]) == "CANCELLED"
        assert int(message.event["SEQUENCE"]) == 1
        assert len(message.event["ATTENDEE"]) == 2


async def test_an_unchanged_reimport_sends_nothing(
    service: tuple[Api, web.Application], sink: MailSink
) -> None:
    api, app = service
    program = small_program()
    await api.import_ok(program)
    await deliver(app)
    sink.clear()

    await api.import_ok(program)

    assert await deliver(app) == Delivery()
    assert sink.received == []


async def test_someone_joining_the_plenary_does_not_disturb_the_others(
    service: tuple[Api, web.Application], sink: MailSink
) -> None:
    api, app = service
    program = small_program()
    await api.import_ok(program)
    await deliver(app)
    sink.clear()
    program["people"].append(
        {"key": "fay", "name": "Fay Newcomer", "email": "fay@acme.example", "organisation": "acme"}
    )

    await api.import_ok(program)
    await deliver(app)

    assert recipients(sink) == ["fay@acme.example"]
    assert sink.received[0].subject.startswith("Invitation: Opening plenary")


async def test_mail_held_up_by_an_smtp_outage_goes_out_once_when_it_returns(
    service: tuple[Api, web.Application], sink: MailSink, clock: ManualClock
) -> None:
    api, app = service
    sink.stop()
    await api.import_ok(small_program())

    first = await deliver(app)
    assert first == Delivery(claimed=12, retrying=12)
    outbox = await (
        await api.client.get(f"/api/v1/events/{SLUG}/mail", headers=api.headers(SLUG))
    ).json()
    assert outbox["counts"] == {"pending": 12, "sending": 0, "sent": 0, "failed": 0}
    assert all(m["last_error"] for m in outbox["messages"])
    assert await deliver(app) == Delivery()  # nothing is due before its retry time

    sink.start()
    clock.advance(timedelta(minutes=2))
    assert await deliver(app) == Delivery(claimed=12, sent=12)
    clock.advance(timedelta(hours=2))
    assert await deliver(app) == Delivery()
    assert len(sink.received) == 12
    assert len({(m.recipient, str(m.event["UID"])) for m in sink.received}) == 12


async def test_mail_that_cannot_go_out_for_a_day_is_marked_failed(
    service: tuple[Api, web.Application], sink: MailSink, clock: ManualClock
) -> None:
    api, app = service
    sink.stop()
    await api.import_ok(small_program())
    for _ in range(60):
        await deliver(app)
        clock.advance(timedelta(hours=1))
    outbox = await (
        await api.client.get(f"/api/v1/events/{SLUG}/mail?status=failed", headers=api.headers(SLUG))
    ).json()
    assert outbox["counts"]["failed"] == 12
    assert all(m["last_error"].startswith("gave up after 24 h: ") for m in outbox["messages"])


async def test_a_recipient_refused_with_550_is_failed_with_the_reason_and_the_rest_delivered(
    service: tuple[Api, web.Application], sink: MailSink
) -> None:
    api, app = service
    sink.refuse[EMAILS["ben"]] = "550 5.1.1 <ben@roads.example>: user unknown"
    await api.import_ok(small_program())

    assert await deliver(app) == Delivery(claimed=12, sent=9, failed=3)

    assert EMAILS["ben"] not in recipients(sink)
    failed = await (
        await api.client.get(f"/api/v1/events/{SLUG}/mail?status=failed", headers=api.headers(SLUG))
    ).json()
    assert {m["recipient"] for m in failed["messages"]} == {EMAILS["ben"]}
    assert all(
        "550" in m["last_error"] and "user unknown" in m["last_error"] for m in failed["messages"]
    )


async def test_the_mail_list_needs_a_token_for_the_event(
    service: tuple[Api, web.Application],
) -> None:
    api, _ = service
    await api.import_ok(small_program())
    assert (await api.client.get(f"/api/v1/events/{SLUG}/mail")).status == 401
    followup = await api.client.get(
        f"/api/v1/events/{SLUG}/mail", headers=api.headers(SLUG, "followup")
    )
    assert followup.status == 200
    bad = await api.client.get(f"/api/v1/events/{SLUG}/mail?status=lost", headers=api.headers(SLUG))
    assert bad.status == 400


async def test_a_new_speaker_gets_an_update_and_the_audience_does_not(
    service: tuple[Api, web.Application], sink: MailSink
) -> None:
    api, app = service
    program = small_program()
    await api.import_ok(program)
    await deliver(app)
    sink.clear()
    session_of(program, "plenary")["speakers"] = ["org", "ana"]

    await api.import_ok(program)
    await deliver(app)

    assert recipients(sink) == [EMAILS["ana"]]
    assert "You are one of the speakers." in sink.received[0].text


async def test_every_invite_of_the_seed_event_reads_the_same_in_three_calendar_parsers(
    service: tuple[Api, web.Application], sink: MailSink, tmp_path: Path
) -> None:
    api, app = service
    await api.import_ok(example_program())
    while (await deliver(app)).claimed:
        pass
    assert len(sink.received) == 116 + 2 * 41
    expected = {
        s["key"]: (s["start"], s["end"]) for s in (await api.get_event(EXAMPLE_SLUG))["sessions"]
    }
    calendars = [message.calendar_bytes for message in sink.received]
    for data in calendars:
        assert_well_formed(data)
    parsers = [read_vobject, read_icalendar]
    if icaljs_missing() is None:
        parsers.append(read_icaljs(tmp_path))
    for parse in parsers:
        for [event] in parse(*calendars):
            key = event.uid.split(".")[1]
            times = (
                event.start.isoformat().replace("+00:00", "Z"),
                event.end.isoformat().replace("+00:00", "Z"),
            )
            assert times == expected[key], (parse, event.uid)
