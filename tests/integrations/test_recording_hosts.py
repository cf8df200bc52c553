"""Each provider that records says where it keeps its recordings (`recording_hosts`), and the
registry's providers say it as their adapters do: Zoom its own domain, JaaS the domains 8x8 runs
it on, BigBlueButton the server its API answers on, LiveKit the egress storage its operator names
(it has none of its own), Janus nothing. Only links on those hosts become replays."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest

from integrations.jitsi import JAAS_HOSTS
from orchestrator.metrics import Metrics
from orchestrator.providers import ProviderRegistry
from orchestrator.replays.links import ReplayRefused, on_hosts, provider_link
from orchestrator.settings import Settings, load_settings

BUCKET = "rdv-recordings.s3.eu-west-3.amazonaws.com"
CONFIGURED: dict[str, dict[str, Any]] = {
    "jitsi": {"jitsi_webhook_secret": "jaas-endpoint-secret-0123456789"},
    "bigbluebutton": {
        "bbb_url": "https://bbb.example.org/bigbluebutton/api",
        "bbb_secret": "bbb-shared-secret-0123456789",
    },
    "janus": {"janus_url": "https://rdv.example.org/janus"},
    "livekit": {
        "livekit_url": "wss://livekit.example.org",
        "livekit_api_key": "APIkey",
        "livekit_api_secret": "livekit-api-secret-0123456789",
        "livekit_recording_hosts": (BUCKET,),
    },
    "zoom": {
        "zoom_account_id": "acc",
        "zoom_client_id": "client",
        "zoom_client_secret": "client-secret-0123456789",
        "zoom_hosts": ("host1@rdv.example",),
    },
}


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.mark.parametrize(
    ("name", "hosts"),
    [
        ("zoom", ("zoom.us", "*.zoom.us")),
        ("jitsi", ("8x8.vc", "*.8x8.vc", "8x8.com", "*.8x8.com", "jitsi.net", "*.jitsi.net")),
        ("bigbluebutton", ("bbb.example.org",)),
        ("livekit", (BUCKET,)),
        ("janus", ()),
    ],
)
async def test_every_provider_declares_where_it_keeps_recordings(
    name: str,
    hosts: tuple[str, ...],
    make_settings: Callable[..., Settings],
    http: aiohttp.ClientSession,
) -> None:
    registry = ProviderRegistry(make_settings(**CONFIGURED[name]), http, Metrics())
    provider = registry.get(name)  # measured, as the app builds it
    assert provider.recording_hosts == hosts
    assert bool(hosts) == provider.can_record


async def test_livekit_keeps_no_recordings_of_its_own_until_its_storage_is_named(
    make_settings: Callable[..., Settings], http: aiohttp.ClientSession
) -> None:
    unnamed = {**CONFIGURED["livekit"], "livekit_recording_hosts": ()}
    provider = ProviderRegistry(make_settings(**unnamed), http).get("livekit")
    with pytest.raises(ReplayRefused, match=f"{BUCKET} is not one of livekit's recording hosts"):
        provider_link(f"https://{BUCKET}/b2b-01.mp4", provider.recording_hosts, "livekit")
    from_environment = load_settings(
        {"RDV_LIVEKIT_RECORDING_HOSTS": f" {BUCKET}, *.storage.example.org "}
    )
    assert from_environment.livekit_recording_hosts == (BUCKET, "*.storage.example.org")


def test_a_host_matches_by_name_or_under_a_wildcard_and_nothing_that_merely_looks_alike() -> None:
    zoom = ("zoom.us", "*.zoom.us")
    for host in ("zoom.us", "us02web.zoom.us", "A.B.Zoom.US", "zoom.us."):
        assert on_hosts(host, zoom), host
    for host in ("evilzoom.us", "zoom.us.example.net", "zoom.usx", "us", ""):
        assert not on_hosts(host, zoom), host
    assert JAAS_HOSTS == ("8x8.vc", "*.8x8.vc", "8x8.com", "*.8x8.com", "jitsi.net", "*.jitsi.net")
    assert on_hosts("recordings.8x8.vc", JAAS_HOSTS)
    assert not on_hosts("recordings.8x8.vc.example.net", JAAS_HOSTS)
    assert not on_hosts("anything.example", ())


def test_a_provider_link_keeps_its_query_and_is_refused_for_the_reasons_of_a_manual_link() -> None:
    share = "https://us02web.zoom.us/rec/share/Xy7.z?pwd=a%2Fb"
    assert provider_link(share, ("*.zoom.us",), "zoom") == share
    for link, reason in [
        ("http://us02web.zoom.us/rec/share/x", "only https://"),
        ("https://me:pw@us02web.zoom.us/rec/share/x", "user name or password"),
        ("https://zoom.us.example.net/rec/share/x", "zoom.us.example.net is not one of zoom's"),
    ]:
        with pytest.raises(ReplayRefused, match=reason):
            provider_link(link, ("zoom.us", "*.zoom.us"), "zoom")
