"""The migrations build exactly the schema the models describe, and upgrading twice is harmless."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from conftest import POSTGRES_URL, admin
from sqlalchemy.engine import Connection, make_url

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


async def test_instances_starting_together_on_an_empty_database_both_come_up() -> None:
    """Two `rdv serve` started at once by a deployment both migrate: one waits for the other."""
    if not POSTGRES_URL:
        pytest.skip("several instances need PostgreSQL (set RDV_TEST_DATABASE_URL)")
    name = f"rdv_migrate_{uuid.uuid4().hex[:8]}"
    await admin(POSTGRES_URL, f'CREATE DATABASE "{name}"')
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    engines = [create_engine(url), create_engine(url)]
    try:
        results = await asyncio.gather(*(upgrade(engine) for engine in engines))
        head = results[0][1]
        assert sorted(results, key=str) == sorted([(None, head), (head, head)], key=str)
    finally:
        for engine in engines:
            await engine.dispose()
        await admin(POSTGRES_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
