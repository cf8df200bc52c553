"""The organisers' dashboard without a browser: sign-in links, the page, its live stream, the
replay after a reconnect, lateness from the clock, and what followup viewers may not do."""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient
from sqlalchemy import select
from support.deliveries import JITSI_SECRET, headers, occupant, seat
from support.service import TEST_SECRET, ManualClock, session_of, small_program
from support.signin import sign_in as signing_in

from orchestrator import appkeys
from orchestrator.dashboard.view import build
from orchestrator.db import models as m
from orchestrator.db.updates import DashboardUpdate, note
from orchestrator.participants.erasure import forget
from orchestrator.program.export import export_document
from orchestrator.signin import create_link

SLUG = "meet-the-buyers"
M1_START = datetime(2021, 4, 8, 8, 30, tzinfo=UTC)
HOSTILE = "<img src=x onerror=alert(1)>"


@pytest.fixture
async def board(make_api: Callable[..., Any], clock: ManualClock) -> Any:
    # Plain http, as the test client talks: a Secure cookie would not come back.
    api = await make_api(jitsi_webhook_secret=JITSI_SECRET, public_url="http://rdv.test")
    program = small_program()
    next(p for p in program["people"] if p["key"] == "chloe")["name"] = HOSTILE
    session_of(program, "m1")["title"] = "Acme × Water <b>bold</b>"
    await api.import_ok(program)
    clock.set(M1_START - timedelta(minutes=20))
    await api.client.app[appkeys.LIFECYCLE].reconcile()
    return api


async def sign_in(
    client: TestClient[Any, Any],
    db: Any,
    clock: ManualClock,
    role: str = "organiser",
    slug: str = SLUG,
) -> ClientResponse:
    return await signing_in(client, db, clock, slug, role)


async def events(
    response: ClientResponse, kind: str = "update"
) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """(id, data) of each message of that kind in an event stream."""
    event_id, name, data = "", "", ""
    async for raw in response.content:
        line = raw.decode().rstrip("\r\n")
        if line.startswith("id: "):
            event_id = line[4:]
        elif line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            data = line[6:]
        elif line == "":
            if data and name == kind:
                yield event_id, json.loads(data)
            event_id, name, data = "", "", ""


async def agreeing_snapshot(app: Any, db: Any, clock: ManualClock) -> Any:
    """The dashboard the stream holds now, checked to be the one a reload builds at this moment."""
    async with db() as session:
        event = await session.scalar(select(m.Event).where(m.Event.slug == SLUG))
    snapshot = await app[appkeys.SNAPSHOTS].covering(
        event, await app[appkeys.FEED].latest(event.id)
    )
    async with db() as session:
        reloaded = await build(session, event, app[appkeys.SETTINGS], clock.now())
    assert snapshot.dashboard == reloaded
    return snapshot


@pytest.fixture
async def postgresql_event(board: Any, db: Any) -> int:
    """The event's id, for the stories of PostgreSQL's concurrent writers; SQLite has a single
    writer at a time, so they do not apply there."""
    async with db() as session:
        if session.get_bind().dialect.name != "postgresql":
            pytest.skip("SQLite has a single writer at a time anyway")
        event_id: int = await session.scalar(select(m.Event.id).where(m.Event.slug == SLUG))
    return event_id


async def test_a_login_link_works_once_and_sets_a_safe_cookie(
    board: Any, db: Any, clock: ManualClock
) -> None:
    client = board.client
    first = await sign_in(client, db, clock)
    assert first.status == 303
    assert first.headers["Location"] == f"/dashboard/{SLUG}"
    cookie = first.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Max-Age=43200" in cookie
    page = await client.get(f"/dashboard/{SLUG}")
    assert page.status == 200
    csp = page.headers["Content-Security-Policy"]
    assert csp.startswith("default-src 'self'; script-src 'self'")

    async with db() as session, session.begin():
        url = await create_link(
            session, slug=SLUG, role="organiser", now=clock.now(), base_url="http://rdv.test"
        )
    path = url.removeprefix("http://rdv.test")
    assert (await client.post(path, allow_redirects=False)).status == 303
    assert (await client.post(path, allow_redirects=False)).status == 404  # used
    assert (await client.get(path, allow_redirects=False)).status == 404


