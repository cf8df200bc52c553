"""A session that is over gets no mail: no invitation to a meeting that already took place, no
update when the organiser tidies it afterwards, no cancellation of what is done. The import says
which sessions it left out, so the organiser knows why nobody was invited."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from support.mailsink import MailSink
from support.service import EXAMPLE_DIR, EXAMPLE_SLUG, Api, ManualClock, small_program

from orchestrator.db.mail import MailMessage

# 11:10 in Paris on the day: the plenary (9:00) and m1, m2 (10:30-11:00) are over, m3 (11:00-11:30)
# is under way.
TEN_PAST_ELEVEN = datetime(2021, 4, 8, 9, 10, tzinfo=UTC)


@pytest.fixture
async def service(make_api: Callable[..., Any], sink: MailSink) -> Api:
    api: Api = await make_api(mail_url=sink.url)
    return api


async def send(api: Api) -> None:
    await api.deliver_mail()


def recipients(sink: MailSink) -> list[tuple[str, str]]:
    return sorted((message.recipient, str(message.event["SUMMARY"])) for message in sink.received)


async def test_a_program_imported_late_in_the_day_invites_only_to_what_is_still_to_come(
    service: Api, sink: MailSink, clock: ManualClock
) -> None:
    clock.set(TEN_PAST_ELEVEN)

    changes = await service.import_ok(small_program())
    await send(service)

    # m3 has started but not ended: its link is still worth having.
    assert recipients(sink) == [
        ("ben@roads.example", "Acme × Roads"),
        ("dan@acme.example", "Acme × Roads"),
    ]
    assert changes["sessions"]["created"] == ["plenary", "m1", "m2", "m3"]
    assert changes["sessions"]["over"] == ["m1", "m2", "plenary"]


async def test_tidying_the_program_after_the_fact_sends_nothing_about_what_is_over(
    service: Api, sink: MailSink, clock: ManualClock
) -> None:
    program = small_program()
    await service.import_ok(program)
    await send(service)
    sink.clear()
    clock.set(TEN_PAST_ELEVEN)

    # Eve stood in for Ben at m2, which is over; m1 did not take place; m3 is still on.
    program["sessions"][2]["attendees"] = ["eve", "ana"]
    del program["sessions"][1]
    changes = await service.import_ok(program)
    cancelled = await service.delete("meet-the-buyers", "m3")
    await send(service)

    assert sorted((m.recipient, m.method) for m in sink.received) == [
        ("ben@roads.example", "CANCEL"),
        ("dan@acme.example", "CANCEL"),
    ]
    assert changes["sessions"]["over"] == ["m1", "m2"]
    assert (await cancelled.json())["changes"]["sessions"]["over"] == []


async def test_a_meeting_that_was_missed_and_moved_to_later_is_sent_as_an_update(
    service: Api, sink: MailSink, clock: ManualClock
) -> None:
    await service.import_ok(small_program())
    await send(service)
    sink.clear()
    clock.set(TEN_PAST_ELEVEN)

    moved = await service.patch(
        "meet-the-buyers", "m1", {"start": "2021-04-08T16:00", "end": "2021-04-08T16:30"}
    )
    await send(service)

    assert moved.status == 200
    assert (await moved.json())["changes"]["sessions"]["over"] == []
    assert recipients(sink) == [
        ("ana@water.example", "Acme × Water"),
        ("chloe@acme.example", "Acme × Water"),
    ]
    assert {m.method for m in sink.received} == {"REQUEST"}


async def test_importing_the_2021_example_today_says_why_nobody_is_invited(
    database_url: str, db: Any, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RDV_")}
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "orchestrator", "import", str(EXAMPLE_DIR)),
        env={**env, "RDV_DATABASE_URL": database_url},
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await process.communicate()

    assert process.returncode == 0, stderr.decode()
    lines = stdout.decode().splitlines()
    assert lines[0] == f"{EXAMPLE_SLUG}: created"
    assert any(
        line.startswith("  42 sessions already over: no invitations sent (") for line in lines
    )
    async with db() as session:
        assert await session.scalar(select(func.count()).select_from(MailMessage)) == 0
