"""The follow-up report's content, from the same attendance computation as the API and the CSV:
the key figures, the plenary's presence minute by minute, the company × directorate matrix, the
table per directorate, and what to follow up."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ..attendance.figures import key_figures
from ..attendance.outcomes import Line, Outcome


@dataclass(frozen=True, slots=True)
class Meeting:
    key: str
    title: str
    time: str
    held: bool
    over: bool
    missing: tuple[str, ...]
    substitutes: tuple[str, ...]
    minutes: float
    contacts: tuple[tuple[str, str, str], ...]  # (name, organisation, email) of the expected people


@dataclass(frozen=True, slots=True)
class Report:
    slug: str
    title: str
    figures: dict[str, Any]
    curve: tuple[tuple[datetime, int], ...]
    curve_zone: ZoneInfo
    companies: tuple[str, ...]
    directorates: tuple[str, ...]
    matrix: dict[tuple[str, str], tuple[Meeting, ...]]
    not_held: tuple[Meeting, ...]
    no_shows: tuple[tuple[str, str, str, str], ...]  # (name, organisation, email, session)
    early_leavers: tuple[tuple[str, str, str, str], ...]


def _side(outcome: Outcome, kind: str) -> list[Line]:
    return [line for line in outcome.lines if line.person and line.person.kind == kind]


def presence_curve(
    outcome: Outcome, step: timedelta = timedelta(minutes=1)
) -> list[tuple[datetime, int]]:
    """How many people were present at each minute of the session's window."""
    spans = [span for line in outcome.lines for span in line.presence.spans]
    moment, end = outcome.window.starts_at - timedelta(minutes=10), outcome.window.closes_at
    curve = []
    while moment <= end:
        curve.append((moment, sum(1 for start, stop in spans if start <= moment < stop)))
        moment += step
    return curve


def meeting_of(outcome: Outcome, zone: ZoneInfo) -> Meeting:
    session = outcome.session
    expected = [line for line in outcome.lines if line.attendee_id]
    return Meeting(
        key=session.key,
        title=session.title,
        time=session.starts_at.astimezone(zone).strftime("%H:%M"),
        held=bool(outcome.held),
        over=outcome.window.over,
        missing=tuple(line.name for line in expected if not line.presence.spans),
        substitutes=tuple(
            f"{line.name} → {line.substitute_for.name}"
            for line in outcome.lines
            if line.substitute_for
        ),
        minutes=outcome.together_minutes,
        contacts=tuple(
            (line.name, line.person.organisation or "" if line.person else "", line.email or "")
            for line in expected
        ),
    )


def build_report(
    slug: str, title: str, zone: ZoneInfo, outcomes: list[Outcome], extra: dict[str, Any]
) -> Report:
    figures = {**key_figures(outcomes), **extra}
    plenaries = [outcome for outcome in outcomes if outcome.session.kind == "plenary"]
    curve = presence_curve(plenaries[0]) if plenaries else []
    matrix: dict[tuple[str, str], list[Meeting]] = defaultdict(list)
    meetings = []
    for outcome in outcomes:
        if outcome.session.kind != "meeting":
            continue
        meeting = meeting_of(outcome, zone)
        meetings.append(meeting)
        companies = {
            line.person.organisation
            for line in _side(outcome, "company")
            if line.person and line.person.organisation and line.attendee_id
        }
        directorates = {
            line.person.organisation
            for line in _side(outcome, "buyer")
            if line.person and line.person.organisation and line.attendee_id
        }
        for company in companies:
            for directorate in directorates:
                matrix[(company, directorate)].append(meeting)
    people = [
        (line, outcome)
        for outcome in outcomes
        for line in outcome.lines
        if line.attendee_id and outcome.window.over
    ]
    return Report(
        slug=slug,
        title=title,
        figures=figures,
        curve=tuple(curve),
        curve_zone=zone,
        companies=tuple(sorted({company for company, _ in matrix})),
        directorates=tuple(sorted({directorate for _, directorate in matrix})),
        matrix={cell: tuple(found) for cell, found in matrix.items()},
        not_held=tuple(meeting for meeting in meetings if meeting.over and not meeting.held),
        no_shows=tuple(
            (
                line.name,
                line.person.organisation or "" if line.person else "",
                line.email or "",
                outcome.session.title,
            )
            for line, outcome in people
            if line.status == "no-show"
        ),
        early_leavers=tuple(
            (
                line.name,
                line.person.organisation or "" if line.person else "",
                line.email or "",
                outcome.session.title,
            )
            for line, outcome in people
            if line.status == "left-early"
        ),
    )
