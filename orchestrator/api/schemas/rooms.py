"""Every room's live status, as organisers watch it."""

from __future__ import annotations

from ...db.states import RoomState
from .common import Attendee, DateTime, Model, SessionKind


class RoomStatus(Model):
    """A session's room: its state, provider, failure if any, and who is expected."""

    session: str
    title: str
    kind: SessionKind
    start: DateTime
    end: DateTime
    provider: str
    state: RoomState
    error: str | None
    expected: list[Attendee]


class Rooms(Model):
    rooms: list[RoomStatus]
