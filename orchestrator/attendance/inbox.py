"""The idempotent inbox: stores each delivery and its events, mapped to our rooms and seats,
before the webhook is acknowledged; events already stored are skipped."""

from __future__ import annotations

import asyncio
import hashlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from integrations.events import Delivery
from webhooks.door import Accepted

from ..db.attendance import WebhookDelivery
from ..db.sqlite_driver import quick_writes
from ..db.updates import note
from ..db.upsert import ManyRows, table
from .events import record_many

_TABLE = table(WebhookDelivery).c
_DELIVERIES = ManyRows(
    WebhookDelivery,
    ("provider", "dedupe_key", "received_at", "body", "events"),
    unique=("provider", "dedupe_key"),
    returning=(_TABLE.id, _TABLE.provider, _TABLE.dedupe_key),
)


@dataclass
class _Pending:
    provider: str
    delivery: Delivery
    body: bytes
    now: datetime
    answer: asyncio.Future[Accepted]


class EventInbox:
    """Stores deliveries; `db` opens a database session (the app's, once it is running).

    Deliveries that arrive together are stored together: while one transaction runs, the next
    ones queue, and the queue is written in one transaction when it ends (group commit). A burst
    then costs a commit per batch instead of one per delivery, and on SQLite writers never wait
    on each other's locks. Each delivery is answered only once its transaction has committed; if
    a batch fails, its deliveries are stored one by one, so one bad delivery fails only itself.
    """

    def __init__(self, db: Callable[[], AsyncSession], *, batch: int = 200) -> None:
        self.db = db
        self.batch = batch
        self._queue: list[_Pending] = []
        self._writer: asyncio.Task[None] | None = None

    async def accept(
        self, provider: str, delivery: Delivery, body: bytes, now: datetime
    ) -> Accepted:
        answer: asyncio.Future[Accepted] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(provider, delivery, body, now, answer))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())
        # Shielded: a provider hanging up must not cancel the write the others wait for.
        return await asyncio.shield(answer)

    async def _write(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[: self.batch], self._queue[self.batch :]
            try:
                async with self.db() as db, db.begin():
                    await quick_writes(db)
                    results = await _store(db, batch)
            except Exception as failure:
                if len(batch) == 1:
                    _settle(batch[0], error=failure)
                    continue
                for pending in batch:  # one by one: only what fails alone fails
                    try:
                        async with self.db() as db, db.begin():
                            (result,) = await _store(db, [pending])
                    except Exception as error:
                        _settle(pending, error=error)
                    else:
                        _settle(pending, result)
                continue
            for pending, result in zip(batch, results, strict=True):
                _settle(pending, result)


def _settle(
    pending: _Pending, result: Accepted | None = None, *, error: BaseException | None = None
) -> None:
    if pending.answer.done():  # its request was cancelled; the delivery is stored all the same
        return
    if error is not None:
        pending.answer.set_exception(error)
    else:
        assert result is not None
        pending.answer.set_result(result)


async def _store(db: AsyncSession, batch: Sequence[_Pending]) -> list[Accepted]:
    """Deliveries and their events, in the caller's transaction, in a few statements for the
    whole batch; a redelivery (here or in the batch itself) stores nothing."""
    keys = [(p.provider, "sha256:" + hashlib.sha256(p.body).hexdigest()) for p in batch]
    first: dict[tuple[str, str], int] = {}
    for index, key in enumerate(keys):
        first.setdefault(key, index)
    stored = await _DELIVERIES.insert(
        db,
        [
            {
                "provider": batch[index].provider,
                "dedupe_key": key[1],
                "received_at": batch[index].now,
                "body": batch[index].body,
                "events": len(batch[index].delivery.events),
            }
            for key, index in first.items()
        ],
    )
    ids = {(provider, key): delivery_id for delivery_id, provider, key in stored}
    new: Counter[int | None] = Counter()
    cards: set[tuple[int, int | None]] = set()
    for provider in sorted({p.provider for p in batch}):
        items = [
            (event, ids[key])
            for index, (pending, key) in enumerate(zip(batch, keys, strict=True))
            if pending.provider == provider and key in ids and first[key] == index
            for event in pending.delivery.events
        ]
        found, changed = await record_many(db, provider, items, batch[0].now)
        new += found
        cards |= changed
    await note(db, cards, "webhook", batch[0].now)
    results = []
    for index, (pending, key) in enumerate(zip(batch, keys, strict=True)):
        count = len(pending.delivery.events)
        stored_here = key in ids and first[key] == index
        fresh = new[ids[key]] if stored_here else 0
        results.append(Accepted(new=fresh, duplicates=count - fresh))
    return results