async def test_behind_https_the_cookie_is_secure(
    make_api: Callable[..., Any], db: Any, clock: ManualClock
) -> None:
    api = await make_api(public_url="https://rdv.example.org")
    await api.import_ok(small_program())
    response = await sign_in(api.client, db, clock)
    assert "Secure" in response.headers["Set-Cookie"]


async def test_an_expired_link_and_no_cookie_are_refused(
    board: Any, db: Any, clock: ManualClock
) -> None:
    async with db() as session, session.begin():
        url = await create_link(
            session, slug=SLUG, role="organiser", now=clock.now(), base_url="http://rdv.test"
        )
    clock.advance(timedelta(minutes=16))
    path = url.removeprefix("http://rdv.test")
    assert (await board.client.get(path, allow_redirects=False)).status == 404
    assert (await board.client.post(path, allow_redirects=False)).status == 404
    assert (await board.client.get(f"/dashboard/{SLUG}")).status == 401
    assert (await board.client.get(f"/dashboard/{SLUG}/stream")).status == 401


async def test_the_page_shows_every_room_and_escapes_every_name(
    board: Any, db: Any, clock: ManualClock
) -> None:
    await sign_in(board.client, db, clock)
    text = await (await board.client.get(f"/dashboard/{SLUG}")).text()
    assert "&lt;img src=x onerror=alert(1)&gt;" in text
    assert HOSTILE not in text
    assert "Acme × Water &lt;b&gt;bold&lt;/b&gt;" in text
    for key in ("m1", "m2", "m3", "plenary"):
        assert f'id="card-{key}"' in text
    assert f'action="/dashboard/{SLUG}/rooms/m1/join"' in text
    assert "<script>" not in text


async def test_filters_keep_the_rooms_of_one_company(
    board: Any, db: Any, clock: ManualClock
) -> None:
    await sign_in(board.client, db, clock)
    text = await (await board.client.get(f"/dashboard/{SLUG}?company=globex")).text()
    assert 'id="card-m2"' in text
    assert 'id="card-m1"' not in text


async def test_a_followup_sees_the_dashboard_but_cannot_join_rooms(
    board: Any, db: Any, clock: ManualClock
) -> None:
    response = await sign_in(board.client, db, clock, role="followup")
    assert response.status == 303
    text = await (await board.client.get(f"/dashboard/{SLUG}")).text()
    assert "/rooms/m1/join" not in text
    refused = await board.client.get(f"/dashboard/{SLUG}/rooms/m1/join", allow_redirects=False)
    assert refused.status == 403


async def test_an_organiser_enters_a_room_as_moderator(
    board: Any, db: Any, clock: ManualClock
) -> None:
    await sign_in(board.client, db, clock)
    response = await board.client.get(f"/dashboard/{SLUG}/rooms/m1/join", allow_redirects=False)
    assert response.status == 302
    assert response.headers["Location"].startswith("https://meet.jit.si/meet-the-buyers-m1-")


async def test_a_webhook_reaches_an_open_stream_within_a_second(
    board: Any, db: Any, clock: ManualClock
) -> None:
    await sign_in(board.client, db, clock)
    room_key, seat_id, _ = await seat(db, "ana", "m1")
    stream = await board.client.get(f"/dashboard/{SLUG}/stream")
    updates = events(stream)
    clock.set(M1_START - timedelta(minutes=2))

    sent = asyncio.get_running_loop().time()
    posted = await board.client.post(
        "/webhooks/jitsi",
        data=occupant("joined", room_key, seat_id, "Ana Lopez", M1_START - timedelta(minutes=2)),
        headers=headers(),
    )
    assert posted.status == 200
    _, update = await asyncio.wait_for(anext(updates), timeout=1.0)
    assert asyncio.get_running_loop().time() - sent < 1.0
    assert update["card"]["key"] == "m1"
    assert "mark-present" in update["card"]["html"]
    assert "Ana Lopez" in update["card"]["html"]
    assert "token" not in json.dumps(update).lower()
    stream.close()


