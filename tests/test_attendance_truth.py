"""Attendance against the truth. A generated day of 200 meetings (attendance_day.py) is delivered
the way each provider delivers webhooks — shuffled, 20 % twice, some old ones replayed hours later,
5 % of the leaves never — through the real webhook door while the clock moves through the day and
the room lifecycle provisions and closes the rooms; `GET /attendance` and `GET /report` must then
tell what happened. The example event with everyone there must give the published key figures in
`rdv report`. And a few single stories through the door: a redelivery, an unknown room, a guest.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from attendance_day import (
    PROVIDER,
    ROOM_LEAD,
    WIRES,
    Attempt,
    Credentials,
    Day,
    Delivery,
    Expected,
    Wiring,
    chaos,
    expectations,
    lose_leaves,
    meeting_day,
    render,
    sightings,
    total,
)
from fake_bbb import create_app as fake_bbb
from sqlalchemy import func, select
from support import Api, ManualClock

from integrations.janus import JanusProvider
from orchestrator import keys
from orchestrator.db import models as m
from orchestrator.db.attendance import ProviderEventRow
from orchestrator.program.load import RawProgram
from orchestrator.program.service import import_program

CREDENTIALS = Credentials()
SEED = 2021


@pytest.fixture(scope="module")
def day() -> Day:
    return meeting_day(seed=SEED)


# -- driving the service through a day ------------------------------------------------------------
async def service_for(
    wire: str, make_api: Callable[..., Any], aiohttp_server: Any, request: pytest.FixtureRequest
) -> Api:
    """The service configured for `wire`'s provider: the in-process fake BigBlueButton, the real
    Janus of the test run, or Jitsi (which has no server to create rooms on)."""
    provider = PROVIDER[wire]
    if provider == "bigbluebutton":
        server = await aiohttp_server(fake_bbb(CREDENTIALS.bbb_secret))
        api: Api = await make_api(
            bbb_url=str(server.make_url("/bigbluebutton/api")), bbb_secret=CREDENTIALS.bbb_secret
        )
    elif provider == "janus":
        janus = request.getfixturevalue("janus_server")  # skips where Janus is not installed
        api = await make_api(
            janus_url=janus.url,
            janus_webhook_user=CREDENTIALS.janus_user,
            janus_webhook_password=CREDENTIALS.janus_password,
        )
    else:
        api = await make_api(jitsi_webhook_secret=CREDENTIALS.jitsi_secret)
    return api


async def import_quietly(app: web.Application, clock: ManualClock, program: dict[str, Any]) -> None:
    """Imports as `PUT /program` does, without queuing the invitations: they are not what these
    tests are about, and composing hundreds of them would take seconds."""
    changes = await import_program(
        app[keys.DB], app[keys.SETTINGS], RawProgram(program), now=clock.now()
    )
    assert changes.event_created


async def wiring_of(db: Any, slug: str, wire: str) -> Wiring:
    """Each session's room as the provider names it (BigBlueButton: the meetingID, our room key;
    Jitsi: the room key in lower case; Janus: the room number derived from it), and each
    expected person's attendee row (their seat: `rdv-a<id>`, Janus id `<id>`)."""
    async with db() as s:
        rooms = (
            await s.execute(
                select(m.Session.key, m.Room.room_key)
                .join(m.Room, m.Room.session_id == m.Session.id)
                .join(m.Event, m.Event.id == m.Session.event_id)
                .where(m.Event.slug == slug)
            )
        ).all()
        seats = (
            await s.execute(
                select(m.Attendee.id, m.Session.key, m.Person.key)
                .join(m.Session, m.Session.id == m.Attendee.session_id)
                .join(m.Person, m.Person.id == m.Attendee.person_id)
                .join(m.Event, m.Event.id == m.Session.event_id)
                .where(m.Event.slug == slug, m.Attendee.removed_at.is_(None))
            )
        ).all()

    def name(room_key: str) -> str | int:
        if PROVIDER[wire] == "janus":
            return JanusProvider.room_id(room_key)
        return room_key if PROVIDER[wire] == "bigbluebutton" else room_key.lower()

    return Wiring(
        rooms={key: name(room_key) for key, room_key in rooms},
        seats={(session, person): attendee for attendee, session, person in seats},
    )


async def play(
    api: Api,
    app: web.Application,
    clock: ManualClock,
    day: Day,
    deliveries: Sequence[Delivery],
    attempts: Sequence[Attempt],
) -> list[tuple[Attempt, int, dict[str, Any]]]:
    """Moves the clock through the day: the lifecycle provisions each slot's rooms `ROOM_LEAD`
    ahead and closes them after the grace, and every attempt is POSTed when it arrives."""
    lifecycle = app[keys.LIFECYCLE]
    passes = {s.starts_at - ROOM_LEAD for s in day.sessions} | {s.closes_at for s in day.sessions}
    timeline: list[tuple[datetime, int, Attempt | None]] = [(t, 0, None) for t in passes]
    timeline += [(attempt.at, 1, attempt) for attempt in attempts]
    timeline.sort(key=lambda step: (step[0], step[1]))
    answers = []
    for moment, _, attempt in timeline:
        clock.set(moment)
        if attempt is None:
            assert (await lifecycle.reconcile()).failed == 0
            continue
        delivery = deliveries[attempt.delivery]
        response = await api.client.post(
            delivery.path, data=delivery.body, headers=delivery.headers_at(moment)
        )
        answers.append((attempt, response.status, await response.json()))
    clock.set(max(s.closes_at for s in day.sessions) + timedelta(hours=1))
    await lifecycle.reconcile()
    return answers


