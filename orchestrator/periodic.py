"""The service's one scheduler: every piece of background work runs on it, by name.

Periodic tasks (`every`) run at a fixed interval, one wake-up (`at`) runs once when the injected
clock reaches a moment, and a long-lived task (`forever`, the PostgreSQL listener) is started
again when it stops. Whatever way a task fails, it is logged with its traceback and counted in
`rdv_task_failures_total{task}`, and it runs again at its next time: none of them ends the
service, and none fails silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from .clock import Clock
from .metrics import Metrics

log = logging.getLogger("rdv.tasks")
Task = Callable[[], Awaitable[object]]
RESTART_AFTER = 1.0  # seconds before a long-lived task that stopped is started again


class Periodic:
    def __init__(self, clock: Clock, metrics: Metrics) -> None:
        self.clock, self.metrics = clock, metrics
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self._forever: set[asyncio.Task[None]] = set()
        self._running: set[asyncio.Task[Any]] = set()  # timed runs in progress

    def every(self, name: str, interval: timedelta, task: Task, *, now: bool = True) -> None:
        """Runs `task` every `interval` (first at once with `now`); a run still going when the
        next is due makes that one wait for the following time, never run twice at once."""
        self.scheduler.add_job(
            self._timed,
            "interval",
            args=(name, task),
            seconds=interval.total_seconds(),
            id=name,
            name=name,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
            next_run_time=datetime.now(UTC) if now else None,
        )

    def at(self, name: str, moment: datetime, task: Task) -> None:
        """Runs `task` once when the injected clock reaches `moment` (at once if it has), in place
        of an earlier wake-up of the same name. The scheduler counts real seconds: the delay is
        taken from the injected clock, so tests and the demo's fast clock wake it as they mean."""
        delay = max(moment - self.clock.now(), timedelta(0))
        self.scheduler.add_job(
            self._timed,
            "date",
            args=(name, task),
            run_date=datetime.now(UTC) + delay,
            id=name,
            name=name,
            replace_existing=True,
            misfire_grace_time=None,
        )

    def forever(self, name: str, task: Task) -> None:
        """Keeps a long-lived task running: started now, and again after a pause whenever it
        stops or fails, until shutdown."""

        async def keep() -> None:
            while True:
                await self._run(name, task)
                await asyncio.sleep(RESTART_AFTER)

        running = asyncio.get_running_loop().create_task(keep(), name=f"rdv:{name}")
        self._forever.add(running)

    async def _run(self, name: str, task: Task) -> None:
        """One run: a failure is logged with its traceback and counted, never raised."""
        try:
            await task()
        except Exception:
            log.exception("task %s failed; it runs again at its next time", name)
            self.metrics.task_failures.labels(name).inc()

    async def _timed(self, name: str, task: Task) -> None:
        """A run as the scheduler starts it: one cut short by shutdown ends quietly, as every
        step is taken up again from the database at the next start."""
        current = asyncio.current_task()
        assert current is not None
        self._running.add(current)
        try:
            with contextlib.suppress(asyncio.CancelledError):
                await self._run(name, task)
        finally:
            self._running.discard(current)

    def start(self) -> None:
        self.scheduler.start()

    async def shutdown(self, grace: float = 10.0) -> None:
        """Stops the timers and the long-lived tasks, and lets the runs in progress finish (up
        to `grace` seconds, then cancels them): none may run on once the database it works on is
        closed, where a cancelled query would wait for a connection that is gone."""
        if self.scheduler.running:
            self.scheduler.pause()  # no new run starts; the scheduler's shutdown would cancel
        for task in self._forever:
            task.cancel()
        tasks = self._running | self._forever
        if tasks:
            await asyncio.wait(tasks, timeout=grace)
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)  # cancels the runs still going
        await asyncio.gather(*tasks, return_exceptions=True)
        self._forever.clear()
