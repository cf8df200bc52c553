"""One-shot jobs that commands run outside the server, each on an engine of its own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from calendars.i18n import Catalogues
from calendars.text import Writer

from .attendance.log import event_attendance
from .attendance.outcomes import Outcome
from .clock import SystemClock
from .db import models as m
from .db.audit import record
from .db.engine import create_engine, session_factory
from .db.migrate import upgrade
from .mail.invites import InviteComposer
from .participants.erasure import Forgotten, forget, readd
from .program.audit import Author, hooks, record_readd, recorder
from .program.changes import ChangeSet
from .program.load import load_path
from .program.service import import_program
from .progress import Progress
from .replays.archive import NewReplay, add_replay, replay_dict
from .report.extras import extra_figures
from .settings import Settings
from .signin import create_link


@asynccontextmanager
async def migrated_engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
        yield engine
    finally:
        await engine.dispose()


async def import_file(
    settings: Settings, path: str | Path, progress: Progress | None = None
) -> ChangeSet:
    """Imports and queues the invites; a running `rdv serve` sends them."""
    told = progress or Progress()
    told.phase(f"reading {Path(path).name}")
    raw = load_path(path)
    composer = InviteComposer(settings, Writer(Catalogues()))
    async with migrated_engine(settings) as engine:
        return await import_program(
            session_factory(engine),
            settings,
            raw,
            now=SystemClock().now(),
            on_change=hooks(composer.queue, recorder(Author.command(), "program.import")),
            progress=told,
        )


async def outcomes(settings: Settings, slug: str) -> tuple[m.Event, list[Outcome]]:
    """The attendance of an event now, as the API computes it."""
    async with migrated_engine(settings) as engine, session_factory(engine)() as db:
        found = await event_attendance(db, slug, now=SystemClock().now(), marks=settings.marks)
    if found is None:
        raise LookupError(f'no event "{slug}"')
    return found


async def extra_counts(settings: Settings, event_id: int) -> dict[str, Any]:
    """The report's figures beside the attendance's: replays, participants' requests."""
    async with migrated_engine(settings) as engine, session_factory(engine)() as db:
        return await extra_figures(db, event_id, SystemClock().now())


async def forget_person(settings: Settings, slug: str, email: str) -> Forgotten | None:
    now = SystemClock().now()
    async with migrated_engine(settings) as engine, session_factory(engine)() as db, db.begin():
        author = Author.command()
        return await forget(
            db,
            slug=slug,
            email=email,
            now=now,
            secret=settings.require_secret_key(),
            by=(author.actor, author.source),
        )


async def readd_person(settings: Settings, slug: str, email: str) -> bool:
    async with migrated_engine(settings) as engine, session_factory(engine)() as db, db.begin():
        lifted = await readd(db, slug=slug, email=email, secret=settings.require_secret_key())
        if lifted:
            await record_readd(db, slug, Author.command(), SystemClock().now())
        return lifted


async def login_link(settings: Settings, slug: str, role: str, subject: str = "") -> str:
    async with migrated_engine(settings) as engine, session_factory(engine)() as db, db.begin():
        return await create_link(
            db,
            slug=slug,
            role=role,
            now=SystemClock().now(),
            base_url=settings.base_url,
            subject=subject,
        )


async def add_replay_link(
    settings: Settings, slug: str, session_key: str, url: str, *, title: str | None, kind: str
) -> tuple[dict[str, Any], int]:
    async with migrated_engine(settings) as engine, session_factory(engine)() as db, db.begin():
        session = await db.scalar(
            select(m.Session)
            .join(m.Event, m.Event.id == m.Session.event_id)
            .where(m.Event.slug == slug, m.Session.key == session_key)
        )
        if session is None:
            raise LookupError(f'no session "{session_key}" in "{slug}"')
        now, who = SystemClock().now(), Author.command()
        replay, mailed = await add_replay(
            db,
            session,
            NewReplay(url=url, kind=kind, title=title),
            now=now,
            settings=settings,
            writer=Writer(Catalogues()),
        )
        await record(
            db,
            event_id=session.event_id,
            at=now,
            actor=who.actor,
            source=who.source,
            action="replay.add",
            subject=session_key,
            details={"url": replay.url, "mailed": mailed},
        )
        return replay_dict(replay, session_key), mailed


async def upgrade_database(settings: Settings) -> tuple[str | None, str]:
    engine = create_engine(settings.database_url)
    try:
        return await upgrade(engine)
    finally:
        await engine.dispose()
