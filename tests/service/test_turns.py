"""A long computation (a whole event's dashboard at a slot's start) lets the clicks and webhooks
that arrive meanwhile through, instead of making them wait until it is done."""

from __future__ import annotations

import asyncio
import time

from orchestrator.turns import TURN, in_turns


def _work(seconds: float) -> None:
    """CPU, as a room's card costs it: the loop cannot run anything else meanwhile."""
    until = time.perf_counter() + seconds
    while time.perf_counter() < until:
        pass


async def test_a_click_arriving_during_a_long_build_is_answered_before_the_build_ends() -> None:
    built: list[int] = []
    answered_after: list[int] = []

    async def build() -> None:  # fifty rooms, each a little under a turn's worth of work
        async for room in in_turns(range(50)):
            _work(TURN * 0.6)
            built.append(room)

    async def click() -> None:
        answered_after.append(len(built))

    building = asyncio.create_task(build())
    await asyncio.sleep(0)  # the build has started
    clicked = asyncio.create_task(click())
    await building
    await clicked
    # Answered after a few rooms, not after all fifty (a turn every 100 rooms answered it last).
    assert answered_after[0] <= 5


async def test_cheap_items_go_through_without_a_turn_each() -> None:
    """Ten thousand rows that cost nothing give no turn at all: turns are for long stretches."""
    other_ran = asyncio.Event()

    async def other() -> None:
        other_ran.set()

    asyncio.get_running_loop().call_soon(lambda: asyncio.ensure_future(other()))
    seen = [row async for row in in_turns(range(10_000), every=60.0)]
    assert len(seen) == 10_000
    assert not other_ran.is_set()
