"""Import, session edits and cancellation: validate, then apply in one transaction.

PATCH and DELETE edit the stored program and go through the same validation and diff as an
import, so an edit can never produce what an import would refuse.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..db import models as m
from ..db.updates import latest, note
from ..participants.erasure import erased_among
from ..progress import Progress
from ..providers import unavailable
from ..settings import Settings
from . import sections, zoom_hosts
from .announce import announce
from .apply import PROGRAM_REASONS, Replan, apply_program
from .changes import ChangeSet
from .export import export_document
from .model import Program
from .problems import Collector, Place, ProgramError
from .raw import RawProgram
from .validate import ProviderCheck, validate

EDITABLE = ("start", "end", "title", "attendees", "provider")
ATTEMPTS = 3  # reads of an event that another change keeps changing, before giving up

ChangeHook = Callable[[AsyncSession, ChangeSet, datetime], Awaitable[object]]
"""Runs in the transaction of the change (the invites queue their mail there)."""


class NotFound(LookupError):
    """No such event or session; the message says which."""


def provider_check(settings: Settings) -> ProviderCheck:
    return lambda name: unavailable(settings, name)


def checked(raw: RawProgram, settings: Settings, slug: str | None = None) -> Program:
    """`validate` with this service's providers and session length limit."""
    return validate(
        raw,
        check_provider=provider_check(settings),
        slug=slug,
        longest=settings.max_session_length,
    )


class Stale(Exception):
    """The event changed since the preview this import was to apply."""


@dataclass(frozen=True, slots=True)
class Preview:
    """What an import would change, and as of which change of the event (`seen`: an import
    applying the preview is refused if the event changed since)."""

    changes: ChangeSet
    seen: int
    mail: dict[str, int]  # messages by kind it would send


class _Undo(Exception):
    def __init__(self, preview: Preview) -> None:
        self.preview = preview


async def import_program(
    db_factory: async_sessionmaker[AsyncSession],
    settings: Settings,
    raw: RawProgram,
    *,
    now: datetime,
    slug: str | None = None,
    on_change: ChangeHook | None = None,
    unchanged_since: int | None = None,
    progress: Progress | None = None,
) -> ChangeSet:
    """Validates and applies `raw`; with `unchanged_since` (a preview's `seen`), refuses with
    Stale when another change of the event came in between. `progress` hears of each phase."""
    told = progress or Progress()
    told.phase("checking the program")
    program = checked(raw, settings, slug)
    told.phase(f"writing the event: {len(program.people)} people, {len(program.sessions)} sessions")
    async with db_factory() as db, db.begin():
        changes, seen = await _apply(db, settings, program, raw, now)
        if unchanged_since is not None and seen != unchanged_since:
            raise Stale(
                f'the event "{program.event.slug}" changed after this preview was made: '
                "upload the file again to see what it would change now"
            )
        told.phase("recording what to tell people (invites, updates)")
        await _changed(db, changes, now, on_change)
    told.finish()
    return changes


async def preview_import(
    db_factory: async_sessionmaker[AsyncSession],
    settings: Settings,
    raw: RawProgram,
    *,
    now: datetime,
    slug: str | None = None,
    mail: Callable[[AsyncSession, ChangeSet, datetime], Awaitable[Counter[str]]] | None = None,
) -> Preview:
    """Exactly what `import_program` would change (it runs, then is rolled back), and the mail
    it would send; nothing is kept."""
    program = checked(raw, settings, slug)
    try:
        async with db_factory() as db, db.begin():
            changes, seen = await _apply(db, settings, program, raw, now)
            counted = await mail(db, changes, now) if mail is not None else Counter()
            raise _Undo(Preview(changes, seen, dict(counted)))
    except _Undo as undone:
        return undone.preview


async def _apply(
    db: AsyncSession, settings: Settings, program: Program, raw: RawProgram, now: datetime
) -> tuple[ChangeSet, int]:
    """The change, and the event's newest program change before it (0 for a new event). When
    another change commits while this one reads (an erasure: the person must not come back), it
    reads and checks everything again, holding the write lock by then."""
    for _ in range(ATTEMPTS):
        seen = await program_seen(db, program.event.slug)
        carried = await sections.carry_meetings(db, program, raw)
        await _check_stored(db, carried, raw, settings)
        try:
            changes = await apply_program(
                db, carried, default_provider=settings.default_provider, now=now, seen=seen
            )
        except Replan:
            continue
        return changes, seen
    raise Stale(f'the event "{program.event.slug}" kept changing during the import: try again')


async def program_seen(db: AsyncSession, slug: str) -> int:
    """The event's newest program change (an import, an edit, an erasure); 0 when none."""
    event_id = await db.scalar(select(m.Event.id).where(m.Event.slug == slug))
    return await latest(db, event_id, PROGRAM_REASONS) if event_id is not None else 0


