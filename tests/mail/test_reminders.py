"""Reminder mail shortly before each rendez-vous: at the right minute, to the right people, moved
with the meeting, withdrawn with a cancellation, once whatever restarts, and at once for a
meeting moved to start sooner than the reminder lead."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from support.mailsink import MailSink
from support.service import Api, ManualClock, small_program

from orchestrator import appkeys
from orchestrator.mail.reminders import Reminders

SLUG = "meet-the-buyers"
TEN_THIRTY = datetime(2021, 4, 8, 8, 30, tzinfo=UTC)  # 10:30 in Paris: m1 and m2
ELEVEN = TEN_THIRTY + timedelta(minutes=30)  # m3


@pytest.fixture
async def service(make_api: Callable[..., Any], sink: MailSink) -> Api:
    api: Api = await make_api(mail_url=sink.url)
    await api.import_ok(small_program())
    await send(api)
    sink.clear()
    return api


async def send(api: Api) -> None:
    await api.deliver_mail()


async def remind(api: Api) -> int:
    queued = await api.client.app[appkeys.REMINDERS].queue_due()
    await send(api)
    return queued


async def test_reminders_go_out_fifteen_minutes_ahead_to_the_people_expected(
    service: Api, sink: MailSink, clock: ManualClock
) -> None:
    clock.set(TEN_THIRTY - timedelta(minutes=15, seconds=1))
    assert await remind(service) == 0
    clock.set(TEN_THIRTY - timedelta(minutes=15))
    assert await remind(service) == 4  # m1 and m2 start at 10:30
    by_person = {message.recipient: message for message in sink.received}
    assert sorted(by_person) == [
        "ana@water.example",
        "ben@roads.example",
        "chloe@acme.example",
        "eve@globex.example",
    ]
    chloe = by_person["chloe@acme.example"]
    assert chloe.subject.replace("\u202f", " ") == (
        "At 10:30 AM: Acme × Water with Ana Lopez, Water and Waste"
    )
    assert "Join: https://rdv.test/j/" in chloe.text
    assert "Your agenda: https://rdv.test/me/" in chloe.text
    eve = by_person["eve@globex.example"]
    assert eve.subject == "À 10:30 : Globex × Roads avec Ben Okafor, Roads"
    clock.set(TEN_THIRTY - timedelta(minutes=5))
    assert await remind(service) == 0  # never twice


async def test_a_meeting_moved_later_is_reminded_at_its_new_time(
    service: Api, sink: MailSink, clock: ManualClock
) -> None:
    await service.patch(SLUG, "m3", {"start": "2021-04-08T12:00", "end": "2021-04-08T12:30"})
    await send(service)
    sink.clear()
    clock.set(ELEVEN - timedelta(minutes=15))
    await remind(service)
    assert [m.recipient for m in sink.received if "Acme × Roads" in m.subject] == []
    clock.set(ELEVEN + timedelta(minutes=45))
    await remind(service)
    assert sorted(m.recipient for m in sink.received if "Acme × Roads" in m.subject) == [
        "ben@roads.example",
        "dan@acme.example",
    ]


async def test_a_cancelled_meeting_sends_no_reminder(
    service: Api, sink: MailSink, clock: ManualClock
) -> None:
    await service.delete(SLUG, "m3")
    await send(service)
    sink.clear()
    clock.set(ELEVEN - timedelta(minutes=14))
    await remind(service)
    assert [m for m in sink.received if "Acme × Roads" in m.subject] == []


async def test_a_reminder_queued_then_cancelled_before_it_goes_out_is_withdrawn(
    service: Api, sink: MailSink, clock: ManualClock
) -> None:
    clock.set(ELEVEN - timedelta(minutes=14))
    assert await service.client.app[appkeys.REMINDERS].queue_due() == 2
    await service.delete(SLUG, "m3")
    await service.client.app[appkeys.REMINDERS].queue_due()
    await send(service)
    assert [m for m in sink.received if m.subject.startswith("At")] == []


async def test_a_restart_between_two_passes_sends_each_reminder_once(
    service: Api, sink: MailSink, clock: ManualClock, db: Any
) -> None:
    app = service.client.app
    clock.set(TEN_THIRTY - timedelta(minutes=10))
    assert await app[appkeys.REMINDERS].queue_due() == 4
    restarted = Reminders(db, clock, app[appkeys.SETTINGS], app[appkeys.WRITER])
    assert await restarted.queue_due() == 0
    await send(service)
    assert len(sink.received) == 4


async def test_a_meeting_moved_to_start_in_five_minutes_is_reminded_at_once(
    service: Api, sink: MailSink, clock: ManualClock
) -> None:
    clock.set(datetime(2021, 4, 8, 8, 0, tzinfo=UTC))  # 10:00 in Paris
    moved = await service.patch(
        SLUG, "m3", {"start": "2021-04-08T10:05", "end": "2021-04-08T10:25"}
    )
    assert moved.status == 200, await moved.text()
    await send(service)
    sink.clear()
    assert await remind(service) == 2
    assert all(m.subject.startswith("At 10:05") for m in sink.received)


async def test_reminders_can_be_switched_off(
    make_api: Callable[..., Any], sink: MailSink, clock: ManualClock
) -> None:
    api: Api = await make_api(mail_url=sink.url, reminder_before=timedelta(0))
    await api.import_ok(small_program())
    clock.set(TEN_THIRTY - timedelta(minutes=10))
    assert await api.client.app[appkeys.REMINDERS].queue_due() == 0
