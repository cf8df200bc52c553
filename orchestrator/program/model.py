"""A validated program: plain frozen data, the input of the importer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..scheduling.model import Requests


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
class OrganisationSpec:
    key: str
    name: str
    kind: str


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
