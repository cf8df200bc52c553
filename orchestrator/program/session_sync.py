"""The sessions of an import: the program's sessions and their attendees diffed against the
stored ones (`plan`), then the difference written (`write`), rooms and seats included. A seat
handed to a colleague (`participants/handover.py`) stays the colleague's while the program still
names the person who handed it (`read_handovers`)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession

from ..db import models as m
from ..db.bulk import ReadyRows, insert_ready, ready
from .changes import INVITE_FIELDS, Move, SessionChange
from .model import SessionSpec
from .people import New, Ref

SESSION_FIELDS = (
    ("start", "starts_at"),
    ("end", "ends_at"),
    ("title", "title"),
    ("kind", "kind"),
    ("stream_url", "stream_url"),
    ("streamed", "streamed"),
)

# What a session row holds of its program, read to compare and written when it is new.
SESSION_ROW = (
    "key",
    "kind",
    "title",
    "starts_at",
    "ends_at",
    "provider",
    "stream_url",
    "streamed",
    "sequence",
)
STORED_COLUMNS = ("id", *SESSION_ROW, "cancelled_at")
SESSION_COLUMNS = ("event_id", *SESSION_ROW)
ROOM_COLUMNS = ("session_id", "provider", "state", "room_key", "provider_data", "attempts")
ATTENDEE_COLUMNS = ("session_id", "person_id", "role", "token")

TokenFactory = Callable[[], str]


def room_key(event_slug: str, session_key: str) -> str:
    """Our own room name: readable prefix, unguessable suffix, `[a-z0-9-]` only."""
    readable = re.sub(r"[^a-z0-9]+", "-", f"{event_slug}-{session_key}".lower()).strip("-")
    return f"{readable[:60].rstrip('-')}-{secrets.token_hex(10)}"


async def read_handovers(db: AsyncSession, event_id: int | None) -> dict[int, dict[int, int]]:
    """Seats handed to a colleague (`participants/handover.py`), live: session id to {the
    person who handed it: the colleague}. The program still names the first; an import keeps
    the colleague in their place rather than undo the change."""
    if event_id is None:
        return {}
    rows = await db.execute(
        select(m.Attendee.session_id, m.Attendee.substitute_for_id, m.Attendee.person_id)
        .join(m.Session, m.Session.id == m.Attendee.session_id)
        .where(
            m.Session.event_id == event_id,
            m.Attendee.removed_at.is_(None),
            m.Attendee.substitute_for_id.is_not(None),
        )
    )
    found: dict[int, dict[int, int]] = {}
    for session_id, handed_by, colleague in rows:
        if handed_by is not None:  # the query says so; the type does not
            found.setdefault(session_id, {})[handed_by] = colleague
    return found


class SessionSync:
    """Diffs the program's sessions and their attendees against the stored ones (`plan`), then
    writes the difference (`write`)."""

    def __init__(
        self,
        db: AsyncSession,
        slug: str,
        event_provider: str,
        now: datetime,
        tokens: TokenFactory,
        people: dict[str, Ref],
        detail_changed: set[int],
        handovers: dict[int, dict[int, int]] | None = None,
    ) -> None:
        self.db, self.slug, self.now, self.tokens = db, slug, now, tokens
        self.handovers = handovers or {}
        self.event_provider = event_provider
        self.people = people
        self.person_keys = {ref: key for key, ref in people.items()}
        self.detail_changed = detail_changed
        self.created: list[str] = []
        self.changed: list[SessionChange] = []
        self.cancelled: list[str] = []
        self.moves: list[Move] = []
        self.ends: dict[str, datetime] = {}  # when each session above ends, after the change
        self.session_inserts: list[dict[str, Any]] = []  # without their event id
        self.session_updates: list[dict[str, Any]] = []
        self.room_inserts: list[dict[str, Any]] = []
        self.room_updates: list[dict[str, Any]] = []
        self.attendee_inserts: list[dict[str, Any]] = []
        self.attendee_updates: list[dict[str, Any]] = []
        self.ready: tuple[ReadyRows, ReadyRows, ReadyRows] | None = None

    def provider_of(self, spec: SessionSpec) -> str:
        return spec.provider or self.event_provider

    async def plan(
        self, event_id: int | None, specs: Sequence[SessionSpec], invite_wide: tuple[str, ...]
    ) -> None:
        stored: dict[str, Any] = {}
        rooms: dict[int, Any] = {}
        attendees: dict[int, dict[int, Any]] = {}
        if event_id is not None:
            sessions = await self.db.execute(
                select(*(getattr(m.Session, column) for column in STORED_COLUMNS)).where(
                    m.Session.event_id == event_id
                )
            )
            stored = {row.key: row for row in sessions}
            rooms = {
                room.session_id: room
                for room in await self.db.execute(
                    select(m.Room.id, m.Room.session_id, m.Room.provider, m.Room.state)
                    .join(m.Session, m.Session.id == m.Room.session_id)
                    .where(m.Session.event_id == event_id)
                )
            }
            for item in await self.db.execute(
                select(
                    m.Attendee.id,
                    m.Attendee.session_id,
                    m.Attendee.person_id,
                    m.Attendee.role,
                    m.Attendee.removed_at,
                )
                .join(m.Session, m.Session.id == m.Attendee.session_id)
                .where(m.Session.event_id == event_id)
            ):
                attendees.setdefault(item.session_id, {})[item.person_id] = item
        for spec in specs:
            row = stored.pop(spec.key, None)
            if row is None:
                self.insert(spec)
            else:
                self.update(spec, row, rooms[row.id], attendees.get(row.id, {}), invite_wide)
        for row in stored.values():
            if row.cancelled_at is None:
                self.cancel(row, rooms[row.id])
        self.make_ready(self.db.get_bind().dialect)

    def make_ready(self, dialect: Dialect) -> None:
        """The inserts in the driver's form, ids of new rows left for `write` to fill in."""
        self.ready = (
            ready(dialect, m.Session, self.session_inserts, SESSION_COLUMNS, later=["event_id"]),
            ready(dialect, m.Room, self.room_inserts, ROOM_COLUMNS, later=["session_id"]),
            ready(
                dialect,
                m.Attendee,
                self.attendee_inserts,
                ATTENDEE_COLUMNS,
                later=["session_id", "person_id"],
            ),
        )

    async def write(self, event_id: int, people: dict[str, int]) -> None:
        """Writes the plan; `people` holds the id of every person key."""
        assert self.ready is not None, "plan first"
        session_rows, room_rows, attendee_rows = self.ready
        sessions: dict[str, int] = {}
        if session_rows:
            await insert_ready(self.db, session_rows, {"event_id": lambda _: event_id})
            new = {row["key"] for row in self.session_inserts}
            found = await self.db.execute(
                select(m.Session.key, m.Session.id).where(m.Session.event_id == event_id)
            )
            sessions = {key: session_id for key, session_id in found if key in new}

        def session(ref: Ref) -> int:
            return sessions[ref.key] if isinstance(ref, New) else ref

        def person(ref: Ref) -> int:
            return people[ref.key] if isinstance(ref, New) else ref

        for statement_rows, model in (
            (self.session_updates, m.Session),
            (self.room_updates, m.Room),
            (self.attendee_updates, m.Attendee),
        ):
            if statement_rows:
                await self.db.execute(update(model), statement_rows)
        await insert_ready(self.db, room_rows, {"session_id": session})
        await insert_ready(self.db, attendee_rows, {"session_id": session, "person_id": person})

    def desired(self, spec: SessionSpec, session_id: int | None = None) -> dict[Ref, str]:
        """Who the program seats, with the colleagues who took a seat in the place of whoever
        handed it to them (unless the program seats both)."""
        speakers = set(spec.speakers)
        wanted: dict[Ref, str] = {
            self.people[key]: ("speaker" if key in speakers else "attendee")
            for key in spec.attendees
        }
        handed = self.handovers.get(session_id, {}) if session_id is not None else {}
        for handed_by, colleague in handed.items():
            if handed_by in wanted and colleague not in wanted:
                wanted[colleague] = wanted.pop(handed_by)
        return wanted

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
        if "start" in fields or "end" in fields:
            moved = (row.starts_at, row.ends_at, spec.starts_at, spec.ends_at)
            self.moves.append(Move(spec.key, *moved))
        room_values: dict[str, Any] = {}
        if room.provider != provider:
            room_values["provider"] = provider
        if reinstated:
            values["cancelled_at"] = None
            room_values["state"] = "scheduled"
            room_values["error"] = None
        added, removed, roles_changed = self.sync_attendees(
            row.id, self.desired(spec, row.id), current
        )
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
        self, session_id: int, wanted: dict[Ref, str], current: dict[int, Any]
    ) -> tuple[list[Ref], list[Ref], list[Ref]]:
        added: list[Ref] = []
        removed: list[Ref] = []
        roles_changed: list[Ref] = []
        for person_id, role in wanted.items():
            item = current.get(person_id) if isinstance(person_id, int) else None
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

    def attendee_row(self, session_id: Ref, person_id: Ref, role: str) -> dict[str, Any]:
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

    def insert(self, spec: SessionSpec) -> None:
        session = New(spec.key)
        self.session_inserts.append(
            {
                "event_id": None,
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
        )
        self.room_inserts.append(
            {
                "session_id": session,
                "provider": self.provider_of(spec),
                "state": "scheduled",
                "room_key": room_key(self.slug, spec.key),
                "provider_data": {},
                "attempts": 0,
            }
        )
        for person, role in self.desired(spec).items():
            self.attendee_inserts.append(self.attendee_row(session, person, role))
        self.created.append(spec.key)
        self.ends[spec.key] = spec.ends_at
