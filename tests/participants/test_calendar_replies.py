"""Chloé declines m1 from her calendar: the reply, in the shape her client sends (fixtures of
tests/calendars/test_replies.py), comes back to the address only her invite carried, and her seat
says "declined" with her note, as if she had pressed the button on her agenda. A reply that is
not hers, for another event, to an older version of the invite, or to an address whose secret is
wrong changes nothing, and says why."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from support.replies import fixture
from support.service import Api, ManualClock, small_program

from calendars.replies import Reply, replies_in
from orchestrator import appkeys
from orchestrator.db import models as m
from orchestrator.participants.replies import (
    apply_reply,
    reply_address,
    reply_key,
    seat_of_address,
)
from orchestrator.participants.seats import session_uid

SLUG = "meet-the-buyers"
M1_START = datetime(2021, 4, 8, 8, 30, tzinfo=UTC)
KEY = reply_key("a-test-secret-key-of-enough-length-0123456789")


@pytest.fixture
async def api(make_api: Callable[..., Any], clock: ManualClock) -> Api:
    api: Api = await make_api()
    await api.import_ok(small_program())
    clock.set(M1_START - timedelta(hours=2))
    return api


async def seat_and_uid(api: Api, db: Any, person: str, session: str) -> tuple[int, str, int]:
    """(the attendee row, the session's calendar UID, its SEQUENCE)."""
    async with db() as s:
        seat, found, event = (
            await s.execute(
                select(m.Attendee.id, m.Session, m.Event)
                .join(m.Session, m.Session.id == m.Attendee.session_id)
                .join(m.Event, m.Event.id == m.Session.event_id)
                .join(m.Person, m.Person.id == m.Attendee.person_id)
                .where(m.Person.key == person, m.Session.key == session)
            )
        ).one()
    base = api.client.app[appkeys.SETTINGS].base_url
    return seat, session_uid(event, found, base), found.sequence


def reply_from(name: str, uid: str, sequence: int, **changed: str) -> Reply:
    raw = fixture(name, **{"{uid}": uid, "{sequence}": str(sequence)} | changed)
    (reply,) = {r for r in replies_in(raw) if isinstance(r, Reply)}
    return reply


async def apply(api: Api, db: Any, clock: ManualClock, reply: Reply, seat: int) -> Any:
    base = api.client.app[appkeys.SETTINGS].base_url
    async with db() as s, s.begin():
        return await apply_reply(s, reply, seat, base_url=base, now=clock.now())


def chloe_in_m1(event: dict[str, Any]) -> dict[str, Any]:
    m1 = next(s for s in event["sessions"] if s["key"] == "m1")
    return next(a for a in m1["attendees"] if a["key"] == "chloe")  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    "name", ["outlook-declined-with-comment.eml", "gmail-declined.eml", "apple-declined.eml"]
)
async def test_a_decline_from_her_calendar_reaches_her_seat(
    api: Api, db: Any, clock: ManualClock, name: str
) -> None:
    seat, uid, sequence = await seat_and_uid(api, db, "chloe", "m1")
    reply = reply_from(name, uid, sequence, **{"{attendee}": "chloe@acme.example"})
    applied = await apply(api, db, clock, reply, seat)
    assert (applied.changed, applied.ignored) == (True, None)
    answer = chloe_in_m1(await api.get_event(SLUG))
    assert (answer["answer"], answer["answer_source"]) == ("declined", "calendar")
    assert answer["answer_reason"] == reply.comment


async def test_a_proposal_of_another_time_declines_and_shows_the_time(
    api: Api, db: Any, clock: ManualClock
) -> None:
    seat, uid, sequence = await seat_and_uid(api, db, "chloe", "m1")
    reply = reply_from("outlook-counter.eml", uid, sequence, **{"{attendee}": "chloe@acme.example"})
    assert (await apply(api, db, clock, reply, seat)).changed
    answer = chloe_in_m1(await api.get_event(SLUG))
    assert answer["answer"] == "declined"
    assert answer["answer_reason"].startswith("proposes 2021-04-08 12:00-12:30 UTC")


async def test_replies_that_are_not_hers_change_nothing(
    api: Api, db: Any, clock: ManualClock
) -> None:
    seat, uid, sequence = await seat_and_uid(api, db, "chloe", "m1")
    _, other_uid, _ = await seat_and_uid(api, db, "dan", "m3")
    chloe = {"{attendee}": "chloe@acme.example"}
    cases = {
        "the reply answers for someone else": reply_from(
            "gmail-declined.eml", uid, sequence, **{"{attendee}": "ana@water.example"}
        ),
        "a reply to another event": reply_from("gmail-declined.eml", other_uid, sequence, **chloe),
    }
    for why, reply in cases.items():
        assert (await apply(api, db, clock, reply, seat)).ignored == why
    assert chloe_in_m1(await api.get_event(SLUG))["answer"] == "needs-action"


async def test_a_reply_to_an_invite_since_moved_changes_nothing(
    api: Api, db: Any, clock: ManualClock
) -> None:
    seat, uid, sequence = await seat_and_uid(api, db, "chloe", "m1")
    old = reply_from(
        "thunderbird-accepted.eml", uid, sequence, **{"{attendee}": "chloe@acme.example"}
    )
    moved = await api.client.patch(
        f"/api/v1/events/{SLUG}/sessions/m1",
        json={"start": "2021-04-08T11:30", "end": "2021-04-08T12:00"},
        headers=api.headers(SLUG),
    )
    assert moved.status == 200
    applied = await apply(api, db, clock, old, seat)
    assert applied.ignored == "a reply to an older version of the invite"
    assert chloe_in_m1(await api.get_event(SLUG))["answer"] == "needs-action"


def test_only_the_address_her_invite_carried_names_her_seat() -> None:
    address = reply_address(KEY, "replies@rdv.example", 42)
    assert address.startswith("replies+a42.")
    assert address.endswith("@rdv.example")
    assert seat_of_address(KEY, address) == 42
    assert seat_of_address(KEY, f"<{address.upper()}>") == 42  # as a To header may write it
    tag = address.split("+")[1].split("@")[0]
    forged = address.replace(tag, "a43." + tag.split(".")[1])
    assert seat_of_address(KEY, forged) is None  # another seat with her secret
    assert seat_of_address(reply_key("another-secret-key-0123456789-abcdefghij"), address) is None
    assert seat_of_address(KEY, "replies@rdv.example") is None
    assert seat_of_address(KEY, "replies+a42.short@rdv.example") is None
