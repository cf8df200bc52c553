"""The change set of an import: what a program changed, the seam that invites and rooms follow."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# Session fields whose change alters what an attendee's invite says (and so raises SEQUENCE).
INVITE_FIELDS = frozenset(
    {"start", "end", "title", "kind", "attendees", "attendee_details", "speakers", "event"}
)


@dataclass(frozen=True, slots=True)
class SessionChange:
    """One existing session that changed; `fields` names what changed, in a stable order."""

    key: str
    fields: tuple[str, ...]
    attendees_added: tuple[str, ...] = ()
    attendees_removed: tuple[str, ...] = ()
    roles_changed: tuple[str, ...] = ()

    @property
    def touches_invites(self) -> bool:
        return not INVITE_FIELDS.isdisjoint(self.fields)

    @classmethod
    def from_dict(cls, item: dict[str, Any]) -> SessionChange:
        """The change `as_dict` wrote (a mail plan keeps it as JSON)."""
        return cls(
            item["key"],
            tuple(item["fields"]),
            tuple(item["attendees_added"]),
            tuple(item["attendees_removed"]),
            tuple(item["roles_changed"]),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "fields": list(self.fields),
            "attendees_added": list(self.attendees_added),
            "attendees_removed": list(self.attendees_removed),
            "roles_changed": list(self.roles_changed),
        }


@dataclass(frozen=True, slots=True)
class Move:
    """A session that changed time: when it was, when it is now (UTC)."""

    key: str
    starts_before: datetime
    ends_before: datetime
    starts_after: datetime
    ends_after: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "before": {"start": utc(self.starts_before), "end": utc(self.ends_before)},
            "after": {"start": utc(self.starts_after), "end": utc(self.ends_after)},
        }


def utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class KeyedChanges:
    """Organisations or people added, changed or removed, by key."""

    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.removed)

    def as_dict(self) -> dict[str, list[str]]:
        return {
            "added": list(self.added),
            "changed": list(self.changed),
            "removed": list(self.removed),
        }


@dataclass(frozen=True, slots=True)
class ChangeSet:
    """What one import (or one PATCH or DELETE) changed in an event."""

    event: str
    event_created: bool = False
    event_changed: tuple[str, ...] = ()
    organisations: KeyedChanges = field(default_factory=KeyedChanges)
    people: KeyedChanges = field(default_factory=KeyedChanges)
    sessions_created: tuple[str, ...] = ()
    sessions_changed: tuple[SessionChange, ...] = ()
    sessions_cancelled: tuple[str, ...] = ()
    # Sessions above that had already ended when the change was made: nobody gets mail about them.
    sessions_over: tuple[str, ...] = ()
    moves: tuple[Move, ...] = ()  # the changed sessions whose start or end moved (the audit log)

    @property
    def empty(self) -> bool:
        return not (
            self.event_created
            or self.event_changed
            or self.organisations
            or self.people
            or self.sessions_created
            or self.sessions_changed
            or self.sessions_cancelled
        )

    def changed(self, key: str) -> SessionChange | None:
        return next((change for change in self.sessions_changed if change.key == key), None)

    def as_dict(self) -> dict[str, Any]:
        return {
            "event": self.event,
            "event_created": self.event_created,
            "event_changed": list(self.event_changed),
            "organisations": self.organisations.as_dict(),
            "people": self.people.as_dict(),
            "sessions": {
                "created": list(self.sessions_created),
                "changed": [change.as_dict() for change in self.sessions_changed],
                "cancelled": list(self.sessions_cancelled),
                "over": list(self.sessions_over),
            },
            "empty": self.empty,
        }

    def summary(self) -> list[str]:
        """Human lines for the CLI: one per changed thing."""
        if self.empty:
            return [f"{self.event}: no change"]
        lines = [f"{self.event}: {'created' if self.event_created else 'updated'}"]
        if self.event_changed:
            lines.append(f"  event changed: {', '.join(self.event_changed)}")
        for label, changes in (("organisations", self.organisations), ("people", self.people)):
            for verb, keys in (
                ("added", changes.added),
                ("changed", changes.changed),
                ("removed", changes.removed),
            ):
                if keys:
                    lines.append(f"  {label} {verb} ({len(keys)}): {_short(keys)}")
        if self.sessions_created:
            lines.append(
                f"  sessions created ({len(self.sessions_created)}): "
                f"{_short(self.sessions_created)}"
            )
        for change in self.sessions_changed:
            lines.append(f"  session {change.key} changed: {', '.join(change.fields)}")
            if change.attendees_added:
                lines.append(f"    attendees added: {', '.join(change.attendees_added)}")
            if change.attendees_removed:
                lines.append(f"    attendees removed: {', '.join(change.attendees_removed)}")
        if self.sessions_cancelled:
            lines.append(
                f"  sessions cancelled ({len(self.sessions_cancelled)}): "
                f"{_short(self.sessions_cancelled)}"
            )
        if self.sessions_over:
            count = len(self.sessions_over)
            lines.append(
                f"  {count} session{'s' if count > 1 else ''} already over: no invitations sent "
                f"({_short(self.sessions_over)})"
            )
        return lines


def _short(keys: tuple[str, ...], limit: int = 12) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f", … (+{len(keys) - limit})" if len(keys) > limit else "")
