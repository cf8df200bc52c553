"""Plain data the calendar builders work from: no database, no settings, no clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Method(StrEnum):
    REQUEST = "REQUEST"
    CANCEL = "CANCEL"
    PUBLISH = "PUBLISH"


@dataclass(frozen=True, slots=True)
class Party:
    """Someone in an invite: the organiser, the recipient, or another attendee."""

    name: str
    email: str
    organisation: str | None = None


@dataclass(frozen=True, slots=True)
class Entry:
    """One session as one person sees it in their calendar.

    `starts_at`/`ends_at` are aware UTC datetimes; `zone` is the event's IANA zone, used only for
    the text shown to people (the calendar data itself carries UTC times, which every parser reads
    as the same instant). `attendees` are everyone listed in the invite: the whole meeting, or for
    a plenary only the recipient. `others` are the people the recipient meets (meetings only).
    """

    uid: str
    sequence: int
    title: str
    kind: str
    starts_at: datetime
    ends_at: datetime
    zone: str
    organiser: Party
    recipient: Party
    attendees: tuple[Party, ...]
    others: tuple[Party, ...]
    join_url: str
    description: str
    event_title: str
    speaker: bool = False
    cancelled: bool = False
    last_modified: datetime | None = None
