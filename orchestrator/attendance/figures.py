"""The key figures organisers publish ("116 participants, 41 rendez-vous, 34 companies, 18
representatives of 6 directorates"), computed from the attendance outcomes."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from typing import Any

from .outcomes import Line, Outcome
from .presence import Interval, peak


def N_(message: str) -> str:
    return message


DEFINITIONS = {
    "plenary_participants": N_("people present in the plenary at some point (each counted once)"),
    "plenary_peak": N_("the most people present in the plenary at the same moment"),
    "meetings_scheduled": N_("one-to-one meetings on the program (cancelled ones left out)"),
    "meetings_held": N_(
        "meetings where both sides were in the room together for 5 minutes or more"
    ),
    "meetings_not_held": N_("meetings that are over and were not held"),
    "companies_met": N_("companies that held at least one meeting"),
    "buyer_representatives": N_("buyer representatives present in at least one held meeting"),
    "directorates": N_("buyer organisations (directorates) with at least one held meeting"),
    "no_show_rate": N_("share of expected meeting seats nobody took, in meetings that are over"),
    "median_meeting_minutes": N_(
        "median, over held meetings, of the time both sides were in the room together between "
        "the meeting's start and its end"
    ),
    "minutes_present": N_(
        "minutes present: the time a person was in the room, from when the links open (a few "
        "minutes before the start) until the room closes (a few minutes after the end); two "
        "devices at once count once"
    ),
    "seats_confirmed": N_(
        "meeting seats whose holder said ahead they would come (agenda page or calendar)"
    ),
    "seats_declined_ahead": N_("meeting seats whose holder said ahead they could not come"),
    "no_shows_without_notice": N_(
        "meeting seats nobody took, in meetings that are over, with no decline ahead"
    ),
    "follow_ups_planned": N_("follow-up meetings planned after the day (cancelled ones left out)"),
    "follow_ups_held": N_(
        "follow-up meetings where both sides were together for 5 minutes or more"
    ),
    "requests_sent": N_("meeting requests companies sent before the day (withdrawn ones left out)"),
    "requests_accepted": N_("requests the directorate accepted"),
    "requests_declined": N_("requests the directorate declined"),
    "requests_expired": N_("requests left unanswered when requests closed"),
    "requests_placed": N_("accepted requests the scheduler placed as meetings"),
    "acceptance_rate": N_("per directorate: requests accepted out of requests received"),
    "outcomes": N_(
        "what each side of a held meeting said came of it, asked once its room had closed"
    ),
}


@dataclass(frozen=True, slots=True)
class Directorate:
    name: str
    meetings: int
    held: int
    representatives_present: int
    companies_met: int
    median_minutes: float | None


def _present(line: Line) -> bool:
    return bool(line.presence.spans)


def key_figures(outcomes: list[Outcome]) -> dict[str, Any]:
    plenaries = [outcome for outcome in outcomes if outcome.session.kind == "plenary"]
    meetings = [outcome for outcome in outcomes if outcome.session.kind == "meeting"]
    follow_ups = [outcome for outcome in outcomes if outcome.session.kind == "follow-up"]
    plenary_people: set[str] = set()
    spans: dict[str, list[Interval]] = defaultdict(list)
    for outcome in plenaries:
        for line in outcome.lines:
            if _present(line):
                who = line.person.key if line.person else f"guest:{line.name}"
                plenary_people.add(who)
                spans[who] += list(line.presence.spans)
    held = [outcome for outcome in meetings if outcome.held]
    over = [outcome for outcome in meetings if outcome.window.over]
    seats = [line for outcome in over for line in outcome.lines if line.attendee_id]
    answered = Counter(
        line.answer for outcome in meetings for line in outcome.lines if line.attendee_id
    )
    return {
        "plenary_participants": len(plenary_people),
        "plenary_peak": peak(spans)[0],
        "meetings_scheduled": len(meetings),
        "meetings_held": len(held),
        "meetings_not_held": sum(1 for outcome in over if not outcome.held),
        "companies_met": len(_organisations(held, "company")),
        "buyer_representatives": len(_people(held, "buyer")),
        "directorates": len(_organisations(held, "buyer")),
        "no_show_rate": round(sum(1 for line in seats if line.status == "no-show") / len(seats), 3)
        if seats
        else None,
        "median_meeting_minutes": statistics.median(o.together_minutes for o in held)
        if held
        else None,
        "follow_ups_planned": len(follow_ups),
        "follow_ups_held": sum(1 for outcome in follow_ups if outcome.held),
        "seats_confirmed": answered["accepted"],
        "seats_declined_ahead": answered["declined"],
        "no_shows_without_notice": sum(
            1 for line in seats if line.status == "no-show" and line.answer != "declined"
        ),
        "per_directorate": [asdict(directorate) for directorate in _directorates(meetings)],
        "definitions": DEFINITIONS,
    }


def _organisations(outcomes: list[Outcome], kind: str) -> set[str]:
    return {
        line.person.organisation_key
        for outcome in outcomes
        for line in outcome.lines
        if line.person
        and line.person.kind == kind
        and _present(line)
        and line.person.organisation_key
    }


def _people(outcomes: list[Outcome], kind: str) -> set[str]:
    return {
        line.person.key
        for outcome in outcomes
        for line in outcome.lines
        if line.person and line.person.kind == kind and _present(line)
    }


def _directorates(meetings: list[Outcome]) -> list[Directorate]:
    by_name: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in meetings:
        names = {
            line.person.organisation
            for line in outcome.lines
            if line.person and line.person.kind == "buyer" and line.person.organisation
        }
        for name in names:
            by_name[name].append(outcome)
    table = []
    for name, outcomes in sorted(by_name.items()):
        held = [outcome for outcome in outcomes if outcome.held]
        reps = {
            line.person.key
            for outcome in held
            for line in outcome.lines
            if line.person and line.person.organisation == name and _present(line)
        }
        table.append(
            Directorate(
                name=name,
                meetings=len(outcomes),
                held=len(held),
                representatives_present=len(reps),
                companies_met=len(_organisations(held, "company")),
                median_minutes=statistics.median(o.together_minutes for o in held)
                if held
                else None,
            )
        )
    return table
