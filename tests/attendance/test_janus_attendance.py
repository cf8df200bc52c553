"""Attendance end to end with a real Janus: its sample event handler posts to the running
service, seats join and leave over the Janus HTTP API as our join page does, and the attendance
log shows exactly those people with the right statuses; with the event handler stopped (lost
webhooks) the room poll still finds who came and closes who left.

Janus stamps its events with the real time, so the service's clock here follows the real time
(shifted only when a test moves it past the end), and the program is built around the real now.
"""

from __future__ import annotations

import asyncio
import base64
import html
import json
import re
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from support.janus_server import (
    MISSING,
    EventHandler,
    JanusParticipant,
    JanusPeople,
    JanusServer,
    StartJanus,
    janus_binary,
)
from support.mailsink import free_port
from support.service import Api, ManualClock, small_program

from orchestrator import appkeys
from orchestrator.db import models as m
from orchestrator.db.attendance import ProviderEventRow

pytestmark = pytest.mark.skipif(janus_binary() is None, reason=MISSING)

SLUG = "janus-attendance"
USER, PASSWORD = "janus-events", "event-handler-password-0123"
DELIVERY_TIMEOUT = 5.0  # Janus posts within milliseconds; its retries span 3.1 s


class RealTimeClock(ManualClock):
    """The real time, shifted by however far the test moved it."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> None:
        self.offset += delta

    def set(self, moment: datetime) -> None:
        self.offset = moment - datetime.now(UTC)


@pytest.fixture
def clock() -> RealTimeClock:
    return RealTimeClock()


@dataclass(frozen=True)
class Times:
    """Two meetings around the real now: `started` began 10 minutes ago (so anyone who joins now
    is late), `upcoming` begins in 2 to 3 minutes (so anyone who joins now is on time)."""

    started: datetime
    upcoming: datetime

    @classmethod
    def around(cls, now: datetime) -> Times:
        minute = now.replace(second=0, microsecond=0)
        return cls(minute - timedelta(minutes=10), minute + timedelta(minutes=2))

    @property
    def started_ends(self) -> datetime:
        return self.started + timedelta(minutes=40)

    @property
    def upcoming_ends(self) -> datetime:
        return self.upcoming + timedelta(minutes=30)

    @property
    def all_over(self) -> datetime:
        return max(self.started_ends, self.upcoming_ends) + timedelta(minutes=1)


def program(times: Times) -> dict[str, Any]:
    def at(moment: datetime) -> str:
        return moment.isoformat(timespec="minutes")

    document = small_program(SLUG)
    document["sessions"] = [
        {
            "key": "started",
            "kind": "meeting",
            "title": "Globex × Roads",
            "start": at(times.started),
            "end": at(times.started_ends),
            "attendees": ["eve", "ben"],
        },
        {
            "key": "upcoming",
            "kind": "meeting",
            "title": "Acme × Water",
            "start": at(times.upcoming),
            "end": at(times.upcoming_ends),
            "attendees": ["chloe", "ana", "dan"],
        },
    ]
    return document


@dataclass(frozen=True)
class Seat:
    """What the join page gives the browser of one attendee."""

    room: int
    pin: str
    token: str
    number: int
    display: str


@dataclass
class Service:
    api: Api
    janus: JanusServer
    people: JanusPeople
    times: Times
    db: Any

    @property
    def app(self) -> Any:
        app = self.api.client.app
        assert app is not None
        return app

    async def seat(self, session: str, person: str) -> Seat:
        """Follows the personal link as a browser does and reads the join page."""
        async with self.db() as s:
            token = await s.scalar(
                select(m.Attendee.token)
                .join(m.Person, m.Person.id == m.Attendee.person_id)
                .join(m.Session)
                .where(m.Person.key == person, m.Session.key == session)
            )
        redirect = await self.api.client.get(f"/j/{token}", allow_redirects=False)
        assert redirect.status == 302, await redirect.text()
        response = await self.api.client.get(f"/room/{token}")
        assert response.status == 200
        page = await response.text()

        def data(name: str) -> str:
            found = re.search(rf'data-{name}="([^"]*)"', page)
            assert found, name
            return html.unescape(found.group(1))

        return Seat(
            int(data("room")), data("pin"), data("token"), int(data("seat")), data("display")
        )

    async def join(self, seat: Seat) -> JanusParticipant:
        return await self.people.join(
            seat.room, pin=seat.pin, token=seat.token, seat_number=seat.number, display=seat.display
        )

    async def attendance(self, session: str | None = None) -> dict[str, dict[str, Any]]:
        """The log as `{"session/person": row}`."""
        query = f"?session={session}" if session else ""
        response = await self.api.client.get(
            f"/api/v1/events/{SLUG}/attendance{query}", headers=self.api.headers(SLUG)
        )
        body = await response.json()
        assert response.status == 200, body
        rows = {
            f"{row['session']}/{row['person'] or row['name']}": row for row in body["attendance"]
        }
        assert len(rows) == len(body["attendance"]), body  # nobody twice
        return rows

    async def webhook_events(self) -> Counter[tuple[int | None, str]]:
        """(attendee, joined|left) of the people events that came by webhook."""
        async with self.db() as s:
            rows = await s.execute(
                select(ProviderEventRow.attendee_id, ProviderEventRow.kind).where(
                    ProviderEventRow.source == "webhook",
                    ProviderEventRow.kind.in_(("joined", "left")),
                )
            )
            return Counter((attendee, kind) for attendee, kind in rows)

    async def wait_for_webhooks(self, expected: Counter[tuple[int | None, str]]) -> None:
        """Until exactly `expected` has come through the event handler (or the timeout)."""
        await until(
            self.webhook_events,
            lambda found: found == expected,
            what=f"the event handler's deliveries {dict(expected)}",
            log=self.janus.log_tail,
        )


async def until(
    probe: Callable[[], Awaitable[Any]],
    done: Callable[[Any], bool],
    *,
    what: str,
    log: Callable[[], str] = str,
    within: float = DELIVERY_TIMEOUT,
) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        found = await probe()
        if done(found):
            return found
        if loop.time() > deadline:
            raise AssertionError(f"waited {within} s for {what}; have {found}\n{log()}")
        await asyncio.sleep(0.02)


@pytest.fixture
async def start_service(
    make_api: Callable[..., Awaitable[Api]],
    janus_factory: StartJanus,
    janus_people: Callable[[JanusServer], JanusPeople],
    clock: RealTimeClock,
    db: Any,
) -> Callable[..., Awaitable[Service]]:
    """The service on Janus, and a Janus whose sample event handler posts to that service: the
    Janus port is chosen first (the service needs its URL), then Janus is started with the
    service's own URL as its backend. The program is imported and the rooms provisioned."""

    async def start(**handler: Any) -> Service:
        port = free_port()
        api = await make_api(
            janus_url=f"http://127.0.0.1:{port}/janus",
            default_provider="janus",
            janus_webhook_user=USER,
            janus_webhook_password=PASSWORD,
        )
        backend = str(api.client.make_url("/webhooks/janus"))
        janus = janus_factory(
            port=port,
            event_handler=EventHandler(backend, USER, PASSWORD, **handler),
            admin=True,
        )
        times = Times.around(clock.now())
        await api.import_ok(program(times))
        service = Service(api, janus, janus_people(janus), times, db)
        tally = await service.app[appkeys.LIFECYCLE].reconcile()
        assert (tally.provisioned, tally.failed) == (2, 0), janus.log_tail()
        return service

    return start


def moment(text: str | None) -> datetime:
    assert text is not None
    return datetime.fromisoformat(text)


def near(text: str | None, before: datetime, after: datetime) -> bool:
    """An instant of the log (shown to the minute's fraction) between two real moments."""
    return before - timedelta(seconds=1) <= moment(text) <= after + timedelta(seconds=1)


async def test_the_event_handler_deliveries_make_the_attendance_log(
    start_service: Callable[..., Awaitable[Service]], clock: RealTimeClock
) -> None:
    service = await start_service(grouping=True, events="plugins")
    eve = await service.seat("started", "eve")
    ben = await service.seat("started", "ben")
    chloe = await service.seat("upcoming", "chloe")
    ana = await service.seat("upcoming", "ana")
    dan = await service.seat("upcoming", "dan")
    assert len({eve.room, chloe.room}) == 2
    assert ben.room == eve.room

    first = datetime.now(UTC)
    await service.join(eve)  # 10 minutes after the start: late
    await service.join(chloe)  # before the start, and stays: attended
    ana_in = await service.join(ana)
    await ana_in.leave()  # gone 30 minutes before the end: left early
    ana_out = datetime.now(UTC)
    dan_in = await service.join(dan)
    await dan_in.leave()
    await service.join(dan)  # back again (a reload), and stays: attended
    last = datetime.now(UTC)
    # ben never comes: no-show

    await service.wait_for_webhooks(
        Counter(
            {
                (eve.number, "joined"): 1,
                (chloe.number, "joined"): 1,
                (ana.number, "joined"): 1,
                (ana.number, "left"): 1,
                (dan.number, "joined"): 2,
                (dan.number, "left"): 1,
            }
        )
    )
    async with service.db() as s:
        live = set(await s.scalars(select(m.Room.state)))
    assert live == {"live"}  # a join by webhook marks the room live

    clock.set(service.times.all_over)
    log = await service.attendance()
    assert {key: row["status"] for key, row in log.items()} == {
        "started/eve": "late",
        "started/ben": "no-show",
        "upcoming/chloe": "attended",
        "upcoming/ana": "left-early",
        "upcoming/dan": "attended",
    }
    for key in ("started/eve", "upcoming/chloe", "upcoming/ana", "upcoming/dan"):
        assert log[key]["sources"] == ["janus"], log[key]
        assert near(log[key]["first_join"], first, last), log[key]  # Janus's own timestamps
    assert log["started/ben"]["sources"] == []
    assert log["started/ben"]["first_join"] is None
    assert near(log["upcoming/ana"]["last_leave"], first, ana_out)
    assert log["upcoming/ana"]["minutes_present"] < 0.5
    # Still in the room at the end: present until then.
    assert near(log["upcoming/chloe"]["last_leave"], service.times.all_over, clock.now())