async def attendance(api: Api, slug: str) -> list[dict[str, Any]]:
    response = await api.client.get(f"/api/v1/events/{slug}/attendance", headers=api.headers(slug))
    assert response.status == 200
    rows: list[dict[str, Any]] = (await response.json())["attendance"]
    return rows


async def report(api: Api, slug: str) -> dict[str, Any]:
    response = await api.client.get(f"/api/v1/events/{slug}/report", headers=api.headers(slug))
    assert response.status == 200
    found: dict[str, Any] = await response.json()
    return found


def row_key(row: dict[str, Any]) -> tuple[str, str, str]:
    """A log row as the truth names its lines: (session, role, person key or guest name)."""
    role = row["role"] if row["role"] in ("substitute", "guest") else "expected"
    return (row["session"], role, row["person"] or row["name"])


def describe(want: Expected) -> str:
    line = want.line
    tabs = ", ".join(f"{a:%H:%M:%S}-{b:%H:%M:%S}" for a, b in line.tabs)
    lost = " (a leave lost)" if want.lost_leave else ""
    return f"{line.session} {line.role} {line.label} [{line.story}: {tabs}]{lost}"


# -- the chaos test ------------------------------------------------------------------------------
@pytest.mark.parametrize("wire", WIRES)
async def test_a_chaotic_day_of_deliveries_gives_the_attendance_as_it_happened(
    wire: str,
    day: Day,
    make_api: Callable[..., Any],
    aiohttp_server: Any,
    request: pytest.FixtureRequest,
    clock: ManualClock,
    db: Any,
) -> None:
    api = await service_for(wire, make_api, aiohttp_server, request)
    await import_quietly(_app(api), clock, day.program(PROVIDER[wire]))
    wiring = await wiring_of(db, day.slug, wire)
    rng = random.Random(f"{SEED}-{wire}")
    kept, lost = lose_leaves(sightings(day, wire), rng)
    deliveries = render(day, wire, kept, wiring, rng, CREDENTIALS)
    attempts = chaos(deliveries, rng)
    assert sum(a.repeat for a in attempts) >= 0.2 * len(deliveries)

    answers = await play(api, _app(api), clock, day, deliveries, attempts)

    # Every delivery is acknowledged; what was delivered before is acknowledged as a duplicate.
    refused = [(status, body) for _, status, body in answers if status != 200]
    assert not refused, refused[:3]
    for attempt, _, body in answers:
        events = deliveries[attempt.delivery].events
        counted = (0, events) if attempt.repeat else (events, 0)
        assert (body["accepted"], body["duplicates"]) == counted, (attempt, body)
    async with db() as s:
        stored = await s.scalar(select(func.count()).select_from(ProviderEventRow))
        external = dict(
            (await s.execute(select(m.Session.key, m.Room.external_id).join(m.Room))).all()
        )
    assert stored == sum(delivery.events for delivery in deliveries)  # each event counted once
    assert external == {key: str(name).lower() for key, name in wiring.rooms.items()}

    # Every line of the log is the truth; where a leave was lost, the room's end closed it.
    wanted, held = expectations(day, wire, kept, lost)
    rows = await attendance(api, day.slug)
    found = {row_key(row): row for row in rows}
    assert len(found) == len(rows), "a line appears twice"
    assert sorted(found) == sorted(wanted), set(found) ^ set(wanted)
    wrong = []
    for key, want in wanted.items():
        line, row = want.line, found[key]
        if not want.lost_leave:  # nothing lost: the expectation is the truth itself
            assert want.status == line.status
            assert want.minutes == total(line.spans).total_seconds() / 60
        first = datetime.fromisoformat(row["first_join"]) if row["first_join"] else None
        got = (row["status"], first, row["substitute_for"])
        expected = (
            want.status,
            want.first_join,
            line.substitute_for.key if line.substitute_for else None,
        )
        if got != expected or abs(row["minutes_present"] - want.minutes) > 1:
            wrong.append(f"{describe(want)}: {got} {row['minutes_present']} ≠ {expected} "
                         f"{want.minutes:.1f}")  # fmt: skip
    assert not wrong, f"{len(wrong)} lines differ:\n" + "\n".join(wrong[:15])
    assert any(want.lost_leave for want in wanted.values())  # the room-end rule was exercised

    # Held or not, meeting by meeting as far as the report tells: in total and per directorate.
    figures = await report(api, day.slug)
    assert figures["meetings_scheduled"] == len(day.meetings) == 200
    assert figures["meetings_held"] == sum(held.values())
    assert figures["meetings_not_held"] == len(held) - sum(held.values())
    per_directorate: dict[str, int] = {}
    for meeting in day.meetings:
        name = meeting.attendees[1].organisation.name  # type: ignore[union-attr]
        per_directorate[name] = per_directorate.get(name, 0) + held[meeting.key]
    assert {row["name"]: row["held"] for row in figures["per_directorate"]} == per_directorate


def _app(api: Api) -> web.Application:
    app: web.Application = api.client.server.app  # type: ignore[attr-defined]
    return app
