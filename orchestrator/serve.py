"""`rdv serve`: runs the app until SIGINT or SIGTERM, then lets in-flight requests finish."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

from .accesslog import AccessLogger
from .app import create_app
from .settings import Settings

log = logging.getLogger("rdv")
SHUTDOWN_GRACE = 10.0
GC_THRESHOLDS = (10_000, 20, 20)
SWITCH_INTERVAL = 0.0005


def serve(settings: Settings) -> None:
    """Refuses to start without a usable secret key (SettingsError says why in one line)."""
    settings.require_secret_key()
    asyncio.run(_serve(settings))


async def _serve(settings: Settings) -> None:
    stop = stop_on_signals()
    async with running(create_app(settings), settings):
        # What startup made (modules, templates, the schema) lives as long as the process: out of
        # the collector's sight, a full collection no longer walks it. Under load those walks were
        # the service's longest pauses (140 ms; 15 ms frozen) and the dashboard's slowest updates.
        gc.collect()
        gc.freeze()
        # And the young objects are looked at every 10,000 allocations instead of 700: a slot's
        # start allocates millions (cards, messages, rows), and the default thresholds spent a
        # tenth of its CPU in the collector, most of it promoting objects a request was about to
        # drop (three whole dashboards of a 3,000-meeting event: 1.26 s of CPU so, 0.92 s at
        # 10,000). Not more: each collection stops everything, and during a slot's start at
        # 50,000 each took 100 to 120 ms (most of what it finds is cycles requests left behind),
        # a pause for every request in flight; at 10,000 the longest took 42 ms.
        gc.set_threshold(*GC_THRESHOLDS)
        # A thread waiting for the interpreter (aiosqlite's, with a statement's rows) gets it
        # within 0.5 ms instead of 5 ms of the loop's work: with the loop busy, a read of one
        # row through aiosqlite took 40 to 51 ms at the median (p99 0.3 to 3.3 s), 13 ms so.
        sys.setswitchinterval(SWITCH_INTERVAL)
        await stop.wait()


def stop_on_signals() -> asyncio.Event:
    """An event the running loop sets on SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    return stop


@asynccontextmanager
async def running(
    app: web.Application, settings: Settings, *, sock: socket.socket | None = None
) -> AsyncIterator[web.AppRunner]:
    """Serves `app` on settings' host and port (or on `sock`, already bound) for the body of the
    `with`; on the way out, requests in flight finish (up to SHUTDOWN_GRACE), then background
    work stops."""
    # Our own runner rather than web.run_app: run_app cleans up inside a cancelled task, which
    # cuts the wait for in-flight requests short.
    runner = web.AppRunner(
        app,
        access_log_class=AccessLogger,
        access_log=logging.getLogger("rdv.access"),
        shutdown_timeout=SHUTDOWN_GRACE,
        handle_signals=False,
    )
    await runner.setup()
    try:
        site = (
            web.SockSite(runner, sock)
            if sock is not None
            else web.TCPSite(runner, settings.host, settings.port)
        )
        await site.start()
        host, port = (
            (sock.getsockname()[:2]) if sock is not None else (settings.host, settings.port)
        )
        log.info("serving on http://%s:%s (public URL %s)", host, port, settings.base_url)
        yield runner
        log.info("stopping: finishing requests in flight (up to %.0f s)", SHUTDOWN_GRACE)
    finally:
        await runner.cleanup()
    log.info("stopped")
