"""`/metrics` in the Prometheus format: webhooks accepted and refused, the outbox and the rooms by
state, provider calls, event delays."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from support.deliveries import JITSI_SECRET, headers, occupant, seat
from support.service import Api, ManualClock, small_program

from orchestrator import appkeys

M1_START = datetime(2021, 4, 8, 8, 30, tzinfo=UTC)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_metrics_count_what_the_service_did(
    make_api: Callable[..., Any], clock: ManualClock, db: Any
) -> None:
    api: Api = await make_api(jitsi_webhook_secret=JITSI_SECRET)
    await api.import_ok(small_program())
    clock.set(M1_START - timedelta(minutes=20))
    await api.client.app[appkeys.LIFECYCLE].reconcile()
    room, seat_id, _ = await seat(db, "ana", "m1")
    clock.set(M1_START)
    ok = await api.client.post(
        "/webhooks/jitsi",
        headers=headers(),
        data=occupant("joined", room, seat_id, "Ana", M1_START),
    )
    assert ok.status == 200
    forged = await api.client.post(
        "/webhooks/jitsi", data=b"{}", headers={"Authorization": "Bearer wrong-secret"}
    )
    assert forged.status == 401

    planned = samples(await (await api.client.get("/metrics")).text())
    assert planned[("rdv_outbox_plans", ())] == 1  # the import's, not yet turned into messages
    await api.plan_mail()
    response = await api.client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    found = samples(await response.text())
    assert found[("rdv_webhooks_total", (("outcome", "accepted"), ("provider", "jitsi")))] == 1
    assert found[("rdv_webhooks_total", (("outcome", "rejected"), ("provider", "jitsi")))] == 1
    assert found[("rdv_rooms", (("state", "live"),))] == 1
    assert found[("rdv_rooms", (("state", "ready"),))] == 1
    assert found[("rdv_outbox_messages", (("state", "pending"),))] == 12
    assert (
        found[("rdv_provider_call_seconds_count", (("call", "create"), ("provider", "jitsi")))] == 2
    )
    assert found[("rdv_webhook_event_delay_seconds_count", (("provider", "jitsi"),))] == 1
    assert found[("rdv_dashboard_streams", ())] == 0
