"""Wakes the room lifecycle at the right moments: when the next room falls due (a wake-up
rebuilt from the database after every pass), after every change of the program, and every 30
seconds as a backstop. The timers hold no state of their own: a restart rebuilds them from the
database. They run on the service's one scheduler, which logs and counts a pass that fails and
lets a pass in progress finish at shutdown."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta

from ..mail.reminders import Reminders
from ..periodic import Periodic
from .lifecycle import RoomLifecycle

log = logging.getLogger("rdv.rooms")
PERIOD = timedelta(seconds=30)


class LifecycleTimers:
    def __init__(
        self,
        periodic: Periodic,
        lifecycle: RoomLifecycle,
        reminders: Reminders | None = None,
        *,
        on_queued: Callable[[], None] = lambda: None,
        period: timedelta = PERIOD,
    ) -> None:
        self.periodic = periodic
        self.lifecycle = lifecycle
        self.reminders = reminders
        self.on_queued = on_queued  # wakes the mail sender when reminders were queued
        self.period = period
        self._lock = asyncio.Lock()

    def start(self) -> None:
        self.periodic.every("rooms", self.period, self.run)

    def poke(self) -> None:
        """Runs a pass now (after a change that may have moved or cancelled a session)."""
        self.periodic.at("rooms-now", self.lifecycle.clock.now(), self.run)

    async def run(self) -> None:
        """One pass: every step due now, then a wake-up for the next one."""
        async with self._lock:
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
        if following is not None:
            self.periodic.at("rooms-next", following, self.run)
