"""`rdv serve`: runs the app until SIGINT or SIGTERM, letting in-flight requests finish."""

from __future__ import annotations

import logging

from aiohttp import web

from .accesslog import AccessLogger
from .app import create_app
from .settings import Settings

log = logging.getLogger("rdv")
SHUTDOWN_GRACE = 10.0


def serve(settings: Settings) -> None:
    """Refuses to start without a usable secret key (SettingsError says why in one line)."""
    settings.require_secret_key()
    app = create_app(settings)
    web.run_app(
        app,
        host=settings.host,
        port=settings.port,
        access_log_class=AccessLogger,
        access_log=logging.getLogger("rdv.access"),
        print=lambda _message: log.info(
            "serving on http://%s:%s (public URL %s)",
            settings.host,
            settings.port,
            settings.base_url,
        ),
        shutdown_timeout=SHUTDOWN_GRACE,
        handle_signals=True,
    )
    log.info("stopped")
