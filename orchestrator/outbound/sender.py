"""The outbound webhooks' sender: claims due deliveries, posts each signed message to its
receiver, records each outcome as soon as it is known, retries with backoff for a day.

At least once, and never twice for one change: a receiver may get a message again (a crash
between its answer and the outcome's commit, a resend), always with the same `webhook-id`, by
which it drops the repeat. A delivery marked delivered is never attempted again by the sender.
A receiver that stays down keeps its deliveries (failed, with the reason, resendable) and its
subscription is marked failing from the first one that gave up; the next success clears it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from webhooks.addresses import AddressRefused, CheckedResolver
from webhooks.outbound import headers

from ..clock import Clock
from ..db.group_commit import GroupCommit
from ..db.outbound import (
    OutboundDelivery,
    OutboundMessage,
    OutboundSubscription,
    forget_sent,
)

log = logging.getLogger("rdv.outbound")


@dataclass(frozen=True, slots=True)
class Sent:
    """What one pass of the sender did."""

    claimed: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0


@dataclass(frozen=True, slots=True)
class _Claimed:
    id: int
    subscription_id: int
    attempts: int
    first_due_at: datetime
    message_id: str
    body: bytes
    url: str
    secret: str


@dataclass(frozen=True, slots=True)
class _Result:
    status: int | None  # the receiver's HTTP status, None when none came
    error: str | None  # why it is not delivered, None when it is
    permanent: bool = False  # never to be tried again (an address rdv may not reach)


class WebhookSender:
    """Delivers due webhook messages over one HTTP client (`concurrency` connections)."""

    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        clock: Clock,
        *,
        allow_private: bool = False,
        batch: int = 200,
        concurrency: int = 8,
        timeout: float = 10.0,
        lease: timedelta = timedelta(minutes=2),
        give_up_after: timedelta = timedelta(hours=24),
        first_retry: timedelta = timedelta(seconds=30),
        longest_wait: timedelta = timedelta(hours=1),
        poll: float = 1.0,  # receivers expect news within seconds; the look is one indexed read
        rng: random.Random | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.db, self.clock = db, clock
        self.allow_private = allow_private
        self.batch, self.concurrency, self.timeout, self.lease = batch, concurrency, timeout, lease
        self.give_up_after, self.first_retry, self.longest_wait = (
            give_up_after,
            first_retry,
            longest_wait,
        )
        self.poll = poll
        self.rng = rng or random.Random()  # noqa: S311 (jitter, not security)
        # The signature's timestamp is the receiver's replay check, against its own clock: the
        # real time of the attempt, whatever time the service runs at (a demo, a test).
        self.wall = wall
        self._wake = asyncio.Event()
        self._http: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    def _client(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            connector = aiohttp.TCPConnector(
                limit=self.concurrency,
                resolver=None if self.allow_private else CheckedResolver(),
                use_dns_cache=self.allow_private,  # a checked name is resolved every time
            )
            self._http = aiohttp.ClientSession(
                connector=connector,
                cookie_jar=aiohttp.DummyCookieJar(),
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                headers={"User-Agent": "rdv-orchestrator webhooks"},
            )
        return self._http

    async def recover(self) -> int:
        """After a restart of the only instance (SQLite): deliveries left mid-attempt are due
        again at once instead of when their lease lapses (their receivers may see them twice,
        with the same id)."""
        async with self.db() as db, db.begin():
            result = await db.execute(
                update(OutboundDelivery)
                .where(OutboundDelivery.status == "sending")
                .values(status="pending", lease_until=None)
                .returning(OutboundDelivery.id)
            )
            return len(result.all())

    async def forget_old(self, keep: timedelta) -> int:
        """Deletes what was sent (or given up on) more than `keep` ago; how many messages."""
        async with self.db() as db, db.begin():
            forgotten = await forget_sent(db, self.clock.now() - keep)
        if forgotten:
            log.info("forgot %d webhook messages older than %s", forgotten, keep)
        return forgotten

    def wake(self) -> None:
        """Asks the running loop to look for due deliveries now (after a commit that made some)."""
        self._wake.set()

    def backoff(self, attempts: int) -> timedelta:
        """Exponential, capped, with ±50 % jitter so the retries of one outage spread out."""
        base: timedelta = min(self.first_retry * 2 ** max(attempts - 1, 0), self.longest_wait)
        return base * self.rng.uniform(0.5, 1.5)

    async def run(self) -> None:
        """Delivers until cancelled; a failing database or receiver never ends the loop."""
        try:
            while True:
                try:
                    done = await self.deliver_due()
                except Exception:
                    log.exception("webhook pass failed; trying again in %.0f s", self.poll)
                    done = Sent()
                if done.claimed >= self.batch:
                    continue
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self.poll)
        finally:
            await self.close()

    async def deliver_due(self) -> Sent:
        """One pass: claim up to `batch` due deliveries, post them (`concurrency` at a time),
        and commit each outcome before its worker takes the next delivery, so a crash repeats
        only the deliveries in flight."""
        claimed = await self._claim(self.clock.now())
        if not claimed:
            return Sent()
        recorder = _Recorder(self)
        queue = iter(claimed)

        async def work() -> None:
            for delivery in queue:  # shared: each worker takes the next delivery left
                await recorder.record(delivery, await self._attempt(delivery))

        try:
            async with asyncio.TaskGroup() as workers:
                for _ in range(min(self.concurrency, len(claimed))):
                    workers.create_task(work())
        except BaseExceptionGroup as failures:
            raise failures.exceptions[0] from None  # the first cause, as the loop logs it
        finally:
            await recorder.finish()
        done = recorder.done
        if done.failed or done.retrying:
            log.warning(
                "webhooks: %d delivered, %d to retry, %d failed",
                done.delivered,
                done.retrying,
                done.failed,
            )
        return done

    async def _attempt(self, delivery: _Claimed) -> _Result:
        signed = headers(delivery.secret, delivery.message_id, int(self.wall()), delivery.body)
        try:
            async with self._client().post(
                delivery.url, data=delivery.body, headers=signed, allow_redirects=False
            ) as response:
                status = response.status
        except AddressRefused as error:
            return _Result(None, f"refused: {error}", permanent=True)
        except TimeoutError:
            return _Result(None, f"no answer within {self.timeout:.0f} s")
        except aiohttp.ClientError as error:
            return _Result(None, f"could not connect ({type(error).__name__})")
        if 200 <= status < 300:
            return _Result(status, None)
        return _Result(status, f"the receiver answered {status}")

    def outcome(self, delivery: _Claimed, result: _Result, now: datetime) -> dict[str, Any]:
        """The row update that records one attempt."""
        change: dict[str, Any] = {
            "id": delivery.id,
            "lease_until": None,
            "last_status": result.status,
            "last_error": result.error,
        }
        if result.error is None:
            return change | {"status": "delivered", "delivered_at": now}
        retry_at = now + self.backoff(delivery.attempts)
        if result.permanent or retry_at - delivery.first_due_at > self.give_up_after:
            if not result.permanent:
                hours = self.give_up_after.total_seconds() / 3600
                change["last_error"] = f"gave up after {hours:.0f} h: {result.error}"
            return change | {"status": "failed"}
        return change | {"status": "pending", "next_attempt_at": retry_at}

    async def _claim(self, now: datetime) -> list[_Claimed]:
        async with self.db() as db, db.begin():
            due = (
                select(OutboundDelivery.id)
                .where(
                    OutboundDelivery.status.in_(("pending", "sending")),
                    OutboundDelivery.next_attempt_at <= now,
                    (OutboundDelivery.lease_until.is_(None)) | (OutboundDelivery.lease_until < now),
                )
                .order_by(OutboundDelivery.next_attempt_at, OutboundDelivery.id)
                .limit(self.batch)
                .with_for_update(skip_locked=True)
            )
            claimed = (
                await db.execute(
                    update(OutboundDelivery)
                    .where(OutboundDelivery.id.in_(due.scalar_subquery()))
                    .values(
                        status="sending",
                        lease_until=now + self.lease,
                        attempts=OutboundDelivery.attempts + 1,
                    )
                    .returning(OutboundDelivery.id)
                    .execution_options(synchronize_session=False)
                )
            ).scalars()
            rows = await db.execute(
                select(
                    OutboundDelivery.id,
                    OutboundDelivery.subscription_id,
                    OutboundDelivery.attempts,
                    OutboundDelivery.first_due_at,
                    OutboundMessage.message_id,
                    OutboundMessage.body,
                    OutboundSubscription.url,
                    OutboundSubscription.secret,
                )
                .join(OutboundMessage, OutboundMessage.id == OutboundDelivery.message_id)
                .join(
                    OutboundSubscription,
                    OutboundSubscription.id == OutboundDelivery.subscription_id,
                )
                .where(OutboundDelivery.id.in_(list(claimed)))
                .order_by(OutboundDelivery.id)
            )
            return [_Claimed(**row._asdict()) for row in rows]


class _Recorder:
    """Writes the outcomes of one pass as they come (`GroupCommit`), with what they say of each
    subscription: delivered (no longer failing), or given up on (failing from now)."""

    def __init__(self, sender: WebhookSender) -> None:
        self.sender = sender
        self.done = Sent()
        self._commits: GroupCommit[tuple[dict[str, Any], int]] = GroupCommit(self._store)

    async def record(self, delivery: _Claimed, result: _Result) -> None:
        change = self.sender.outcome(delivery, result, self.sender.clock.now())
        await self._commits.submit((change, delivery.subscription_id))

    async def finish(self) -> None:
        await self._commits.finish()

    async def _store(self, batch: list[tuple[dict[str, Any], int]]) -> None:
        now = self.sender.clock.now()
        reached = {sub for change, sub in batch if change["status"] == "delivered"}
        lost = {sub for change, sub in batch if change["status"] == "failed"} - reached
        async with self.sender.db() as db, db.begin():
            await db.execute(update(OutboundDelivery), [change for change, _ in batch])
            if reached:
                await db.execute(
                    update(OutboundSubscription)
                    .where(OutboundSubscription.id.in_(reached))
                    .values(failing_since=None, last_delivered_at=now)
                )
            if lost:
                await db.execute(
                    update(OutboundSubscription)
                    .where(OutboundSubscription.id.in_(lost))
                    .values(failing_since=func.coalesce(OutboundSubscription.failing_since, now))
                )
        states = Counter(change["status"] for change, _ in batch)
        done = self.done
        self.done = Sent(
            claimed=done.claimed + len(batch),
            delivered=done.delivered + states["delivered"],
            retrying=done.retrying + states["pending"],
            failed=done.failed + states["failed"],
        )
