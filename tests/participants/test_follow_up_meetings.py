"""Chloé (Acme) and Ana (Water and Waste) saw a cooperation coming; in June the organisers
add a follow-up meeting for them to the program, months after the day. It is a meeting like
any other: both get the invite that names the other, its room opens on time, their presence
makes it held, and the report counts it as a follow-up, apart from the day's meetings."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from support.deliveries import JITSI_SECRET, headers, occupant, provisioned, seat
from support.mailsink import MailSink
from support.service import Api, ManualClock, small_program

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
