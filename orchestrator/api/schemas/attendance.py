"""The attendance log and the key figures of an event."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, UnsetType

from ...db.states import AttendanceStatus
from .common import DateTime, Model, OrganisationKind, Query, SeatAnswer


class AttendanceQuery(Query):
    format: Literal["json", "csv"] = "json"
    session: str | UnsetType = UNSET
    organisation: Annotated[
        str | UnsetType, msgspec.Meta(description="an organisation's key or name")
    ] = UNSET


class AttendanceRow(Model):
    """One expected person, substitute or guest in one session."""

    session: str
    session_title: str
    local_start: DateTime
    person: str | None
    name: str
    email: str | None
    organisation: str | None
    organisation_kind: OrganisationKind | None
    role: Literal["speaker", "attendee", "substitute", "guest"]
    first_join: DateTime | None
    last_leave: DateTime | None
    minutes_present: Annotated[
        float,
        msgspec.Meta(
            description="time in the room from when the links open (RDV_JOIN_EARLY before the "
            "start) until the room closes (RDV_CLOSE_GRACE after the end); two devices at once "
            "count once"
        ),
    ]
    status: AttendanceStatus
    substitute_for: str | None
    sources: list[str]
    answer: SeatAnswer = "needs-action"
    answer_reason: str | None = None


class Attendance(Model):
    event: str
    timezone: str
    attendance: list[AttendanceRow]


class DirectorateFigures(Model):
    """The meetings of one buyer organisation."""

    name: str
    meetings: int
    held: int
    representatives_present: int
    companies_met: int
    median_minutes: Annotated[
        float | None,
        msgspec.Meta(
            description="median, over held meetings, of the minutes both sides were in the room "
            "together between the meeting's start and its end"
        ),
    ]


class DirectorateRequests(Model):
    """Participants' meeting requests one directorate received, and what it answered."""

    name: str
    received: int
    accepted: int
    declined: int
    acceptance_rate: float


class Report(Model):
    """The key figures of the event; `definitions` says what each one counts."""

    event: str
    title: str
    plenary_participants: int
    plenary_peak: int
    meetings_scheduled: int
    meetings_held: int
    meetings_not_held: int
    companies_met: int
    buyer_representatives: int
    directorates: int
    no_show_rate: float | None
    median_meeting_minutes: float | None
    follow_ups_planned: int
    follow_ups_held: int
    seats_confirmed: int
    seats_declined_ahead: int
    no_shows_without_notice: int
    per_directorate: list[DirectorateFigures]
    definitions: dict[str, str]
    replays: int
    replay_mail_sent: int
    requests_sent: int
    requests_accepted: int
    requests_declined: int
    requests_expired: int
    requests_placed: int
    requests_per_directorate: list[DirectorateRequests]
    outcomes_asked: int
    outcomes_answered: int
    outcomes: dict[str, int]
    plenary_replay: str | None
