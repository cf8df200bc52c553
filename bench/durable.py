"""The baseline of bench/door.py: the least a webhook door can do when it must store each
delivery before answering. A bare aiohttp app checks the JaaS signature as `rdv serve` does
(HMAC-SHA256 of `"{t}.{body}"`, `t` within 5 minutes), reads the JSON, and stores one row per
delivery in a table of its own through the same driver (SQLAlchemy's async engine on aiosqlite or
asyncpg; SQLite in WAL with synchronous=NORMAL, as orchestrator/db/engine.py sets it). Rows are
written with group commit: a request queues its row and waits; one writer takes everything
queued, inserts it in one statement (a duplicate key stores nothing), commits, then answers each.
Nothing is answered before its commit, so the figure is one `rdv serve` could reach, not a
shortcut it cannot take.

It imports nothing from the project: a baseline written apart from the code it measures."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    event,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

TOLERANCE_S = 300  # the verifier's window for the signed `t`, either way


class Refused(Exception):
    """A delivery that is not ours (401) or not readable (400)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def deliveries_table() -> Table:
    """One row per delivery, its idempotency key unique; a MetaData of its own per call, so that
    nothing mutable lives at module level."""
    return Table(
        "durable_deliveries",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("idempotency_key", String(300), nullable=False, unique=True),
        Column("room", String(200)),
        Column("seat", String(100)),
        Column("event_type", String(50)),
        Column("received_at", DateTime(timezone=True), nullable=False),
        Column("body", LargeBinary, nullable=False),
    )


def engine_for(url: str) -> AsyncEngine:
    """The same driver and SQLite settings as `rdv serve` (WAL, synchronous=NORMAL)."""
    if not url.startswith("sqlite"):
        return create_async_engine(url)
    engine = create_async_engine(url, connect_args={"timeout": 30})

    def pragmas(connection: Any, _record: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    event.listen(engine.sync_engine, "connect", pragmas)
    return engine


def check_signature(header: str | None, body: bytes, secret: bytes, now: float) -> None:
    """`X-Jaas-Signature: t=<s>,v1=<base64 HMAC-SHA256("{t}.{body}")>`, compared in constant
    time, and `t` within TOLERANCE_S of now: the checks rdv's verifier makes."""
    parts = dict(part.strip().partition("=")[::2] for part in (header or "").split(","))
    stamp, given = parts.get("t", ""), parts.get("v1", "")
    if not stamp.isdigit() or not given:
        raise Refused(401, "no valid X-Jaas-Signature")
    mac = hmac.new(secret, stamp.encode() + b"." + body, hashlib.sha256).digest()
    try:
        matched = hmac.compare_digest(base64.b64decode(given, validate=True), mac)
    except (binascii.Error, ValueError):
        matched = False
    if not matched:
        raise Refused(401, "the signature does not match the body")
    if abs(now - int(stamp)) > TOLERANCE_S:
        raise Refused(401, "the signature's timestamp is outside the window")


def row_of(body: bytes, now: datetime) -> dict[str, Any]:
    """The row a delivery stores: its key, room, seat and event type, and the body as received."""
    try:
        payload = json.loads(body)
        data = payload.get("data") or {}
        key, kind = payload["idempotencyKey"], payload["eventType"]
        room, seat = str(payload.get("fqn", "")).rpartition("/")[2], data.get("id")
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        raise Refused(400, f"unreadable delivery ({error})") from None
    if not isinstance(key, str) or not isinstance(kind, str):
        raise Refused(400, "idempotencyKey and eventType must be strings")
    seat = seat if isinstance(seat, str) else None
    return {"idempotency_key": key[:300], "room": room[:200] or None, "seat": seat} | {
        "event_type": kind[:50],
        "received_at": now,
        "body": body,
    }


@dataclass
class GroupCommit:
    """Requests queue their row and wait; one writer task takes everything queued, inserts it in
    one transaction, commits, and only then answers each: True for a new key, False for one
    stored before (or earlier in the same batch)."""

    engine: AsyncEngine
    table: Table
    _queue: list[tuple[dict[str, Any], asyncio.Future[bool]]] = field(
        default_factory=list, init=False
    )
    _writer: asyncio.Task[None] | None = field(default=None, init=False)

    async def store(self, row: dict[str, Any]) -> bool:
        answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._queue.append((row, answer))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())
        return await asyncio.shield(answer)  # a client hanging up does not cancel the batch

    async def _write(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            try:
                new = await self._insert([row for row, _ in batch])
            except Exception as error:  # every waiter hears of it: they answer 503
                for _, answer in batch:
                    if not answer.done():
                        answer.set_exception(error)
                continue
            for row, answer in batch:
                fresh = row["idempotency_key"] in new
                new.discard(row["idempotency_key"])  # a second copy in the batch is a duplicate
                if not answer.done():
                    answer.set_result(fresh)

    async def _insert(self, rows: list[dict[str, Any]]) -> set[str]:
        """One INSERT … ON CONFLICT DO NOTHING RETURNING for the batch, committed; the keys it
        stored."""
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        statement = (
            dialect.insert(self.table)
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(self.table.c.idempotency_key)
        )
        async with self.engine.begin() as db:
            return {key for (key,) in await db.execute(statement, rows)}


def door_app(store: Callable[[dict[str, Any]], Any], secret: bytes) -> web.Application:
    """POST /webhooks/{provider}: 401 or 400 for what is refused, 503 when the store fails, else
    200 with the same answer body as rdv's door, once the row is committed."""

    async def receive(request: web.Request) -> web.Response:
        body = await request.read()
        try:
            check_signature(request.headers.get("X-Jaas-Signature"), body, secret, time.time())
            row = row_of(body, datetime.now(UTC))
        except Refused as refused:
            return web.json_response({"error": str(refused)}, status=refused.status)
        try:
            new = await store(row)
        except Exception:
            return web.json_response({"error": "cannot store now"}, status=503)
        return web.json_response({"accepted": int(new), "duplicates": int(not new)})

    app = web.Application()
    app.router.add_post("/webhooks/{provider}", receive)
    return app


async def serve(url: str, secret: str, ready: Callable[[int], None]) -> None:
    """Creates the table, serves on a free port (told through `ready`) until cancelled."""
    engine = engine_for(url)
    table = deliveries_table()
    async with engine.begin() as db:
        await db.run_sync(table.metadata.create_all)
    commits = GroupCommit(engine, table)
    runner = web.AppRunner(door_app(commits.store, secret.encode()), access_log=None)
    await runner.setup()
    listening = socket.create_server(("127.0.0.1", 0))
    await web.SockSite(runner, listening).start()
    ready(listening.getsockname()[1])
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
        await engine.dispose()
