"""What the demo's participants do, decided before the day starts (from a fixed seed, so every
run plays the same story): most come on time, some late, a few not at all, one leaves the plenary
early, one sends a colleague in their place. Each visit carries the status the attendance log
must end up showing, which `var/demo-plan.json` records for anyone to check."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .day import Day, Person, Sitting

SEED = 2021
PLENARY_NO_SHOWS, PLENARY_LATE = 4, 6
MEETINGS_LATE = 3
EARLY_LEAVE_AFTER = timedelta(minutes=8)


@dataclass(frozen=True, slots=True)
class Visit:
    """One person in one session: when they joined and left (never, for a no-show) and the
    status the attendance log should give them. `seat` is our attendee id, which the provider
    echoes; None for someone who came without a seat of their own (a stand-in)."""

    sitting: Sitting
    person: Person
    seat: int | None
    joined: datetime | None
    left: datetime | None
    status: str
    substitute_for: Person | None = None


@dataclass(frozen=True, slots=True)
class Beat:
    """A line of the story, told when the day's clock reaches `at`."""

    at: datetime
    text: str
    next_at: datetime | None = None  # the next slot, for "next slot at 10:40 (in 10 s)"


@dataclass(frozen=True, slots=True)
class Plan:
    visits: tuple[Visit, ...]
    beats: tuple[Beat, ...]
    duplicate: Visit  # whose join the provider delivers twice
    held: dict[str, bool]
    replay_at: datetime
    ends_at: datetime


class _Dice:
    """The seeded choices, and the times they lead to."""

    def __init__(self, late_after: timedelta) -> None:
        self.rng = random.Random(SEED)  # noqa: S311 (a story, not a secret)
        self.late_after = late_after

    def on_time(self, sitting: Sitting) -> datetime:
        return sitting.starts_at + timedelta(seconds=self.rng.randint(-90, 15))

    def late(self, sitting: Sitting, most: int) -> datetime:
        return sitting.starts_at + self.late_after + timedelta(seconds=self.rng.randint(30, most))

    def leaves(self, sitting: Sitting) -> datetime:
        return sitting.ends_at - timedelta(seconds=self.rng.randint(0, 45))


def plan_day(day: Day, *, late_after: timedelta) -> Plan:
    dice = _Dice(late_after)
    beats: list[Beat] = []
    visits, duplicate = _plenary(day.plenary, dice, beats)
    meeting_visits, held = _meetings(day, dice, beats)
    visits += meeting_visits
    ends_at = max(s.ends_at for s in day.sittings)
    beats.append(Beat(ends_at, "the day is over"))
    return Plan(
        tuple(visits),
        tuple(sorted(beats, key=lambda beat: beat.at)),
        duplicate,
        held,
        replay_at=day.plenary.ends_at + timedelta(minutes=1),
        ends_at=ends_at,
    )


def _plenary(sitting: Sitting, dice: _Dice, beats: list[Beat]) -> tuple[list[Visit], Visit]:
    audience = [s for s in sitting.seats if s.role != "speaker" and s.person.kind != "organiser"]
    picked = dice.rng.sample(audience, PLENARY_NO_SHOWS + PLENARY_LATE + 2)
    absent = set(picked[:PLENARY_NO_SHOWS])
    late = set(picked[PLENARY_NO_SHOWS:-2])
    early, twice = picked[-2:]
    visits: list[Visit] = []
    for seat in sitting.seats:
        person = seat.person
        if seat in absent:
            visits.append(Visit(sitting, person, seat.attendee_id, None, None, "no-show"))
            continue
        if seat in late:
            joined, status = dice.late(sitting, 300), "late"
            beats.append(Beat(joined, f"{_who(person)} joins the plenary late"))
        else:
            joined, status = dice.on_time(sitting), "attended"
        left = dice.leaves(sitting)
        if seat == early:  # after the last late arrival, so everyone who came was in at once
            left, status = sitting.starts_at + EARLY_LEAVE_AFTER, "left-early"
            beats.append(Beat(left, f"{_who(person)} leaves the plenary early"))
        visits.append(Visit(sitting, person, seat.attendee_id, joined, left, status))
    came = [v for v in visits if v.joined]
    in_time = sum(1 for v in came if v.joined and v.joined <= sitting.starts_at)
    beats += [
        Beat(sitting.starts_at, f"the plenary starts: {in_time} of {len(visits)} in the room"),
        Beat(
            sitting.ends_at,
            f"the plenary ends: {len(came)} of {len(visits)} came, {len(late)} of them late; "
            f"{len(absent)} no-shows",
        ),
    ]
    duplicate = next(v for v in visits if v.person == twice.person)
    return visits, duplicate


