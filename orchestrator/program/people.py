"""An event's organisations and people against the program, by key: planned from what is
stored, then written (see `apply` for why the two are apart)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession

from ..db import models as m
from ..db.bulk import ReadyRows, insert_ready, ready
from .changes import KeyedChanges
from .model import OrganisationSpec, PersonSpec

# Person columns that other attendees' invites show (the attendee list, "who you meet").
SHOWN_IN_INVITES = frozenset({"name", "email", "organisation_id"})
ORGANISATION_COLUMNS = ("name", "kind")
PERSON_COLUMNS = ("name", "email", "organisation_id", "locale")
INSERTED = {
    m.Organisation: ("event_id", "key", *ORGANISATION_COLUMNS),
    m.Person: ("event_id", "key", "feed_token", *PERSON_COLUMNS),
}

Keyed = type[m.Organisation] | type[m.Person]


@dataclass(frozen=True, slots=True)
class New:
    """A row this change inserts, named by its key until the insert gives it an id."""

    key: str


Ref = int | New  # a stored row's id, or a row still to insert


@dataclass(slots=True)
class KeyedPlan:
    """What to write to one table of rows keyed by (event, key), and what it changes."""

    refs: dict[str, Ref]  # every key the event has had or will have
    changes: KeyedChanges
    changed_columns: dict[int, set[str]] = field(default_factory=dict)
    inserts: list[dict[str, Any]] = field(default_factory=list)  # without their event id
    updates: list[dict[str, Any]] = field(default_factory=list)
    ready: ReadyRows | None = None  # the inserts, made ready for the driver

    def make_ready(self, dialect: Dialect, model: Keyed, later: Sequence[str]) -> None:
        self.ready = ready(
            dialect, model, self.inserts, INSERTED[model], later=("event_id", *later)
        )


async def read_keyed(
    db: AsyncSession, model: Keyed, event_id: int | None, columns: Sequence[str]
) -> dict[str, Any]:
    """The stored rows of the event (none for an event not stored yet), by key."""
    if event_id is None:
        return {}
    rows = await db.execute(
        select(model.id, model.key, model.removed_at, *(getattr(model, c) for c in columns)).where(
            model.event_id == event_id
        )
    )
    return {row.key: row for row in rows}


def plan_organisations(
    stored: Mapping[str, Any], specs: Sequence[OrganisationSpec], now: datetime
) -> KeyedPlan:
    wanted = {spec.key: {"name": spec.name, "kind": spec.kind} for spec in specs}
    return _plan_keyed(stored, wanted, ORGANISATION_COLUMNS, now, dict)


def plan_people(
    stored: Mapping[str, Any],
    specs: Sequence[PersonSpec],
    organisations: Mapping[str, Ref],
    now: datetime,
    tokens: Callable[[], str],
    keep: frozenset[str] = frozenset(),
) -> tuple[KeyedPlan, set[int]]:
    """The plan, and the ids of stored people whose name, email or organisation changes (the
    invites of their sessions show those). People in `keep` stay though the program does not
    name them (a colleague who took someone's seat: `participants/handover.py`)."""
    wanted = {
        spec.key: {
            "name": spec.name,
            "email": spec.email,
            "organisation_id": organisations[spec.organisation] if spec.organisation else None,
            "locale": spec.locale,
        }
        for spec in specs
    }
    plan = _plan_keyed(stored, wanted, PERSON_COLUMNS, now, lambda: {"feed_token": tokens()}, keep)
    shown = {
        row_id for row_id, columns in plan.changed_columns.items() if columns & SHOWN_IN_INVITES
    }
    return plan, shown


def _plan_keyed(
    stored: Mapping[str, Any],
    wanted: dict[str, dict[str, Any]],
    columns: Sequence[str],
    now: datetime,
    new_values: Callable[[], dict[str, Any]],
    keep: frozenset[str] = frozenset(),
) -> KeyedPlan:
    """Inserts, updates, reactivations and removals (rows are marked removed, never deleted);
    the rows in `keep` are left as they are when `wanted` does not name them."""
    left = dict(stored)
    refs: dict[str, Ref] = {key: row.id for key, row in stored.items()}
    added: list[str] = []
    changed: list[str] = []
    plan = KeyedPlan(refs, KeyedChanges())
    for key, values in wanted.items():
        row = left.pop(key, None)
        if row is None:
            plan.inserts.append({"event_id": None, "key": key, **new_values(), **values})
            refs[key] = New(key)
            added.append(key)
            continue
        differs = {column for column in columns if getattr(row, column) != values[column]}
        if row.removed_at is not None:
            added.append(key)
        elif differs:
            changed.append(key)
            plan.changed_columns[row.id] = differs
        else:
            continue
        plan.updates.append({"id": row.id, "removed_at": None, **values})
    removed = [row for key, row in left.items() if row.removed_at is None and key not in keep]
    plan.updates.extend({"id": row.id, "removed_at": now} for row in removed)
    plan.changes = KeyedChanges(tuple(added), tuple(changed), tuple(row.key for row in removed))
    return plan


async def write_keyed(
    db: AsyncSession,
    model: Keyed,
    event_id: int,
    plan: KeyedPlan,
    fill: Mapping[str, Callable[[Any], Any]] | None = None,
) -> dict[str, int]:
    """Writes the plan (`fill` turns the `New` references in a column into ids); returns the id
    of every key."""
    fill = dict(fill or {})
    if plan.updates:
        await db.execute(
            update(model),
            [
                {**row, **{name: fill[name](row[name]) for name in fill if name in row}}
                for row in plan.updates
            ],
        )
    ids = {key: ref for key, ref in plan.refs.items() if isinstance(ref, int)}
    if plan.inserts:
        assert plan.ready is not None, "make_ready first"
        # The driver's executemany, then the new ids in one query: this runs while the import
        # holds the database's write lock.
        await insert_ready(db, plan.ready, {"event_id": lambda _: event_id, **fill})
        new = {row["key"] for row in plan.inserts}
        found = await db.execute(select(model.key, model.id).where(model.event_id == event_id))
        ids.update({key: row_id for key, row_id in found if key in new})
    return ids
