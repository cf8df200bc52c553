"""The app factory: builds the service from settings and wires every resource in `cleanup_ctx`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from calendars.i18n import Catalogues
from calendars.text import Writer
from calendars.transport import parse_mail_url, transport_for

from . import keys
from .api import events, feeds, health, mail, openapi
from .api.errors import error_middleware
from .clock import Clock, SystemClock
from .db.engine import create_engine, session_factory
from .db.migrate import upgrade
from .invites import InviteComposer
from .outbox import OutboxSender
from .settings import Settings

# aiohttp's own cap; routes apply tighter limits of their own while reading.
MAX_BODY = 33 * 1024 * 1024


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    migrate: bool = True,
    background: bool = True,
) -> web.Application:
    """The service; `background=False` leaves the loops (mail sender, timers) to the caller,
    which tests use to drive them step by step."""
    app = web.Application(middlewares=[error_middleware], client_max_size=MAX_BODY)
    app[keys.SETTINGS] = settings
    app[keys.CLOCK] = clock or SystemClock()
    app[keys.WRITER] = Writer(Catalogues())
    app[keys.INVITES] = InviteComposer(settings, app[keys.WRITER])
    mail_target = parse_mail_url(settings.mail_url)

    async def database(app: web.Application) -> AsyncIterator[None]:
        engine = create_engine(settings.database_url)
        if migrate:
            await upgrade(engine)
        app[keys.ENGINE] = engine
        app[keys.DB] = session_factory(engine)
        yield
        await engine.dispose()

    async def outbox(app: web.Application) -> AsyncIterator[None]:
        transport = transport_for(mail_target)
        sender = OutboxSender(app[keys.DB], transport, app[keys.CLOCK])
        app[keys.OUTBOX] = sender
        task = asyncio.create_task(sender.run()) if background else None
        yield
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await transport.aclose()

    app.cleanup_ctx.extend([database, outbox])
    for table in (health.routes, openapi.routes, events.routes, mail.routes, feeds.routes):
        app.router.add_routes(table)
    return app
