"""Temporary recordings (JaaS's 24-hour links) are copied into the archive from the provider's own
hosts only. Redirects are followed one hop at a time and each hop is checked; a name whose
address is loopback, private or link-local is refused before any connection is made. A fake
provider on loopback is reachable only through the test-only `LoopbackForTests`, which pins one
of JaaS's names to it; the app never builds one."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from support.deliveries import JITSI_SECRET, jaas_recording, provisioned
from support.service import Api, ManualClock, small_program
from support.tls import Certificate, self_signed

from orchestrator import appkeys
from orchestrator.replays.download import (
    DownloadRefused,
    LoopbackForTests,
    check_hop,
    download,
)
from orchestrator.replays.recordings import RecordingArchiver
from webhooks.addresses import AddressRefused, CheckedResolver, refusal

SLUG = "meet-the-buyers"
PLENARY_START = datetime(2021, 4, 8, 7, 0, tzinfo=UTC)
RECORDINGS = "recordings.8x8.vc"  # one of JaaS's hosts; here it answers on loopback
PRIVATE = "private.8x8.vc"  # one of JaaS's hosts, whose address is in a private network
VIDEO = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 64


@dataclass
class Storage:
    """A fake recording storage served over HTTPS on 127.0.0.1, and the requests it received."""

    port: int
    seen: list[str]

    def link(self, path: str) -> str:
        return f"https://{RECORDINGS}:{self.port}{path}"


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    return self_signed(tmp_path_factory.mktemp("tls"), RECORDINGS)


@pytest.fixture
async def storage(aiohttp_server: Any, certificate: Certificate) -> Storage:
    seen: list[str] = []

    async def recording(request: web.Request) -> web.Response:
        seen.append(request.path_qs)
        return web.Response(body=VIDEO, content_type="video/mp4")

    async def moved(request: web.Request) -> web.Response:
        seen.append(request.path_qs)
        raise web.HTTPFound(request.query["to"])

    app = web.Application()
    app.router.add_get("/recordings/rec-1.mp4", recording)
    app.router.add_get("/moved", moved)
    server = await aiohttp_server(app, host="127.0.0.1", ssl=certificate.server())
    assert server.port is not None
    return Storage(server.port, seen)


@pytest.fixture
def testing(certificate: Certificate) -> LoopbackForTests:
    return LoopbackForTests(
        pinned={RECORDINGS: "127.0.0.1", PRIVATE: "10.20.30.40"}, tls=certificate.client()
    )


@pytest.fixture
async def jaas(
    make_api: Callable[..., Any], clock: ManualClock, db: Any, tmp_path: Path
) -> tuple[Api, str, Path]:
    """small_program on JaaS with an archive folder, the plenary's room provisioned."""
    archive = tmp_path / "archive"
    api: Api = await make_api(jitsi_webhook_secret=JITSI_SECRET, archive_dir=archive)
    await api.import_ok(small_program())
    clock.set(PLENARY_START - timedelta(minutes=10))
    return api, await provisioned(api, db, "plenary"), archive


async def announce(
    api: Api, room: str, link: str, clock: ManualClock, testing: LoopbackForTests
) -> RecordingArchiver:
    """JaaS announces `link`; returns the archiver the app builds, given the test-only override
    that lets it reach the fake storage."""
    clock.set(PLENARY_START + timedelta(hours=1, minutes=5))
    body, headers = jaas_recording(room, link, clock.now())
    assert (await api.client.post("/webhooks/jitsi", data=body, headers=headers)).status == 200
    app = api.client.app
    return RecordingArchiver(
        app[appkeys.DB],
        app[appkeys.PROVIDERS],
        app[appkeys.CLOCK],
        app[appkeys.SETTINGS],
        app[appkeys.WRITER],
        testing=testing,
    )


async def replays_of(api: Api) -> list[dict[str, Any]]:
    listed = await (
        await api.client.get(f"/api/v1/events/{SLUG}/replays", headers=api.headers(SLUG))
    ).json()
    found: list[dict[str, Any]] = listed["replays"]
    return found