async def test_a_reconnecting_stream_gets_exactly_what_it_missed(
    board: Any, db: Any, clock: ManualClock
) -> None:
    await sign_in(board.client, db, clock)
    clock.set(M1_START - timedelta(minutes=2))
    room_key, seat_id, _ = await seat(db, "ana", "m1")
    first = await board.client.get(f"/dashboard/{SLUG}/stream")
    updates = events(first)
    await board.client.post(
        "/webhooks/jitsi",
        headers=headers(),
        data=occupant("joined", room_key, seat_id, "Ana", clock.now()),
    )
    last_id, _ = await asyncio.wait_for(anext(updates), timeout=2.0)
    first.close()

    for person, session in (("chloe", "m1"), ("eve", "m2"), ("ben", "m2")):
        key, seat_of, _ = await seat(db, person, session)
        response = await board.client.post(
            "/webhooks/jitsi",
            headers=headers(),
            data=occupant("joined", key, seat_of, person, clock.now()),
        )
        assert response.status == 200

    again = await board.client.get(f"/dashboard/{SLUG}/stream", headers={"Last-Event-ID": last_id})
    replay = events(again)
    received = [await asyncio.wait_for(anext(replay), timeout=2.0) for _ in range(3)]
    assert [update["card"]["key"] for _, update in received] == ["m1", "m2", "m2"]
    assert [int(i) for i, _ in received] == sorted(int(i) for i, _ in received)
    assert int(received[0][0]) > int(last_id)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(anext(replay), timeout=1.5)
    again.close()


@pytest.mark.parametrize(
    "where", [{"Last-Event-ID": "²"}, {"Last-Event-ID": "9" * 25}, {"Last-Event-ID": "-1"}, "²"]
)
async def test_a_stream_asked_to_resume_after_a_nonsense_id_starts_afresh(
    board: Any, db: Any, clock: ManualClock, where: dict[str, str] | str
) -> None:
    """A page that comes back with an id the stream never sent (a proxy's, a typo, a superscript
    two that str.isdigit takes for a digit) gets a fresh stream, not an error."""
    await sign_in(board.client, db, clock)
    clock.set(M1_START - timedelta(minutes=2))
    room_key, seat_id, _ = await seat(db, "ana", "m1")
    if isinstance(where, str):
        stream = await board.client.get(f"/dashboard/{SLUG}/stream", params={"after": where})
    else:
        stream = await board.client.get(f"/dashboard/{SLUG}/stream", headers=where)
    assert stream.status == 200
    assert stream.headers["Content-Type"] == "text/event-stream"
    posted = await board.client.post(
        "/webhooks/jitsi",
        headers=headers(),
        data=occupant("joined", room_key, seat_id, "Ana Lopez", clock.now()),
    )
    assert posted.status == 200
    _, update = await asyncio.wait_for(anext(events(stream)), timeout=2.0)
    assert update["card"]["key"] == "m1"  # what happens from now on, and nothing older
    stream.close()


async def test_the_clock_passing_the_late_mark_raises_an_alert(
    board: Any, db: Any, clock: ManualClock
) -> None:
    await sign_in(board.client, db, clock)
    feed = board.client.app[appkeys.FEED]
    clock.set(M1_START)
    await feed.tick()
    stream = await board.client.get(f"/dashboard/{SLUG}/stream")
    updates = events(stream)

    clock.set(M1_START + timedelta(minutes=5, seconds=1))
    assert await feed.tick() >= 1

    update: dict[str, Any] = {}
    while "alerts" not in update:  # the last update of a batch carries counters and alerts
        _, update = await asyncio.wait_for(anext(updates), timeout=2.0)
    assert "is late for" in update["alerts"]
    assert "Ana Lopez is late for Acme × Water" in update["alerts"]
    page = await (await board.client.get(f"/dashboard/{SLUG}")).text()
    assert "Ana Lopez is late for Acme × Water" in page  # a reload shows the same truth
    stream.close()


