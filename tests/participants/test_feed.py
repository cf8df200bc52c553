"""A person's calendar feed: their live sessions, cheap to poll, dead once they are removed."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient
from icalendar import Calendar
from sqlalchemy import select
from support.service import Api, small_program

from orchestrator.db import models as m

SLUG = "meet-the-buyers"


async def feed_token(db: Any, key: str) -> str:
    async with db() as session:
        token = await session.scalar(select(m.Person.feed_token).where(m.Person.key == key))
    assert token
    return str(token)


async def test_the_feed_lists_the_persons_sessions_and_answers_304_when_unchanged(
    api: Api, client: TestClient[Any, Any], db: Any
) -> None:
    await api.import_ok(small_program())
    url = f"/calendar/{await feed_token(db, 'ana')}.ics"

    response = await client.get(url)

    assert response.status == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    calendar = Calendar.from_ical(await response.read())
    assert str(calendar["METHOD"]) == "PUBLISH"
    events = {str(e["SUMMARY"]): e for e in calendar.walk("VEVENT")}
    assert sorted(events) == ["Acme × Water", "Opening plenary"]
    assert str(events["Acme × Water"]["LOCATION"]).startswith("https://rdv.test/j/")
    assert "ATTENDEE" not in events["Acme × Water"]
    etag = response.headers["ETag"]
    again = await client.get(url, headers={"If-None-Match": etag})
    assert again.status == 304
    assert again.headers["ETag"] == etag


async def test_a_cancelled_session_leaves_the_feed(
    api: Api, client: TestClient[Any, Any], db: Any
) -> None:
    await api.import_ok(small_program())
    url = f"/calendar/{await feed_token(db, 'ana')}.ics"
    before = await client.get(url)

    await api.delete(SLUG, "m1")

    after = await client.get(url, headers={"If-None-Match": before.headers["ETag"]})
    assert after.status == 200
    summaries = [str(e["SUMMARY"]) for e in Calendar.from_ical(await after.read()).walk("VEVENT")]
    assert summaries == ["Opening plenary"]


async def test_the_feed_of_someone_removed_from_the_event_stops_working(
    api: Api, client: TestClient[Any, Any], db: Any
) -> None:
    program = small_program()
    await api.import_ok(program)
    url = f"/calendar/{await feed_token(db, 'eve')}.ics"
    assert (await client.get(url)).status == 200
    program["people"] = [p for p in program["people"] if p["key"] != "eve"]
    program["sessions"] = [s for s in program["sessions"] if s["key"] != "m2"]

    await api.import_ok(program)

    assert (await client.get(url)).status == 404


async def test_a_guessed_feed_token_is_not_found(client: TestClient[Any, Any]) -> None:
    response = await client.get("/calendar/not-a-real-token.ics")
    assert response.status == 404
