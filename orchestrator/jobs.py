"""One-shot jobs that commands run outside the server, each on an engine of its own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from calendars.i18n import Catalogues
from calendars.text import Writer

from .clock import SystemClock
from .db.engine import create_engine, session_factory
from .db.migrate import upgrade
from .invites import InviteComposer
from .program.changes import ChangeSet
from .program.load import load_path
from .program.service import import_program
from .settings import Settings


@asynccontextmanager
async def migrated_engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
        yield engine
    finally:
        await engine.dispose()


async def import_file(settings: Settings, path: str | Path) -> ChangeSet:
    """Imports and queues the invites; a running `rdv serve` sends them."""
    raw = load_path(path)
    composer = InviteComposer(settings, Writer(Catalogues()))
    async with migrated_engine(settings) as engine:
        return await import_program(
            session_factory(engine),
            settings,
            raw,
            now=SystemClock().now(),
            on_change=composer.queue,
        )


async def upgrade_database(settings: Settings) -> tuple[str | None, str]:
    engine = create_engine(settings.database_url)
    try:
        return await upgrade(engine)
    finally:
        await engine.dispose()
