"""The durable mail outbox: messages are queued in the transaction of their cause, then a sender
claims due ones, delivers them and records the outcome.

A message marked sent is never sent again; one not yet sent is never lost: a sender that dies
mid-delivery leaves a lease that expires, and the message is claimed again. Each outcome is
committed before its worker takes another message, so a death sends again only the messages in
flight. With PostgreSQL the claim skips rows another instance holds, so several instances share
the work.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from calendars.transport import MailTransport, PermanentMailError, TransientMailError

from ..clock import Clock
from ..db.mail import MailMessage
from ..db.updates import note
from ..senders import GroupCommit, QueueSender, due_ids
from .compose import Composed, Composers, Pending

log = logging.getLogger("rdv.outbox")
CONCURRENCY = 8


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
    body: bytes | None  # None: still to be composed
    attempts: int
    created_at: datetime
    event_id: int
    kind: str
    session_id: int | None
    person_id: int | None
    subject: str | None = None  # set when this pass composed it: written with its outcome


class OutboxSender(QueueSender):
    """Delivers due messages through one transport, with backoff and a 24-hour limit."""

    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        transport: MailTransport,
        clock: Clock,
        composers: Composers | None = None,
        *,
        batch: int = 200,
        concurrency: int = CONCURRENCY,
        lease: timedelta = timedelta(minutes=5),
        give_up_after: timedelta = timedelta(hours=24),
        first_retry: timedelta = timedelta(seconds=30),
        longest_wait: timedelta = timedelta(hours=1),
        poll: float = 5.0,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(
            batch=batch,
            concurrency=concurrency,
            first_retry=first_retry,
            longest_wait=longest_wait,
            poll=poll,
            rng=rng,
            log=log,
        )
        self.db, self.transport, self.clock = db, transport, clock
        self.composers = composers or Composers([])
        self.lease, self.give_up_after = lease, give_up_after

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

    async def deliver_due(self) -> Delivery:
        """One pass: turn what changes recorded into messages (`Composers.prepare`), claim up
        to `batch` due messages, compose those still without a body, deliver them, record each
        outcome.

        Each of `concurrency` workers delivers a message, then waits until its outcome is
        committed before it takes the next: a crash can only send again the messages in flight,
        never more than `concurrency`. Outcomes that arrive together share a commit.
        """
        await self.composers.prepare(self.db)
        claimed = await self._claim(self.clock.now())
        if not claimed:
            return Delivery()
        claimed, unfit = await self._compose(claimed)
        recorder = _Recorder(self, unfit)

        async def work(message: _Claimed) -> None:
            await recorder.record(message, await self._attempt(message))

        queue = iter(claimed)

        async def take() -> _Claimed | None:
            return next(queue, None)

        try:
            await self.in_workers(take, work, min(self.concurrency, len(claimed)))
        finally:
            await recorder.finish()  # what is known is written, even when the pass is cut short
        done = recorder.done
        if done.failed or done.retrying:
            log.warning(
                "mail: %d sent, %d to retry, %d failed", done.sent, done.retrying, done.failed
            )
        return done

    async def _compose(self, claimed: list[_Claimed]) -> tuple[list[_Claimed], int]:
        """The claimed messages, each with its body: those queued without one are composed now
        (`compose.py`), and stored with the outcome of their delivery (one write for both: a
        crash in between composes the message again, as it stands then); one that cannot be
        composed fails with the reason. Returns the messages to send, and how many failed."""
        waiting = [
            Pending(c.id, c.kind, c.event_id, c.session_id, c.person_id)
            for c in claimed
            if c.body is None
        ]
        if not waiting:
            return claimed, 0
        now = self.clock.now()
        async with self.db() as db:
            results = await self.composers.compose(db, waiting, now)
        unfit = [
            {"id": p.id, "status": "failed", "lease_until": None, "last_error": results[p.id]}
            for p in waiting
            if not isinstance(results[p.id], Composed)
        ]
        if unfit:
            failed = {p.event_id for p in waiting if not isinstance(results[p.id], Composed)}
            async with self.db() as db, db.begin():
                await db.execute(update(MailMessage), unfit)
                await note(db, [(event_id, None) for event_id in failed], "mail", now)
        ready = [
            replace(c, body=found.body, recipient=found.recipient, subject=found.subject)
            if c.body is None and isinstance(found := results[c.id], Composed)
            else c
            for c in claimed
        ]
        sendable = [c for c in ready if c.body is not None]
        return sendable, len(claimed) - len(sendable)

    async def _attempt(self, message: _Claimed) -> Exception | None:
        assert message.body is not None  # composed by `_compose`
        try:
            await self.transport.send(
                ident=f"{message.id:010d}",
                sender=message.sender,
                recipient=message.recipient,
                message=message.body,
            )
        except (TransientMailError, PermanentMailError) as error:
            return error
        return None

    def outcome(self, message: _Claimed, error: Exception | None, now: datetime) -> dict[str, Any]:
        """The row update that records one delivery attempt (and the message, when this pass
        composed it)."""
        change = self._attempt_outcome(message, error, now)
        if message.subject is not None:
            change |= {"subject": message.subject, "recipient": message.recipient}
            change["body"] = message.body
        return change

    def _attempt_outcome(
        self, message: _Claimed, error: Exception | None, now: datetime
    ) -> dict[str, Any]:
        if error is None:
            return {
                "id": message.id,
                "status": "sent",
                "sent_at": now,
                "lease_until": None,
                "last_error": None,
            }
        reason = str(getattr(error, "reason", error))[:900]
        retry_at = now + self.backoff(message.attempts)
        if isinstance(error, PermanentMailError):
            return {"id": message.id, "status": "failed", "lease_until": None, "last_error": reason}
        if retry_at - message.created_at > self.give_up_after:
            hours = self.give_up_after.total_seconds() / 3600
            return {
                "id": message.id,
                "status": "failed",
                "lease_until": None,
                "last_error": f"gave up after {hours:.0f} h: {reason}",
            }
        return {
            "id": message.id,
            "status": "pending",
            "lease_until": None,
            "next_attempt_at": retry_at,
            "last_error": reason,
        }

    async def _claim(self, now: datetime) -> list[_Claimed]:
        async with self.db() as db, db.begin():
            due = due_ids(MailMessage, now, self.batch).with_for_update(skip_locked=True)
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
                    MailMessage.kind,
                    MailMessage.session_id,
                    MailMessage.person_id,
                )
                .execution_options(synchronize_session=False)
            )
            return [_Claimed(**row._asdict()) for row in rows]


class _Recorder:
    """Writes the outcomes of one pass as they come (`GroupCommit`), and counts them."""

    def __init__(self, sender: OutboxSender, unfit: int = 0) -> None:
        self.sender = sender
        self.done = Delivery(claimed=unfit, failed=unfit)  # could not be composed
        self._commits: GroupCommit[tuple[dict[str, Any], int]] = GroupCommit(self._store)

    async def record(self, message: _Claimed, error: Exception | None) -> None:
        """Returns once the outcome is committed; raises what kept it from being written."""
        change = self.sender.outcome(message, error, self.sender.clock.now())
        await self._commits.submit((change, message.event_id))

    async def finish(self) -> None:
        """Waits until every outcome handed over is written (or has failed to be)."""
        await self._commits.finish()

    async def _store(self, batch: list[tuple[dict[str, Any], int]]) -> None:
        now = self.sender.clock.now()
        failed_events = {event_id for change, event_id in batch if change["status"] == "failed"}
        async with self.sender.db() as db, db.begin():
            await db.execute(update(MailMessage), [change for change, _ in batch])
            await note(db, [(event_id, None) for event_id in failed_events], "mail", now)
        states = Counter(change["status"] for change, _ in batch)
        done = self.done
        self.done = Delivery(
            claimed=done.claimed + len(batch),
            sent=done.sent + states["sent"],
            retrying=done.retrying + states["pending"],
            failed=done.failed + states["failed"],
        )
