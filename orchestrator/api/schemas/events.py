"""An event as the API shows it, a program sent to it, a session's change, and what changed."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, UnsetType

from ...db.states import RoomState
from .common import Attendee, DateTime, Model, OrganisationKind, SessionKind

Locale = Literal["en", "fr"]


class Program(Model, forbid_unknown_fields=False):
    """A program file as in the SPEC (event, organisations, people, sessions, and optionally the
    meeting requests: schedule, availability, requests), checked by the program validator."""

    event: dict[str, Any]
    people: list[dict[str, Any]]
    sessions: list[dict[str, Any]]
    organisations: list[dict[str, Any]] | UnsetType = UNSET
    schedule: dict[str, Any] | UnsetType = UNSET
    availability: dict[str, Any] | UnsetType = UNSET
    requests: list[dict[str, Any]] | UnsetType = UNSET


class SessionPatch(Model):
    """The fields of a session to change; any other field is refused with 422."""

    start: (
        Annotated[
            str, msgspec.Meta(description="local to the event's zone unless it has an offset")
        ]
        | UnsetType
    ) = UNSET
    end: str | UnsetType = UNSET
    title: str | UnsetType = UNSET
    attendees: (
        Annotated[
            list[str] | Literal["*"],
            msgspec.Meta(extra={"expects": 'a list of person keys, or "*" for everyone'}),
        ]
        | UnsetType
    ) = UNSET
    provider: (
        Annotated[str | None, msgspec.Meta(description="null goes back to the event's provider")]
        | UnsetType
    ) = UNSET


class KeyedChanges(Model):
    added: list[str]
    changed: list[str]
    removed: list[str]


class SessionChange(Model):
    """An existing session that changed, and how."""

    key: str
    fields: list[str]
    attendees_added: list[str]
    attendees_removed: list[str]
    roles_changed: list[str]


class SessionChanges(Model):
    created: list[str]
    changed: list[SessionChange]
    cancelled: list[str]
    over: Annotated[
        list[str],
        msgspec.Meta(
            description="sessions above that had already ended: no invitation, update or "
            "cancellation was sent for them"
        ),
    ]


class ChangeSet(Model):
    """What an import, a change or a scheduling run changed in an event."""

    event: str
    event_created: bool
    event_changed: list[str]
    organisations: KeyedChanges
    people: KeyedChanges
    sessions: SessionChanges
    empty: bool


class Changes(Model):
    changes: ChangeSet


class Organiser(Model):
    name: str
    email: str


class Organisation(Model):
    key: str
    name: str
    kind: OrganisationKind


class Room(Model):
    provider: str
    state: RoomState
    error: str | None


class Session(Model):
    key: str
    kind: SessionKind
    title: str
    start: DateTime
    end: DateTime
    local_start: DateTime
    local_end: DateTime
    status: Literal["scheduled", "cancelled"]
    sequence: int
    stream_url: str | None
    attendees: list[Attendee]
    room: Room


class Event(Model):
    """The event, its sessions (cancelled ones included, marked) with attendees and rooms."""

    slug: str
    title: str
    timezone: str
    locale: Locale
    organiser: Organiser
    provider: str
    organisations: list[Organisation]
    people_count: int
    sessions: list[Session]
