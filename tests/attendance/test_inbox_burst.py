"""A slot starts and every provider posts at once: deliveries that arrive together are stored
together, each exactly once, and one that the database refuses fails alone."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from integrations.events import Delivery, Kind, ProviderEvent, RoomRef, Who
from orchestrator.attendance.inbox import EventInbox
from orchestrator.db.attendance import ProviderEventRow, WebhookDelivery

AT = datetime(2021, 4, 8, 8, 30, tzinfo=UTC)


def joined(n: int, details: Any = None) -> tuple[Delivery, bytes]:
    event = ProviderEvent(
        provider="jitsi",
        kind=Kind.JOINED,
        dedupe_key=f"join-{n}",
        at=AT + timedelta(seconds=n),
        room=RoomRef(key=f"room-{n % 7}"),
        who=Who(connection=f"c{n}", name=f"Person {n}"),
        details=details if details is not None else {},
    )
    return Delivery(events=(event,)), f'{{"n": {n}}}'.encode()


async def counts(db: Any) -> tuple[int, int]:
    async with db() as session:
        deliveries = await session.scalar(select(func.count()).select_from(WebhookDelivery))
        events = await session.scalar(select(func.count()).select_from(ProviderEventRow))
    return deliveries or 0, events or 0


async def test_a_burst_with_redeliveries_is_stored_once_each(db: Any) -> None:
    inbox = EventInbox(db, batch=16)
    burst = [joined(n) for n in range(60)] + [joined(n) for n in range(0, 60, 6)]
    answers = await asyncio.gather(
        *(inbox.accept("jitsi", delivery, body, AT) for delivery, body in burst)
    )
    assert sum(answer.new for answer in answers) == 60
    assert sum(answer.duplicates for answer in answers) == 10
    assert await counts(db) == (60, 60)


async def test_a_delivery_the_database_refuses_fails_alone_and_the_others_are_stored(
    db: Any,
) -> None:
    inbox = EventInbox(db, batch=16)
    unstorable = joined(99, details={"at": object()})  # not JSON: the insert fails
    burst = [joined(n) for n in range(10)]
    results = await asyncio.gather(
        *(inbox.accept("jitsi", d, b, AT) for d, b in [*burst[:5], unstorable, *burst[5:]]),
        return_exceptions=True,
    )
    failed = [index for index, r in enumerate(results) if isinstance(r, BaseException)]
    assert failed == [5]  # the provider gets a 503 for it, and retries
    assert all(r.new == 1 for r in results if not isinstance(r, BaseException))
    assert await counts(db) == (10, 10)  # nothing of the refused one is half-written


async def test_a_provider_hanging_up_does_not_lose_its_delivery(db: Any) -> None:
    inbox = EventInbox(db)
    delivery, body = joined(1)
    waiting = asyncio.ensure_future(inbox.accept("jitsi", delivery, body, AT))
    await asyncio.sleep(0)
    waiting.cancel()  # aiohttp cancels the handler when the connection drops
    for _ in range(100):
        if await counts(db) == (1, 1):
            break
        await asyncio.sleep(0.02)
    assert await counts(db) == (1, 1)
