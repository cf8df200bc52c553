"""An organiser gives requests instead of meetings, asks the service to schedule them, and gets
ordinary meetings with their invites; running it again after a change keeps what still fits."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import ClientResponse
from sqlalchemy import select, update
from support.service import Api, small_program

from orchestrator.db import models as m
from orchestrator.db.mail import MailMessage
from orchestrator.program import schedule as run

SLUG = "meet-the-buyers"
PARIS = ZoneInfo("Europe/Paris")


def requests_day() -> dict[str, Any]:
    """The small event with its plenary at 9:00 and, instead of meetings, three requests for the
    morning (slots at 10:00, 10:30, 11:00, 11:30)."""
    program = small_program()
    program["sessions"] = program["sessions"][:1]
    program["schedule"] = {
        "windows": [["2021-04-08T10:00", "2021-04-08T11:50"]],
        "slot_minutes": 20,
        "gap_minutes": 10,
        "max_per_person": 3,
    }
    program["requests"] = [
        {"from": "chloe", "to": "ana", "priority": 3},
        {"from": "eve", "to": "ben", "priority": 2},
        {"from": "acme", "to": "roads", "key": "acme-roads"},
    ]
    return program


async def schedule(api: Api, **options: Any) -> dict[str, Any]:
    response = await post_schedule(api, {"time_limit": 5, **options})
    body: dict[str, Any] = await response.json()
    assert response.status == 200, body
    return body


async def post_schedule(api: Api, body: dict[str, Any] | None) -> ClientResponse:
    return await api.client.post(
        f"/api/v1/events/{SLUG}/schedule", json=body, headers=api.headers(SLUG)
    )


def local(moment: str) -> str:
    """An answer's UTC time as the organiser reads it in Paris."""
    return datetime.fromisoformat(moment).astimezone(PARIS).strftime("%H:%M")


