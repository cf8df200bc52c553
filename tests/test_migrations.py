"""The migrations build exactly the schema the models describe, and upgrading twice is harmless."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from orchestrator.db.base import Base
from orchestrator.db.engine import create_engine
from orchestrator.db.migrate import current_revision, upgrade


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_the_migrated_schema_matches_the_models(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(_differences) == []
    finally:
        await engine.dispose()


async def test_a_second_upgrade_changes_nothing(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        head = await current_revision(engine)
        assert head is not None
        assert await upgrade(engine) == (head, head)
    finally:
        await engine.dispose()