async def test_a_day_later_old_updates_are_pruned_and_a_reconnecting_page_still_gets_the_new(
    board: Any, db: Any, clock: ManualClock
) -> None:
    await sign_in(board.client, db, clock)
    clock.set(M1_START - timedelta(minutes=2))
    for person, session in (("ana", "m1"), ("chloe", "m1")):
        key, seat_id, _ = await seat(db, person, session)
        response = await board.client.post(
            "/webhooks/jitsi",
            headers=headers(),
            data=occupant("joined", key, seat_id, person, clock.now()),
        )
        assert response.status == 200
    feed = board.client.app[appkeys.FEED]
    assert await feed.prune() == 1  # the program's import, a week before, only
    assert await feed.prune() == 0
    async with db() as session:
        ids = (await session.scalars(select(DashboardUpdate.id))).all()
    last_id = max(ids)

    clock.set(M1_START + timedelta(days=2))
    assert await feed.prune() == len(ids) - 1  # the newest row stays, so ids never go back
    async with db() as session:
        assert (await session.scalars(select(DashboardUpdate.id))).all() == [last_id]

    await sign_in(board.client, db, clock)  # yesterday's sign-in has expired
    key, seat_id, _ = await seat(db, "eve", "m2")
    await board.client.post(
        "/webhooks/jitsi",
        headers=headers(),
        data=occupant("joined", key, seat_id, "Eve", clock.now()),
    )
    again = await board.client.get(
        f"/dashboard/{SLUG}/stream", headers={"Last-Event-ID": str(last_id)}
    )
    update_id, update = await asyncio.wait_for(anext(events(again)), timeout=2.0)
    assert int(update_id) > last_id
    assert update["card"]["key"] == "m2"
    again.close()


async def test_the_live_dashboard_follows_each_change_and_agrees_with_a_reload(
    board: Any, db: Any, clock: ManualClock
) -> None:
    """Between whole builds the stream refreshes only the cards an update names; after every
    change its dashboard (cards, counters, alerts) is the one a reload builds."""
    app = board.client.app
    feed = app[appkeys.FEED]

    async def post(kind: str, person: str, session: str) -> None:
        key, seat_id, _ = await seat(db, person, session)
        body = occupant(kind, key, seat_id, person, clock.now())
        assert (await board.client.post("/webhooks/jitsi", headers=headers(), data=body)).ok

    clock.set(M1_START - timedelta(minutes=2))
    await feed.tick()  # the service ticks every few seconds
    first = await agreeing_snapshot(app, db, clock)
    await post("joined", "ana", "m1")
    joined = await agreeing_snapshot(app, db, clock)
    assert joined.dashboard.counters.people_in_rooms == 1

    clock.set(M1_START + timedelta(minutes=6))  # Chloé is late, and the rooms are running
    await feed.tick()
    late = await agreeing_snapshot(app, db, clock)
    assert late.dashboard.counters.late >= 1
    assert any(alert.kind == "one-sided" for alert in late.dashboard.alerts)

    await post("joined", "chloe", "m1")
    await post("joined", "eve", "m2")
    await post("left", "ana", "m1")
    clock.advance(timedelta(seconds=1))
    after = await agreeing_snapshot(app, db, clock)
    assert after.dashboard.counters.people_in_rooms == 2

    clock.set(M1_START + timedelta(minutes=31))  # m1 and m2 are over
    await feed.tick()
    over = await agreeing_snapshot(app, db, clock)
    assert all(c.running_since is None for c in over.dashboard.cards if c.key in ("m1", "m2"))
    # All of it followed by refreshing cards: no whole build since the first.
    assert {s.built_at for s in (joined, late, after, over)} == {first.built_at}


def cards_in(batch: bytes) -> dict[int, str]:
    """The card of each update message of an SSE batch, by update id."""
    found = {}
    for message in batch.decode().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in message.splitlines() if ": " in line)
        if lines.get("event") == "update" and "card" in json.loads(lines["data"]):
            found[int(lines["id"])] = json.loads(lines["data"])["card"]["html"]
    return found


