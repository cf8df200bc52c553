"""Applies a validated program to the database by key and returns the change set.

Everything is read in a few bulk queries and only what differs is written, so re-importing a large
event with one change stays cheap. Nothing people's links point at is deleted: removed people and
attendees are marked removed, dropped sessions are cancelled.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..db import models as m
from ..db.upsert import table
from ..tokens import new_link_token
from . import sections
from .changes import INVITE_FIELDS, ChangeSet, SessionChange
from .model import EventSpec, Program, SessionSpec
from .people import sync_organisations, sync_people

EVENT_FIELDS = ("title", "timezone", "locale", "organiser_name", "organiser_email", "provider")
# Event fields an invite shows: changing one updates every session's invite.
EVENT_INVITE_FIELDS = frozenset({"title", "organiser_name", "organiser_email", "locale"})
SESSION_FIELDS = (
    ("start", "starts_at"),
    ("end", "ends_at"),
    ("title", "title"),
    ("kind", "kind"),
    ("stream_url", "stream_url"),
    ("streamed", "streamed"),
)

STORED_COLUMNS = (
    "id",
    "key",
    "kind",
    "title",
    "starts_at",
    "ends_at",
    "provider",
    "stream_url",
    "streamed",
    "sequence",
    "cancelled_at",
)

TokenFactory = Callable[[], str]


def room_key(event_slug: str, session_key: str) -> str:
    """Our own room name: readable prefix, unguessable suffix, `[a-z0-9-]` only."""
    readable = re.sub(r"[^a-z0-9]+", "-", f"{event_slug}-{session_key}".lower()).strip("-")
    return f"{readable[:60].rstrip('-')}-{secrets.token_hex(10)}"


async def apply_program(
    db: AsyncSession,
    program: Program,
    *,
    default_provider: str,
    now: datetime,
    tokens: TokenFactory = new_link_token,
) -> ChangeSet:
    """Brings the event to what `program` says, in the caller's transaction."""
    event, created, event_changed = await _upsert_event(db, program.event)
    await sections.save(db, event.id, program.requests)
    org_ids, org_changes = await sync_organisations(db, event.id, program.organisations, now)
    people, people_changes, detail_changed = await sync_people(
        db, event.id, program.people, org_ids, now, tokens
    )
    sessions = _SessionSync(db, event, default_provider, now, tokens, people, detail_changed)
    invite_wide = tuple(sorted(EVENT_INVITE_FIELDS.intersection(event_changed)))
    await sessions.run(program.sessions, invite_wide)
    mailed = [
        *sessions.created,
        *(change.key for change in sessions.changed if change.touches_invites),
        *sessions.cancelled,
    ]
    return ChangeSet(
        event=event.slug,
        event_created=created,
        event_changed=event_changed,
        organisations=org_changes,
        people=people_changes,
        sessions_created=tuple(sessions.created),
        sessions_changed=tuple(sessions.changed),
        sessions_cancelled=tuple(sessions.cancelled),
        sessions_over=tuple(sorted(key for key in mailed if sessions.ends[key] <= now)),
    )


async def _upsert_event(db: AsyncSession, spec: EventSpec) -> tuple[m.Event, bool, tuple[str, ...]]:
    # FOR NO KEY UPDATE: imports of the event wait for each other, while webhooks and the
    # dashboard go on writing rows that refer to it (a foreign key check takes KEY SHARE).
    event = await db.scalar(
        select(m.Event).where(m.Event.slug == spec.slug).with_for_update(key_share=True)
    )
    if event is None:
        event = m.Event(slug=spec.slug, **{name: getattr(spec, name) for name in EVENT_FIELDS})
        db.add(event)
        await db.flush()
        return event, True, ()
    changed = tuple(name for name in EVENT_FIELDS if getattr(event, name) != getattr(spec, name))
    for name in changed:
        setattr(event, name, getattr(spec, name))
    await db.flush()
    return event, False, changed


