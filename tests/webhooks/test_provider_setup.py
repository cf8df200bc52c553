"""A provider set up halfway: the operator who gave Zoom its credentials and webhook secret but
no hosts learns at start which setting is missing, and Zoom's URL validation is told the same,
never a secret; providers nobody set up stay quiet."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import pytest
from support.service import ManualClock
from support.webhook_signing import zoom_headers

ZOOM_SECRET = "zoom-webhook-secret-0123456789"
ZOOM_CREDENTIALS = {
    "zoom_account_id": "account-0123",
    "zoom_client_id": "client-id-0123",
    "zoom_client_secret": "zoom-client-secret-0123456789",
}
CHALLENGE = {
    "event": "endpoint.url_validation",
    "payload": {"plainToken": "qgg8vlvZRS6UYooatFL8Aw"},
}


def provider_lines(caplog: pytest.LogCaptureFixture) -> dict[str, str]:
    """The start's lines about providers, by the provider they name."""
    found = {}
    for record in caplog.records:
        message = record.getMessage()
        if message.startswith("provider "):
            found[message.split('"')[1]] = message
    return found


async def validate_url(api: Any, clock: ManualClock) -> tuple[int, dict[str, Any]]:
    body = json.dumps(CHALLENGE).encode()
    headers = zoom_headers(body, ZOOM_SECRET, int(clock.now().timestamp()))
    response = await api.client.post("/webhooks/zoom", data=body, headers=headers)
    return response.status, await response.json()


async def test_zoom_without_its_hosts_says_so_at_start_and_to_its_url_validation(
    make_api: Callable[..., Any], clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="rdv")
    api = await make_api(**ZOOM_CREDENTIALS, zoom_webhook_secret=ZOOM_SECRET)

    lines = provider_lines(caplog)
    assert list(lines) == ["zoom"]  # one line, for the provider set up halfway only
    assert "RDV_ZOOM_HOSTS" in lines["zoom"]
    for name in ("ACCOUNT_ID", "CLIENT_ID", "CLIENT_SECRET", "WEBHOOK_SECRET"):
        assert f"RDV_ZOOM_{name}" not in lines["zoom"]  # set: not what it lacks

    status, answer = await validate_url(api, clock)
    assert status == 404
    assert "RDV_ZOOM_HOSTS" in answer["error"]["message"]
    assert "no webhooks are configured" not in answer["error"]["message"]
    everything = json.dumps(answer) + "\n".join(r.getMessage() for r in caplog.records)
    for secret in (ZOOM_SECRET, ZOOM_CREDENTIALS["zoom_client_secret"]):
        assert secret not in everything


async def test_zoom_without_its_webhook_secret_runs_rooms_but_refuses_deliveries_saying_why(
    make_api: Callable[..., Any], clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="rdv")
    api = await make_api(**ZOOM_CREDENTIALS, zoom_hosts=("host@rdv.example",))
    assert "RDV_ZOOM_WEBHOOK_SECRET" in provider_lines(caplog)["zoom"]
    status, answer = await validate_url(api, clock)
    assert status == 404
    assert "RDV_ZOOM_WEBHOOK_SECRET" in answer["error"]["message"]


async def test_janus_with_half_its_webhook_credentials_names_the_other_half(
    make_api: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="rdv")
    api = await make_api(janus_url="http://janus.test/janus", janus_webhook_user="events")
    line = provider_lines(caplog)["janus"]
    assert "RDV_JANUS_WEBHOOK_PASSWORD" in line
    assert "RDV_JANUS_WEBHOOK_USER" not in line
    response = await api.client.post("/webhooks/janus", json=[])
    assert response.status == 404
    assert "RDV_JANUS_WEBHOOK_PASSWORD" in (await response.json())["error"]["message"]


async def test_an_unknown_provider_is_named_as_unknown(make_api: Callable[..., Any]) -> None:
    api = await make_api()
    response = await api.client.post("/webhooks/webex", json={})
    assert response.status == 404
    assert 'unknown provider "webex"' in (await response.json())["error"]["message"]
