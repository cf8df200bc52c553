"""The authorisation matrix: every API route against every kind of credential, and every
personal link against the ways it can be misused. Each table states the expected answer of each
cell; a route added to the OpenAPI document without a row here fails the first test."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from sqlalchemy import select
from support.deliveries import JITSI_SECRET, headers
from support.service import TEST_SECRET, Api, ManualClock, small_program
from support.signin import login_path

from orchestrator.api.openapi import document
from orchestrator.db import models as m
from orchestrator.tokens import derive_key

PATHS = document()["paths"]
SLUG = "meet-the-buyers"
CREDENTIALS = (
    "none",
    "expired",
    "bad-signature",
    "alg-none",
    "other-event",
    "followup",
    "organiser",
)
OK = 200
# (method, path): answers for none, expired, bad signature, alg none, another event's
# organiser, followup, organiser — in that order.
MATRIX: dict[tuple[str, str], tuple[int, ...]] = {
    ("GET", "/api/v1/events/{slug}"): (401, 401, 401, 401, 403, 200, 200),
    ("PUT", "/api/v1/events/{slug}/program"): (401, 401, 401, 401, 403, 403, 200),
    ("GET", "/api/v1/events/{slug}/mail"): (401, 401, 401, 401, 403, 200, 200),
    ("GET", "/api/v1/events/{slug}/audit"): (401, 401, 401, 401, 403, 200, 200),
    ("GET", "/api/v1/events/{slug}/attendance"): (401, 401, 401, 401, 403, 200, 200),
    ("GET", "/api/v1/events/{slug}/report"): (401, 401, 401, 401, 403, 200, 200),
    ("GET", "/api/v1/events/{slug}/outcomes"): (401, 401, 401, 401, 403, 200, 200),
    ("GET", "/api/v1/events/{slug}/replays"): (401, 401, 401, 401, 403, 200, 200),
    ("POST", "/api/v1/events/{slug}/sessions/{key}/replays"): (401, 401, 401, 401, 403, 403, 201),
    ("GET", "/api/v1/events/{slug}/rooms"): (401, 401, 401, 401, 403, 200, 200),
    ("PATCH", "/api/v1/events/{slug}/sessions/{key}"): (401, 401, 401, 401, 403, 403, 200),
    ("DELETE", "/api/v1/events/{slug}/sessions/{key}"): (401, 401, 401, 401, 403, 403, 200),
    ("POST", "/api/v1/events/{slug}/schedule"): (401, 401, 401, 401, 403, 403, 200),
    # The organiser's token gets through; the plenary is over by then, so the answer is refused.
    ("PUT", "/api/v1/events/{slug}/sessions/{key}/attendees/{person}/answer"): (
        401,
        401,
        401,
        401,
        403,
        403,
        422,
    ),
    # Outbound webhooks are for organisers only (a receiver's address may hold credentials);
    # no subscription or delivery 1 exists, so the organiser's token meets a 404 there.
    ("POST", "/api/v1/events/{slug}/webhooks"): (401, 401, 401, 401, 403, 403, 201),
    ("GET", "/api/v1/events/{slug}/webhooks"): (401, 401, 401, 401, 403, 403, 200),
    ("DELETE", "/api/v1/events/{slug}/webhooks/{id}"): (401, 401, 401, 401, 403, 403, 404),
    ("POST", "/api/v1/events/{slug}/webhooks/deliveries/{delivery}/resend"): (
        401,
        401,
        401,
        401,
        403,
        403,
        404,
    ),
    ("GET", "/api/v1/openapi.json"): (200, 200, 200, 200, 200, 200, 200),
}
BODIES: dict[str, Any] = {
    "/api/v1/events/{slug}/program": small_program(),
    "/api/v1/events/{slug}/sessions/{key}/replays": {
        "url": "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
    },
    "/api/v1/events/{slug}/sessions/{key}": {"title": "Renamed"},
    "/api/v1/events/{slug}/sessions/{key}/attendees/{person}/answer": {"answer": "declined"},
    "/api/v1/events/{slug}/webhooks": {"url": "https://crm.example/hooks/rdv"},
}


def _claims(clock: ManualClock, **extra: Any) -> dict[str, Any]:
    now = int(clock.now().timestamp())
    return {
        "iss": "rdv-orchestrator",
        "aud": "rdv-api",
        "role": "organiser",
        "event": SLUG,
        "iat": now,
        "exp": now + 3600,
        **extra,
    }


def authorization(kind: str, clock: ManualClock, token: Callable[..., str]) -> dict[str, str]:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    bearer = {
        "none": None,
        "expired": jwt.encode(
            _claims(clock, exp=int(clock.now().timestamp()) - 1),
            derive_key(TEST_SECRET, "api"),
            algorithm="HS256",
        ),
        "bad-signature": jwt.encode(_claims(clock), "x" * 40, algorithm="HS256"),
        "alg-none": f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(_claims(clock))}.",
        "other-event": token("another-event"),
        "followup": token(SLUG, "followup"),
        "organiser": token(SLUG),
    }[kind]
    return {"Authorization": f"Bearer {bearer}"} if bearer else {}


def test_every_api_route_has_a_row_in_the_matrix() -> None:
    documented = {(method.upper(), path) for path, item in PATHS.items() for method in item}
    assert documented == set(MATRIX)


@pytest.mark.parametrize(("method", "path"), sorted(MATRIX))
@pytest.mark.parametrize("kind", CREDENTIALS)
async def test_each_route_answers_each_credential_as_the_matrix_says(
    api: Api, clock: ManualClock, token: Callable[..., str], method: str, path: str, kind: str
) -> None:
    await api.import_ok(small_program())
    clock.set(datetime(2021, 4, 8, 12, 0, tzinfo=UTC))  # the plenary is over: replays allowed
    expected = MATRIX[(method, path)][CREDENTIALS.index(kind)]
    url = path.replace("{slug}", SLUG).replace("{key}", "plenary").replace("{person}", "chloe")
    url = url.replace("{id}", "1").replace("{delivery}", "1")
    response = await api.client.request(
        method, url, json=BODIES.get(path), headers=authorization(kind, clock, token)
    )
    assert response.status == expected, await response.text()
    if expected in (401, 403):
        assert (await response.json())["error"]["code"] in ("unauthorized", "forbidden")


@pytest.fixture
async def links(api: Api, db: Any) -> dict[str, str]:
    """Personal tokens of the small event after Chloé was taken out of m1 and m2 was
    cancelled."""
    await api.import_ok(small_program())
    await api.patch(SLUG, "m1", {"attendees": ["dan", "ana"]})
    await api.delete(SLUG, "m2")
    async with db() as session:
        rows = (
            await session.execute(
                select(m.Person.key, m.Session.key, m.Attendee.token, m.Person.feed_token)
                .join(m.Attendee, m.Attendee.person_id == m.Person.id)
                .join(m.Session, m.Session.id == m.Attendee.session_id)
            )
        ).all()
    found = {f"{person}:{session}": token for person, session, token, _ in rows}
    found.update({f"feed:{person}": feed for person, _, _, feed in rows})
    return found


# What a personal link answers (inside the window of m1, 10:25 in Paris): the person's own,
# another person's (a forwarded link opens the other person's seat: that is what a link is),
# a removed attendee's, a cancelled session's, a guessed one.
LINKS = [
    ("/j/{ana:m1}", 302),
    ("/j/{dan:m1}", 302),
    ("/j/{chloe:m1}", 404),
    ("/j/{eve:m2}", 410),
    ("/j/AAAAAAAAAAAAAAAAAAAAAAAA", 404),
    ("/calendar/{feed:ana}.ics", 200),
    ("/calendar/AAAAAAAAAAAAAAAAAAAAAAAA.ics", 404),
    ("/me/{feed:ana}", 200),
    ("/me/AAAAAAAAAAAAAAAAAAAAAAAA", 404),
    ("/room/{ana:m1}", 404),  # not a Janus room: the page is for Janus seats only
]


@pytest.mark.parametrize(("pattern", "expected"), LINKS)
async def test_each_personal_link_answers_as_the_table_says(
    api: Api, links: dict[str, str], clock: ManualClock, pattern: str, expected: int
) -> None:
    clock.set(datetime(2021, 4, 8, 8, 25, tzinfo=UTC))
    path = pattern
    for name, value in links.items():
        path = path.replace("{" + name + "}", value)
    response = await api.client.get(path, allow_redirects=False)
    assert response.status == expected


async def test_a_removed_persons_feed_and_agenda_stop_working(
    api: Api, links: dict[str, str]
) -> None:
    program = small_program()
    program["people"] = [p for p in program["people"] if p["key"] != "eve"]
    program["sessions"] = [s for s in program["sessions"] if s["key"] != "m2"]
    await api.import_ok(program)
    assert (await api.client.get(f"/calendar/{links['feed:eve']}.ics")).status == 404
    assert (await api.client.get(f"/me/{links['feed:eve']}")).status == 404


# What a sign-in link answers to its page being fetched (GET) and to its button (POST).
LOGIN = [("fresh", 200, 303), ("used", 404, 404), ("expired", 404, 404), ("guessed", 404, 404)]


@pytest.mark.parametrize(("case", "page", "button"), LOGIN)
async def test_each_login_link_answers_as_the_table_says(
    api: Api, db: Any, clock: ManualClock, case: str, page: int, button: int
) -> None:
    await api.import_ok(small_program())
    path = await login_path(db, clock, SLUG, base_url="https://rdv.test")
    if case == "used":
        assert (await api.client.post(path, allow_redirects=False)).status == 303
    elif case == "expired":
        clock.advance(timedelta(minutes=16))
    elif case == "guessed":
        path = "/login/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    assert (await api.client.get(path, allow_redirects=False)).status == page
    assert (await api.client.post(path, allow_redirects=False)).status == button


CHANGES = sorted(route for route in MATRIX if route[0] != "GET")


@pytest.mark.parametrize(("method", "path"), CHANGES)
async def test_a_page_on_another_site_cannot_change_anything_even_holding_a_token(
    api: Api, clock: ManualClock, token: Callable[..., str], method: str, path: str
) -> None:
    """A script (curl, no browser headers) with an organiser's token changes things, and so does
    a page of the service's own; a page elsewhere that got hold of a token does not."""
    await api.import_ok(small_program())
    clock.set(datetime(2021, 4, 8, 12, 0, tzinfo=UTC))
    url = path.replace("{slug}", SLUG).replace("{key}", "plenary").replace("{person}", "chloe")
    bearer = authorization("organiser", clock, token)
    elsewhere = {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}
    refused = await api.client.request(
        method, url, json=BODIES.get(path), headers=bearer | elsewhere
    )
    assert refused.status == 403
    error = (await refused.json())["error"]
    assert error["code"] == "forbidden"
    assert "another site" in error["message"]

    ours = {"Sec-Fetch-Site": "same-origin", "Origin": "https://rdv.test"}
    allowed = await api.client.request(method, url, json=BODIES.get(path), headers=bearer | ours)
    assert allowed.status == MATRIX[(method, path)][-1], await allowed.text()


async def test_a_providers_webhook_is_heard_whatever_origin_its_client_claims(
    make_api: Callable[..., Any],
) -> None:
    """Deliveries carry the provider's signature, not a cookie: the cross-site check leaves the
    webhook door alone."""
    jitsi = await make_api(jitsi_webhook_secret=JITSI_SECRET)
    response = await jitsi.client.post(
        "/webhooks/jitsi",
        data=b"{}",
        headers={**headers(), "Origin": "https://meet.example.org", "Sec-Fetch-Site": "cross-site"},
    )
    assert response.status == 200
