"""What the fuzz tests share: one bounded, reproducible Hypothesis profile, a bridge that lets a
Hypothesis loop (which is synchronous) drive the test's event loop from a worker thread, the
error format every refusal must have, and a snapshot of the whole database."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from aiohttp import web
from hypothesis import HealthCheck, Phase, settings
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from orchestrator.db.base import Base

T = TypeVar("T")


def fuzz_settings(max_examples: int) -> settings:
    """The same examples on every run and machine, no example database left behind, no deadline
    (the machine is shared), and the health checks that only say "this is slow" switched off."""
    return settings(
        max_examples=max_examples,
        derandomize=True,
        database=None,
        deadline=None,
        print_blob=False,
        phases=(Phase.explicit, Phase.generate, Phase.shrink),
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
            HealthCheck.function_scoped_fixture,
        ],
    )


def on_loop(loop: asyncio.AbstractEventLoop) -> Callable[[Awaitable[T]], T]:
    """Runs a coroutine on the test's loop from the Hypothesis thread and waits for it."""

    def run(awaitable: Awaitable[T]) -> T:
        async def wrapper() -> T:
            return await awaitable

        return asyncio.run_coroutine_threadsafe(wrapper(), loop).result(timeout=120)

    return run


def assert_error_format(body: Any, status: int) -> None:
    """`{"error": {"code", "message", "details"}}`; a refused program names the place of every
    problem."""
    assert isinstance(body, dict), body
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "details"}, error
    assert _text(error["code"]), error
    assert _text(error["message"]), error
    assert isinstance(error["details"], list), error
    if status == 422 and error["code"] == "invalid_program":
        assert error["details"], error
        for detail in error["details"]:
            assert_problem(detail)


def assert_problem(detail: Any) -> None:
    """One problem of a refused program: where it is, and what is wrong, never a traceback."""
    assert isinstance(detail, dict), detail
    assert _text(detail.get("place")), detail
    assert _text(detail.get("message")), detail
    assert "Traceback" not in detail["message"], detail


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


Snapshot = dict[str, list[tuple[Any, ...]]]


async def snapshot(db: async_sessionmaker[AsyncSession], skip: Sequence[str] = ()) -> Snapshot:
    """Every row of every table, in primary-key order: what "nothing changed" is compared with."""
    found: Snapshot = {}
    async with db() as session:
        for table in Base.metadata.sorted_tables:
            if table.name in skip:
                continue
            order = list(table.primary_key.columns) or list(table.columns)
            rows = await session.execute(select(table).order_by(*order))
            found[table.name] = [tuple(row) for row in rows]
    return found


def api_routes(app: web.Application) -> set[tuple[str, str]]:
    """Every `/api/v1` operation the app serves, as (method, path template)."""
    found = set()
    for route in app.router.routes():
        path = route.resource.canonical if route.resource else ""
        if path.startswith("/api/v1") and route.method in ("GET", "PUT", "POST", "PATCH", "DELETE"):
            found.add((route.method, path))
    return found
