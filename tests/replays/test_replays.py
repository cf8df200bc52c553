"""The plenary's replay: links archived in one canonical form, provider recordings archived from
their events, the replay mail sent once to each attendee with the right words, and links and
feeds that lead to the replay once the plenary is over."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import select
from support.deliveries import JITSI_SECRET, headers, occupant, seat
from support.fake_bbb import STATE, FakeBBB, create_app
from support.mailsink import MailSink
from support.service import TEST_SECRET, Api, ManualClock, session_of, small_program
from support.webhook_signing import recording_body
from yarl import URL

from calendars.transport import parse_mail_url, transport_for
from orchestrator import appkeys
from orchestrator.db import models as m
from orchestrator.mail.outbox import Delivery, OutboxSender
from orchestrator.replays.links import ReplayRefused, canonical

SLUG = "meet-the-buyers"
PLENARY_START = datetime(2021, 4, 8, 7, 0, tzinfo=UTC)  # 09:00 in Paris
VIDEO = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
BBB_SECRET = "fake-bbb-shared-secret-0123456789"


@pytest.mark.parametrize(
    "given",
    [
        "https://youtu.be/dQw4w9WgXcQ",
        "https://youtu.be/dQw4w9WgXcQ?t=42",
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=1",
        "https://youtube.com/watch?feature=share&v=dQw4w9WgXcQ",
        "https://m.youtube.com/watch?v=dQw4w9WgXcQ",
        "https://www.youtube.com/live/dQw4w9WgXcQ?si=abc",
        "https://www.youtube.com/embed/dQw4w9WgXcQ",
        "  https://www.youtube.com/shorts/dQw4w9WgXcQ  ",
    ],
)
def test_every_form_of_a_youtube_link_is_stored_as_one_canonical_url(given: str) -> None:
    assert canonical(given) == VIDEO


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        ("javascript:alert(1)", "only https://"),
        ("http://www.youtube.com/watch?v=dQw4w9WgXcQ", "only https://"),
        ("data:text/html,hi", "only https://"),
        ("https://www.youtube.com/channel/UCabc", "does not name a video"),
        ("https://user:pw@videos.example.org/x", "user name or password"),
        ("https://videos.example.org/a b", "spaces"),
        ("", "empty"),
    ],
)
def test_links_that_cannot_be_archived_are_refused_with_a_reason(given: str, reason: str) -> None:
    with pytest.raises(ReplayRefused, match=reason):
        canonical(given)


def test_other_https_links_are_kept_as_given() -> None:
    assert canonical("https://Videos.Example.org/replay?id=7") == (
        "https://videos.example.org/replay?id=7"
    )


@pytest.fixture
async def plenary(make_api: Callable[..., Any], sink: MailSink, clock: ManualClock) -> Api:
    api: Api = await make_api(mail_url=sink.url, jitsi_webhook_secret=JITSI_SECRET)
    await api.import_ok(small_program())
    await api.client.app[appkeys.OUTBOX].deliver_due()
    sink.clear()
    clock.set(PLENARY_START - timedelta(minutes=15))
    await api.client.app[appkeys.LIFECYCLE].reconcile()
    return api


async def add(api: Api, url: str, key: str = "plenary") -> Any:
    return await api.client.post(
        f"/api/v1/events/{SLUG}/sessions/{key}/replays",
        json={"url": url},
        headers=api.headers(SLUG),
    )


async def test_the_replay_mail_thanks_those_who_came_and_reaches_those_who_missed_it(
    plenary: Api, sink: MailSink, clock: ManualClock, db: Any
) -> None:
    for person in ("ana", "eve"):
        room, seat_id, _ = await seat(db, person, "plenary")
        await plenary.client.post(
            "/webhooks/jitsi",
            headers=headers(),
            data=occupant("joined", room, seat_id, person, PLENARY_START),
        )
    clock.set(PLENARY_START + timedelta(hours=2))

    response = await add(plenary, "https://youtu.be/dQw4w9WgXcQ")
    body = await response.json()
    assert response.status == 201
    assert body["replay"]["url"] == VIDEO
    assert body["replay_mail_queued"] == 6
    assert await plenary.client.app[appkeys.OUTBOX].deliver_due() == Delivery(claimed=6, sent=6)

    by_person = {message.recipient: message for message in sink.received}
    assert len(by_person) == 6
    ana = by_person["ana@water.example"]
    assert ana.subject == "Replay: Opening plenary"
    assert ana.text.startswith("Thank you for attending Opening plenary.")
    assert VIDEO in ana.text
    eve = by_person["eve@globex.example"]  # French, and she came
    assert eve.subject == "Rediffusion : Opening plenary"
    assert eve.text.startswith("Merci d'avoir participé à Opening plenary.")
    ben = by_person["ben@roads.example"]
    assert ben.text.startswith("You could not attend Opening plenary.")
    assert "text/calendar" not in [part.get_content_type() for part in ben.message.walk()]


async def test_the_same_replay_twice_is_refused_and_a_second_replay_mails_nobody(
    plenary: Api, sink: MailSink, clock: ManualClock
) -> None:
    clock.set(PLENARY_START + timedelta(hours=2))
    assert (await add(plenary, VIDEO)).status == 201
    again = await add(plenary, "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=1")
    assert again.status == 409
    assert "already archived" in (await again.json())["error"]["message"]
    other = await add(plenary, "https://videos.example.org/plenary-hd")
    assert other.status == 201
    assert (await other.json())["replay_mail_queued"] == 0
    await plenary.deliver_mail()
    assert len(sink.received) == 6
    listed = await (
        await plenary.client.get(f"/api/v1/events/{SLUG}/replays", headers=plenary.headers(SLUG))
    ).json()
    assert [replay["url"] for replay in listed["replays"]] == [
        VIDEO,
        "https://videos.example.org/plenary-hd",
    ]
    report = await (
        await plenary.client.get(f"/api/v1/events/{SLUG}/report", headers=plenary.headers(SLUG))
    ).json()
    assert (report["replays"], report["replay_mail_sent"]) == (2, 6)


async def test_a_bad_link_is_refused_and_a_followup_cannot_add_one(plenary: Api) -> None:
    refused = await add(plenary, "javascript:alert(1)")
    assert refused.status == 422
    followup = await plenary.client.post(
        f"/api/v1/events/{SLUG}/sessions/plenary/replays",
        json={"url": VIDEO},
        headers=plenary.headers(SLUG, "followup"),
    )
    assert followup.status == 403


async def test_after_the_end_a_plenary_link_and_the_feed_lead_to_the_replay(
    plenary: Api, clock: ManualClock, db: Any
) -> None:
    clock.set(PLENARY_START + timedelta(hours=2))
    await add(plenary, VIDEO)
    async with db() as session:
        token, feed = (
            await session.execute(
                select(m.Attendee.token, m.Person.feed_token)
                .join(m.Person, m.Person.id == m.Attendee.person_id)
                .join(m.Session)
                .where(m.Person.key == "ben", m.Session.key == "plenary")
            )
        ).one()
    response = await plenary.client.get(f"/j/{token}", allow_redirects=False)
    assert response.status == 302
    assert response.headers["Location"] == VIDEO
    calendar = await (await plenary.client.get(f"/calendar/{feed}.ics")).text()
    assert "Replay: https://www.youtube.com/watch?v=dQw4w9WgXcQ" in calendar.replace("\r\n ", "")


async def test_a_streamed_plenary_sends_the_audience_to_the_stream_and_speakers_to_the_room(
    make_api: Callable[..., Any], clock: ManualClock, db: Any
) -> None:
    api: Api = await make_api()
    program = small_program()
    session_of(program, "plenary")["streamed"] = True
    await api.import_ok(program)
    clock.set(PLENARY_START - timedelta(minutes=5))

    async def link(person: str) -> Any:
        async with db() as session:
            token = await session.scalar(
                select(m.Attendee.token)
                .join(m.Person, m.Person.id == m.Attendee.person_id)
                .join(m.Session)
                .where(m.Person.key == person, m.Session.key == "plenary")
            )
        return await api.client.get(f"/j/{token}", allow_redirects=False)

    audience = await link("dan")
    assert audience.status == 302
    assert audience.headers["Location"] == "https://www.youtube.com/watch?v=abcdefghijk"
    speaker = await link("org")
    assert speaker.headers["Location"].startswith("https://meet.jit.si/")
    async with db() as session:
        outcomes = (
            await session.scalars(select(m.LinkClick.outcome).order_by(m.LinkClick.id))
        ).all()
    assert outcomes == ["stream", "joined"]


@pytest.fixture
async def bbb(aiohttp_server: Any) -> tuple[str, FakeBBB]:
    server = await aiohttp_server(create_app(BBB_SECRET))
    return str(server.make_url("/bigbluebutton/api")), server.app[STATE]


async def test_a_bigbluebutton_recording_is_archived_from_its_signed_callback(
    make_api: Callable[..., Any], bbb: tuple[str, FakeBBB], clock: ManualClock, db: Any
) -> None:
    url, fake = bbb
    api: Api = await make_api(bbb_url=url, bbb_secret=BBB_SECRET, default_provider="bigbluebutton")
    await api.import_ok(small_program())
    clock.set(PLENARY_START - timedelta(minutes=10))
    app: web.Application = api.client.app  # type: ignore[assignment]
    await app[appkeys.LIFECYCLE].reconcile()
    async with db() as session:
        room_key = await session.scalar(
            select(m.Room.room_key).join(m.Session).where(m.Session.key == "plenary")
        )
    assert room_key
    # BBB publishes the playback page on its own server, the one its API answers on.
    playback = str(URL(url).with_scheme("https").with_path(f"/playback/2.3/{room_key}-rec"))
    fake.publish(room_key, f"{room_key}-rec", playback, minutes=58)

    forged = await api.client.post(
        "/webhooks/bigbluebutton/recording",
        data=recording_body(room_key, f"{room_key}-rec", "not-the-secret-0123456789abcdef"),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert forged.status == 401
    assert await app[appkeys.ARCHIVER].run_once() == 0

    signed = await api.client.post(
        "/webhooks/bigbluebutton/recording",
        data=recording_body(room_key, f"{room_key}-rec", BBB_SECRET),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert signed.status == 200
    assert await app[appkeys.ARCHIVER].run_once() == 1
    assert await app[appkeys.ARCHIVER].run_once() == 0  # once only
    replays = await (
        await api.client.get(f"/api/v1/events/{SLUG}/replays", headers=api.headers(SLUG))
    ).json()
    [replay] = replays["replays"]
    assert (replay["url"], replay["kind"], replay["duration_seconds"]) == (
        playback,
        "recording",
        58 * 60,
    )
    assert replay["source"].startswith("bigbluebutton:")


def test_rdv_replay_add_archives_from_the_command_line(database_url: str, tmp_path: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("RDV_")},
        "RDV_DATABASE_URL": database_url,
        "RDV_SECRET_KEY": TEST_SECRET,
        "RDV_MAIL_URL": f"file://{tmp_path / 'outbox'}",
    }
    program = tmp_path / "program.json"
    program.write_text(json.dumps(small_program()), encoding="utf-8")

    def rdv(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "orchestrator", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    assert rdv("import", str(program)).returncode == 0
    added = rdv("replay", "add", SLUG, "plenary", "https://youtu.be/dQw4w9WgXcQ")
    assert added.returncode == 0, added.stderr
    assert added.stdout.startswith(f"archived {VIDEO} for plenary; replay mail queued for 6")
    again = rdv("replay", "add", SLUG, "plenary", VIDEO)
    assert again.returncode == 2
    assert "already archived" in again.stderr
    bad = rdv("replay", "add", SLUG, "plenary", "http://example.org/x")
    assert bad.returncode == 2
    assert "only https://" in bad.stderr


async def test_a_restart_while_the_replay_mail_goes_out_sends_nobody_twice(
    plenary: Api, sink: MailSink, clock: ManualClock, db: Any
) -> None:
    clock.set(PLENARY_START + timedelta(hours=2))
    assert (await add(plenary, VIDEO)).status == 201
    transport = transport_for(parse_mail_url(sink.url))
    try:
        dead = OutboxSender(db, transport, clock, batch=3)
        assert len(await dead._claim(clock.now())) == 3  # then the process dies
        await OutboxSender(db, transport, clock).deliver_due()
        clock.advance(timedelta(minutes=10))  # the dead sender's lease lapses
        await OutboxSender(db, transport, clock).deliver_due()
        assert await OutboxSender(db, transport, clock).deliver_due() == Delivery()
    finally:
        await transport.aclose()
    assert sorted(message.recipient for message in sink.received) == sorted(
        {message.recipient for message in sink.received}
    )
    assert len(sink.received) == 6


async def test_a_stream_viewers_click_counts_as_attendance_and_earns_the_thank_you(
    make_api: Callable[..., Any], sink: MailSink, clock: ManualClock, db: Any
) -> None:
    api: Api = await make_api(mail_url=sink.url)
    program = small_program()
    session_of(program, "plenary")["streamed"] = True
    await api.import_ok(program)
    await api.client.app[appkeys.OUTBOX].deliver_due()
    sink.clear()
    clock.set(PLENARY_START + timedelta(minutes=2))
    async with db() as session:
        token = await session.scalar(
            select(m.Attendee.token)
            .join(m.Person, m.Person.id == m.Attendee.person_id)
            .join(m.Session)
            .where(m.Person.key == "dan", m.Session.key == "plenary")
        )
    assert (await api.client.get(f"/j/{token}", allow_redirects=False)).status == 302

    clock.set(PLENARY_START + timedelta(hours=2))
    log = await (
        await api.client.get(
            f"/api/v1/events/{SLUG}/attendance?session=plenary", headers=api.headers(SLUG)
        )
    ).json()
    dan = next(row for row in log["attendance"] if row["person"] == "dan")
    assert (dan["status"], dan["sources"]) == ("attended", ["link"])
    assert (await add(api, VIDEO)).status == 201
    await api.client.app[appkeys.OUTBOX].deliver_due()
    [mail] = sink.to("dan@acme.example")
    assert mail.text.startswith("Thank you for attending")
