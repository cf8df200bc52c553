"""A validated program: plain frozen data, the input of the importer and of the scheduler."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

Interval = tuple[datetime, datetime]
"""An aware UTC start and end."""

MUST_MEET = 3


@dataclass(frozen=True, slots=True)
class Rules:
    """The `schedule` section: when meetings may happen and how many."""

    windows: tuple[Interval, ...]
    slot_minutes: int
    gap_minutes: int = 0
    max_parallel: int | None = None
    max_per_person: int | None = None
    refill: str | None = None  # "auto": a meeting declined ahead is re-filled at once
    # When participants may ask each other for meetings (`participants/requests.py`).
    requests_open: datetime | None = None
    requests_close: datetime | None = None
    max_requests_per_person: int | None = None


@dataclass(frozen=True, slots=True)
class Request:
    """One wanted rendez-vous, between two people or two organisations (`organisations`)."""

    index: int
    source: str
    target: str
    organisations: bool
    priority: int
    session_key: str
    key_given: bool = False

    def as_dict(self) -> dict[str, Any]:
        item: dict[str, Any] = {"from": self.source, "to": self.target, "priority": self.priority}
        if self.key_given:
            item["key"] = self.session_key
        return item


@dataclass(frozen=True, slots=True)
class Requests:
    """The validated `schedule`, `availability` and `requests` sections of a program."""

    rules: Rules
    availability: Mapping[str, tuple[Interval, ...]]
    requests: tuple[Request, ...]

    def document(self) -> dict[str, Any]:
        """The sections as a program would give them, times absolute: what is stored."""
        rules = self.rules
        schedule: dict[str, Any] = {
            "windows": [_pair(window) for window in rules.windows],
            "slot_minutes": rules.slot_minutes,
            "gap_minutes": rules.gap_minutes,
        }
        if rules.max_parallel is not None:
            schedule["max_parallel"] = rules.max_parallel
        if rules.max_per_person is not None:
            schedule["max_per_person"] = rules.max_per_person
        if rules.refill is not None:
            schedule["refill"] = rules.refill
        if rules.requests_open is not None and rules.requests_close is not None:
            schedule["requests_open"] = rules.requests_open.isoformat()
            schedule["requests_close"] = rules.requests_close.isoformat()
        if rules.max_requests_per_person is not None:
            schedule["max_requests_per_person"] = rules.max_requests_per_person
        return {
            "schedule": schedule,
            "availability": {
                key: [_pair(interval) for interval in spans]
                for key, spans in self.availability.items()
            },
            "requests": [request.as_dict() for request in self.requests],
        }


def _pair(interval: Interval) -> list[str]:
    return [interval[0].isoformat(), interval[1].isoformat()]


@dataclass(frozen=True, slots=True)
class EventSpec:
    slug: str
    title: str
    timezone: str
    locale: str
    organiser_name: str
    organiser_email: str
    provider: str | None = None


@dataclass(frozen=True, slots=True)
class ProfileSpec:
    """An organisation's profile as the program pre-fills it (`prefill.py`)."""

    description: str | None = None
    themes: tuple[str, ...] = ()
    website: str | None = None

    @property
    def empty(self) -> bool:
        return not (self.description or self.themes or self.website)


@dataclass(frozen=True, slots=True)
class NeedSpec:
    """A buyer's need as the program pre-fills it."""

    key: str
    organisation: str
    title: str
    description: str
    themes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class OrganisationSpec:
    key: str
    name: str
    kind: str
    profile: ProfileSpec = ProfileSpec()  # what the program pre-fills (`prefill.py`)


@dataclass(frozen=True, slots=True)
class PersonSpec:
    key: str
    name: str
    email: str
    organisation: str | None = None
    locale: str | None = None


@dataclass(frozen=True, slots=True)
class SessionSpec:
    """Times are aware UTC datetimes; `attendees` is resolved (a `*` is expanded) and holds the
    speakers too."""

    key: str
    kind: str
    title: str
    starts_at: datetime
    ends_at: datetime
    attendees: tuple[str, ...]
    speakers: tuple[str, ...] = ()
    provider: str | None = None
    stream_url: str | None = None
    streamed: bool = False  # attendees other than speakers are sent to the stream


@dataclass(frozen=True, slots=True)
class Program:
    event: EventSpec
    organisations: tuple[OrganisationSpec, ...]
    people: tuple[PersonSpec, ...]
    sessions: tuple[SessionSpec, ...]
    requests: Requests | None = None  # meeting requests for `rdv schedule`, when given
    needs: tuple[NeedSpec, ...] = ()  # buyers' needs the program pre-fills
