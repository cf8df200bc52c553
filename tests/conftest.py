"""Shared fixtures: a migrated database per test (SQLite, or PostgreSQL when
RDV_TEST_DATABASE_URL is set), the real app factory, an injected clock and signed tokens."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import text
from sqlalchemy.engine import make_url
from support import tools
from support.mailsink import MailSink
from support.service import TEST_SECRET, Api, ManualClock

from orchestrator.app import create_app
from orchestrator.db.base import Base
from orchestrator.db.engine import create_engine, session_factory
from orchestrator.db.migrate import upgrade
from orchestrator.settings import Settings
from orchestrator.tokens import mint_api_token

POSTGRES_URL = os.environ.get("RDV_TEST_DATABASE_URL")
pytest_plugins = ["support.janus_server", "support.browser", "support.dovecot"]


def pytest_report_header() -> str:
    return f"database: {'PostgreSQL (RDV_TEST_DATABASE_URL)' if POSTGRES_URL else 'SQLite'}"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Each tool whose absence kept tests from running, once, with how to install it."""
    reasons = [
        str(report.longrepr[2])
        for report in terminalreporter.stats.get("skipped", [])
        if isinstance(report.longrepr, tuple) and len(report.longrepr) == 3
    ]
    lines = tools.summary(reasons)
    if lines:
        terminalreporter.section("not run for want of tools: the suite was not whole")
        for line in lines:
            terminalreporter.write_line(line)


async def admin(base_url: str, statement: str) -> None:
    """Runs one statement on the PostgreSQL server of RDV_TEST_DATABASE_URL."""
    import asyncpg

    url = make_url(base_url)
    connection = await asyncpg.connect(
        host=url.host,
        port=url.port or 5432,
        user=url.username,
        password=url.password,
        database=url.database or "postgres",
    )
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def _migrate(url: str) -> None:
    engine = create_engine(url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database made once per run: a SQLite file to copy, or a PostgreSQL database
    whose tables each test empties."""
    if POSTGRES_URL:
        name = f"rdv_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        asyncio.run(admin(POSTGRES_URL, f'CREATE DATABASE "{name}"'))
        url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
        asyncio.run(_migrate(url))
        yield url
        asyncio.run(admin(POSTGRES_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        return
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    asyncio.run(_migrate(f"sqlite+aiosqlite:///{path}"))
    yield str(path)


@pytest.fixture
async def database_url(migrated_template: str, tmp_path: Path) -> AsyncIterator[str]:
    if POSTGRES_URL:
        engine = create_engine(migrated_template)
        tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
        async with engine.begin() as connection:
            await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        await engine.dispose()
        yield migrated_template
        return
    path = tmp_path / "rdv.sqlite3"
    shutil.copyfile(migrated_template, path)
    yield f"sqlite+aiosqlite:///{path}"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def make_settings(database_url: str, tmp_path: Path) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "database_url": database_url,
            "secret_key": TEST_SECRET,
            "public_url": "https://rdv.test",
            "mail_url": f"file://{tmp_path / 'outbox'}",
        }
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
def app(settings: Settings, clock: ManualClock) -> web.Application:
    return create_app(settings, clock=clock, migrate=False, background=False)


@pytest.fixture
async def client(aiohttp_client: Any, app: web.Application) -> TestClient[Any, Any]:
    client: TestClient[Any, Any] = await aiohttp_client(app)
    return client


@pytest.fixture
def token(clock: ManualClock) -> Callable[..., str]:
    """Mints API tokens as `rdv token` does: token(event, role='organiser', ttl=8h)."""

    def mint(event: str, role: str = "organiser", ttl: timedelta = timedelta(hours=8)) -> str:
        return mint_api_token(TEST_SECRET, role=role, event=event, ttl=ttl, now=clock.now())

    return mint


@pytest.fixture
def api(client: TestClient[Any, Any], token: Callable[..., str]) -> Api:
    return Api(client, token)


@pytest.fixture
def make_api(
    aiohttp_client: Any,
    make_settings: Callable[..., Settings],
    clock: ManualClock,
    token: Callable[..., str],
) -> Callable[..., Any]:
    """An API on an app built with other settings: `await make_api(bbb_url=...)`."""

    async def make(**overrides: Any) -> Api:
        app = create_app(make_settings(**overrides), clock=clock, migrate=False, background=False)
        return Api(await aiohttp_client(app), token)

    return make


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Any]:
    """A session factory on the test database, for reading what the service wrote."""
    engine = create_engine(database_url)
    yield session_factory(engine)
    await engine.dispose()


@pytest.fixture
def sink() -> Iterator[MailSink]:
    """A real SMTP server (aiosmtpd) that keeps what it receives."""
    server = MailSink()
    server.start()
    yield server
    server.stop()
