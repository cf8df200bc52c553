"""Applies the Alembic migrations shipped in the package (`rdv db upgrade`; `serve` at start)."""

from __future__ import annotations

import zlib
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).with_name("migrations")
_LOCK = zlib.crc32(b"rdv:migrate")  # the key of the advisory lock below


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


async def upgrade(engine: AsyncEngine) -> tuple[str | None, str]:
    """Brings the schema to the newest revision, all of it or nothing; returns (revision
    before, revision after).

    On PostgreSQL a transaction-wide advisory lock serialises instances that start at once: the
    second waits, then finds the schema current, instead of failing on tables being created."""

    def run(connection: Connection) -> tuple[str | None, str]:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK})
        else:
            # Python's sqlite3 opens a transaction only before a row is written: CREATE TABLE
            # would commit as it goes, and a process killed mid-upgrade would leave tables
            # without the revision that made them (the next start then fails on them). One
            # explicit transaction makes the whole upgrade all or nothing.
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        before = MigrationContext.configure(connection).get_current_revision()
        command.upgrade(_config(connection), "head")
        head = ScriptDirectory.from_config(_config()).get_current_head()
        assert head is not None
        return before, head

    async with engine.begin() as connection:
        return await connection.run_sync(run)


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as connection:
        return await connection.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )
