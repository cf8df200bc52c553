"""A provider's recording link is held to the rule of the links organisers add (https, a host,
no credentials) and must be on the provider's own hosts: a signed delivery announcing any other
link leaves no replay, no redirect from a personal link and no mail, a warning names the provider
and the reason (never the link), and nothing reaches the address the link named."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import func, select
from support.deliveries import JITSI_SECRET, jaas_recording, provisioned, zoom_recording
from support.fake_zoom import FakeZoom, create_app
from support.service import Api, ManualClock, small_program

from orchestrator import appkeys
from orchestrator.db import models as m
from orchestrator.db.mail import MailMessage
from orchestrator.db.replays import Replay

SLUG = "meet-the-buyers"
PLENARY_START = datetime(2021, 4, 8, 7, 0, tzinfo=UTC)
AFTER = PLENARY_START + timedelta(hours=1, minutes=5)
ZOOM_SECRET = "zoom-webhook-secret-0123456789"
ZOOM_HOSTS = ("host1@rdv.example", "host2@rdv.example", "host3@rdv.example")


class Listener:
    """A real HTTP server on 127.0.0.1 that notes every request reaching it."""

    def __init__(self, port: int, seen: list[str]) -> None:
        self.port, self.seen = port, seen


@pytest.fixture
async def listener(aiohttp_server: Any) -> Listener:
    seen: list[str] = []

    async def anything(request: web.Request) -> web.Response:
        seen.append(f"{request.method} {request.path}")
        return web.Response(body=b"\x00\x00\x00\x18ftypmp42", content_type="video/mp4")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", anything)
    server = await aiohttp_server(app, host="127.0.0.1")
    assert server.port is not None
    return Listener(server.port, seen)


async def plenary_room(api: Api, clock: ManualClock, db: Any) -> str:
    clock.set(PLENARY_START - timedelta(minutes=10))
    return await provisioned(api, db, "plenary")


async def after_the_plenary(api: Api, clock: ManualClock, db: Any) -> tuple[list[Any], Any, int]:
    """What the recording left behind: the replays, what ben's personal link answers once the
    plenary is over, and how many replay mails are queued."""
    clock.set(PLENARY_START + timedelta(hours=2))
    replays = await (
        await api.client.get(f"/api/v1/events/{SLUG}/replays", headers=api.headers(SLUG))
    ).json()
    async with db() as session:
        token = await session.scalar(
            select(m.Attendee.token)
            .join(m.Person, m.Person.id == m.Attendee.person_id)
            .join(m.Session)
            .where(m.Person.key == "ben", m.Session.key == "plenary")
        )
        mails = await session.scalar(
            select(func.count()).select_from(MailMessage).where(MailMessage.kind == "replay")
        )
    link = await api.client.get(f"/j/{token}", allow_redirects=False)
    return replays["replays"], link, mails or 0


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "rdv.replays" and record.levelno == logging.WARNING
    ]


@pytest.mark.parametrize(
    ("link", "reason"),
    [
        ("http://127.0.0.1:{port}/x", "only https://"),
        ("javascript:alert(1)", "only https://"),
        ("file:///etc/passwd", "only https://"),
        ("https://rdv:s3cret@127.0.0.1:{port}/x", "user name or password"),
    ],
)
async def test_a_jaas_recording_link_that_is_no_plain_https_address_leaves_no_trace(
    link: str,
    reason: str,
    make_api: Callable[..., Any],
    listener: Listener,
    clock: ManualClock,
    db: Any,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    archive = tmp_path / "archive"
    api: Api = await make_api(jitsi_webhook_secret=JITSI_SECRET, archive_dir=archive)
    await api.import_ok(small_program())
    room = await plenary_room(api, clock, db)
    clock.set(AFTER)
    link = link.format(port=listener.port)
    body, headers = jaas_recording(room, link, clock.now())
    assert (await api.client.post("/webhooks/jitsi", data=body, headers=headers)).status == 200

    caplog.set_level(logging.WARNING, logger="rdv.replays")
    archiver = api.client.app[appkeys.ARCHIVER]
    assert await archiver.run_once() == 0
    assert await archiver.run_once() == 0  # and it is not tried again every pass

    replays, personal, mails = await after_the_plenary(api, clock, db)
    assert replays == []
    assert personal.status == 410  # the "this session has ended" page, no redirect
    assert "Location" not in personal.headers
    assert mails == 0
    assert listener.seen == []
    assert not archive.exists() or not any(archive.iterdir())
    [warning] = warnings_of(caplog)
    assert "jitsi" in warning
    assert reason in warning
    assert link not in caplog.text
    assert "s3cret" not in caplog.text


@pytest.fixture
async def zoom_api(
    make_api: Callable[..., Any], aiohttp_server: Any, clock: ManualClock, db: Any
) -> tuple[Api, str]:
    """small_program on Zoom (a fake Zoom API on loopback), its plenary's meeting created."""
    server = await aiohttp_server(create_app(FakeZoom(hosts=ZOOM_HOSTS)))
    base = str(server.make_url("")).rstrip("/")
    api: Api = await make_api(
        zoom_account_id="acc-rdv-test",
        zoom_client_id="client-rdv-test",
        zoom_client_secret="client-secret-rdv-test-0123456789",
        zoom_webhook_secret=ZOOM_SECRET,
        zoom_hosts=ZOOM_HOSTS,
        zoom_api_url=f"{base}/v2",
        zoom_oauth_url=base,
    )
    program = small_program()
    program["event"]["provider"] = "zoom"
    await api.import_ok(program)
    return api, await plenary_room(api, clock, db)


