"""Work that only one instance should do at a time (polling rooms, registering webhooks, clock
ticks): a PostgreSQL advisory lock held for the pass; SQLite runs a single instance anyway."""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker


@asynccontextmanager
async def exclusive(db: async_sessionmaker[AsyncSession], name: str) -> AsyncIterator[bool]:
    """Yields True for the one instance that got the lock named `name`, False for the others."""
    async with db() as session:
        if session.get_bind().dialect.name != "postgresql":
            yield True
            return
        async with session.begin():
            key = zlib.crc32(f"rdv:{name}".encode())
            got = await session.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": key})
            yield bool(got)
