"""`rdv serve`: runs the app until SIGINT or SIGTERM, then lets in-flight requests finish."""

from __future__ import annotations

import asyncio
import logging
import signal

from aiohttp import web

from .accesslog import AccessLogger
from .app import create_app
from .settings import Settings

log = logging.getLogger("rdv")
SHUTDOWN_GRACE = 10.0


def serve(settings: Settings) -> None:
    """Refuses to start without a usable secret key (SettingsError says why in one line)."""
    settings.require_secret_key()
    asyncio.run(_serve(settings))


async def _serve(settings: Settings) -> None:
    # Our own loop rather than web.run_app: run_app cleans up inside a cancelled task, which cuts
    # the wait for in-flight requests short.
    runner = web.AppRunner(
        create_app(settings),
        access_log_class=AccessLogger,
        access_log=logging.getLogger("rdv.access"),
        shutdown_timeout=SHUTDOWN_GRACE,
        handle_signals=False,
    )
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await web.TCPSite(runner, settings.host, settings.port).start()
        log.info(
            "serving on http://%s:%s (public URL %s)",
            settings.host,
            settings.port,
            settings.base_url,
        )
        await stop.wait()
        log.info("stopping: finishing requests in flight (up to %.0f s)", SHUTDOWN_GRACE)
    finally:
        await runner.cleanup()
    log.info("stopped")
