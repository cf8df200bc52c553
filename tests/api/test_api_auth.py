"""Only the right bearer token reaches an event: 401 without a valid one, 403 for the wrong event
or for a followup token that tries to write."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import jwt
import pytest
from aiohttp.test_utils import TestClient
from support.service import TEST_SECRET, Api, ManualClock, small_program

from orchestrator.tokens import derive_key

SLUG = "meet-the-buyers"
WRITES = [
    ("PUT", f"/api/v1/events/{SLUG}/program", small_program()),
    ("PATCH", f"/api/v1/events/{SLUG}/sessions/m1", {"title": "Renamed"}),
    ("DELETE", f"/api/v1/events/{SLUG}/sessions/m1", None),
]
READS = [("GET", f"/api/v1/events/{SLUG}", None)]


def _unsigned(claims: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def _claims(clock: ManualClock, **extra: Any) -> dict[str, Any]:
    now = int(clock.now().timestamp())
    claims = {
        "iss": "rdv-orchestrator",
        "aud": "rdv-api",
        "role": "organiser",
        "event": SLUG,
        "iat": now,
        "exp": now + 3600,
    }
    claims.update(extra)
    return claims


@pytest.fixture
async def event(api: Api) -> None:
    await api.import_ok(small_program())


async def _call(
    client: TestClient[Any, Any], method: str, path: str, body: Any, headers: dict[str, str]
) -> tuple[int, dict[str, Any]]:
    response = await client.request(method, path, json=body, headers=headers)
    return response.status, await response.json()


@pytest.mark.parametrize(("method", "path", "body"), WRITES + READS)
@pytest.mark.parametrize(
    ("case", "make_header"),
    [
        ("no token", lambda clock, token: {}),
        ("not bearer", lambda clock, token: {"Authorization": f"Basic {token(SLUG)}"}),
        ("garbage", lambda clock, token: {"Authorization": "Bearer not-a-jwt"}),
        (
            "bad signature",
            lambda clock, token: {
                "Authorization": "Bearer "
                + jwt.encode(_claims(clock), "another-secret-entirely-" * 2, algorithm="HS256")
            },
        ),
        ("alg none", lambda clock, token: {"Authorization": "Bearer " + _unsigned(_claims(clock))}),
        (
            "expired",
            lambda clock, token: {
                "Authorization": f"Bearer {token(SLUG, ttl=timedelta(seconds=1))}"
            },
        ),
        (
            "signed with the raw secret, not the API key",
            lambda clock, token: {
                "Authorization": "Bearer "
                + jwt.encode(_claims(clock), TEST_SECRET, algorithm="HS256")
            },
        ),
        (
            "no expiry",
            lambda clock, token: {
                "Authorization": "Bearer "
                + jwt.encode(
                    {k: v for k, v in _claims(clock).items() if k != "exp"},
                    derive_key(TEST_SECRET, "api"),
                    algorithm="HS256",
                )
            },
        ),
        (
            "signed, expiring after the end of the calendar",
            lambda clock, token: {
                "Authorization": "Bearer "
                + jwt.encode(
                    _claims(clock, exp=10**20), derive_key(TEST_SECRET, "api"), algorithm="HS256"
                )
            },
        ),
        (
            "signed, expiring before the start of the calendar",
            lambda clock, token: {
                "Authorization": "Bearer "
                + jwt.encode(
                    _claims(clock, exp=-(10**20)), derive_key(TEST_SECRET, "api"), algorithm="HS256"
                )
            },
        ),
        (
            "unknown role",
            lambda clock, token: {
                "Authorization": "Bearer "
                + jwt.encode(
                    _claims(clock, role="admin"), derive_key(TEST_SECRET, "api"), algorithm="HS256"
                )
            },
        ),
    ],
)
async def test_requests_without_a_valid_token_get_401(
    event: None,
    client: TestClient[Any, Any],
    clock: ManualClock,
    token: Callable[..., str],
    method: str,
    path: str,
    body: Any,
    case: str,
    make_header: Callable[..., dict[str, str]],
) -> None:
    headers = make_header(clock, token)
    clock.advance(timedelta(seconds=2))  # lets the one-second token expire
    status, answer = await _call(client, method, path, body, headers)
    assert status == 401, (case, answer)
    assert answer["error"]["code"] == "unauthorized"
    assert "token" in answer["error"]["message"]


@pytest.mark.parametrize(("method", "path", "body"), WRITES + READS)
async def test_another_events_organiser_gets_403(
    event: None,
    client: TestClient[Any, Any],
    token: Callable[..., str],
    method: str,
    path: str,
    body: Any,
) -> None:
    status, answer = await _call(
        client, method, path, body, {"Authorization": f"Bearer {token('another-event')}"}
    )
    assert status == 403
    assert "another event" in answer["error"]["message"]


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
async def test_a_followup_token_cannot_write(
    event: None,
    client: TestClient[Any, Any],
    token: Callable[..., str],
    method: str,
    path: str,
    body: Any,
) -> None:
    status, answer = await _call(
        client, method, path, body, {"Authorization": f"Bearer {token(SLUG, 'followup')}"}
    )
    assert status == 403
    assert answer["error"]["message"] == "a followup token can only read"


async def test_a_followup_token_reads_the_event(event: None, api: Api) -> None:
    body = await api.get_event(SLUG, role="followup")
    assert body["slug"] == SLUG


async def test_a_token_expires_on_the_services_clock(
    event: None,
    api: Api,
    client: TestClient[Any, Any],
    clock: ManualClock,
    token: Callable[..., str],
) -> None:
    headers = {"Authorization": f"Bearer {token(SLUG, ttl=timedelta(hours=1))}"}
    assert (await client.get(f"/api/v1/events/{SLUG}", headers=headers)).status == 200
    clock.advance(timedelta(hours=1, seconds=1))
    response = await client.get(f"/api/v1/events/{SLUG}", headers=headers)
    assert response.status == 401
    assert (await response.json())["error"]["message"] == "the token has expired"