async def windows_opened(app: Any, db: Any, clock: ManualClock) -> tuple[m.Event, int]:
    """The example event, and its newest update before the windows of the first slot's
    meetings open two minutes ahead, which changes every card of the slot."""
    feed, snapshots = app[appkeys.FEED], app[appkeys.SNAPSHOTS]
    async with db() as session:
        event = await session.scalar(select(m.Event).where(m.Event.slug == SLUG))
    await feed.tick()
    start = await feed.latest(event.id)
    assert await snapshots.since(event.id, start) == []  # a stream is open, up to date
    clock.set(M1_START - timedelta(minutes=2))
    await feed.tick()
    return event, start


async def test_a_message_sent_again_shows_its_card_as_it_stands_now(
    board: Any, db: Any, clock: ManualClock
) -> None:
    """A page far behind is sent the updates it missed with today's cards: a room someone
    joined since shows them in it, the others are sent as they were rendered before."""
    app = board.client.app
    snapshots = app[appkeys.SNAPSHOTS]
    event, start = await windows_opened(app, db, clock)
    await agreeing_snapshot(app, db, clock)
    missed = await snapshots.since(event.id, start)
    before = cards_in(await snapshots.messages(event, missed, True))
    m1_key = (await session_key_ids(db))["m1"]
    m1 = [update.id for update in missed if update.session_id == m1_key]
    others = [update.id for update in missed if update.session_id != m1_key]
    assert m1
    assert others

    key, seat_id, _ = await seat(db, "ana", "m1")
    body = occupant("joined", key, seat_id, "ana", clock.now())
    assert (await board.client.post("/webhooks/jitsi", headers=headers(), data=body)).ok
    clock.advance(timedelta(seconds=1))
    await agreeing_snapshot(app, db, clock)
    again = cards_in(await snapshots.messages(event, missed, True))

    ana_in = re.compile(r'mark-present"><span class="mark">[^<]*</span>\s*<span class="name">Ana ')
    assert not any(ana_in.search(before[update]) for update in m1)
    assert all(ana_in.search(again[update]) for update in m1)  # not the card as it was
    assert all(again[update] == before[update] for update in others)


