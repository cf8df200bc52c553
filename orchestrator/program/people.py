"""Syncs an event's organisations and people with the program, by key."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..db import models as m
from ..db.upsert import table
from .changes import KeyedChanges
from .model import OrganisationSpec, PersonSpec

# Person columns that other attendees' invites show (the attendee list, "who you meet").
SHOWN_IN_INVITES = frozenset({"name", "email", "organisation_id"})


async def sync_organisations(
    db: AsyncSession, event_id: int, specs: Sequence[OrganisationSpec], now: datetime
) -> tuple[dict[str, int], KeyedChanges]:
    """Returns the id of every organisation key of the event, and what changed."""
    wanted = {spec.key: {"name": spec.name, "kind": spec.kind} for spec in specs}
    ids, changes, _ = await _sync_keyed(db, m.Organisation, event_id, wanted, now, dict)
    return ids, changes


async def sync_people(
    db: AsyncSession,
    event_id: int,
    specs: Sequence[PersonSpec],
    organisations: dict[str, int],
    now: datetime,
    tokens: Callable[[], str],
) -> tuple[dict[str, int], KeyedChanges, set[int]]:
    """Returns the id of every person key of the event, what changed, and the ids of people whose
    name, email or organisation changed (the invites of their sessions show those)."""
    wanted = {
        spec.key: {
            "name": spec.name,
            "email": spec.email,
            "organisation_id": organisations[spec.organisation] if spec.organisation else None,
            "locale": spec.locale,
        }
        for spec in specs
    }
    ids, changes, changed_columns = await _sync_keyed(
        db, m.Person, event_id, wanted, now, lambda: {"feed_token": tokens()}
    )
    shown = {row_id for row_id, columns in changed_columns.items() if columns & SHOWN_IN_INVITES}
    return ids, changes, shown


async def _sync_keyed(
    db: AsyncSession,
    model: type[m.Organisation] | type[m.Person],
    event_id: int,
    wanted: dict[str, dict[str, Any]],
    now: datetime,
    new_values: Callable[[], dict[str, Any]],
) -> tuple[dict[str, int], KeyedChanges, dict[int, set[str]]]:
    """Inserts, updates, reactivates and marks removed rows keyed by (event, key); returns the id
    of every key the event has ever had, what changed, and which columns changed per row."""
    columns = list(next(iter(wanted.values()), {}))
    stored = {
        row.key: row
        for row in await db.execute(
            select(
                model.id,
                model.key,
                model.removed_at,
                *(getattr(model, column) for column in columns),
            ).where(model.event_id == event_id)
        )
    }
    ids = {key: row.id for key, row in stored.items()}
    added: list[str] = []
    changed: list[str] = []
    changed_columns: dict[int, set[str]] = {}
    updates: list[dict[str, Any]] = []
    inserts: list[dict[str, Any]] = []
    for key, values in wanted.items():
        row = stored.pop(key, None)
        if row is None:
            inserts.append({"event_id": event_id, "key": key, **new_values(), **values})
            added.append(key)
            continue
        differs = {column for column in columns if getattr(row, column) != values[column]}
        if row.removed_at is not None:
            added.append(key)
        elif differs:
            changed.append(key)
            changed_columns[row.id] = differs
        else:
            continue
        updates.append({"id": row.id, "removed_at": None, **values})
    removed = [row for row in stored.values() if row.removed_at is None]
    updates.extend({"id": row.id, "removed_at": now} for row in removed)
    if updates:
        await db.execute(update(model), updates)
    if inserts:
        result = await db.execute(insert(table(model)).returning(model.id, model.key), inserts)
        ids.update({key: row_id for row_id, key in result.all()})
    changes = KeyedChanges(tuple(added), tuple(changed), tuple(row.key for row in removed))
    return ids, changes, changed_columns
