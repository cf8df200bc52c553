"""Attendance is personal data: raw deliveries go after the retention period, and one person can
be erased while the event's figures stay what they were."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from support.deliveries import JITSI_SECRET, headers, occupant, seat
from support.service import TEST_SECRET, Api, ManualClock, small_program

from orchestrator import appkeys
from orchestrator.attendance.retention import purge_raw
from orchestrator.db import models as m
from orchestrator.db.attendance import ProviderEventRow, WebhookDelivery
from orchestrator.db.base import holds
from orchestrator.db.mail import MailMessage
from orchestrator.participants.erasure import forget, readd

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
        done = await forget(
            session, slug=SLUG, email="chloe@acme.example", now=clock.now(), secret=TEST_SECRET
        )
    assert done is not None
    async with db() as session:
        person = await session.scalar(select(m.Person).where(m.Person.erased_at.is_not(None)))
        named = await session.scalar(
            select(func.count()).where(holds(WebhookDelivery.body, b"Chlo"))
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
    assert person.key == f"erased-{person.id}"  # a key like "chloe" names them too
    assert named == 0
    assert events
    assert set(events) == {None}


# -- erasure holds: nothing names them, nothing reaches them, nothing brings them back ------------
async def erase_chloe(db: Any, clock: ManualClock) -> None:
    async with db() as session, session.begin():
        done = await forget(
            session, slug=SLUG, email="chloe@acme.example", now=clock.now(), secret=TEST_SECRET
        )
    assert done is not None


async def links_of(db: Any, key: str) -> list[str]:
    async with db() as session:
        person = await session.scalar(select(m.Person).where(m.Person.key == key))
        assert person is not None
        tokens = (
            await session.scalars(select(m.Attendee.token).where(m.Attendee.person_id == person.id))
        ).all()
    return [f"/j/{token}" for token in tokens] + [
        f"/me/{person.feed_token}",
        f"/calendar/{person.feed_token}.ics",
    ]


def readable(body: bytes) -> str:
    """A stored message as its reader sees it: headers and every text part, decoded."""
    message = message_from_bytes(body, policy=policy.default)
    parts = [str(message.get("To", ""))]
    for part in message.walk():
        if part.get_content_maintype() == "text":
            parts.append(part.get_content())
    return "\n".join(parts)


async def test_the_invites_sent_to_others_no_longer_name_the_erased_person(
    met: Api, db: Any, clock: ManualClock
) -> None:
    """Ana's invite to meet Chloé listed Chloé's name and address: it is stored no more."""
    assert met.client.app is not None
    await met.client.app[appkeys.OUTBOX].deliver_due()
    async with db() as session:
        anas = (
            await session.scalars(
                select(MailMessage.body).where(MailMessage.recipient == "ana@water.example")
            )
        ).all()
    assert any("chloe@acme.example" in readable(body) for body in anas if body)

    await erase_chloe(db, clock)

    async with db() as session:
        bodies = (await session.scalars(select(MailMessage.body))).all()
    texts = [readable(body) for body in bodies]
    assert not [text for text in texts if "chloe@acme.example" in text or "Chloé" in text]


async def test_the_erased_persons_links_no_longer_open_anything(
    met: Api, db: Any, clock: ManualClock
) -> None:
    links = await links_of(db, "chloe")
    for link in links:
        assert (await met.client.get(link, allow_redirects=False)).status != 404, link

    await erase_chloe(db, clock)

    for link in links:
        assert (await met.client.get(link, allow_redirects=False)).status == 404, link


async def test_nothing_is_sent_to_an_erased_person_and_nobody_is_told_of_them(
    met: Api, db: Any, clock: ManualClock
) -> None:
    await erase_chloe(db, clock)
    clock.set(M1_START - timedelta(days=1))  # the day before: their meeting is still to come
    await met.plan_mail()
    async with db() as session:
        before = set((await session.scalars(select(MailMessage.id))).all())

    moved = await met.patch(SLUG, "m1", {"title": "Acme × Water, moved"})
    assert moved.status == 200
    assert met.client.app is not None
    await met.client.app[appkeys.OUTBOX].deliver_due()

    async with db() as session:
        queued = (
            await session.scalars(select(MailMessage).where(MailMessage.id.not_in(before)))
        ).all()
    assert [message.recipient for message in queued] == ["ana@water.example"]
    assert queued[0].status == "sent"
    assert queued[0].body is not None
    assert "Chloé" not in readable(queued[0].body)
    assert "erased" not in readable(queued[0].body)


async def test_an_invite_queued_before_the_erasure_goes_out_without_the_erased_person(
    met: Api, db: Any, clock: ManualClock
) -> None:
    """Ana's invite to meet Chloé was still waiting when Chloé was erased: it goes out as the
    meeting stands now, naming nobody erased."""
    await met.plan_mail()
    async with db() as session:
        waiting = (
            await session.scalars(
                select(MailMessage).where(MailMessage.recipient == "ana@water.example")
            )
        ).all()
    assert waiting
    assert {message.status for message in waiting} == {"pending"}

    await erase_chloe(db, clock)
    assert met.client.app is not None
    await met.client.app[appkeys.OUTBOX].deliver_due()

    async with db() as session:
        anas = (
            await session.scalars(
                select(MailMessage).where(MailMessage.id.in_([m.id for m in waiting]))
            )
        ).all()
    assert {message.status for message in anas} == {"sent"}
    for message in anas:
        assert message.body is not None
        text = readable(message.body)
        assert "Ana Lopez" in text
        assert "Chloé" not in text
        assert "chloe@acme.example" not in text


async def test_an_import_that_names_an_erased_person_is_refused_until_an_organiser_readds_them(
    met: Api, db: Any, clock: ManualClock
) -> None:
    await erase_chloe(db, clock)
    clock.set(M1_START - timedelta(days=1))  # the day before: their meeting is still to come
    await met.plan_mail()
    async with db() as session:
        before = set((await session.scalars(select(MailMessage.id))).all())

    refused = await met.put_program(small_program())

    assert refused.status == 422
    [problem] = (await refused.json())["error"]["details"]
    assert problem["place"] == "people[2].email"
    assert problem["message"].startswith(
        '"chloe@acme.example" was erased from this event on 2021-04-08 (rdv forget)'
    )
    assert "rdv readd chloe@acme.example --event meet-the-buyers" in problem["message"]
    async with db() as session:
        assert set((await session.scalars(select(MailMessage.id))).all()) == before
        assert await session.scalar(select(m.Person).where(m.Person.key == "chloe")) is None

    async with db() as session, session.begin():
        assert await readd(session, slug=SLUG, email="CHLOE@acme.example ", secret=TEST_SECRET)
    await met.import_ok(small_program())
    await met.plan_mail()

    async with db() as session:
        back = await session.scalar(select(m.Person).where(m.Person.key == "chloe"))
        invited = (
            await session.scalars(
                select(MailMessage.kind).where(
                    MailMessage.recipient == "chloe@acme.example", MailMessage.id.not_in(before)
                )
            )
        ).all()
    assert back is not None
    assert back.erased_at is None
    assert "invitation" in invited
