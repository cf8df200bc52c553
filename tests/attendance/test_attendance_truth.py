"""Attendance against the truth. A generated day of 200 meetings (attendance_day.py) is delivered
the way each provider delivers webhooks — shuffled, 20 % twice, some old ones replayed hours later,
5 % of the leaves never — through the real webhook door while the clock moves through the day and
the room lifecycle provisions and closes the rooms; `GET /attendance` and `GET /report` must then
tell what happened. The example event with everyone there must give the published key figures in
`rdv report`. And a few single stories through the door: a redelivery, an unknown room, a guest.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import sys
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import func, select
from support.attendance_day import (
    MINUTE,
    PROVIDER,
    REPORTING,
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
    meet_conferences,
    meet_names,
    meeting_day,
    perfect_attendance,
    render,
    sightings,
    teams_reports,
    total,
)
from support.fake_bbb import create_app as fake_bbb
from support.fake_livekit import create_app as fake_livekit
from support.fake_meet import USER as MEET_USER
from support.fake_meet import FakeMeet
from support.fake_meet import Participant as MeetParticipant
from support.fake_meet import Record as MeetRecord
from support.fake_meet import Session as MeetSession
from support.fake_meet import create_app as fake_meet
from support.fake_teams import CLIENT_ID as TEAMS_CLIENT_ID
from support.fake_teams import CLIENT_SECRET as TEAMS_CLIENT_SECRET
from support.fake_teams import TENANT as TEAMS_TENANT
from support.fake_teams import FakeTeams, self_signed_certificate
from support.fake_teams import create_app as fake_teams
from support.fake_zoom import ACCOUNT, CLIENT_ID, CLIENT_SECRET, FakeZoom, meeting_number
from support.fake_zoom import create_app as fake_zoom
from support.mailsink import free_port
from support.service import EXAMPLE_SLUG, ROOT, Api, ManualClock, example_program, small_program
from support.webhook_signing import bearer, sign_jaas

from integrations.janus import JanusProvider
from integrations.zoom import AGENDA
from orchestrator import appkeys
from orchestrator.app import create_app as create_service
from orchestrator.attendance.figures import DEFINITIONS
from orchestrator.db import models as m
from orchestrator.db.attendance import ProviderEventRow, WebhookDelivery
from orchestrator.program.raw import RawProgram
from orchestrator.program.service import import_program

CREDENTIALS = Credentials()
SEED = 2021
ZOOM_HOSTS = tuple(f"host{n:02d}@rdv.example" for n in range(40))  # the day's peak: 2 slots × 20
TEAMS_ORGANISERS = tuple(str(uuid.UUID(int=0x7EA45 << 64 | n, version=4)) for n in range(40))


@pytest.fixture(scope="module")
def day() -> Day:
    return meeting_day(seed=SEED)


# -- driving the service through a day ------------------------------------------------------------
def _app(api: Api) -> web.Application:
    """The application behind the test client (its lifecycle, database, settings)."""
    app: web.Application = api.client.server.app  # type: ignore[attr-defined]
    return app


async def teams_service(
    request: pytest.FixtureRequest, aiohttp_server: Any
) -> tuple[Api, FakeTeams]:
    """The service on Teams: the fake Graph (on the test's clock) and the service on a port of
    its own, for Graph's handshake to reach its door."""
    clock: ManualClock = request.getfixturevalue("clock")
    fake = FakeTeams(now=clock.now, granted=set(TEAMS_ORGANISERS))
    server = await aiohttp_server(fake_teams(fake))
    base = str(server.make_url("")).rstrip("/")
    _, key = self_signed_certificate()
    certificate = request.getfixturevalue("tmp_path") / "teams.pem"
    certificate.write_bytes(key)
    port = free_port()
    settings = request.getfixturevalue("make_settings")(
        teams_tenant_id=TEAMS_TENANT,
        teams_client_id=TEAMS_CLIENT_ID,
        teams_client_secret=TEAMS_CLIENT_SECRET,
        teams_organisers=TEAMS_ORGANISERS,
        teams_certificate=str(certificate),
        graph_url=base,
        teams_login_url=base,
        public_url=f"http://127.0.0.1:{port}",
    )
    app = create_service(settings, clock=clock, migrate=False, background=False)
    client = await request.getfixturevalue("aiohttp_client")(app, server_kwargs={"port": port})
    return Api(client, request.getfixturevalue("token")), fake


async def meet_service(request: pytest.FixtureRequest, aiohttp_server: Any) -> tuple[Api, FakeMeet]:
    """The service on Meet: the fake Google on the test's clock (its token endpoint lets the
    service's assertions, stamped by the wall clock, through) and the service."""
    clock: ManualClock = request.getfixturevalue("clock")
    fake = FakeMeet(now=clock.now, leeway=timedelta(days=20 * 365))
    server = await aiohttp_server(fake_meet(fake))
    base = str(server.make_url("")).rstrip("/")
    key = fake.key_file(request.getfixturevalue("tmp_path") / "meet.json", base)
    api: Api = await request.getfixturevalue("make_api")(
        meet_credentials=str(key),
        meet_user=MEET_USER,
        meet_api_url=base,
        meet_events_url=base,
        meet_certs_url=f"{base}/oauth2/v3/certs",
        meet_topic=fake.topic,
        meet_audience=fake.audience,
        meet_push_account=fake.push_account,
    )
    return api, fake


def recorded(fake: FakeMeet, day: Day, wiring: Wiring) -> None:
    """What Meet records of the day, in the fake: each conference with its participants and
    their sessions, as the deliveries name them."""
    for session_key, name, (began, ended), inside in meet_conferences(day):
        record = MeetRecord(name, str(wiring.rooms[session_key]), began, ended)
        for line, tab, (joined, left) in inside:
            session_name = meet_names(session_key, int(name.rpartition("-")[2]), line, tab)
            person = session_name.rpartition("/participantSessions/")[0]
            participant = record.participants.setdefault(
                person, MeetParticipant(person, "anonymousUser", line.name)
            )
            participant.sessions[session_name] = MeetSession(session_name, joined, left)
        fake.records[name] = record


async def service_for(
    wire: str, make_api: Callable[..., Any], aiohttp_server: Any, request: pytest.FixtureRequest
) -> Api:
    """The service configured for `wire`'s provider: the in-process fake BigBlueButton, fake
    Zoom or fake LiveKit, the real Janus of the test run, or Jitsi (which has no server to create
    rooms on)."""
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
    elif provider == "zoom":
        server = await aiohttp_server(fake_zoom(FakeZoom(hosts=ZOOM_HOSTS)))
        base = str(server.make_url("")).rstrip("/")
        api = await make_api(
            zoom_account_id=ACCOUNT,
            zoom_client_id=CLIENT_ID,
            zoom_client_secret=CLIENT_SECRET,
            zoom_webhook_secret=CREDENTIALS.zoom_secret,
            zoom_hosts=ZOOM_HOSTS,
            zoom_api_url=f"{base}/v2",
            zoom_oauth_url=base,
        )
    elif provider == "livekit":
        server = await aiohttp_server(
            fake_livekit({CREDENTIALS.livekit_key: CREDENTIALS.livekit_secret})
        )
        api = await make_api(
            livekit_url=f"ws://{server.host}:{server.port}",
            livekit_api_key=CREDENTIALS.livekit_key,
            livekit_api_secret=CREDENTIALS.livekit_secret,
        )
    else:
        api = await make_api(jitsi_webhook_secret=CREDENTIALS.jitsi_secret)
    return api


async def made_ahead(app: web.Application, clock: ManualClock, db: Any) -> None:
    """Every room made and subscribed to in the morning, before the first slot."""
    clock.set(min(s.starts_at for s in meeting_day(seed=SEED).sessions) - 2 * ROOM_LEAD)
    async with db() as s:
        room_ids = list(await s.scalars(select(m.Room.id)))
    for room_id in room_ids:
        assert await app[appkeys.LIFECYCLE].provision(room_id)
    await app[appkeys.FOLLOWER].follow()


async def subscribed(
    app: web.Application, clock: ManualClock, teams: FakeTeams, wiring: Wiring, db: Any
) -> Wiring:
    """Every room made and subscribed to ahead (in the morning, before the first slot), and the
    subscriptions as Graph holds them, for the deliveries to carry."""
    await made_ahead(app, clock, db)
    async with db() as s:
        rooms = (await s.execute(select(m.Session.key, m.Room.provider_data).join(m.Room))).all()
    found = {}
    for key, data in rooms:
        sub = teams.subscription_for(data["meeting"])
        assert sub is not None, key
        found[key] = sub
    return replace(wiring, subscriptions=found, tokens=teams.validation_token)


async def import_quietly(app: web.Application, clock: ManualClock, program: dict[str, Any]) -> None:
    """Imports as `PUT /program` does, without queuing the invitations: they are not what these
    tests are about, and composing hundreds of them would take seconds."""
    changes = await import_program(
        app[appkeys.DB], app[appkeys.SETTINGS], RawProgram(program), now=clock.now()
    )
    assert changes.event_created


async def wiring_of(db: Any, slug: str, wire: str) -> Wiring:
    """Each session's room as the provider names it (BigBlueButton and LiveKit: our room key;
    Jitsi: the room key in lower case; Janus: the room number derived from it; Zoom: the meeting
    id the fake gives it), and each expected person's attendee row (their seat: `rdv-a<id>`,
    Janus id `<id>`)."""
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
        if PROVIDER[wire] == "zoom":  # the meeting id the fake Zoom will give the room
            return str(meeting_number(AGENDA + room_key))
        return room_key if PROVIDER[wire] in ("bigbluebutton", "livekit") else room_key.lower()

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
    lifecycle = app[appkeys.LIFECYCLE]
    passes = {s.starts_at - ROOM_LEAD for s in day.sessions} | {s.closes_at for s in day.sessions}
    timeline: list[tuple[datetime, int, Attempt | None]] = [(t, 0, None) for t in passes]
    timeline += [(attempt.at, 1, attempt) for attempt in attempts]
    timeline.sort(key=lambda step: (step[0], step[1]))
    answers = []
    for moment, _, attempt in timeline:
        clock.set(moment)
        if attempt is None:
            assert (await lifecycle.reconcile()).failed == 0
            await app[appkeys.FOLLOWER].follow()
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


def seen_in(row: dict[str, Any]) -> tuple[Any, ...]:
    """What a log row says: status, first join (UTC), substitute for, name, email."""
    first = datetime.fromisoformat(row["first_join"]).astimezone(UTC) if row["first_join"] else None
    return (row["status"], first, row["substitute_for"], row["name"], row["email"])


def wanted_in(want: Expected, wire: str) -> tuple[Any, ...]:
    """What the row must say. Someone the program knows is shown as the program has them; a
    guest as the provider named them (BigBlueButton and Janus give no email)."""
    line = want.line
    email = line.email if line.person or PROVIDER[wire] in ("jitsi", "zoom") else None
    standing_in_for = line.substitute_for.key if line.substitute_for else None
    return (want.status, want.first_join, standing_in_for, line.name, email)


def told(values: tuple[Any, ...], minutes: float) -> str:
    status, first, standing_in_for, name, email = values
    since = f"from {first:%H:%M:%S} " if first else ""
    instead = f" for {standing_in_for}" if standing_in_for else ""
    return f"{status} {since}{minutes:.1f} min, {name} <{email}>{instead}"


def story_of(want: Expected) -> str:
    line = want.line
    tabs = ", ".join(f"{a:%H:%M:%S}-{b:%H:%M:%S}" for a, b in line.tabs)
    lost = ", a leave lost" if want.lost_leave else ""
    return f"{line.session} {line.role} {line.label} ({line.story} {tabs}{lost})"


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
    teams: FakeTeams | None = None
    meet: FakeMeet | None = None
    if wire == "teams":
        api, teams = await teams_service(request, aiohttp_server)
    elif wire == "meet":
        api, meet = await meet_service(request, aiohttp_server)
    else:
        api = await service_for(wire, make_api, aiohttp_server, request)
    await import_quietly(_app(api), clock, day.program(PROVIDER[wire]))
    wiring = await wiring_of(db, day.slug, wire)
    if teams is not None:  # the subscriptions are in the deliveries: the rooms are made first
        wiring = await subscribed(_app(api), clock, teams, wiring, db)
    if meet is not None:  # the spaces are in the deliveries: the rooms are made first
        await made_ahead(_app(api), clock, db)
        async with db() as s:
            spaces = dict(
                (await s.execute(select(m.Session.key, m.Room.provider_data).join(m.Room))).all()
            )
        wiring = replace(
            wiring,
            rooms={key: data["space"] for key, data in spaces.items()},
            tokens=lambda moment: meet.oidc_token(moment),
        )
        recorded(meet, day, wiring)
    rng = random.Random(f"{SEED}-{wire}")
    kept, lost = lose_leaves(sightings(day, wire), rng)
    deliveries = render(day, wire, kept, wiring, rng, CREDENTIALS)
    attempts = chaos(deliveries, rng)
    assert sum(a.repeat for a in attempts) >= 0.2 * len(deliveries)

    answers = await play(api, _app(api), clock, day, deliveries, attempts)
    await _app(api)[appkeys.NAMER].drain()  # who each Meet participant session is
    if meet is not None:  # the conference records, which the service reads after the day
        live, _ = expectations(day, wire, kept, lost)
        truth, _ = expectations(day, wire, kept, [])
        rows = {row_key(row): row for row in await attendance(api, day.slug)}
        differ = [
            key
            for key, want in live.items()
            if want.lost_leave and abs(rows[key]["minutes_present"] - truth[key].minutes) > 1
        ]
        assert differ, "the lost leaves made no difference: the records would prove nothing"
        # Every room's record is read: a space with no conference record had nobody in it.
        assert len({key for key, *_ in meet_conferences(day)}) < len(day.sessions)
        assert await _app(api)[appkeys.REPORTS].read() == len(day.sessions)
        lost = []
    if teams is not None:  # each call has ended: Graph's reports, which the service reads
        live, _ = expectations(day, wire, kept, lost)
        truth, _ = expectations(day, wire, kept, [])
        rows = {row_key(row): row for row in await attendance(api, day.slug)}
        differ = [  # until the reports come, a lost leave keeps someone in the room
            key
            for key, want in live.items()
            if want.lost_leave and abs(rows[key]["minutes_present"] - truth[key].minutes) > 1
        ]
        assert differ, "the lost leaves made no difference: the reports would prove nothing"
        reports = teams_reports(day)
        calls = [session.key for session in day.sessions if reports[session.key]]
        for key in calls:  # a meeting nobody came to had no call, and has no report
            teams.end_meeting(wiring.subscriptions[key]["_meeting"], reports[key])
        assert await _app(api)[appkeys.REPORTS].read() == len(calls) < len(day.sessions)
        lost = []  # the reports have the last word: nothing lost any more

    # Every delivery is acknowledged; what was delivered before is acknowledged as a duplicate.
    refused = [(status, body) for _, status, body in answers if status != 200]
    assert not refused, refused[:3]
    for attempt, _, body in answers:
        events = deliveries[attempt.delivery].events
        counted = (0, events) if attempt.repeat else (events, 0)
        assert (body["accepted"], body["duplicates"]) == counted, (attempt, body)
    async with db() as s:
        stored = await s.scalar(
            select(func.count())
            .select_from(ProviderEventRow)
            .where(ProviderEventRow.source == "webhook")
        )
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
        if not want.lost_leave:  # nothing lost: what the log must show is the truth itself
            assert (want.status, want.minutes) == (line.status, total(line.spans) / MINUTE)
        got, expected = seen_in(row), wanted_in(want, wire)
        if got != expected or abs(row["minutes_present"] - want.minutes) > 1:
            wrong.append(
                f"{story_of(want)}:\n    shows  {told(got, row['minutes_present'])}"
                f"\n    wanted {told(expected, want.minutes)}"
            )
    assert not wrong, f"{len(wrong)} of {len(wanted)} lines differ:\n" + "\n".join(wrong[:12])
    if wire not in REPORTING:
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


# -- the example event, everyone there -------------------------------------------------------------
async def test_the_example_event_with_everyone_there_gives_the_published_key_figures(
    make_api: Callable[..., Any], clock: ManualClock, db: Any, database_url: str
) -> None:
    program = example_program()
    day = perfect_attendance(program)
    api = await make_api(jitsi_webhook_secret=CREDENTIALS.jitsi_secret)
    await import_quietly(_app(api), clock, program)
    wiring = await wiring_of(db, EXAMPLE_SLUG, "jitsi")
    deliveries = render(day, "jitsi", sightings(day, "jitsi"), wiring, random.Random(SEED))
    in_order = [Attempt(delivery.sent, index, False) for index, delivery in enumerate(deliveries)]

    answers = await play(api, _app(api), clock, day, deliveries, in_order)

    assert {status for _, status, _ in answers} == {200}
    figures = await report(api, EXAMPLE_SLUG)
    published = {
        "plenary_participants": 116,
        "meetings_held": 41,
        "companies_met": 34,
        "buyer_representatives": 18,
        "directorates": 6,
    }
    assert {name: figures[name] for name in published} == published
    assert (figures["meetings_not_held"], figures["no_show_rate"]) == (0, 0.0)

    environment = {name: value for name, value in os.environ.items() if not name.startswith("RDV_")}
    command = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "orchestrator",
        "report",
        EXAMPLE_SLUG,
        cwd=ROOT,
        env={**environment, "RDV_DATABASE_URL": database_url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await command.communicate()
    assert command.returncode == 0, err.decode()
    printed = out.decode()
    assert re.search(r"plenary participants\s+116\b", printed), printed
    assert re.search(r"meetings held\s+41 of 41\b", printed), printed
    assert re.search(r"companies met\s+34\n", printed), printed
    assert re.search(r"buyer representatives\s+18\n", printed), printed
    assert re.search(r"directorates\s+6\n", printed), printed


# -- single stories through the door ---------------------------------------------------------------
MEET_THE_BUYERS = "meet-the-buyers"
M1_START = datetime(2021, 4, 8, 8, 30, tzinfo=UTC)  # small_program's m1 (Chloé × Ana), 10:30 Paris


async def jitsi_service(
    make_api: Callable[..., Any], clock: ManualClock, db: Any
) -> tuple[Api, Wiring]:
    """small_program on Jitsi with webhooks, its meeting rooms provisioned half an hour ahead."""
    api: Api = await make_api(jitsi_webhook_secret=CREDENTIALS.jitsi_secret)
    await import_quietly(_app(api), clock, small_program())
    clock.set(M1_START - ROOM_LEAD)
    assert (await _app(api)[appkeys.LIFECYCLE].reconcile()).provisioned == 2
    return api, await wiring_of(db, MEET_THE_BUYERS, "jitsi")


def occupant(
    kind: str, room: str | int, minute: float, who: dict[str, str], jid: str, joined: float
) -> dict[str, Any]:
    """An event_sync occupant event, `minute` minutes after m1's start (and when they joined)."""
    at = int((M1_START + timedelta(minutes=minute)).timestamp())
    person = {
        **who,
        "occupant_jid": jid,
        "joined_at": int((M1_START + timedelta(minutes=joined)).timestamp()),
    }
    if kind == "left":
        person["left_at"] = at
    return {
        "event_name": f"muc-occupant-{kind}",
        "room_name": room,
        "room_jid": f"{room}@conference.meet.example.org",
        "is_breakout": False,
        "occupant": person,
    }


async def send_sync(
    api: Api, document: dict[str, Any], *, body: bytes | None = None
) -> dict[str, Any]:
    """POSTs one event_sync delivery (as `body` when given: the same event in other bytes)."""
    kind = document["event_name"].rpartition("-")[2]
    response = await api.client.post(
        f"/webhooks/jitsi/events/occupant/{kind}",
        data=body if body is not None else json.dumps(document).encode(),
        headers={
            "Authorization": bearer(CREDENTIALS.jitsi_secret),
            "Content-Type": "application/json",
        },
    )
    assert response.status == 200, await response.text()
    answer: dict[str, Any] = await response.json()
    return answer


async def m1_rows(api: Api) -> dict[str, dict[str, Any]]:
    response = await api.client.get(
        f"/api/v1/events/{MEET_THE_BUYERS}/attendance?session=m1",
        headers=api.headers(MEET_THE_BUYERS),
    )
    assert response.status == 200
    return {row["person"] or row["name"]: row for row in (await response.json())["attendance"]}


async def test_a_redelivered_webhook_is_acknowledged_and_counted_once(
    make_api: Callable[..., Any], clock: ManualClock, db: Any
) -> None:
    api, wiring = await jitsi_service(make_api, clock, db)
    room = wiring.rooms["m1"]
    ana = {
        "name": "Ana Lopez",
        "email": "ana@water.example",
        "id": f"rdv-a{wiring.seats[('m1', 'ana')]}",
    }
    joined = occupant("joined", room, -2, ana, "a1@meet.example.org/tab", joined=-2)
    left = occupant("left", room, 30, ana, "a1@meet.example.org/tab", joined=-2)

    clock.set(M1_START - timedelta(minutes=2))
    assert await send_sync(api, joined) == {"accepted": 1, "duplicates": 0}
    assert await send_sync(api, joined) == {"accepted": 0, "duplicates": 1}  # a retry, same bytes
    same_event = json.dumps(joined, indent=1, sort_keys=True).encode()  # re-encoded: other bytes
    assert await send_sync(api, joined, body=same_event) == {"accepted": 0, "duplicates": 1}
    clock.set(M1_START + timedelta(minutes=30))
    assert await send_sync(api, left) == {"accepted": 1, "duplicates": 0}
    assert await send_sync(api, left) == {"accepted": 0, "duplicates": 1}

    async with db() as s:
        events = await s.scalar(select(func.count()).select_from(ProviderEventRow))
        deliveries = await s.scalar(select(func.count()).select_from(WebhookDelivery))
    assert (events, deliveries) == (2, 3)  # the re-encoded one is kept as received, its event not
    clock.set(M1_START + timedelta(hours=1))
    row = (await m1_rows(api))["ana"]
    assert (row["status"], row["minutes_present"], row["sources"]) == ("attended", 32.0, ["jitsi"])


async def test_a_webhook_for_an_unknown_room_is_kept_and_breaks_nothing(
    make_api: Callable[..., Any], clock: ManualClock, db: Any
) -> None:
    api, wiring = await jitsi_service(make_api, clock, db)
    ana = {
        "name": "Ana Lopez",
        "email": "ana@water.example",
        "id": f"rdv-a{wiring.seats[('m1', 'ana')]}",
    }
    stray = occupant("joined", "someone-elses-room", 0, ana, "x@meet.example.org/1", joined=0)

    clock.set(M1_START)
    assert await send_sync(api, stray) == {"accepted": 1, "duplicates": 0}
    chloe = {
        "name": "Chloé Martin",
        "email": "chloe@acme.example",
        "id": f"rdv-a{wiring.seats[('m1', 'chloe')]}",
    }
    assert (
        await send_sync(
            api, occupant("joined", wiring.rooms["m1"], 1, chloe, "c@meet.example.org/1", 1)
        )
    )["accepted"] == 1

    async with db() as s:
        kept = (
            await s.execute(
                select(
                    ProviderEventRow.room_ref,
                    ProviderEventRow.room_id,
                    ProviderEventRow.attendee_id,
                    ProviderEventRow.participant_email,
                ).where(ProviderEventRow.room_id.is_(None))
            )
        ).all()
        raw = await s.scalar(
            select(WebhookDelivery.body)
            .join(ProviderEventRow, ProviderEventRow.delivery_id == WebhookDelivery.id)
            .where(ProviderEventRow.room_id.is_(None))
        )
    assert kept == [("someone-elses-room", None, None, "ana@water.example")]  # kept, nobody's seat
    assert raw == json.dumps(stray).encode()  # stored as received
    clock.set(M1_START + timedelta(hours=1))
    rows = await m1_rows(api)
    assert (rows["ana"]["status"], rows["ana"]["first_join"]) == ("no-show", None)  # not hers
    assert rows["chloe"]["status"] == "attended"
    assert len(await attendance(api, MEET_THE_BUYERS)) == 6 + 3 * 2  # the seats, nobody added


def jaas(event_type: str, room: str | int, minute: float, data: dict[str, Any]) -> bytes:
    """A JaaS delivery's body, `minute` minutes after m1's start."""
    moment = M1_START + timedelta(minutes=minute)
    document = {
        "idempotencyKey": str(uuid.uuid4()),
        "appId": CREDENTIALS.jaas_app,
        "eventType": event_type,
        "timestamp": int(moment.timestamp() * 1000),
        "fqn": f"{CREDENTIALS.jaas_app}/{room}",
        "data": {"conference": f"{room}@conference.8x8.vc", "isBreakout": False, **data},
    }
    return json.dumps(document).encode()


async def send_jaas(api: Api, clock: ManualClock, body: bytes) -> None:
    signature = sign_jaas(body, CREDENTIALS.jitsi_secret, int(clock.now().timestamp()))
    response = await api.client.post(
        "/webhooks/jitsi",
        data=body,
        headers={"X-Jaas-Signature": signature, "Content-Type": "application/json"},
    )
    assert response.status == 200, await response.text()
    assert await response.json() == {"accepted": 1, "duplicates": 0}


async def test_a_guest_nobody_invited_appears_as_a_guest_line(
    make_api: Callable[..., Any], clock: ManualClock, db: Any
) -> None:
    api, wiring = await jitsi_service(make_api, clock, db)
    room = wiring.rooms["m1"]
    ana = {"id": f"rdv-a{wiring.seats[('m1', 'ana')]}", "participantId": "a1", "name": "Ana Lopez"}
    chloe = {"id": f"rdv-a{wiring.seats[('m1', 'chloe')]}", "participantId": "c1", "name": "Chloé"}
    # An interpreter with a token of her own: her name and email, an id that is not a seat.
    nadia = {"id": "f3c9a1d2", "participantId": "n1", "name": "Nadia Haddad"}
    left = {"disconnectReason": "left"}  # JaaS leaves carry no email
    for minute, event_type, data in [
        (-1, "PARTICIPANT_JOINED", {**ana, "email": "ana@water.example"}),
        (0, "PARTICIPANT_JOINED", {**chloe, "email": "chloe@acme.example"}),
        (1, "PARTICIPANT_JOINED", {**nadia, "email": "nadia@press.example"}),
        (20, "PARTICIPANT_LEFT", {**nadia, **left}),  # hers because it is her connection
        (30, "PARTICIPANT_LEFT", {**ana, **left}),
        (30, "PARTICIPANT_LEFT", {**chloe, **left}),
    ]:
        clock.set(M1_START + timedelta(minutes=minute, seconds=5))
        await send_jaas(api, clock, jaas(event_type, room, minute, data))

    clock.set(M1_START + timedelta(hours=1))
    rows = await m1_rows(api)
    assert sorted(rows) == ["Nadia Haddad", "ana", "chloe"]
    guest = rows["Nadia Haddad"]
    assert {
        name: guest[name] for name in ("person", "email", "organisation", "role", "substitute_for")
    } == {
        "person": None,
        "email": "nadia@press.example",
        "organisation": None,
        "role": "guest",
        "substitute_for": None,
    }
    assert (guest["status"], guest["minutes_present"]) == ("left-early", 19.0)
    assert (rows["ana"]["status"], rows["chloe"]["status"]) == ("attended", "attended")
    figures = await report(api, MEET_THE_BUYERS)
    assert figures["meetings_held"] == 1  # m1; a guest is neither side of a meeting


async def test_minutes_present_count_from_the_links_opening_and_the_median_only_the_meeting(
    make_api: Callable[..., Any], clock: ManualClock, db: Any
) -> None:
    """Chloé and Ana both come eight minutes early and talk until twenty minutes into m1: each
    was present 28 minutes (counted from when the links open), while the meeting's time
    together, which the report's median takes, is the 20 minutes within the meeting itself;
    the report gives both definitions, in English and in French."""
    api, wiring = await jitsi_service(make_api, clock, db)
    room = wiring.rooms["m1"]
    people = {
        key: {"name": name, "email": email, "id": f"rdv-a{wiring.seats[('m1', key)]}"}
        for key, name, email in (
            ("ana", "Ana Lopez", "ana@water.example"),
            ("chloe", "Chloé Martin", "chloe@acme.example"),
        )
    }
    clock.set(M1_START + timedelta(minutes=25))
    for key, who in people.items():
        jid = f"{key}@meet.example.org/tab"
        assert (await send_sync(api, occupant("joined", room, -8, who, jid, joined=-8)))["accepted"]
        assert (await send_sync(api, occupant("left", room, 20, who, jid, joined=-8)))["accepted"]
    clock.set(M1_START + timedelta(hours=1))
    rows = await m1_rows(api)
    assert [rows[key]["minutes_present"] for key in ("ana", "chloe")] == [28.0, 28.0]
    figures = await report(api, MEET_THE_BUYERS)
    assert figures["meetings_held"] == 1
    assert figures["median_meeting_minutes"] == 20.0
    assert (
        "between the meeting's start and its end"
        in figures["definitions"]["median_meeting_minutes"]
    )

    french = _app(api)[appkeys.PAGES].language("fr").gettext
    assert "de l'ouverture des liens" in french(DEFINITIONS["minutes_present"])