def _meetings(day: Day, dice: _Dice, beats: list[Beat]) -> tuple[list[Visit], dict[str, bool]]:
    """Three meetings with someone late, one the buyer misses, one the company misses, and one
    where the company's contact sends a colleague (someone with no meeting of their own)."""
    meetings = day.meetings
    colleagues: dict[str, list[Person]] = defaultdict(list)
    for person in day.people:
        colleagues[person.organisation].append(person)
    busy = {seat.person for meeting in meetings for seat in meeting.seats}
    stand_ins = [m for m in meetings if _free_colleague(_side(m, "company"), colleagues, busy)]
    substituted = dice.rng.choice(stand_ins)
    chosen = dice.rng.sample([m for m in meetings if m != substituted], MEETINGS_LATE + 2)
    late = set(chosen[:MEETINGS_LATE])
    missed = {chosen[-2]: "buyer", chosen[-1]: "company"}
    away = {**missed, substituted: "company"}
    visits: list[Visit] = []
    for meeting in meetings:
        late_side = dice.rng.choice(("company", "buyer")) if meeting in late else None
        visits += _meeting(meeting, dice, beats, away=away.get(meeting), late=late_side)
    contact = _side(substituted, "company")
    stand_in = _free_colleague(contact, colleagues, busy)
    assert stand_in is not None
    joined = dice.on_time(substituted)
    left = dice.leaves(substituted)
    visits.append(
        Visit(substituted, stand_in, None, joined, left, "attended", substitute_for=contact)
    )
    beats.append(
        Beat(joined, f"{substituted.key}: {stand_in.name} comes instead of {_who(contact)}")
    )
    for meeting, side in missed.items():
        beats.append(
            Beat(
                meeting.starts_at + dice.late_after,
                f"{meeting.key}: {_who(_side(meeting, side))} does not come; "
                "the meeting will not be held",
            )
        )
    beats += _slots(meetings)
    return visits, {meeting.key: meeting not in missed for meeting in meetings}


def _meeting(
    meeting: Sitting, dice: _Dice, beats: list[Beat], *, away: str | None, late: str | None
) -> list[Visit]:
    """The two sides of one meeting; `away` and `late` name the side (company or buyer) that
    does not come or comes late."""
    visits = []
    for seat in meeting.seats:
        person = seat.person
        if person.kind == away:
            visits.append(Visit(meeting, person, seat.attendee_id, None, None, "no-show"))
            continue
        if person.kind == late:
            joined, status = dice.late(meeting, 120), "late"
            beats.append(Beat(joined, f"{meeting.key}: {_who(person)} joins late"))
        else:
            joined, status = dice.on_time(meeting), "attended"
        visits.append(
            Visit(meeting, person, seat.attendee_id, joined, dice.leaves(meeting), status)
        )
    return visits


def _slots(meetings: Iterable[Sitting]) -> list[Beat]:
    starts: dict[datetime, list[Sitting]] = defaultdict(list)
    for meeting in meetings:
        starts[meeting.starts_at].append(meeting)
    order = sorted(starts)
    return [
        Beat(
            at,
            f"meetings, slot {n} of {len(order)}: {len(starts[at])} rooms",
            order[n] if n < len(order) else None,
        )
        for n, at in enumerate(order, 1)
    ]


def _side(meeting: Sitting, kind: str) -> Person:
    return next(seat.person for seat in meeting.seats if seat.person.kind == kind)


def _free_colleague(
    person: Person, colleagues: dict[str, list[Person]], busy: set[Person]
) -> Person | None:
    """A colleague with no meeting of their own, who can stand in."""
    return next((p for p in colleagues[person.organisation] if p not in busy), None)


def _who(person: Person) -> str:
    return f"{person.name} ({person.organisation_name})"


def as_json(plan: Plan, *, slug: str, speed: float) -> dict[str, Any]:
    """What was played, for `var/demo-plan.json`."""

    def text(moment: datetime | None) -> str | None:
        return moment.isoformat() if moment else None

    sittings = {visit.sitting.key: visit.sitting for visit in plan.visits}
    return {
        "event": slug,
        "speed": speed,
        "sessions": [
            {
                "key": s.key,
                "kind": s.kind,
                "title": s.title,
                "start": text(s.starts_at),
                "end": text(s.ends_at),
                "held": plan.held.get(s.key),
            }
            for s in sittings.values()
        ],
        "visits": [
            {
                "session": v.sitting.key,
                "person": v.person.key,
                "name": v.person.name,
                "email": v.person.email,
                "organisation": v.person.organisation,
                "organisation_kind": v.person.kind,
                "own_seat": v.seat is not None,
                "joined": text(v.joined),
                "left": text(v.left),
                "status": v.status,
                "substitute_for": v.substitute_for.key if v.substitute_for else None,
            }
            for v in plan.visits
        ],
        "duplicate": {"session": plan.duplicate.sitting.key, "person": plan.duplicate.person.key},
    }
