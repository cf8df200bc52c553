"""The app factory: builds the service from settings and wires every resource in `cleanup_ctx`."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from . import keys
from .api import events, health, openapi
from .api.errors import error_middleware
from .clock import Clock, SystemClock
from .db.engine import create_engine, session_factory
from .db.migrate import upgrade
from .settings import Settings

# aiohttp's own cap; routes apply tighter limits of their own while reading.
MAX_BODY = 33 * 1024 * 1024


def create_app(
    settings: Settings, *, clock: Clock | None = None, migrate: bool = True
) -> web.Application:
    app = web.Application(middlewares=[error_middleware], client_max_size=MAX_BODY)
    app[keys.SETTINGS] = settings
    app[keys.CLOCK] = clock or SystemClock()

    async def database(app: web.Application) -> AsyncIterator[None]:
        engine = create_engine(settings.database_url)
        if migrate:
            await upgrade(engine)
        app[keys.ENGINE] = engine
        app[keys.DB] = session_factory(engine)
        yield
        await engine.dispose()

    app.cleanup_ctx.append(database)
    for table in (health.routes, openapi.routes, events.routes):
        app.router.add_routes(table)
    return app
