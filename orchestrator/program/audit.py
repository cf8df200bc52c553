"""Who changed the program: the audit entry of an import, an edit, a cancellation or a schedule,
recorded by a change hook in the change's own transaction."""

from __future__ import annotations

import getpass
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..db import models as m
from ..db.audit import record
from .changes import ChangeSet
from .service import ChangeHook

LISTED = 50  # keys an entry lists per kind of change; the counts are always whole


@dataclass(frozen=True, slots=True)
class Author:
    """Who asked for a change, and from where (`db.audit.SOURCES`)."""

    actor: str
    source: str

    @classmethod
    def command(cls, source: str = "cli") -> Author:
        """The operating-system user running an `rdv` command."""
        try:
            user = getpass.getuser()
        except (KeyError, OSError):  # no name for this uid (a bare container)
            user = "unknown"
        return cls(f"{user} (command line)", source)


def recorder(author: Author, action: str, subject: str = "") -> ChangeHook:
    """A change hook that records the change set as one audit entry."""

    async def hook(db: AsyncSession, changes: ChangeSet, now: datetime) -> None:
        event_id = await db.scalar(select(m.Event.id).where(m.Event.slug == changes.event))
        assert event_id is not None
        await record(
            db,
            event_id=event_id,
            at=now,
            actor=author.actor,
            source=author.source,
            action=_action(action, changes),
            subject=subject,
            details=details(changes),
        )

    return hook


async def record_readd(db: AsyncSession, slug: str, author: Author, now: datetime) -> None:
    """An erased email allowed back (the email itself is not kept: it was erased)."""
    event_id = await db.scalar(select(m.Event.id).where(m.Event.slug == slug))
    assert event_id is not None
    await record(
        db,
        event_id=event_id,
        at=now,
        actor=author.actor,
        source=author.source,
        action="person.readd",
    )


def hooks(*each: ChangeHook | None) -> ChangeHook:
    """One hook running these in turn (the invites' and the audit's)."""
    present = [hook for hook in each if hook is not None]

    async def run(db: AsyncSession, changes: ChangeSet, now: datetime) -> None:
        for hook in present:
            await hook(db, changes, now)

    return run


def _action(action: str, changes: ChangeSet) -> str:
    """An edit that only moved a session is a move."""
    changed = changes.sessions_changed
    if (
        action == "session.edit"
        and len(changed) == 1
        and set(changed[0].fields) <= {"start", "end"}
    ):
        return "session.move"
    return action


def details(changes: ChangeSet) -> dict[str, Any]:
    """What changed: counts, the first keys of each kind, every move with before and after."""
    whole = changes.as_dict()
    sessions = whole["sessions"]
    out: dict[str, Any] = {
        "event_created": changes.event_created,
        "event_changed": whole["event_changed"],
        "organisations": _capped(whole["organisations"]),
        "people": _capped(whole["people"]),
        "sessions": {
            "created": _keys(sessions["created"]),
            "changed": _keys([change["key"] for change in sessions["changed"]]),
            "cancelled": _keys(sessions["cancelled"]),
        },
        "changed_fields": {
            change.key: list(change.fields) for change in changes.sessions_changed[:LISTED]
        },
        "moves": [move.as_dict() for move in changes.moves[:LISTED]],
    }
    return out


def _capped(keyed: dict[str, list[str]]) -> dict[str, Any]:
    return {name: _keys(keys) for name, keys in keyed.items()}


def _keys(keys: Sequence[str]) -> dict[str, Any]:
    return {"count": len(keys), "keys": list(keys[:LISTED])}
