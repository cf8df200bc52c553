"""Long loops that give the event loop a turn now and then. A whole event's dashboard (3,000
rooms) took 0.6 to 1.1 s of CPU in one go at a slot's start, and every click and webhook of that
moment waited behind it; in turns, they go through while it is computed.

A turn comes after TURN seconds of work, not after a count of items: a request waiting in the
loop needs several turns to be answered (its reading, its queries, its answer), and waits a whole
stretch for each, so a stretch must be short whatever an item costs (a meeting's card, a
plenary's three thousand seats). 100 items at a time had made stretches of 15 to 40 ms, and
clicks at a slot's start waited 1 to 2 s. At 2 ms, the clicks of the second when a slot's 3,000
cards are refreshed and rendered still waited 180 ms at p99 (SQLite); at 1 ms, 88 ms, the pages
showing the change some 10 % later (bench/storm.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable
from typing import TypeVar

T = TypeVar("T")

TURN = 0.001  # seconds of work between two turns


class Turns:
    """A clock for loops written by hand: `await turns.give()` gives the loop a turn once TURN
    seconds have passed since the last one."""

    def __init__(self, every: float = TURN) -> None:
        self.every = every
        self.given = time.perf_counter()

    async def give(self) -> None:
        if time.perf_counter() - self.given >= self.every:
            await asyncio.sleep(0)
            self.given = time.perf_counter()


async def in_turns(items: Iterable[T], every: float = TURN) -> AsyncIterator[T]:
    """`items`, with a turn given to the other tasks every `every` seconds of work."""
    turns = Turns(every)
    for item in items:
        await turns.give()
        yield item
