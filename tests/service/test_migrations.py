"""The migrations build exactly the schema the models describe, and upgrading twice is harmless."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from conftest import POSTGRES_URL, admin
from sqlalchemy import event, inspect
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


async def test_an_upgrade_cut_short_on_sqlite_leaves_nothing_half_made(tmp_path: Path) -> None:
    """`rdv import` killed while it upgraded a fresh SQLite file left tables without the
    revision that made them, and every later start failed on "table events already exists"."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'cut.sqlite3'}")
    made: list[str] = []

    def cut_short(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("CREATE TABLE"):
            made.append(statement)
            if len(made) == 5:  # the process dies here
                raise RuntimeError("killed")

    event.listen(engine.sync_engine, "before_cursor_execute", cut_short)
    try:
        with pytest.raises(RuntimeError, match="killed"):
            await upgrade(engine)
        event.remove(engine.sync_engine, "before_cursor_execute", cut_short)
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
        assert tables == []
        before, head = await upgrade(engine)  # the next start makes it whole
        assert before is None
        assert head == await current_revision(engine)
    finally:
        await engine.dispose()
