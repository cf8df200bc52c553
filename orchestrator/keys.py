"""Every typed application key, in one place."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from calendars.text import Writer

from .clock import Clock
from .invites import InviteComposer
from .outbox import OutboxSender
from .settings import Settings

SETTINGS = web.AppKey("settings", Settings)
CLOCK = web.AppKey("clock", Clock)
ENGINE = web.AppKey("engine", AsyncEngine)
DB = web.AppKey("db", async_sessionmaker[AsyncSession])
WRITER = web.AppKey("writer", Writer)
INVITES = web.AppKey("invites", InviteComposer)
OUTBOX = web.AppKey("outbox", OutboxSender)