class _SessionSync:
    """Diffs the program's sessions and their attendees against the stored ones."""

    def __init__(
        self,
        db: AsyncSession,
        event: m.Event,
        default_provider: str,
        now: datetime,
        tokens: TokenFactory,
        people: dict[str, int],
        detail_changed: set[int],
    ) -> None:
        self.db, self.event, self.now, self.tokens = db, event, now, tokens
        self.default_provider = default_provider
        self.people = people
        self.person_keys = {person_id: key for key, person_id in people.items()}
        self.detail_changed = detail_changed
        self.created: list[str] = []
        self.changed: list[SessionChange] = []
        self.cancelled: list[str] = []
        self.ends: dict[str, datetime] = {}  # when each session above ends, after the change
        self.session_updates: list[dict[str, Any]] = []
        self.room_updates: list[dict[str, Any]] = []
        self.attendee_inserts: list[dict[str, Any]] = []
        self.attendee_updates: list[dict[str, Any]] = []

    def provider_of(self, spec: SessionSpec) -> str:
        return spec.provider or self.event.provider or self.default_provider

    async def run(self, specs: Sequence[SessionSpec], invite_wide: tuple[str, ...]) -> None:
        sessions = await self.db.execute(
            select(*(getattr(m.Session, column) for column in STORED_COLUMNS)).where(
                m.Session.event_id == self.event.id
            )
        )
        stored = {row.key: row for row in sessions}
        rooms = {
            room.session_id: room
            for room in (
                await self.db.execute(
                    select(m.Room.id, m.Room.session_id, m.Room.provider, m.Room.state)
                    .join(m.Session, m.Session.id == m.Room.session_id)
                    .where(m.Session.event_id == self.event.id)
                )
            ).all()
        }
        attendees: dict[int, dict[int, Any]] = {}
        for item in await self.db.execute(
            select(
                m.Attendee.id,
                m.Attendee.session_id,
                m.Attendee.person_id,
                m.Attendee.role,
                m.Attendee.removed_at,
            )
            .join(m.Session, m.Session.id == m.Attendee.session_id)
            .where(m.Session.event_id == self.event.id)
        ):
            attendees.setdefault(item.session_id, {})[item.person_id] = item
        new_specs: list[SessionSpec] = []
        for spec in specs:
            row = stored.pop(spec.key, None)
            if row is None:
                new_specs.append(spec)
                continue
            self.update(spec, row, rooms[row.id], attendees.get(row.id, {}), invite_wide)
        await self.insert(new_specs)
        for row in stored.values():
            if row.cancelled_at is None:
                self.cancel(row, rooms[row.id])
        for statement_rows, model in (
            (self.session_updates, m.Session),
            (self.room_updates, m.Room),
            (self.attendee_updates, m.Attendee),
        ):
            if statement_rows:
                await self.db.execute(update(model), statement_rows)
        if self.attendee_inserts:
            await self.db.execute(insert(table(m.Attendee)), self.attendee_inserts)

    def desired(self, spec: SessionSpec) -> dict[int, str]:
        speakers = set(spec.speakers)
        return {
            self.people[key]: ("speaker" if key in speakers else "attendee")
            for key in spec.attendees
        }

    def update(
        self,
        spec: SessionSpec,
        row: Any,
        room: Any,
        current: dict[int, Any],
        invite_wide: tuple[str, ...],
    ) -> None:
        values: dict[str, Any] = {}
        fields: list[str] = []
        for name, column in SESSION_FIELDS:
            wanted = getattr(spec, column)
            if getattr(row, column) != wanted:
                fields.append(name)
                values[column] = wanted
        provider = self.provider_of(spec)
        if row.provider != spec.provider:
            values["provider"] = spec.provider
        if row.provider != spec.provider or room.provider != provider:
            fields.append("provider")
        reinstated = row.cancelled_at is not None
        self.ends[spec.key] = spec.ends_at
        room_values: dict[str, Any] = {}
        if room.provider != provider:
            room_values["provider"] = provider
        if reinstated:
            values["cancelled_at"] = None
            room_values["state"] = "scheduled"
            room_values["error"] = None
        added, removed, roles_changed = self.sync_attendees(row.id, self.desired(spec), current)
        if added or removed:
            fields.append("attendees")
        if roles_changed:
            fields.append("speakers")
        active = [pid for pid, item in current.items() if item.removed_at is None]
        if any(pid in self.detail_changed for pid in active):
            fields.append("attendee_details")
        if invite_wide:
            fields.append("event")
        if room_values:
            self.room_updates.append({"id": room.id, **room_values})
        if reinstated:
            values["sequence"] = row.sequence + 1
            self.created.append(spec.key)
        elif fields:
            if not INVITE_FIELDS.isdisjoint(fields):
                values["sequence"] = row.sequence + 1
            self.changed.append(
                SessionChange(
                    spec.key,
                    tuple(fields),
                    tuple(self.person_keys[pid] for pid in added),
                    tuple(self.person_keys[pid] for pid in removed),
                    tuple(self.person_keys[pid] for pid in roles_changed),
                )
            )
        if values:
            self.session_updates.append({"id": row.id, **values})

    def sync_attendees(
        self, session_id: int, wanted: dict[int, str], current: dict[int, Any]
    ) -> tuple[list[int], list[int], list[int]]:
        added: list[int] = []
        removed: list[int] = []
        roles_changed: list[int] = []
        for person_id, role in wanted.items():
            item = current.get(person_id)
            if item is None:
                self.attendee_inserts.append(self.attendee_row(session_id, person_id, role))
                added.append(person_id)
            elif item.removed_at is not None:
                self.attendee_updates.append({"id": item.id, "removed_at": None, "role": role})
                added.append(person_id)
            elif item.role != role:
                self.attendee_updates.append({"id": item.id, "role": role})
                roles_changed.append(person_id)
        for person_id, item in current.items():
            if item.removed_at is None and person_id not in wanted:
                self.attendee_updates.append({"id": item.id, "removed_at": self.now})
                removed.append(person_id)
        return added, removed, roles_changed

    def attendee_row(self, session_id: int, person_id: int, role: str) -> dict[str, Any]:
        return {
            "session_id": session_id,
            "person_id": person_id,
            "role": role,
            "token": self.tokens(),
        }

    def cancel(self, row: Any, room: Any) -> None:
        self.session_updates.append(
            {"id": row.id, "cancelled_at": self.now, "sequence": row.sequence + 1}
        )
        if room.state not in ("ended", "cancelled"):
            self.room_updates.append({"id": room.id, "state": "cancelled"})
        self.cancelled.append(row.key)
        self.ends[row.key] = row.ends_at

    async def insert(self, specs: list[SessionSpec]) -> None:
        if not specs:
            return
        rows = [
            {
                "event_id": self.event.id,
                "key": spec.key,
                "kind": spec.kind,
                "title": spec.title,
                "starts_at": spec.starts_at,
                "ends_at": spec.ends_at,
                "provider": spec.provider,
                "stream_url": spec.stream_url,
                "streamed": spec.streamed,
                "sequence": 0,
            }
            for spec in specs
        ]
        result = await self.db.execute(
            insert(table(m.Session)).returning(m.Session.id, m.Session.key), rows
        )
        ids = {key: session_id for session_id, key in result.all()}
        room_rows = []
        for spec in specs:
            session_id = ids[spec.key]
            room_rows.append(
                {
                    "session_id": session_id,
                    "provider": self.provider_of(spec),
                    "state": "scheduled",
                    "room_key": room_key(self.event.slug, spec.key),
                    "provider_data": {},
                }
            )
            for person_id, role in self.desired(spec).items():
                self.attendee_inserts.append(self.attendee_row(session_id, person_id, role))
            self.created.append(spec.key)
            self.ends[spec.key] = spec.ends_at
        await self.db.execute(insert(table(m.Room)), room_rows)
