"""Long loops that give the event loop a turn now and then. A whole event's dashboard (3,000
rooms) took 0.6 to 1.1 s of CPU in one go at a slot's start, and every click and webhook of that
moment waited behind it; in turns, they go through while it is computed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from typing import Any, TypeVar

T = TypeVar("T")

EVERY = 100  # items between two turns: a few milliseconds of work for the rooms of a dashboard


async def in_turns(items: Iterable[T], every: int = EVERY) -> AsyncIterator[T]:
    """`items`, with a turn given to the other tasks every `every` of them."""
    for index, item in enumerate(items):
        if index and index % every == 0:
            await asyncio.sleep(0)
        yield item


async def rows_in_turns(result: Any, every: int = EVERY) -> list[Any]:
    """The rows of a streamed result (`AsyncSession.stream`), read `every` at a time with a
    turn in between: loading thousands of ORM objects is otherwise one long stretch."""
    rows: list[Any] = []
    async for part in result.partitions(every):
        rows.extend(part)
        await asyncio.sleep(0)
    return rows
