"""Personal and sign-in links have a rate limit no real event reaches: a link opened more than 60
times in a minute, or more than 600 requests for links from one address (a guesser), are refused
with 429, Retry-After and a page a person can read, counted in /metrics; everybody else, and the
same link a moment later, gets through."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from aiohttp.test_utils import make_mocked_request
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select
from support.service import Api, ManualClock, small_program
from support.signin import login_path

from orchestrator.api.ratelimit import Limits, Windows, client_address
from orchestrator.db import models as m

SLUG = "meet-the-buyers"
LIMITS = Limits()


def refused_count(metrics: str, route: str) -> float:
    for family in text_string_to_metric_families(metrics):
        for sample in family.samples:
            if sample.name == "rdv_rate_limited_total" and sample.labels["route"] == route:
                return sample.value
    return 0.0


@pytest.fixture
async def feeds(api: Api, db: Any) -> dict[str, str]:
    """The small event's people's feed tokens (their agenda and calendar links), by person."""
    await api.import_ok(small_program())
    async with db() as session:
        rows = (await session.execute(select(m.Person.key, m.Person.feed_token))).all()
    return dict(rows)


async def test_an_agenda_reloaded_in_a_loop_is_refused_for_a_moment_and_counted(
    api: Api, feeds: dict[str, str], clock: ManualClock
) -> None:
    agenda = f"/me/{feeds['ana']}"
    for _ in range(LIMITS.per_link):
        assert (await api.client.get(agenda)).status == 200
    refused = await api.client.get(agenda, headers={"Accept-Language": "fr-CH, en;q=0.5"})
    assert refused.status == 429
    wait = int(refused.headers["Retry-After"])
    assert 0 < wait <= LIMITS.window + 1  # this minute's burst slides out of the next one
    page = await refused.text()
    assert '<html lang="fr">' in page
    assert f"Attendez {wait} secondes" in page
    assert (await api.client.get(f"/me/{feeds['ben']}")).status == 200  # another link
    metrics = await (await api.client.get("/metrics")).text()
    assert refused_count(metrics, "/me/{token}") == 1

    clock.advance(timedelta(seconds=wait))
    assert (await api.client.get(agenda)).status == 200


async def test_a_calendar_polled_too_often_gets_a_plain_429(
    api: Api, feeds: dict[str, str]
) -> None:
    calendar = f"/calendar/{feeds['eve']}.ics"
    for _ in range(LIMITS.per_link):
        assert (await api.client.get(calendar)).status == 200
    refused = await api.client.get(calendar)
    assert refused.status == 429
    assert refused.headers["Content-Type"].startswith("text/plain")
    assert "Retry-After" in refused.headers


async def test_a_sign_in_link_is_limited_too(
    api: Api, feeds: dict[str, str], db: Any, clock: ManualClock
) -> None:
    path = await login_path(db, clock, SLUG)
    for _ in range(LIMITS.per_link):
        assert (await api.client.get(path)).status == 200
    assert (await api.client.post(path, allow_redirects=False)).status == 429
    metrics = await (await api.client.get("/metrics")).text()
    assert refused_count(metrics, "/login/{token}") == 1


async def test_one_address_guessing_links_is_stopped_and_others_are_not(
    api: Api, feeds: dict[str, str]
) -> None:
    """Behind the README's proxy, each client is the address the proxy forwards."""
    guesser = {"X-Forwarded-For": "203.0.113.7"}
    for n in range(LIMITS.per_address):
        guessed = await api.client.get(f"/j/guess-{n:04d}", headers=guesser)
        assert guessed.status == 404
    refused = await api.client.get("/j/guess-9999", headers=guesser)
    assert refused.status == 429
    assert (await api.client.get(f"/me/{feeds['ana']}", headers=guesser)).status == 429
    neighbour = await api.client.get(
        f"/me/{feeds['ana']}", headers={"X-Forwarded-For": "198.51.100.20"}
    )
    assert neighbour.status == 200


@pytest.mark.parametrize(
    ("peer", "forwarded", "counted_as"),
    [
        ("127.0.0.1", "203.0.113.7", "203.0.113.7"),  # the TLS proxy on this host
        ("172.18.0.1", "198.51.100.1, 203.0.113.7", "203.0.113.7"),  # Docker's bridge: its hop
        ("8.8.4.4", "10.0.0.1", "8.8.4.4"),  # a client on the internet cannot pick
        ("2001:db8:1:2:3:4:5:6", "", "2001:db8:1:2::/64"),  # one host holds a whole /64
        ("127.0.0.1", "not an address", "127.0.0.1"),
    ],
)
def test_a_client_is_counted_by_the_address_it_can_vouch_for(
    peer: str, forwarded: str, counted_as: str
) -> None:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    transport = mock.Mock()
    transport.get_extra_info.return_value = (peer, 443)  # the socket's peer, from the internet
    request = make_mocked_request("GET", "/j/x", headers=headers, transport=transport)
    assert client_address(request) == counted_as


def test_the_window_slides_the_previous_minute_out_instead_of_starting_afresh() -> None:
    """A burst at the end of one minute still weighs at the start of the next: a client does
    not get 60 more requests by straddling a minute, as a fixed window would give it."""
    window = Windows(limit=60, length=60.0)
    window.add("link", 0.0)
    for _ in range(59):
        window.add("link", 59.0)
    assert window.wait("link", 59.5) == pytest.approx(1.5)  # to 60 s, then one request's worth
    assert window.wait("link", 61.0) == 0
    window.add("link", 61.0)
    assert window.wait("link", 61.0) == pytest.approx(1.0)  # one a second, not 59 more


def test_a_clock_set_back_does_not_lock_a_link_out() -> None:
    """The wall clock stepped back (an NTP correction): the minute restarts there, it does not
    make a client wait for the time to catch up."""
    window = Windows(limit=60, length=60.0)
    for _ in range(60):
        window.add("link", 3600.0)
    assert window.wait("link", 3600.0) == pytest.approx(61.0)
    assert window.wait("link", 0.0) <= 61.0
