"""What every resource's shapes stand on: the base classes, the error body, a person in a room."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

# Answers carry times as the RFC 3339 text they always had (UTC ones end in Z).
DateTime = Annotated[str, msgspec.Meta(extra_json_schema={"format": "date-time"})]
Role = Literal["speaker", "attendee"]
SeatAnswer = Literal["needs-action", "accepted", "tentative", "declined"]
AnswerSource = Literal["calendar", "page", "organiser"]
SessionKind = Literal["plenary", "meeting", "follow-up"]
OrganisationKind = Literal["company", "buyer", "organiser"]


class Model(msgspec.Struct, forbid_unknown_fields=True):
    """A body of the API. Unknown fields are refused: in a request they are a mistake, and an
    answer built from a domain dict that grew a field fails in the tests instead of drifting."""


class Query(msgspec.Struct):
    """The query parameters of an operation; others are ignored, as HTTP clients add their own."""


class Problem(Model):
    """One reason a program or a change was refused, and where it was found."""

    place: str
    message: str


class ErrorDetail(Model):
    code: str
    message: str
    details: list[Problem]


class Error(Model):
    """Every failure of the API, whatever its status."""

    error: ErrorDetail


class Attendee(Model):
    """A person expected in a session."""

    key: str
    name: str
    organisation: str | None
    role: Role
    answer: SeatAnswer = "needs-action"
    answered_at: DateTime | None = None
    answer_source: AnswerSource | None = None
    answer_reason: str | None = None