async def test_pages_asking_for_the_same_cards_at_once_share_one_rendering(
    board: Any, db: Any, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At a slot's start every open page asks for the same new cards at the same moment: they
    get the same messages from one rendering (one task rendering in turns, not one per page
    taking turns of its own while clicks and webhooks wait), each card rendered once, and a
    page that leaves meanwhile takes nothing away from the others."""
    app = board.client.app
    snapshots = app[appkeys.SNAPSHOTS]
    event, start = await windows_opened(app, db, clock)
    missed = await snapshots.since(event.id, start)
    assert len(missed) > 1
    rendered: Counter[str] = Counter()
    renderers: set[asyncio.Task[Any] | None] = set()
    fragment = snapshots.pages.fragment

    def counted(name: str, *args: Any, **kwargs: Any) -> str:
        if name == "_card.html":
            rendered[kwargs["card"].key] += 1
            renderers.add(asyncio.current_task())
        return fragment(name, *args, **kwargs)

    monkeypatch.setattr(snapshots.pages, "fragment", counted)
    pages = [asyncio.create_task(snapshots.messages(event, missed, True)) for _ in range(20)]
    await asyncio.sleep(0)
    pages[0].cancel()  # someone closes their tab
    sent = await asyncio.gather(*pages[1:])
    assert len(set(sent)) == 1
    assert len(cards_in(sent[0])) == len(missed)
    assert set(rendered.values()) == {1}
    assert len(renderers) == 1


async def session_key_ids(db: Any) -> dict[str, int]:
    async with db() as session:
        rows = await session.execute(select(m.Session.key, m.Session.id))
    return {key: session_id for key, session_id in rows}


async def test_clicks_the_clock_and_an_erasure_reach_the_stream_as_well_as_webhooks(
    make_api: Callable[..., Any], db: Any, clock: ManualClock
) -> None:
    """What changes a card without a provider saying so: a click on a streamed plenary's link
    (the click is the attendance), a room window opening on a guest already inside, and
    `rdv forget` taking a name off the screen."""
    api = await make_api(jitsi_webhook_secret=JITSI_SECRET, public_url="http://rdv.test")
    program = small_program()
    session_of(program, "plenary")["streamed"] = True
    await api.import_ok(program)
    app = api.client.app
    feed = app[appkeys.FEED]
    async with db() as session:
        ana_plenary = await session.scalar(
            select(m.Attendee.token)
            .join(m.Person, m.Person.id == m.Attendee.person_id)
            .join(m.Session, m.Session.id == m.Attendee.session_id)
            .where(m.Person.key == "ana", m.Session.key == "plenary")
        )

    plenary = datetime(2021, 4, 8, 7, 0, tzinfo=UTC)
    clock.set(plenary + timedelta(minutes=10))
    await feed.tick()
    await agreeing_snapshot(app, db, clock)
    assert (await api.client.get(f"/j/{ana_plenary}", allow_redirects=False)).status == 302
    clock.advance(timedelta(minutes=1))  # watching the stream, as far as anyone can tell
    seen = (await agreeing_snapshot(app, db, clock)).dashboard
    (card,) = [card for card in seen.cards if card.key == "plenary"]
    assert "Ana Lopez" in [seat.name for seat in card.seats if seat.mark == "present"]

    clock.set(M1_START - timedelta(minutes=25))
    await app[appkeys.LIFECYCLE].reconcile()
    await feed.tick()
    room_key, _, _ = await seat(db, "ana", "m1")
    early = occupant("joined", room_key, None, "Dan Weber", clock.now(), email="dan@acme.example")
    assert (await api.client.post("/webhooks/jitsi", headers=headers(), data=early)).ok
    before = (await agreeing_snapshot(app, db, clock)).dashboard
    clock.set(M1_START - timedelta(minutes=5))  # m1's window opened on Dan already inside
    await feed.tick()
    after = (await agreeing_snapshot(app, db, clock)).dashboard
    assert after.counters.people_in_rooms == before.counters.people_in_rooms + 1

    async with db() as session, session.begin():
        assert await forget(
            session, slug=SLUG, email="ana@water.example", now=clock.now(), secret=TEST_SECRET
        )
    erased = (await agreeing_snapshot(app, db, clock)).dashboard
    names = [seat.name for card in erased.cards for seat in card.seats]
    assert "Ana Lopez" not in names


async def test_update_ids_become_visible_in_order_on_postgresql(
    postgresql_event: int, db: Any
) -> None:
    """A stream that read update 11 never looks below it again: a second writer must not commit
    its update before the first one, which holds an earlier id, commits."""
    event_id = postgresql_event
    now = datetime.now(UTC)
    first = db()
    await first.begin()
    await note(first, [(event_id, None)], "first", now)

    async def second() -> None:
        async with db() as session, session.begin():
            await note(session, [(event_id, None)], "second", now)

    writing = asyncio.create_task(second())
    await asyncio.sleep(0.3)
    assert not writing.done()  # it waits for the first writer to commit
    await first.commit()
    await first.close()
    await asyncio.wait_for(writing, timeout=5)
    async with db() as session:
        reasons = (
            await session.scalars(
                select(DashboardUpdate.reason)
                .where(DashboardUpdate.reason.in_(("first", "second")))
                .order_by(DashboardUpdate.id)
            )
        ).all()
    assert reasons == ["first", "second"]


async def test_an_import_under_way_does_not_hold_up_the_dashboard_on_postgresql(
    postgresql_event: int, db: Any
) -> None:
    """An import locks its event until it commits (invites included, which takes a while); the
    webhooks of that event meanwhile still reach the dashboard, and the import still commits."""
    event_id = postgresql_event
    now = datetime.now(UTC)
    importing = db()
    await importing.begin()
    assert await export_document(importing, SLUG) is not None  # locks the event, as imports do

    async def webhook() -> None:
        async with db() as session, session.begin():
            await note(session, [(event_id, None)], "webhook", now)

    await asyncio.wait_for(webhook(), timeout=5)  # not held up by the import
    await note(importing, [(event_id, None)], "program", now)
    await importing.commit()
    await importing.close()
