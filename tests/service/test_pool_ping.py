"""The PostgreSQL pool pings a connection only when it has waited in the pool a while: one the
server closed meanwhile (a restart, an idle timeout) is replaced before anyone uses it, and a
connection in steady use costs no ping per transaction."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event, text

from orchestrator.db import engine as engines
from orchestrator.db.engine import create_engine
from tests.conftest import POSTGRES_URL

pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason="needs RDV_TEST_DATABASE_URL")


async def _backend(engine: Any) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def test_a_connection_the_server_closed_while_idle_is_replaced_before_use(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    try:
        first = await _backend(engine)
        killer = create_engine(database_url)
        async with killer.connect() as other:
            await other.execute(text(f"SELECT pg_terminate_backend({first})"))
        await killer.dispose()
        monkeypatch.setattr(engines, "IDLE", 0.0)  # it has waited long enough
        assert await _backend(engine) != first  # no error: pinged, found closed, replaced
    finally:
        await engine.dispose()


async def test_a_connection_in_steady_use_is_not_pinged(database_url: str) -> None:
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    statements: list[str] = []
    event.listen(
        engine.sync_engine, "before_cursor_execute", lambda *args: statements.append(args[2])
    )
    pings = 0
    original = engine.dialect.do_ping

    def counted(connection: Any) -> bool:
        nonlocal pings
        pings += 1
        return bool(original(connection))

    engine.dialect.do_ping = counted  # type: ignore[method-assign]
    try:
        for _ in range(20):
            await _backend(engine)
        assert pings == 0  # the new connection was just made, then used every few ms
        assert len(statements) == 20
    finally:
        await engine.dispose()
