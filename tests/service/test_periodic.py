"""Background work runs on the service's one scheduler: a task that fails is logged with its
traceback, counted in /metrics, and runs again at its next time; wake-ups follow the injected
clock, not the machine's."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import generate_latest
from support.service import ManualClock

from orchestrator.metrics import Metrics
from orchestrator.periodic import Periodic


def failures(metrics: Metrics, task: str) -> float:
    value = metrics.registry.get_sample_value("rdv_task_failures_total", {"task": task})
    return value or 0.0


async def test_a_task_that_fails_is_logged_counted_and_runs_again_at_its_next_time(
    caplog: pytest.LogCaptureFixture,
) -> None:
    metrics = Metrics()
    periodic = Periodic(ManualClock(), metrics)
    runs: list[int] = []
    third = asyncio.Event()

    async def purge() -> None:
        runs.append(len(runs))
        if len(runs) == 1:
            raise ConnectionResetError("the database went away")
        if len(runs) == 3:
            third.set()

    periodic.every("purge-deliveries", timedelta(milliseconds=50), purge)
    with caplog.at_level(logging.ERROR, logger="rdv.tasks"):
        periodic.start()
        try:
            await asyncio.wait_for(third.wait(), timeout=5.0)
        finally:
            await periodic.shutdown()

    failed = [r for r in caplog.records if r.name == "rdv.tasks"]
    assert len(failed) == 1
    assert "task purge-deliveries failed" in failed[0].getMessage()
    assert failed[0].exc_info is not None  # the traceback goes to the log
    assert "ConnectionResetError: the database went away" in caplog.text
    assert failures(metrics, "purge-deliveries") == 1
    exposed = generate_latest(metrics.registry).decode()
    assert 'rdv_task_failures_total{task="purge-deliveries"} 1.0' in exposed


async def test_a_long_lived_task_that_stops_is_started_again_and_its_failure_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    metrics = Metrics()
    periodic = Periodic(ManualClock(), metrics)
    started: list[int] = []
    again, held = asyncio.Event(), asyncio.Event()

    async def listen() -> None:
        started.append(1)
        if len(started) == 1:
            raise OSError("connection lost")
        again.set()
        await held.wait()  # the second connection holds

    with caplog.at_level(logging.ERROR, logger="rdv.tasks"):
        periodic.forever("dashboard-listen", listen)
        await asyncio.wait_for(again.wait(), timeout=5.0)
        await periodic.shutdown()

    assert failures(metrics, "dashboard-listen") == 1
    assert "OSError: connection lost" in caplog.text


async def test_a_wake_up_follows_the_injected_clock() -> None:
    """The clock says 2021 and the machine says now: a wake-up due 50 ms later by the injected
    clock comes 50 ms later, whatever the machine's own time."""
    clock = ManualClock()
    clock.set(datetime(2021, 4, 8, 10, 0, tzinfo=UTC))
    periodic = Periodic(clock, Metrics())
    woke = asyncio.Event()

    async def wake() -> None:
        woke.set()

    periodic.start()
    try:
        periodic.at("rooms-next", clock.now() + timedelta(milliseconds=50), wake)
        await asyncio.wait_for(woke.wait(), timeout=5.0)
        woke.clear()
        periodic.at("rooms-next", clock.now() + timedelta(hours=1), wake)
        await asyncio.sleep(0.2)
        assert not woke.is_set()  # an hour away by the injected clock: not yet
    finally:
        await periodic.shutdown()


async def test_shutdown_lets_a_run_in_progress_finish_and_cuts_one_that_overstays() -> None:
    """The database closes right after: a pass must not go on beyond shutdown."""
    periodic = Periodic(ManualClock(), Metrics())
    started, finished, cut = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def short_pass() -> None:
        started.set()
        await asyncio.sleep(0.2)
        finished.set()

    async def endless_pass() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cut.set()
            raise

    periodic.every("rooms", timedelta(hours=1), short_pass)
    periodic.every("archive-recordings", timedelta(hours=1), endless_pass)
    periodic.start()
    await asyncio.wait_for(started.wait(), timeout=5.0)
    await asyncio.sleep(0)  # both runs are under way
    await periodic.shutdown(grace=1.0)

    assert finished.is_set()
    assert cut.is_set()