async def test_a_jaas_recording_is_copied_into_the_archive_before_its_link_expires(
    jaas: tuple[Api, str, Path],
    storage: Storage,
    testing: LoopbackForTests,
    clock: ManualClock,
) -> None:
    api, room, archive = jaas
    link = storage.link("/moved?to=/recordings/rec-1.mp4")  # one redirect, on JaaS's own host
    archiver = await announce(api, room, link, clock, testing)

    assert await archiver.run_once() == 1

    [replay] = await replays_of(api)
    assert (replay["url"], replay["kind"], replay["duration_seconds"], replay["archived"]) == (
        link,
        "recording",
        3540,
        True,
    )
    assert replay["valid_until"] == (clock.now() + timedelta(hours=24)).isoformat().replace(
        "+00:00", "Z"
    )
    [copy] = list(archive.iterdir())
    assert copy.read_bytes() == VIDEO
    assert storage.seen == ["/moved?to=/recordings/rec-1.mp4", "/recordings/rec-1.mp4"]


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("https://169.254.169.254/latest/meta-data/", "169.254.169.254 is not one of jitsi's"),
        ("https://10.0.0.7/recording.mp4", "10.0.0.7 is not one of jitsi's"),
        (f"https://{PRIVATE}:{{port}}/recording.mp4", f"{PRIVATE} resolves to a private address"),
        (f"http://{RECORDINGS}:{{port}}/recordings/rec-1.mp4", "only https://"),
    ],
)
async def test_a_redirect_off_the_providers_hosts_or_into_a_private_network_is_not_followed(
    target: str,
    reason: str,
    jaas: tuple[Api, str, Path],
    storage: Storage,
    testing: LoopbackForTests,
    clock: ManualClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    api, room, archive = jaas
    link = storage.link(f"/moved?to={target.format(port=storage.port)}")
    archiver = await announce(api, room, link, clock, testing)
    caplog.set_level(logging.WARNING, logger="rdv.replays")

    assert await archiver.run_once() == 1  # JaaS's own link is kept while it lasts, uncopied

    [replay] = await replays_of(api)
    assert (replay["url"], replay["archived"]) == (link, False)
    assert len(storage.seen) == 1  # the redirect; nothing after it
    assert not archive.exists() or not any(archive.iterdir())
    [warning] = [r.getMessage() for r in caplog.records if r.name == "rdv.replays"]
    assert warning.startswith("jitsi recording of plenary not copied: ")
    assert reason in warning
    assert link not in caplog.text


async def test_a_literal_loopback_address_is_refused_even_on_the_providers_own_host(
    storage: Storage, testing: LoopbackForTests, tmp_path: Path
) -> None:
    # A BigBlueButton server configured by address: its playback links are on its own host,
    # but nothing is downloaded from loopback, with or without the test-only override.
    target = tmp_path / "copy.mp4"
    for override in (None, testing):
        with pytest.raises(DownloadRefused, match="the link names a loopback address"):
            await download(
                f"https://127.0.0.1:{storage.port}/recordings/rec-1.mp4",
                target,
                hosts=("127.0.0.1",),
                provider="bigbluebutton",
                limit=1 << 20,
                timeout=60,
                testing=override,
            )
    assert storage.seen == []
    assert not target.exists()
    assert not target.with_suffix(".part").exists()


async def test_without_the_test_override_a_name_that_resolves_to_loopback_is_refused() -> None:
    with pytest.raises(AddressRefused, match="localhost resolves to a loopback address"):
        await CheckedResolver().resolve("localhost", 443)


async def test_the_override_lets_a_pinned_loopback_address_through_and_nothing_else() -> None:
    resolver = CheckedResolver(
        {RECORDINGS: "127.0.0.1", PRIVATE: "10.20.30.40", "metadata.8x8.vc": "169.254.169.254"}
    )
    [answer] = await resolver.resolve(RECORDINGS.upper() + ".", 443)
    assert (answer["host"], answer["port"]) == ("127.0.0.1", 443)
    with pytest.raises(AddressRefused, match="a private address"):
        await resolver.resolve(PRIVATE, 443)
    with pytest.raises(AddressRefused, match="a link-local address"):
        await resolver.resolve("metadata.8x8.vc", 443)


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "a loopback address"),
        ("::1", "a loopback address"),
        ("::ffff:127.0.0.1", "a loopback address"),
        ("10.1.2.3", "a private address"),
        ("172.16.0.1", "a private address"),
        ("192.168.1.1", "a private address"),
        ("::ffff:10.0.0.1", "a private address"),
        ("fd00::1", "a private address"),
        ("169.254.169.254", "a link-local address"),
        ("fe80::1%eth0", "a link-local address"),
        ("240.0.0.1", "a reserved address"),
        ("224.0.0.1", "a multicast address"),
        ("ff02::1", "a multicast address"),
        ("0.0.0.0", "an unspecified address"),  # noqa: S104 (an address refused, not bound)
        ("::", "an unspecified address"),
        ("100.64.0.1", "a non-public address"),
        ("93.184.215.14", None),
        ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", None),
    ],
)
def test_only_public_addresses_may_be_downloaded_from(address: str, reason: str | None) -> None:
    assert refusal(address) == reason


def test_each_hop_must_be_a_link_the_provider_could_have_announced() -> None:
    hosts = ("8x8.vc", "*.8x8.vc")
    assert check_hop(f"https://{RECORDINGS}/r.mp4?sig=a%2Fb", hosts, "jitsi") == (
        f"https://{RECORDINGS}/r.mp4?sig=a%2Fb"
    )
    for link, reason in [
        ("https://8x8.vc.example.net/r.mp4", "is not one of jitsi's recording hosts"),
        ("https://user:pw@recordings.8x8.vc/r.mp4", "user name or password"),
        ("ftp://recordings.8x8.vc/r.mp4", "only https://"),
        ("https://[::1]/r.mp4", "has no host"),
    ]:
        with pytest.raises(DownloadRefused, match=reason):
            check_hop(link, hosts, "jitsi")
