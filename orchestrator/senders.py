"""What the two durable senders share, the mail outbox's and the outbound webhooks': the loop
that looks for due work when woken or every `poll` seconds, the jittered backoff, workers that
take the claimed items one after the other, and the group commit that writes each outcome as it
comes (while one transaction runs the next outcomes queue, and the queue is written in one
transaction when it ends). Each worker waits for its own outcome's commit before it takes the
next item, so a crash repeats only the work in flight."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import Select, select

T = TypeVar("T")


class Pass(Protocol):
    """What one pass did: how many items it claimed."""

    @property
    def claimed(self) -> int: ...


class QueueSender(ABC):
    """The loop and the backoff; a subclass's `deliver_due` does one pass."""

    def __init__(
        self,
        *,
        batch: int,
        concurrency: int,
        first_retry: timedelta,
        longest_wait: timedelta,
        poll: float,
        rng: random.Random | None,
        log: logging.Logger,
    ) -> None:
        self.batch, self.concurrency, self.poll = batch, concurrency, poll
        self.first_retry, self.longest_wait = first_retry, longest_wait
        self.rng = rng or random.Random()  # noqa: S311 (jitter, not security)
        self.log = log
        self._wake = asyncio.Event()

    @abstractmethod
    async def deliver_due(self) -> Pass:
        """One pass: claim due work, do it, record each outcome."""

    def wake(self) -> None:
        """Asks the running loop to look for due work now (after a commit that queued some)."""
        self._wake.set()

    def backoff(self, attempts: int) -> timedelta:
        """Exponential, capped, with ±50 % jitter so the retries of one outage spread out."""
        base: timedelta = min(self.first_retry * 2 ** max(attempts - 1, 0), self.longest_wait)
        return base * self.rng.uniform(0.5, 1.5)

    async def run(self) -> None:
        """Delivers until cancelled; a failing database or peer never ends the loop."""
        while True:
            try:
                claimed = (await self.deliver_due()).claimed
            except Exception:
                self.log.exception("delivery pass failed; trying again in %.0f s", self.poll)
                claimed = 0
            if claimed >= self.batch:
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll)

    async def in_workers(
        self,
        take: Callable[[], Awaitable[T | None]],
        work: Callable[[T], Awaitable[None]],
        count: int,
    ) -> None:
        """`work` on each item `take` hands out (None: no more), by up to `count` workers that
        each take the next item once their last one is done; the first failure is raised as
        itself."""

        async def worker() -> None:
            while (item := await take()) is not None:
                await work(item)

        try:
            async with asyncio.TaskGroup() as workers:
                for _ in range(min(self.concurrency, count)):
                    workers.create_task(worker())
        except BaseExceptionGroup as failures:
            raise failures.exceptions[0] from None  # the first cause, as the loop logs it


@dataclass
class _Item(Generic[T]):
    value: T
    # What kept it from being written, if anything; None with `ahead`, where nobody waits for it.
    written: asyncio.Future[Exception | None] | None


class GroupCommit(Generic[T]):
    """`store(items)` writes a batch in one transaction (it opens and commits it). With `ahead`
    0, `submit` returns once its item is committed; otherwise it returns at once while fewer
    than `ahead` items wait for their commit (and waits for room when they are that many), and
    the writer lingers before each batch until half of `ahead` wait or `LINGER` has passed, so
    that a commit holds many (on PostgreSQL a commit of 25 outcomes costs the sender 45 µs of CPU
    an outcome, one of 100 costs 17)."""

    LINGER = 0.02  # seconds; nobody waits for these commits but the end of a pass

    def __init__(self, store: Callable[[list[T]], Awaitable[None]], *, ahead: int = 0) -> None:
        self.store = store
        self._queue: list[_Item[T]] = []
        self._writer: asyncio.Task[None] | None = None
        self._room = asyncio.Semaphore(ahead) if ahead else None
        self._enough = max(1, ahead // 2)  # queued items that end the writer's linger
        self._filled: asyncio.Future[None] | None = None  # the lingering writer's wake-up
        self._failure: Exception | None = None  # the first write that failed, with `ahead`

    async def submit(self, value: T) -> None:
        """Hands `value` over to be written; raises what kept it (or, with `ahead`, an earlier
        item) from being written."""
        if self._room is not None:
            await self._room.acquire()
            if self._failure is not None:
                self._room.release()
                raise self._failure
        if self._room is not None:  # its room is given back when its batch is written
            self._queue.append(_Item(value, None))
            filled = self._filled
            if filled is not None and not filled.done() and len(self._queue) >= self._enough:
                filled.set_result(None)
            self._start()
            return
        written: asyncio.Future[Exception | None] = asyncio.get_running_loop().create_future()
        self._queue.append(_Item(value, written))
        self._start()
        # Shielded: a worker cancelled by another's failure must not cancel the others' write.
        failure = await asyncio.shield(written)
        if failure is not None:
            raise failure

    def _start(self) -> None:
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())

    async def finish(self) -> None:
        """Waits until every item handed over is written (or has failed to be). Never raises:
        it runs in `finally` blocks, where it must not hide a cancellation (`check`)."""
        if self._writer is not None:
            await asyncio.shield(self._writer)

    def check(self) -> None:
        """With `ahead`, raises what kept an item from being written."""
        if self._failure is not None:
            raise self._failure

    async def _linger(self) -> None:
        """Lets more items come before a batch is written: until half of `ahead` are queued,
        `LINGER` has passed, or a submit waits for room."""
        if len(self._queue) >= self._enough or self._room is None or self._room.locked():
            return
        self._filled = asyncio.get_running_loop().create_future()
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._filled, self.LINGER)
        finally:
            self._filled = None

    async def _write(self) -> None:
        while self._queue:
            if self._room is not None:
                await self._linger()
            batch, self._queue = self._queue, []
            failure: Exception | None = None
            try:
                await self.store([item.value for item in batch])
            except Exception as error:  # the work stays leased, and is done again
                failure = error
                if self._room is not None and self._failure is None:
                    self._failure = error
            finally:  # even cancelled: nobody waits for ever on an item, nor on room for one
                for item in batch:
                    if item.written is None:
                        if self._room is not None:
                            self._room.release()
                    elif not item.written.done():
                        item.written.set_result(failure)


def due_ids(queue: Any, now: Any, most: int) -> Select[Any]:
    """The ids of a queue's rows due now (`queue`: a model with `status`, `next_attempt_at` and
    `lease_until`, as the mail outbox and the outbound deliveries have), pending or left sending
    by a lease that ran out, oldest due first, at most `most`."""
    return (
        select(queue.id)
        .where(
            queue.status.in_(("pending", "sending")),
            queue.next_attempt_at <= now,
            (queue.lease_until.is_(None)) | (queue.lease_until < now),
        )
        .order_by(queue.next_attempt_at, queue.id)
        .limit(most)
    )
