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
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from webhooks.addresses import AddressRefused, CheckedResolver
from webhooks.outbound import headers

from ..clock import Clock
from ..db.outbound import OutboundDelivery, forget_sent
from ..senders import QueueSender
from .claiming import claim_due
from .passes import Claimed, Claims, Recorder, Result, Sent

log = logging.getLogger("rdv.outbound")
__all__ = ["Sent", "WebhookSender"]


class WebhookSender(QueueSender):
    """Delivers due webhook messages over one HTTP client (`concurrency` connections)."""

    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        clock: Clock,
        *,
        allow_private: bool = False,
        batch: int = 1000,
        concurrency: int = 8,
        ahead: int = 128,
        timeout: float = 10.0,
        lease: timedelta = timedelta(minutes=2),
        give_up_after: timedelta = timedelta(hours=24),
        first_retry: timedelta = timedelta(seconds=30),
        longest_wait: timedelta = timedelta(hours=1),
        poll: float = 1.0,  # receivers expect news within seconds; the look is one indexed read
        rng: random.Random | None = None,
        wall: Callable[[], float] = time.time,
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
        self.db, self.clock = db, clock
        self.allow_private, self.timeout = allow_private, timeout
        # Outcomes that may wait for their commit while the workers go on: a commit then holds
        # many of them (a commit per outcome would be most of the sender's time). A crash can
        # repeat these and the deliveries in flight: `most_repeated`, each under its own id.
        self.ahead = ahead
        # Renewed while a pass runs (`_keep_leased`): a pass of slow receivers keeps its claim.
        self.lease, self.give_up_after = lease, give_up_after
        # The signature's timestamp is the receiver's replay check, against its own clock: the
        # real time of the attempt, whatever time the service runs at (a demo, a test).
        self.wall = wall
        self._http: aiohttp.ClientSession | None = None

    @property
    def most_repeated(self) -> int:
        """The most deliveries a crash can make a receiver get twice."""
        return self.concurrency + self.ahead

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

    async def run(self) -> None:
        try:
            await super().run()
        finally:
            await self.close()

    async def deliver_due(self) -> Sent:
        """One pass: claim due deliveries `batch` at a time (up to `ROUNDS` batches), post them
        (`concurrency` at a time), and commit the outcomes as they come, a worker going on
        while fewer than `ahead` wait for their commit, so a crash repeats at most
        `most_repeated` deliveries."""
        # A small first batch: the workers start at once, while the next, larger, is claimed.
        first = await self._claim(self.clock.now(), 4 * self.concurrency)
        if not first:
            return Sent()
        claims = Claims(lambda: self._claim(self.clock.now()), first, batch=self.batch)
        recorder = Recorder(self.db, self.clock, self.outcome, ahead=self.ahead)

        async def work(delivery: Claimed) -> None:
            await recorder.record(delivery, await self._attempt(delivery))

        keeper = asyncio.create_task(self._keep_leased(claims.waiting))
        try:
            await self.in_workers(claims.take, work, self.concurrency)
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
            await claims.close()
            await recorder.finish()  # what is known is written, even when the pass is cut short
        recorder.check()  # an outcome that could not be written fails the pass (they go again)
        done = recorder.done
        if done.failed or done.retrying:
            log.warning(
                "webhooks: %d delivered, %d to retry, %d failed",
                done.delivered,
                done.retrying,
                done.failed,
            )
        return done

    async def _keep_leased(self, waiting: set[int]) -> None:
        """Renews the lease of the deliveries this pass has not attempted yet, every half lease:
        a pass of slow receivers keeps what it claimed, and one that died lets it go soon."""
        while True:  # until the pass ends (it cancels this)
            await asyncio.sleep(self.lease.total_seconds() / 2)
            ids = list(waiting)
            if not ids:
                continue
            try:
                async with self.db() as db, db.begin():
                    await db.execute(
                        update(OutboundDelivery)
                        .where(OutboundDelivery.id.in_(ids), OutboundDelivery.status == "sending")
                        .values(lease_until=self.clock.now() + self.lease)
                    )
            except Exception:  # the database is away: the leases lapse, and others take over
                log.warning("webhooks: could not renew the lease of %d deliveries", len(ids))

    async def _attempt(self, delivery: Claimed) -> Result:
        """One POST, whatever happens an outcome: one receiver's trouble never ends the pass
        of the others. The address is checked again first, as the subscription was (a literal
        address connects without the resolver; the operator may have changed the setting)."""
        if delivery.refused is not None:
            return Result(None, f"refused: {delivery.refused}", permanent=True)
        signed = headers(delivery.key, delivery.message_id, int(self.wall()), delivery.body)
        try:
            async with self._client().post(
                delivery.url, data=delivery.body, headers=signed, allow_redirects=False
            ) as response:
                status = response.status
        except AddressRefused as error:
            return Result(None, f"refused: {error}", permanent=True)
        except TimeoutError:
            return Result(None, f"no answer within {self.timeout:.0f} s")
        except aiohttp.InvalidURL:
            return Result(None, "refused: the address cannot be called", permanent=True)
        except aiohttp.ClientError as error:
            return Result(None, f"could not connect ({type(error).__name__})")
        except (ValueError, UnicodeError) as error:  # a name no resolver takes
            return Result(None, f"refused: {type(error).__name__}", permanent=True)
        except Exception as error:  # anything else: tried again later, never the pass's end
            log.exception("webhooks: delivery %d failed unexpectedly", delivery.id)
            return Result(None, f"failed ({type(error).__name__})")
        if 200 <= status < 300:
            return Result(status, None)
        return Result(status, f"the receiver answered {status}")

    def outcome(self, delivery: Claimed, result: Result, now: datetime) -> dict[str, Any]:
        """The row update that records one attempt (every outcome with the same keys: one
        statement writes a whole batch, `_OUTCOME`)."""
        change: dict[str, Any] = {
            "b_id": delivery.id,
            "b_attempts": delivery.attempts,
            "b_status": "delivered",
            "b_last_status": result.status,
            "b_last_error": result.error,
            "b_next_attempt_at": now,
            "b_delivered_at": None,
        }
        if result.error is None:
            return change | {"b_delivered_at": now}
        retry_at = now + self.backoff(delivery.attempts)
        if result.permanent or retry_at - delivery.first_due_at > self.give_up_after:
            if not result.permanent:
                hours = self.give_up_after.total_seconds() / 3600
                change["b_last_error"] = f"gave up after {hours:.0f} h: {result.error}"
            return change | {"b_status": "failed"}
        return change | {"b_status": "pending", "b_next_attempt_at": retry_at}

    async def _claim(self, now: datetime, most: int | None = None) -> list[Claimed]:
        return await claim_due(
            self.db,
            now,
            most=most or self.batch,
            lease=self.lease,
            allow_private=self.allow_private,
        )
