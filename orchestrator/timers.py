"""Wakes the room lifecycle at the right moments: when the next room falls due (a timer rebuilt
from the database after every pass), after every change of the program, and every 30 seconds as a
backstop. The timers hold no state of their own: a restart rebuilds them from the database."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from .mail.reminders import Reminders
from .rooms.lifecycle import RoomLifecycle

log = logging.getLogger("rdv.rooms")
PERIOD_SECONDS = 30


class LifecycleTimers:
    def __init__(
        self,
        lifecycle: RoomLifecycle,
        reminders: Reminders | None = None,
        *,
        on_queued: Callable[[], None] = lambda: None,
        period: int = PERIOD_SECONDS,
    ) -> None:
        self.lifecycle = lifecycle
        self.reminders = reminders
        self.on_queued = on_queued  # wakes the mail sender when reminders were queued
        self.period = period
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self._lock = asyncio.Lock()

    def start(self) -> None:
        self.scheduler.add_job(
            self._job,
            "interval",
            seconds=self.period,
            id="reconcile",
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(UTC),
        )
        self.scheduler.start()

    def poke(self) -> None:
        """Runs a pass now (after a change that may have moved or cancelled a session)."""
        self._at(datetime.now(UTC), "poke")

    def _at(self, moment: datetime, job_id: str) -> None:
        self.scheduler.add_job(
            self._job,
            "date",
            run_date=moment,
            id=job_id,
            replace_existing=True,
            misfire_grace_time=None,
        )

    async def _job(self) -> None:
        """A pass as the scheduler runs it: one cut short by shutdown ends quietly, as every step
        is taken up again from the database at the next start."""
        with contextlib.suppress(asyncio.CancelledError):
            await self.run()

    async def run(self) -> None:
        async with self._lock:
            try:
                tally = await self.lifecycle.reconcile()
                if tally.provisioned or tally.failed or tally.closed:
                    log.info(
                        "rooms: %d ready, %d failed, %d closed",
                        tally.provisioned,
                        tally.failed,
                        tally.closed,
                    )
                following = await self.lifecycle.next_due()
                if self.reminders is not None:
                    queued = await self.reminders.queue_due()
                    if queued:
                        log.info("reminders: %d queued", queued)
                        self.on_queued()
                    later = await self.reminders.next_due()
                    if later is not None:
                        following = min(following, later) if following else later
            except Exception:
                log.exception("room lifecycle pass failed; the next pass will retry")
                return
        if following is not None:
            self._at(max(following, datetime.now(UTC)), "next")

    async def shutdown(self, grace: float = 10.0) -> None:
        """Stops the timers and waits (up to `grace` seconds) for a pass in progress, so that it
        never runs on after the database it works on has been closed."""
        self.scheduler.shutdown(wait=False)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace):
                async with self._lock:
                    pass