async def announce(api: Api, meeting: str, share_url: str, clock: ManualClock) -> None:
    clock.set(AFTER)
    body, headers = zoom_recording(meeting, share_url, clock.now(), ZOOM_SECRET)
    assert (await api.client.post("/webhooks/zoom", data=body, headers=headers)).status == 200


async def test_a_zoom_share_page_on_another_host_is_neither_stored_nor_mailed(
    zoom_api: tuple[Api, str],
    clock: ManualClock,
    db: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    api, meeting = zoom_api
    elsewhere = "https://zoom.us.recordings.example/rec/share/Xy7?pwd=abc"
    await announce(api, meeting, elsewhere, clock)

    caplog.set_level(logging.WARNING, logger="rdv.replays")
    assert await api.client.app[appkeys.ARCHIVER].run_once() == 0

    replays, personal, mails = await after_the_plenary(api, clock, db)
    assert replays == []
    assert personal.status == 410
    assert mails == 0
    [warning] = warnings_of(caplog)
    assert "zoom" in warning
    assert "not one of zoom's recording hosts" in warning
    assert elsewhere not in caplog.text


async def test_a_zoom_share_page_on_zoom_is_stored_and_mailed_as_before(
    zoom_api: tuple[Api, str], clock: ManualClock, db: Any
) -> None:
    api, meeting = zoom_api
    share = "https://us02web.zoom.us/rec/share/Xy7?pwd=abc"
    await announce(api, meeting, share, clock)

    assert await api.client.app[appkeys.ARCHIVER].run_once() == 1

    replays, personal, mails = await after_the_plenary(api, clock, db)
    assert [(replay["url"], replay["kind"]) for replay in replays] == [(share, "recording")]
    assert personal.status == 302
    assert personal.headers["Location"] == share
    assert mails == 6


async def test_a_bad_link_stored_before_links_were_checked_is_never_followed(
    api: Api, clock: ManualClock, db: Any
) -> None:
    """A database from before this rule may hold a provider's `javascript:` link: a personal link
    after the plenary no longer redirects there, and the agenda offers no replay."""
    await api.import_ok(small_program())
    async with db() as session, session.begin():
        plenary = await session.scalar(select(m.Session).where(m.Session.key == "plenary"))
        assert plenary is not None
        session.add(
            Replay(
                session_id=plenary.id,
                url="javascript:alert(document.cookie)",
                kind="recording",
                title="Plenary",
                source="jitsi",
                added_at=PLENARY_START + timedelta(hours=1),
            )
        )
    _, personal, _ = await after_the_plenary(api, clock, db)

    assert personal.status == 410
    assert "Location" not in personal.headers
    async with db() as session:
        feed = await session.scalar(select(m.Person.feed_token).where(m.Person.key == "ben"))
    agenda = await (await api.client.get(f"/me/{feed}")).text()
    assert "javascript:" not in agenda
