"""The durable mail outbox: messages are queued in the transaction of their cause, then a sender
claims due ones, delivers them and records the outcome.

A message marked sent is never sent again; one not yet sent is never lost: a sender that dies
mid-delivery leaves a lease that expires, and the message is claimed again. With PostgreSQL the
claim skips rows another instance holds, so several instances share the work.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from calendars.transport import MailTransport, PermanentMailError, TransientMailError

from ..clock import Clock
from ..db.mail import MailMessage
from ..db.updates import note

log = logging.getLogger("rdv.outbox")


@dataclass(frozen=True, slots=True)
class Delivery:
    """What one pass of the sender did."""

    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0


@dataclass(frozen=True, slots=True)
class _Claimed:
    id: int
    sender: str
    recipient: str
    body: bytes
    attempts: int
    created_at: datetime
    event_id: int


class OutboxSender:
    """Delivers due messages through one transport, with backoff and a 24-hour limit."""

    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        transport: MailTransport,
        clock: Clock,
        *,
        batch: int = 200,
        concurrency: int = 8,
        lease: timedelta = timedelta(minutes=5),
        give_up_after: timedelta = timedelta(hours=24),
        first_retry: timedelta = timedelta(seconds=30),
        longest_wait: timedelta = timedelta(hours=1),
        poll: float = 5.0,
        rng: random.Random | None = None,
    ) -> None:
        self.db, self.transport, self.clock = db, transport, clock
        self.batch, self.concurrency, self.lease = batch, concurrency, lease
        self.give_up_after, self.first_retry, self.longest_wait = (
            give_up_after,
            first_retry,
            longest_wait,
        )
        self.poll = poll
        self.rng = rng or random.Random()  # noqa: S311 (jitter, not security)
        self._wake = asyncio.Event()

    async def recover(self) -> int:
        """After a restart of the only instance (SQLite): messages left mid-delivery are taken up
        again at once instead of when their lease lapses. A message the server accepted just
        before the crash may go out twice; one marked sent never does."""
        async with self.db() as db, db.begin():
            result = await db.execute(
                update(MailMessage)
                .where(MailMessage.status == "sending")
                .values(status="pending", lease_until=None)
                .returning(MailMessage.id)
            )
            return len(result.all())

    def wake(self) -> None:
        """Asks the running loop to look for due messages now (after a commit that queued mail)."""
        self._wake.set()

    def backoff(self, attempts: int) -> timedelta:
        """Exponential, capped, with ±50 % jitter so the retries of one outage spread out."""
        base: timedelta = min(self.first_retry * 2 ** max(attempts - 1, 0), self.longest_wait)
        return base * self.rng.uniform(0.5, 1.5)

    async def run(self) -> None:
        """Delivers until cancelled; a failing database or transport never ends the loop."""
        while True:
            try:
                done = await self.deliver_due()
            except Exception:
                log.exception("outbox pass failed; trying again in %.0f s", self.poll)
                done = Delivery()
            if done.claimed >= self.batch:
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll)

    async def deliver_due(self) -> Delivery:
        """One pass: claim up to `batch` due messages, deliver them, record each outcome."""
        now = self.clock.now()
        claimed = await self._claim(now)
        if not claimed:
            return Delivery()
        gate = asyncio.Semaphore(self.concurrency)

        async def attempt(message: _Claimed) -> tuple[_Claimed, Exception | None]:
            async with gate:
                try:
                    await self.transport.send(
                        ident=f"{message.id:010d}",
                        sender=message.sender,
                        recipient=message.recipient,
                        message=message.body,
                    )
                except (TransientMailError, PermanentMailError) as error:
                    return message, error
                return message, None

        outcomes = await asyncio.gather(*(attempt(message) for message in claimed))
        return await self._record(outcomes, self.clock.now())

    async def _claim(self, now: datetime) -> list[_Claimed]:
        async with self.db() as db, db.begin():
            due = (
                select(MailMessage.id)
                .where(
                    MailMessage.status.in_(("pending", "sending")),
                    MailMessage.next_attempt_at <= now,
                    (MailMessage.lease_until.is_(None)) | (MailMessage.lease_until < now),
                )
                .order_by(MailMessage.next_attempt_at, MailMessage.id)
                .limit(self.batch)
                .with_for_update(skip_locked=True)
            )
            rows = await db.execute(
                update(MailMessage)
                .where(MailMessage.id.in_(due.scalar_subquery()))
                .values(
                    status="sending",
                    lease_until=now + self.lease,
                    attempts=MailMessage.attempts + 1,
                )
                .returning(
                    MailMessage.id,
                    MailMessage.sender,
                    MailMessage.recipient,
                    MailMessage.body,
                    MailMessage.attempts,
                    MailMessage.created_at,
                    MailMessage.event_id,
                )
                .execution_options(synchronize_session=False)
            )
            return [_Claimed(*row) for row in rows]

    async def _record(
        self, outcomes: list[tuple[_Claimed, Exception | None]], now: datetime
    ) -> Delivery:
        changes: list[dict[str, Any]] = []
        sent = retrying = failed = 0
        for message, error in outcomes:
            if error is None:
                sent += 1
                changes.append(
                    {
                        "id": message.id,
                        "status": "sent",
                        "sent_at": now,
                        "lease_until": None,
                        "last_error": None,
                    }
                )
                continue
            reason = str(getattr(error, "reason", error))[:900]
            retry_at = now + self.backoff(message.attempts)
            if isinstance(error, PermanentMailError):
                failed += 1
                changes.append(
                    {
                        "id": message.id,
                        "status": "failed",
                        "lease_until": None,
                        "last_error": reason,
                    }
                )
            elif retry_at - message.created_at > self.give_up_after:
                failed += 1
                hours = self.give_up_after.total_seconds() / 3600
                changes.append(
                    {
                        "id": message.id,
                        "status": "failed",
                        "lease_until": None,
                        "last_error": f"gave up after {hours:.0f} h: {reason}",
                    }
                )
            else:
                retrying += 1
                changes.append(
                    {
                        "id": message.id,
                        "status": "pending",
                        "lease_until": None,
                        "next_attempt_at": retry_at,
                        "last_error": reason,
                    }
                )
        failed_events = {
            message.event_id
            for message, error in outcomes
            if error is not None
            and any(c["id"] == message.id and c["status"] == "failed" for c in changes)
        }
        async with self.db() as db, db.begin():
            await db.execute(update(MailMessage), changes)
            await note(db, [(event_id, None) for event_id in failed_events], "mail", now)
        if failed or retrying:
            log.warning("mail: %d sent, %d to retry, %d failed", sent, retrying, failed)
        return Delivery(claimed=len(outcomes), sent=sent, retrying=retrying, failed=failed)
