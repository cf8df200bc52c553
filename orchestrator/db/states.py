"""The vocabularies the database, the rules, the API and its description share. StrEnums, so a
member equals its plain text and stored or compared text keeps working."""

from __future__ import annotations

from enum import StrEnum


class RoomState(StrEnum):
    """Where a session's room is in its life."""

    SCHEDULED = "scheduled"
    PROVISIONING = "provisioning"
    READY = "ready"
    LIVE = "live"
    ENDED = "ended"
    FAILED = "failed"
    CANCELLED = "cancelled"


class AttendanceStatus(StrEnum):
    """How a person took part in a session; `expected` until the session can no longer tell."""

    ATTENDED = "attended"
    LATE = "late"
    LEFT_EARLY = "left-early"
    NO_SHOW = "no-show"
    EXPECTED = "expected"