def by_key(outcome: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {meeting["key"]: meeting for meeting in outcome["meetings"]}


async def meetings(api: Api) -> dict[str, dict[str, Any]]:
    event = await api.get_event(SLUG)
    return {s["key"]: s for s in event["sessions"] if s["kind"] == "meeting"}


async def mark_invites_sent(db: Any, key: str) -> None:
    async with db() as session, session.begin():
        found = await session.scalar(select(m.Session.id).where(m.Session.key == key))
        await session.execute(
            update(MailMessage).where(MailMessage.session_id == found).values(status="sent")
        )


async def test_scheduling_writes_meetings_and_queues_their_invites(api: Api, db: Any) -> None:
    await api.import_ok(requests_day())

    outcome = await schedule(api)

    assert outcome["method"] == "exact CP-SAT"
    assert outcome["optimal"] is True
    assert (outcome["placed"], outcome["requests"]) == (3, 3)
    assert (outcome["weighted"], outcome["total_weight"], outcome["bound"]) == (6, 6, 6)
    assert outcome["unplaced"] == []
    assert sorted(outcome["changes"]["sessions"]["created"]) == [
        "acme-roads",
        "chloe.ana",
        "eve.ben",
    ]
    written = await meetings(api)
    assert set(written) == {"acme-roads", "chloe.ana", "eve.ben"}
    assert written["chloe.ana"]["title"] == "Acme Sensors × Water and Waste"
    assert written["acme-roads"]["title"] == "Acme Sensors × Roads"
    await api.plan_mail()
    async with db() as session:
        invited = set(
            await session.scalars(
                select(m.Session.key)
                .join(MailMessage, MailMessage.session_id == m.Session.id)
                .where(MailMessage.kind == "invitation", m.Session.kind == "meeting")
            )
        )
    assert invited == {"acme-roads", "chloe.ana", "eve.ben"}


async def test_a_dry_run_answers_the_schedule_and_writes_nothing(api: Api) -> None:
    await api.import_ok(requests_day())

    outcome = await schedule(api, dry_run=True)

    assert outcome["dry_run"] is True
    assert outcome["placed"] == 3
    assert outcome["changes"] is None
    assert await meetings(api) == {}


async def test_running_again_with_nothing_changed_changes_nothing(api: Api) -> None:
    await api.import_ok(requests_day())
    first = await schedule(api)

    again = await schedule(api)

    assert {meeting["change"] for meeting in again["meetings"]} == {"kept"}
    assert {k: m["start"] for k, m in by_key(again).items()} == {
        k: m["start"] for k, m in by_key(first).items()
    }
    assert again["changes"]["empty"] is True


async def test_reimporting_the_requests_keeps_the_scheduled_meetings(api: Api) -> None:
    program = requests_day()
    await api.import_ok(program)
    await schedule(api)
    before = await meetings(api)

    changes = await api.import_ok(program)

    assert changes["empty"] is True
    assert await meetings(api) == before


async def test_requests_survive_an_edit_of_another_session(api: Api) -> None:
    await api.import_ok(requests_day())
    response = await api.patch(SLUG, "plenary", {"title": "Welcome"})
    assert response.status == 200, await response.text()

    outcome = await schedule(api)

    assert outcome["placed"] == 3


async def test_when_availability_shrinks_only_that_meeting_moves(api: Api, db: Any) -> None:
    program = requests_day()
    await api.import_ok(program)
    first = by_key(await schedule(api))
    ben_at = first["eve.ben"]["start"]
    slots = [("10:00", "10:20"), ("10:30", "10:50"), ("11:00", "11:20"), ("11:30", "11:50")]
    program["availability"] = {
        "ben": [
            [f"2021-04-08T{start}", f"2021-04-08T{end}"]
            for start, end in slots
            if start != local(ben_at)
        ]
    }
    assert len(program["availability"]["ben"]) == 3
    await api.import_ok(program)

    outcome = await schedule(api)

    again = by_key(outcome)
    assert again["eve.ben"]["change"] == "moved"
    assert again["eve.ben"]["before"] == ben_at
    assert again["eve.ben"]["start"] != ben_at
    assert again["eve.ben"]["why"] == "Ben Okafor is no longer available then"
    assert again["chloe.ana"]["change"] == "kept"
    assert again["chloe.ana"]["start"] == first["chloe.ana"]["start"]
    changed = [change["key"] for change in outcome["changes"]["sessions"]["changed"]]
    assert changed == ["eve.ben"]
    await api.plan_mail()
    async with db() as session:
        updated = set(
            await session.scalars(
                select(MailMessage.recipient)
                .join(m.Session, m.Session.id == MailMessage.session_id)
                .where(MailMessage.kind == "update", m.Session.key == "eve.ben")
            )
        )
    assert updated == {"eve@globex.example", "ben@roads.example"}


async def test_a_meeting_whose_invites_went_out_stays_unless_moving_is_allowed(
    api: Api, db: Any
) -> None:
    program = requests_day()
    await api.import_ok(program)
    first = by_key(await schedule(api))
    await api.plan_mail()
    await mark_invites_sent(db, "chloe.ana")
    chloe_at = first["chloe.ana"]["start"]
    program["availability"] = {"chloe": [["2021-04-08T13:00", "2021-04-08T14:00"]]}
    await api.import_ok(program)

    stays = by_key(await schedule(api))

    assert stays["chloe.ana"]["change"] == "stuck"
    assert stays["chloe.ana"]["start"] == chloe_at
    assert stays["chloe.ana"]["why"] == "Chloé Martin is no longer available then"

    moved = await schedule(api, move=True)

    assert moved["unplaced"] == [
        {
            "request": 0,
            "place": "requests[0]",
            "from": "chloe",
            "to": "ana",
            "reason": "no_common_availability",
            "message": "its meeting was cancelled (Chloé Martin is no longer available then), "
            "and no common free slot: Chloé Martin is available at no time within the windows, "
            "Ana Lopez 10:00–11:50",
            "removed": True,
        }
    ]
    assert moved["changes"]["sessions"]["cancelled"] == ["chloe.ana"]


async def test_new_requests_are_placed_around_the_meetings_already_there(api: Api) -> None:
    program = requests_day()
    await api.import_ok(program)
    first = by_key(await schedule(api))
    program["requests"].append({"from": "dan", "to": "ana", "priority": 2})
    await api.import_ok(program)

    outcome = await schedule(api)

    again = by_key(outcome)
    assert again["dan.ana"]["change"] == "new"
    for key in first:
        assert (again[key]["change"], again[key]["start"]) == ("kept", first[key]["start"])
    assert outcome["changes"]["sessions"]["created"] == ["dan.ana"]


async def test_a_new_session_over_a_scheduled_meeting_is_refused_at_import(api: Api) -> None:
    program = requests_day()
    await api.import_ok(program)
    first = by_key(await schedule(api))
    start = first["eve.ben"]["start"]
    clash = copy.deepcopy(program)
    clash["sessions"].append(
        {
            "key": "workshop",
            "kind": "plenary",
            "title": "Workshop",
            "start": start,
            "end": first["eve.ben"]["end"],
            "attendees": ["ben"],
        }
    )

    response = await api.put_program(clash)

    body = await response.json()
    assert response.status == 422, body
    at = f"2021-04-08 {local(start)}"
    assert body["error"]["details"] == [
        {
            "place": "requests[1]",
            "message": f'its meeting "eve.ben" at {at} would overlap "workshop" for Ben '
            "Okafor; move that session, or cancel the meeting and run rdv schedule again",
        }
    ]


async def test_an_event_without_requests_schedules_nothing(api: Api) -> None:
    await api.import_ok(small_program())

    outcome = await schedule(api)

    assert (outcome["placed"], outcome["requests"], outcome["changes"]) == (0, 0, None)


async def test_bad_options_and_unknown_events_are_refused(api: Api) -> None:
    await api.import_ok(requests_day())

    bad = await post_schedule(api, {"move": "yes", "time_limit": 0, "fast": True})
    missing = await api.client.post(
        "/api/v1/events/nope/schedule", headers=api.headers("nope"), json={}
    )

    assert bad.status == 400
    assert (await bad.json())["error"]["message"] == (
        'unknown field "fast"; move must be true or false; '
        "time_limit must be a number of seconds above 0, at most 600"
    )
    assert missing.status == 404


async def test_no_meeting_is_placed_in_a_slot_already_begun(api: Api, clock: Any) -> None:
    await api.import_ok(requests_day())
    clock.set(datetime(2021, 4, 8, 10, 5, tzinfo=PARIS))  # the 10:00 slot has begun

    outcome = await schedule(api)

    assert outcome["placed"] == 3
    assert min(local(meeting["start"]) for meeting in outcome["meetings"]) >= "10:30"


async def test_requests_whose_slots_have_all_begun_say_so(api: Api, clock: Any) -> None:
    await api.import_ok(requests_day())
    clock.set(datetime(2021, 4, 8, 11, 40, tzinfo=PARIS))

    outcome = await schedule(api)

    assert outcome["placed"] == 0
    assert {left["reason"] for left in outcome["unplaced"]} == {"past"}
    assert outcome["unplaced"][0]["message"] == (
        "every slot when both are available has already begun (the last at 11:30)"
    )


async def test_invites_going_out_meanwhile_conflict_only_for_the_requests_meetings(
    api: Api, db: Any, monkeypatch: Any
) -> None:
    await api.import_ok(requests_day())
    await schedule(api)
    real = run._invited
    calls = 0

    async def sent_meanwhile(session: Any, slug: str) -> set[str]:
        """The second look (just before writing) finds more invites sent: `extra`."""
        nonlocal calls
        calls += 1
        found = await real(session, slug)
        return found | extra if calls % 2 == 0 else found

    monkeypatch.setattr(run, "_invited", sent_meanwhile)
    extra = {"plenary"}
    quiet = await post_schedule(api, {"time_limit": 5})
    extra = {"chloe.ana"}
    raced = await post_schedule(api, {"time_limit": 5})

    assert quiet.status == 200, await quiet.text()
    assert raced.status == 409
    assert (await raced.json())["error"]["message"] == (
        'the event "meet-the-buyers" changed while scheduling; retry'
    )
