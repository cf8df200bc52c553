"""Writing the outcomes of concurrent work as they come, a transaction for all that arrived
together (group commit): while one transaction runs the next items queue, and the queue is
written in one transaction when it ends. Each worker waits for its own item's commit, so a
crash can repeat only the work whose outcome was not written yet. The mail outbox and the
outbound webhooks record each delivery attempt this way."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass
class _Item(Generic[T]):
    value: T
    written: asyncio.Future[Exception | None]  # what kept it from being written, if anything


class GroupCommit(Generic[T]):
    """`store(items)` writes a batch in one transaction (it opens and commits it)."""

    def __init__(self, store: Callable[[list[T]], Awaitable[None]]) -> None:
        self.store = store
        self._queue: list[_Item[T]] = []
        self._writer: asyncio.Task[None] | None = None

    async def submit(self, value: T) -> None:
        """Returns once `value` is committed; raises what kept it from being written."""
        written: asyncio.Future[Exception | None] = asyncio.get_running_loop().create_future()
        self._queue.append(_Item(value, written))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())
        # Shielded: a worker cancelled by another's failure must not cancel the others' write.
        failure = await asyncio.shield(written)
        if failure is not None:
            raise failure

    async def finish(self) -> None:
        """Waits until every item handed over is written (or has failed to be)."""
        if self._writer is not None:
            await asyncio.shield(self._writer)

    async def _write(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            failure: Exception | None = None
            try:
                await self.store([item.value for item in batch])
            except Exception as error:  # the work stays leased, and is done again
                failure = error
            for item in batch:
                item.written.set_result(failure)