async def edit_session(
    db_factory: async_sessionmaker[AsyncSession],
    settings: Settings,
    slug: str,
    key: str,
    patch: dict[str, Any] | None,
    *,
    now: datetime,
    on_change: ChangeHook | None = None,
) -> ChangeSet:
    """Applies `patch` to one live session, or cancels it when `patch` is None."""
    if patch is not None:
        unknown = [name for name in patch if name not in EDITABLE]
        if unknown:
            raise ProgramError.single(
                unknown[0], f"cannot be changed here (changeable: {', '.join(EDITABLE)})"
            )
    async with db_factory() as db, db.begin():
        for _ in range(ATTEMPTS):
            seen = await program_seen(db, slug)
            document = await export_document(db, slug)
            if document is None:
                raise NotFound(f'no event "{slug}"')
            sessions: list[dict[str, Any]] = document["sessions"]
            index = next((i for i, item in enumerate(sessions) if item["key"] == key), None)
            if index is None:
                if patch is None and await _was_cancelled(db, slug, key):
                    return ChangeSet(event=slug)
                raise NotFound(f'no live session "{key}" in "{slug}"')
            places = {"sessions": [Place("sessions") / i for i in range(len(sessions))]}
            if patch is None:
                del sessions[index]
            else:
                session = sessions[index]
                for name, value in patch.items():
                    if value is None and name == "provider":
                        session.pop("provider", None)
                    else:
                        session[name] = value
                places["sessions"][index] = Place("")
            raw = RawProgram(document, places)
            program = checked(raw, settings, slug)
            await _check_stored(db, program, raw, settings)
            try:
                changes = await apply_program(
                    db, program, default_provider=settings.default_provider, now=now, seen=seen
                )
            except Replan:
                continue  # the event as it is now, read again under the write lock
            await _changed(db, changes, now, on_change)
            return changes
        raise Stale(f'the event "{slug}" kept changing during the edit: try again')


async def apply_document(
    db: AsyncSession,
    settings: Settings,
    document: dict[str, Any],
    *,
    slug: str,
    now: datetime,
    on_change: ChangeHook | None = None,
    seen: int | None = None,
) -> ChangeSet:
    """An edited export of the event (the scheduler's meetings added or moved) validated and
    applied in the caller's transaction, exactly as an import would be; Replan when the event
    changed after `seen` (`program_seen`, read before the export)."""
    raw = RawProgram(document)
    program = checked(raw, settings, slug)
    await _check_stored(db, program, raw, settings)
    changes = await apply_program(
        db, program, default_provider=settings.default_provider, now=now, seen=seen
    )
    await _changed(db, changes, now, on_change)
    return changes


async def _changed(
    db: AsyncSession, changes: ChangeSet, now: datetime, on_change: ChangeHook | None
) -> None:
    """What follows a change, in its transaction: the hook (invites), the outbound webhooks'
    messages (whoever made the change), then, last of all (see `note`), an event-wide update
    that makes open dashboards build again."""
    if changes.empty:
        return
    if on_change is not None:
        await on_change(db, changes, now)
    event_id = (
        await db.execute(select(m.Event.id).where(m.Event.slug == changes.event))
    ).scalar_one()
    await announce(db, event_id, changes, now)
    await note(db, [(event_id, None)], "program", now)


async def _check_stored(
    db: AsyncSession, program: Program, raw: RawProgram, settings: Settings
) -> None:
    """What a program cannot be checked for without the database: a Zoom host for every meeting
    at once (the pool is shared with other events), and nobody erased from the event."""
    problem = await zoom_hosts.check_program(db, program, settings)
    if problem:
        raise ProgramError.single("sessions", problem)
    event_id = await db.scalar(select(m.Event.id).where(m.Event.slug == program.event.slug))
    if event_id is None:
        return
    emails = [person.email for person in program.people]
    erased = await erased_among(db, event_id, emails, secret=settings.secret_key)
    if not erased:
        return
    problems = Collector()
    people = raw.data.get("people") if isinstance(raw.data, dict) else None
    for index, item in enumerate(people if isinstance(people, list) else []):
        email = item.get("email") if isinstance(item, dict) else None
        when = erased.get(email.strip().lower()) if isinstance(email, str) else None
        if email and when:
            problems.add(
                raw.place("people", index) / "email",
                f'"{email}" was erased from this event on {when:%Y-%m-%d} (rdv forget): leave '
                f"them out of the program, or, if they asked to come back, run "
                f'"rdv readd {email} --event {program.event.slug}" first',
            )
    problems.raise_if_any()


async def _was_cancelled(db: AsyncSession, slug: str, key: str) -> bool:
    found = await db.scalar(
        select(m.Session.id)
        .join(m.Event, m.Event.id == m.Session.event_id)
        .where(m.Event.slug == slug, m.Session.key == key, m.Session.cancelled_at.is_not(None))
    )
    return found is not None
