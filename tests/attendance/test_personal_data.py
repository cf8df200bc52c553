"""Attendance is personal data: raw deliveries go after the retention period, and one person can
be erased while the event's figures stay what they were."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from support.deliveries import JITSI_SECRET, headers, occupant, seat
from support.service import TEST_SECRET, Api, ManualClock, small_program

from orchestrator import appkeys
from orchestrator.attendance.retention import forget, purge_raw
from orchestrator.db import models as m
from orchestrator.db.attendance import ProviderEventRow, WebhookDelivery

SLUG = "meet-the-buyers"
M1_START = datetime(2021, 4, 8, 8, 30, tzinfo=UTC)


@pytest.fixture
async def met(make_api: Callable[..., Any], clock: ManualClock, db: Any) -> Api:
    """Chloé and Ana met in m1; Eve and Ben in m2."""
    api: Api = await make_api(jitsi_webhook_secret=JITSI_SECRET)
    await api.import_ok(small_program())
    clock.set(M1_START - timedelta(minutes=20))
    await api.client.app[appkeys.LIFECYCLE].reconcile()
    for person, session, name, email in (
        ("chloe", "m1", "Chloé Martin", "chloe@acme.example"),
        ("ana", "m1", "Ana Lopez", "ana@water.example"),
        ("eve", "m2", "Eve Durand", "eve@globex.example"),
        ("ben", "m2", "Ben Okafor", "ben@roads.example"),
    ):
        room, seat_id, _ = await seat(db, person, session)
        for verb, at in (("joined", M1_START), ("left", M1_START + timedelta(minutes=30))):
            response = await api.client.post(
                "/webhooks/jitsi",
                headers=headers(),
                data=occupant(verb, room, seat_id, name, at, email=email),
            )
            assert response.status == 200
    clock.set(M1_START + timedelta(hours=3))
    return api


async def test_raw_deliveries_are_emptied_after_the_retention_and_the_log_is_unchanged(
    met: Api, db: Any, clock: ManualClock
) -> None:
    before = await (
        await met.client.get(f"/api/v1/events/{SLUG}/attendance", headers=met.headers(SLUG))
    ).json()
    async with db() as session, session.begin():
        assert await purge_raw(session, now=clock.now(), retention=timedelta(days=30)) == 0
    async with db() as session, session.begin():
        purged = await purge_raw(
            session, now=clock.now() + timedelta(days=31), retention=timedelta(days=30)
        )
    assert purged == 8
    async with db() as session:
        bodies = (await session.scalars(select(WebhookDelivery.body))).all()
    assert set(bodies) == {b""}
    after = await (
        await met.client.get(f"/api/v1/events/{SLUG}/attendance", headers=met.headers(SLUG))
    ).json()
    assert after == before


def test_forgetting_someone_erases_them_and_keeps_the_figures(
    met: Api, database_url: str, tmp_path: Path, db: Any
) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("RDV_")},
        "RDV_DATABASE_URL": database_url,
        "RDV_SECRET_KEY": TEST_SECRET,
    }

    def rdv(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "orchestrator", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    report_before = rdv("report", SLUG)
    assert report_before.returncode == 0, report_before.stderr
    done = rdv("forget", "Chloe@Acme.example", "--event", SLUG)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("erased chloe:")

    assert rdv("report", SLUG).stdout == report_before.stdout
    csv = rdv("attendance", SLUG).stdout
    assert "Chloé" not in csv
    assert "chloe@acme.example" not in csv
    assert "(erased)" in csv
    assert rdv("forget", "nobody@example.org", "--event", SLUG).returncode == 2


async def test_after_forget_nothing_stored_names_the_person(
    met: Api, db: Any, clock: ManualClock
) -> None:
    async with db() as session, session.begin():
        done = await forget(session, slug=SLUG, email="chloe@acme.example", now=clock.now())
    assert done is not None
    async with db() as session:
        person = await session.scalar(select(m.Person).where(m.Person.key == "chloe"))
        named = await session.scalar(
            select(func.count()).where(WebhookDelivery.body.contains(b"Chlo"))
        )
        events = (
            await session.scalars(
                select(ProviderEventRow.participant_name).where(
                    ProviderEventRow.participant_email.like("erased-%")
                )
            )
        ).all()
    assert person is not None
    assert (person.name, person.email.startswith("erased-")) == ("(erased)", True)
    assert named == 0
    assert events
    assert set(events) == {None}
