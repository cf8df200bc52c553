"""Which open request takes the slot of a meeting declined ahead: pure, the program in, the
re-fills out.

A meeting is freed when one side of it (everyone of an organisation in it, or a person of none)
said ahead they cannot come. Its slot and the people still coming are offered to the open
requests (those without a meeting), highest priority first: a request fits when one of the
people still coming is on one of its sides and someone on its other side is free for the whole
slot (available, in no other session then, under `max_per_person`) and did not decline it. The
new meeting takes exactly the freed slot, so nobody else moves; the declined meeting is
cancelled only when a request takes its place.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from .model import Interval, Program, Request, SessionSpec


@dataclass(frozen=True, slots=True)
class Freed:
    """A meeting declined ahead: who declined it, who still comes."""

    session: SessionSpec
    declined: tuple[str, ...]
    coming: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Refill:
    """The freed meeting, and the request that takes its slot (None: none fits)."""

    freed: Freed
    request: Request | None = None
    attendees: tuple[str, str] | None = None


def freed_meetings(
    program: Program, declined: Mapping[str, set[str]], *, now: datetime
) -> list[Freed]:
    """The meetings not begun whose one side has declined (`declined`: session key to the
    people who declined it), in the order they start."""
    organisation = {person.key: person.organisation for person in program.people}
    found = []
    for session in sorted(program.sessions, key=lambda s: (s.starts_at, s.key)):
        gone = declined.get(session.key, set()) & set(session.attendees)
        if session.kind != "meeting" or session.starts_at <= now or not gone:
            continue
        sides: dict[str, set[str]] = defaultdict(set)
        for key in session.attendees:
            sides[organisation.get(key) or f"person:{key}"].add(key)
        if any(side <= gone for side in sides.values()):
            coming = tuple(key for key in session.attendees if key not in gone)
            found.append(Freed(session, tuple(sorted(gone)), coming))
    return found


def plan_refills(
    program: Program, freed: Iterable[Freed], declined: Mapping[str, set[str]]
) -> list[Refill]:
    """One re-fill for each freed meeting, from the open requests; each request and each
    person's time is taken at most once across them."""
    if program.requests is None:
        return [Refill(item) for item in freed]
    rules = program.requests.rules
    availability = program.requests.availability
    people = {person.key: person for person in program.people}
    members: dict[str, list[str]] = defaultdict(list)
    for person in program.people:
        if person.organisation:
            members[person.organisation].append(person.key)
    freed = list(freed)
    cancelled = {item.session.key for item in freed}
    busy: dict[str, list[Interval]] = defaultdict(list)
    meetings: dict[str, int] = defaultdict(int)
    for session in program.sessions:
        if session.key in cancelled:
            continue
        for key in session.attendees:
            busy[key].append((session.starts_at, session.ends_at))
            meetings[key] += session.kind == "meeting"
    placed = {session.key for session in program.sessions}
    open_requests = sorted(
        (request for request in program.requests.requests if request.session_key not in placed),
        key=lambda request: (-request.priority, request.index),
    )
    taken: set[int] = set()
    refills = []
    for item in freed:
        start, end = item.session.starts_at, item.session.ends_at
        refused = declined.get(item.session.key, set())
        free = partial(
            _free, people, busy, meetings, availability, rules.max_per_person, start, end, refused
        )
        chosen: Refill | None = None
        for request in open_requests:
            if request.index in taken:
                continue
            pair = _pair(request, item.coming, members, free)
            if pair is not None:
                chosen = Refill(item, request, pair)
                break
        if chosen is None or chosen.attendees is None or chosen.request is None:
            refills.append(Refill(item))
            continue
        taken.add(chosen.request.index)
        placed.add(chosen.request.session_key)
        for key in chosen.attendees:
            busy[key].append((start, end))
            meetings[key] += 1
        refills.append(chosen)
    return refills


def _free(
    people: Mapping[str, object],
    busy: Mapping[str, list[Interval]],
    meetings: Mapping[str, int],
    availability: Mapping[str, tuple[Interval, ...]],
    most: int | None,
    start: datetime,
    end: datetime,
    refused: set[str],
    key: str,
) -> bool:
    """Whether `key` can take a meeting from `start` to `end`."""
    spans = availability.get(key)
    return (
        key in people
        and key not in refused
        and all(end <= s or e <= start for s, e in busy.get(key, ()))
        and (spans is None or any(s <= start and end <= e for s, e in spans))
        and (most is None or meetings.get(key, 0) < most)
    )


def _pair(
    request: Request,
    coming: tuple[str, ...],
    members: Mapping[str, list[str]],
    free: Callable[[str], bool],
) -> tuple[str, str] | None:
    """(someone of the source side, someone of the target side), one of them still coming to
    the freed meeting, both free; None when the request does not fit."""

    def side(name: str) -> list[str]:
        people = list(members.get(name, ())) if request.organisations else [name]
        return sorted(people, key=lambda key: (key not in coming, key))  # those coming first

    sources, targets = side(request.source), side(request.target)
    for source in sources:
        for target in targets:
            if source == target or (source not in coming and target not in coming):
                continue
            if all(key in coming or free(key) for key in (source, target)):
                return source, target
    return None
