"""What one pass of the webhook sender keeps: the deliveries it claimed (the next batch claimed
while the last of the current are sent) and the outcomes it writes as they come."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter, deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Integer, String, bindparam, func, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.types import TypeEngine

from ..clock import Clock
from ..db.outbound import OutboundDelivery, OutboundSubscription
from ..db.upsert import table
from ..senders import GroupCommit

Claim = Callable[[], Coroutine[Any, Any, list["Claimed"]]]
Outcome = Callable[["Claimed", "Result", datetime], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Sent:
    """What one pass of the sender did."""

    claimed: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    subscription_id: int
    attempts: int
    first_due_at: datetime
    message_id: str
    body: bytes
    url: str
    key: bytes  # the subscription's signing key
    failing: bool  # the subscription was failing when this was claimed
    refused: str | None  # why the address may not be called now, if it may not


@dataclass(frozen=True, slots=True)
class Result:
    status: int | None  # the receiver's HTTP status, None when none came
    error: str | None  # why it is not delivered, None when it is
    permanent: bool = False  # never to be tried again (an address rdv may not reach)


_DELIVERIES = table(OutboundDelivery)  # a plain executemany, not the ORM's bulk update
_OUTCOME = (
    update(_DELIVERIES)
    .where(  # only over this pass's claim: an ended subscription, a later claim keep theirs
        _DELIVERIES.c.id == bindparam("b_id"),
        _DELIVERIES.c.status == "sending",
        _DELIVERIES.c.attempts == bindparam("b_attempts"),
    )
    .values(
        status=bindparam("b_status"),
        lease_until=None,
        last_status=bindparam("b_last_status"),
        last_error=bindparam("b_last_error"),
        next_attempt_at=bindparam("b_next_attempt_at"),
        delivered_at=bindparam("b_delivered_at"),
    )
)

# On PostgreSQL the batch is one UPDATE from arrays instead of an executemany: the driver then
# sends seven arrays, where SQLAlchemy would prepare each row's parameters on its own.
_ARRAYS: dict[str, TypeEngine[Any]] = {
    "b_id": Integer(),
    "b_attempts": Integer(),
    "b_status": String(),
    "b_last_status": Integer(),
    "b_last_error": String(),
    "b_next_attempt_at": DateTime(timezone=True),
    "b_delivered_at": DateTime(timezone=True),
}
_ROWS = (
    func.unnest(*(bindparam(name, type_=ARRAY(kind)) for name, kind in _ARRAYS.items()))
    .table_valued(*_ARRAYS)
    .render_derived(name="outcome")
)
_OUTCOMES_FROM_ARRAYS = (
    update(_DELIVERIES)
    .where(
        _DELIVERIES.c.id == _ROWS.c.b_id,
        _DELIVERIES.c.status == "sending",
        _DELIVERIES.c.attempts == _ROWS.c.b_attempts,
    )
    .values(
        status=_ROWS.c.b_status,
        lease_until=None,
        last_status=_ROWS.c.b_last_status,
        last_error=_ROWS.c.b_last_error,
        next_attempt_at=_ROWS.c.b_next_attempt_at,
        delivered_at=_ROWS.c.b_delivered_at,
    )
)


async def write_outcomes(db: AsyncSession, changes: list[dict[str, Any]]) -> None:
    """The outcomes' row updates (`_OUTCOME`'s parameters), in the caller's transaction."""
    if db.get_bind().dialect.name != "postgresql":
        await db.execute(_OUTCOME, changes)
        return
    await db.execute(
        _OUTCOMES_FROM_ARRAYS, {name: [change[name] for change in changes] for name in _ARRAYS}
    )


class Claims:
    """The deliveries of one pass, claimed a batch at a time: the next batch is claimed while
    the last ones of the current are being sent, so the workers do not wait for the database
    between batches."""

    ROUNDS = 10  # batches a pass may claim after its first

    def __init__(self, claim: Claim, first: list[Claimed], *, batch: int) -> None:
        self.claim, self.batch = claim, batch
        self.pending = deque(first)
        self.waiting = {delivery.id for delivery in first}  # claimed, not attempted yet
        self.rounds = self.ROUNDS
        self._next: asyncio.Task[list[Claimed]] | None = None

    async def take(self) -> Claimed | None:
        """The next delivery to attempt; None when the pass has no more."""
        while True:
            if (  # half a batch left: time enough to claim the next before it runs out
                self._next is None and self.rounds > 0 and len(self.pending) <= self.batch // 2
            ):
                self.rounds -= 1
                self._next = asyncio.create_task(self.claim())
            if self.pending:
                delivery = self.pending.popleft()
                self.waiting.discard(delivery.id)
                return delivery
            claiming = self._next
            if claiming is None:
                return None
            more = await asyncio.shield(claiming)  # the workers that wait share the one claim
            if self._next is claiming:  # the first one back takes the batch in
                self._next = None
                self.rounds = self.rounds if more else 0  # nothing due: no more claims
                self.pending.extend(more)
                self.waiting.update(delivery.id for delivery in more)

    async def close(self) -> None:
        """A claim still running when the pass is cut short is let finish (its deliveries are
        then taken again when their lease lapses, or at once by `recover`)."""
        if self._next is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._next)


class Recorder:
    """Writes the outcomes of one pass as they come (`GroupCommit`), with what they say of each
    subscription: delivered (no longer failing), or given up on (failing from now)."""

    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        clock: Clock,
        outcome: Outcome,
        *,
        ahead: int,
    ) -> None:
        self.db, self.clock, self.outcome = db, clock, outcome
        self.done = Sent()
        self._commits: GroupCommit[tuple[dict[str, Any], Claimed]] = GroupCommit(
            self._store, ahead=ahead
        )

    async def record(self, delivery: Claimed, result: Result) -> None:
        change = self.outcome(delivery, result, self.clock.now())
        await self._commits.submit((change, delivery))

    async def finish(self) -> None:
        await self._commits.finish()

    def check(self) -> None:
        self._commits.check()

    async def _store(self, batch: list[tuple[dict[str, Any], Claimed]]) -> None:
        now = self.clock.now()
        reached = {
            d.subscription_id for c, d in batch if d.failing and c["b_status"] == "delivered"
        }
        lost = {d.subscription_id for c, d in batch if c["b_status"] == "failed"} - reached
        async with self.db() as db, db.begin():
            await write_outcomes(db, [change for change, _ in batch])
            if reached:
                await db.execute(
                    update(OutboundSubscription)
                    .where(OutboundSubscription.id.in_(reached))
                    .values(failing_since=None)
                )
            if lost:
                await db.execute(
                    update(OutboundSubscription)
                    .where(OutboundSubscription.id.in_(lost))
                    .values(failing_since=func.coalesce(OutboundSubscription.failing_since, now))
                )
        states = Counter(change["b_status"] for change, _ in batch)
        done = self.done
        self.done = Sent(
            claimed=done.claimed + len(batch),
            delivered=done.delivered + states["delivered"],
            retrying=done.retrying + states["pending"],
            failed=done.failed + states["failed"],
        )