async def test_lost_webhooks_are_caught_by_polling(
    start_service: Callable[..., Awaitable[Service]], clock: RealTimeClock
) -> None:
    service = await start_service()
    chloe = await service.seat("upcoming", "chloe")
    ana = await service.seat("upcoming", "ana")
    dan = await service.seat("upcoming", "dan")
    await service.join(chloe)
    ana_in = await service.join(ana)
    await service.wait_for_webhooks(
        Counter({(chloe.number, "joined"): 1, (ana.number, "joined"): 1})
    )

    # The event handler stops: what happens now never reaches the service.
    service.janus.tweak_event_handler(events="none")
    await service.join(dan)
    await ana_in.leave()
    before = await service.attendance("upcoming")
    assert before["upcoming/dan"]["first_join"] is None  # unknown to the service
    assert before["upcoming/ana"]["status"] == "attended"  # still thought to be in

    polled_at = clock.now()
    answered = await service.app[appkeys.POLLER].poll()
    polled_by = clock.now()
    assert answered == 2  # both open rooms answered (nobody is in "started")

    now = await service.attendance("upcoming")
    assert near(now["upcoming/dan"]["first_join"], polled_at, polled_by)
    assert now["upcoming/dan"]["sources"] == ["poll"]
    assert near(now["upcoming/ana"]["last_leave"], polled_at, polled_by)  # closed at the poll
    assert now["upcoming/chloe"]["sources"] == ["janus", "poll"]
    assert (await service.webhook_events())[(dan.number, "joined")] == 0  # really lost

    clock.set(service.times.all_over)
    log = await service.attendance()
    assert {key: row["status"] for key, row in log.items()} == {
        "started/eve": "no-show",
        "started/ben": "no-show",
        "upcoming/chloe": "attended",
        "upcoming/ana": "left-early",
        "upcoming/dan": "attended",
    }


async def test_a_leave_as_janus_posts_it_is_stored(make_api: Callable[..., Awaitable[Api]]) -> None:
    """Janus 1.1.2 sends a VideoRoom `leaving` (and `unpublished`) event without `session_id`
    and `handle_id` (seen on this machine, captured below): it must be accepted and stored as
    a leave, not refused, or every leave and every event grouped with it is lost."""
    api = await make_api(
        janus_url="http://127.0.0.1:9/janus",
        default_provider="janus",
        janus_webhook_user=USER,
        janus_webhook_password=PASSWORD,
    )
    events = [
        {
            "emitter": "MyJanusInstance",
            "type": 64,
            "timestamp": 1795934093893410,
            "session_id": 6464577063744282,
            "handle_id": 2103244061393544,
            "event": {
                "plugin": "janus.plugin.videoroom",
                "data": {"event": "joined", "room": 4242, "id": 7, "display": "A"},
            },
        },
        {
            "emitter": "MyJanusInstance",
            "type": 64,
            "timestamp": 1795934093894544,
            "event": {
                "plugin": "janus.plugin.videoroom",
                "data": {"event": "unpublished", "room": 4242, "id": 7},
            },
        },
        {
            "emitter": "MyJanusInstance",
            "type": 64,
            "timestamp": 1795934093894567,
            "event": {
                "plugin": "janus.plugin.videoroom",
                "data": {"event": "leaving", "room": 4242, "id": 7},
            },
        },
    ]
    credentials = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    response = await api.client.post(
        "/webhooks/janus",
        data=json.dumps(events, separators=(",", ":")),
        headers={"Authorization": f"Basic {credentials}", "Content-Type": "application/json"},
    )
    assert response.status == 200, await response.text()
    assert await response.json() == {"accepted": 2, "duplicates": 0}
