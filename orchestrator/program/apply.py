"""Applies a validated program to the database by key and returns the change set.

Everything is read in a few bulk queries and only what differs is written, so re-importing a large
event with one change stays cheap. Nothing people's links point at is deleted: removed people and
attendees are marked removed, dropped sessions are cancelled.

The change is planned first (every read, every row computed, link tokens drawn) and written after,
the writes one after another with nothing in between: on SQLite the first write takes the
database's write lock, which every webhook and join link then waits for until the commit, so the
lock covers the SQL alone (a 10,000-person import holds it about a quarter of a second).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..db import models as m
from ..db.updates import latest
from ..tokens import new_link_token
from . import sections
from .changes import ChangeSet
from .model import EventSpec, Program
from .people import (
    ORGANISATION_COLUMNS,
    PERSON_COLUMNS,
    KeyedPlan,
    New,
    Ref,
    plan_organisations,
    plan_people,
    read_keyed,
    write_keyed,
)
from .prefill import write_prefill
from .session_sync import SessionSync, TokenFactory, read_handovers

EVENT_FIELDS = ("title", "timezone", "locale", "organiser_name", "organiser_email", "provider")
# Event fields an invite shows: changing one updates every session's invite.
EVENT_INVITE_FIELDS = frozenset({"title", "organiser_name", "organiser_email", "locale"})
# Changes to the change log that alter what an import reads: another import or edit, an erasure.
PROGRAM_REASONS = ("program", "forget", "handover")


class Replan(Exception):
    """Another import, an edit or an erasure committed after this change read the event: what
    it planned may be wrong, and the caller must read and check again."""


@dataclass(slots=True)
class _Plan:
    event: m.Event | None  # None: the event is new
    event_changed: tuple[str, ...]
    organisations: KeyedPlan
    people: KeyedPlan
    sessions: SessionSync


async def apply_program(
    db: AsyncSession,
    program: Program,
    *,
    default_provider: str,
    now: datetime,
    tokens: TokenFactory = new_link_token,
    seen: int | None = None,
) -> ChangeSet:
    """Brings the event to what `program` says, in the caller's transaction. `seen` is the
    event's newest program change (`db.updates.latest(..., PROGRAM_REASONS)`) when the caller
    began reading: if another change committed since, Replan, before anything is written but
    the first write that takes SQLite's lock (SQLite reads outside the transaction until its
    first write; on PostgreSQL an erasure does not wait for the event's row lock)."""
    plan = await _plan(db, program, default_provider, now, tokens)
    if plan.event is None:
        event = m.Event(
            slug=program.event.slug, **{name: getattr(program.event, name) for name in EVENT_FIELDS}
        )
        db.add(event)
        await db.flush()
        await sections.save(db, event.id, program.requests)
    else:
        event = plan.event
        await sections.save(db, event.id, program.requests)  # the first write: SQLite's lock
        if seen is not None and await latest(db, event.id, PROGRAM_REASONS) != seen:
            raise Replan
        for name in plan.event_changed:
            setattr(event, name, getattr(program.event, name))
        await db.flush()
    org_ids = await write_keyed(db, m.Organisation, event.id, plan.organisations)
    profiles = {spec.key: spec.profile for spec in program.organisations}
    await write_prefill(db, event.id, profiles, program.needs, org_ids, now)

    def organisation(ref: Ref | None) -> int | None:
        return org_ids[ref.key] if isinstance(ref, New) else ref

    people = await write_keyed(
        db, m.Person, event.id, plan.people, {"organisation_id": organisation}
    )
    sessions = plan.sessions
    await sessions.write(event.id, people)
    mailed = [
        *sessions.created,
        *(change.key for change in sessions.changed if change.touches_invites),
        *sessions.cancelled,
    ]
    return ChangeSet(
        event=program.event.slug,
        event_created=plan.event is None,
        event_changed=plan.event_changed,
        organisations=plan.organisations.changes,
        people=plan.people.changes,
        sessions_created=tuple(sessions.created),
        sessions_changed=tuple(sessions.changed),
        sessions_cancelled=tuple(sessions.cancelled),
        sessions_over=tuple(sorted(key for key in mailed if sessions.ends[key] <= now)),
        moves=tuple(sessions.moves),
    )


async def _plan(
    db: AsyncSession,
    program: Program,
    default_provider: str,
    now: datetime,
    tokens: TokenFactory,
) -> _Plan:
    """Everything the change will write, from one read of what is stored; writes nothing."""
    event, event_changed = await _read_event(db, program.event)
    event_id = event.id if event is not None else None
    stored_orgs = await read_keyed(db, m.Organisation, event_id, ORGANISATION_COLUMNS)
    stored_people = await read_keyed(db, m.Person, event_id, PERSON_COLUMNS)
    organisations = plan_organisations(stored_orgs, program.organisations, now)
    handovers = await read_handovers(db, event_id)
    colleagues = {colleague for seats in handovers.values() for colleague in seats.values()}
    standing_in = frozenset(key for key, row in stored_people.items() if row.id in colleagues)
    people, detail_changed = plan_people(
        stored_people, program.people, organisations.refs, now, tokens, standing_in
    )
    dialect = db.get_bind().dialect
    organisations.make_ready(dialect, m.Organisation, ())
    people.make_ready(dialect, m.Person, ("organisation_id",))
    provider = program.event.provider
    invite_wide = tuple(sorted(EVENT_INVITE_FIELDS.intersection(event_changed)))
    sessions = SessionSync(
        db,
        program.event.slug,
        provider or default_provider,
        now,
        tokens,
        people.refs,
        detail_changed,
        handovers,
    )
    await sessions.plan(event_id, program.sessions, invite_wide)
    return _Plan(event, event_changed, organisations, people, sessions)


async def _read_event(db: AsyncSession, spec: EventSpec) -> tuple[m.Event | None, tuple[str, ...]]:
    # FOR NO KEY UPDATE: imports of the event wait for each other, while webhooks and the
    # dashboard go on writing rows that refer to it (a foreign key check takes KEY SHARE).
    event = await db.scalar(
        select(m.Event)
        .where(m.Event.slug == spec.slug)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    )
    if event is None:
        return None, ()
    return event, tuple(
        name for name in EVENT_FIELDS if getattr(event, name) != getattr(spec, name)
    )
