"""`rdv schedule` and `POST /api/v1/events/{slug}/schedule`: the stored requests placed and
written as ordinary meeting sessions, through the same validation and change set as an import.

The event is read in one transaction, solved outside it (in a thread, so a running server keeps
answering), then written in a second transaction that first checks nothing changed meanwhile.
"""

from __future__ import annotations

import asyncio
import copy
from dataclasses import replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..db import models as m
from ..db.mail import MailMessage
from ..progress import Progress
from ..scheduling.explain import explain
from ..scheduling.instance import Existing, Plan, build
from ..scheduling.model import Solution
from ..scheduling.solver import WORKERS
from ..scheduling.split import solve
from ..settings import Settings
from .apply import Replan
from .asked import accepted_requests
from .export import export_document
from .model import Program, Request, SessionSpec
from .raw import RawProgram
from .schedule_outcome import Outcome, Placed, Unplaced
from .service import ChangeHook, NotFound, apply_document, checked, program_seen

DEFAULT_TIME_LIMIT = 60.0
SENT = ("sent", "sending")
INVITING = ("invitation", "update")


class Changed(RuntimeError):
    """The event changed while the solver ran; scheduling again sees the change."""


async def schedule_event(
    db_factory: async_sessionmaker[AsyncSession],
    settings: Settings,
    slug: str,
    *,
    now: datetime,
    move: bool = False,
    dry_run: bool = False,
    time_limit: float = DEFAULT_TIME_LIMIT,
    workers: int = WORKERS,
    on_change: ChangeHook | None = None,
    progress: Progress | None = None,
) -> Outcome:
    """Places the event's open requests and, unless `dry_run`, writes the meetings; `progress`
    hears of each phase and of each better placement the search finds."""
    told = progress or Progress()
    told.phase("reading the event")
    async with db_factory() as db, db.begin():
        document = await export_document(db, slug)
        if document is None:
            raise NotFound(f'no event "{slug}"')
        invited = await _invited(db, slug)
        event_id = await db.scalar(select(m.Event.id).where(m.Event.slug == slug))
        assert event_id is not None
        asked = await accepted_requests(db, event_id, len(document.get("requests") or []))
    program = _with_asked(checked(RawProgram(copy.deepcopy(document)), settings, slug), asked)
    outcome = Outcome(slug, ZoneInfo(program.event.timezone), _labels(program), dry_run=dry_run)
    if program.requests is None or not program.requests.requests:
        return outcome
    plan = _plan(program, invited, now=now, move=move)
    solution = await asyncio.to_thread(
        solve, plan.instance, time_limit=time_limit, workers=workers, progress=told
    )
    edited = _report(outcome, plan, solution, copy.deepcopy(document))
    if dry_run:
        told.finish()
        return outcome
    told.phase("writing the meetings")
    # Mail going out meanwhile for other sessions is no change; for a meeting of a request it is.
    ours = {request.session_key for request in program.requests.requests}
    async with db_factory() as db, db.begin():
        seen = await program_seen(db, slug)
        sent = await _invited(db, slug)
        if await export_document(db, slug) != document or sent & ours != invited & ours:
            raise Changed(f'the event "{slug}" changed while scheduling; run it again')
        try:
            outcome.changes = await apply_document(
                db, settings, edited, slug=slug, now=now, on_change=on_change, seen=seen
            )
        except Replan:
            raise Changed(f'the event "{slug}" changed while scheduling; run it again') from None
    told.finish()
    return outcome


def _with_asked(program: Program, asked: list[Request]) -> Program:
    """The program's requests and the participants' accepted ones (`asked.py`)."""
    if program.requests is None or not asked:
        return program
    requests = replace(program.requests, requests=program.requests.requests + tuple(asked))
    return replace(program, requests=requests)


def _labels(program: Program) -> dict[str, str]:
    names = {person.key: person.name for person in program.people}
    names.update({organisation.key: organisation.name for organisation in program.organisations})
    return names


def _plan(program: Program, invited: set[str], *, now: datetime, move: bool) -> Plan:
    """Meetings placed before that have not begun are the plan's to keep or move; everything
    else (and a meeting under way or over) is fixed."""
    assert program.requests is not None
    index = {request.session_key: request.index for request in program.requests.requests}
    existing: dict[int, Existing] = {}
    fixed: list[SessionSpec] = []
    for session in program.sessions:
        number = index.get(session.key)
        if number is not None and session.kind == "meeting" and session.starts_at > now:
            existing[number] = Existing(session, session.key in invited)
        else:
            fixed.append(session)
    return build(
        program.requests,
        people=program.people,
        organisations=program.organisations,
        fixed=fixed,
        existing=existing,
        tz=ZoneInfo(program.event.timezone),
        move=move,
        not_before=now,
    )


def _report(
    outcome: Outcome, plan: Plan, solution: Solution, document: dict[str, Any]
) -> dict[str, Any]:
    """Fills `outcome` from the solution and returns `document` with the meetings written."""
    instance = plan.instance
    requests = plan.requests
    outcome.method = solution.method
    outcome.optimal = solution.optimal
    outcome.seconds = solution.seconds
    outcome.requests = len(requests)
    outcome.total_weight = sum(request.priority for request in requests.values())
    sessions: list[dict[str, Any]] = document["sessions"]
    by_key = {item["key"]: item for item in sessions}
    held = 0
    for number, found in plan.kept.items():
        session = found.session
        outcome.placed.append(_placed(requests[number], session, "kept"))
        held += requests[number].priority
    for number, (found, why) in plan.stuck.items():
        outcome.placed.append(_placed(requests[number], found.session, "stuck", why=why))
        held += requests[number].priority
    for number, text in plan.skipped.items():
        item = by_key.get(requests[number].session_key)
        if item is not None:  # given by the program itself, or a meeting already under way
            outcome.placed.append(
                Placed(
                    requests[number],
                    datetime.fromisoformat(item["start"]),
                    datetime.fromisoformat(item["end"]),
                    tuple(item["attendees"]),
                    "kept",
                )
            )
            held += requests[number].priority
        else:
            outcome.unplaced.append(Unplaced(requests[number], "nobody", text))
    for position, meeting in sorted(solution.meetings.items()):
        request = requests[instance.demands[position].request]
        slot = instance.slots[meeting.slot]
        attendees = (instance.people[meeting.people[0]], instance.people[meeting.people[1]])
        before = plan.existing.get(request.index)
        times = {"start": slot.start.isoformat(), "end": slot.end.isoformat()}
        if before is None:
            sessions.append(
                {
                    "key": request.session_key,
                    "kind": "meeting",
                    "title": _title(outcome, plan, attendees),
                    **times,
                    "attendees": list(attendees),
                }
            )
            outcome.placed.append(Placed(request, slot.start, slot.end, attendees, "new"))
            continue
        was = before.session
        same = (was.starts_at, was.ends_at, set(was.attendees)) == (
            slot.start,
            slot.end,
            set(attendees),
        )
        if not same:
            by_key[request.session_key].update(times, attendees=list(attendees))
        cause = plan.displaced[request.index][1] if request.index in plan.displaced else None
        outcome.placed.append(
            Placed(
                request,
                slot.start,
                slot.end,
                attendees,
                "kept" if same else "moved",
                before=None if same else was.starts_at,
                why=None if same else cause or "moved to place more requests (--move)",
            )
        )
    reasons = explain(plan, solution.meetings, proven=solution.optimal)
    for number, reason in sorted(reasons.items()):
        removed = number in plan.existing
        message = reason.text
        if removed:
            sessions.remove(by_key[requests[number].session_key])
            displaced = plan.displaced.get(number)
            if displaced is not None:
                message = f"its meeting was cancelled ({displaced[1]}), and {message}"
        outcome.unplaced.append(Unplaced(requests[number], reason.kind, message, removed))
    if solution.bound is not None:
        outcome.bound = solution.bound + held
    outcome.placed.sort(key=lambda item: (item.start, item.request.index))
    outcome.unplaced.sort(key=lambda item: item.request.index)
    return document


def _placed(request: Request, session: SessionSpec, change: str, why: str | None = None) -> Placed:
    return Placed(request, session.starts_at, session.ends_at, session.attendees, change, why=why)


def _title(outcome: Outcome, plan: Plan, attendees: tuple[str, str]) -> str:
    """`Neovision × Eau et Déchets`, as organisers title meetings: by organisation, else name."""
    organisation = {person.key: person.organisation for person in plan.people}
    parts = []
    for key in attendees:
        owner = organisation.get(key)
        parts.append(outcome.names[owner] if owner else outcome.names.get(key, key))
    return " × ".join(parts)[:200]


async def _invited(db: AsyncSession, slug: str) -> set[str]:
    """Keys of the event's sessions whose invites went out (sent, or being sent)."""
    rows = await db.scalars(
        select(m.Session.key)
        .distinct()
        .join(MailMessage, MailMessage.session_id == m.Session.id)
        .join(m.Event, m.Event.id == m.Session.event_id)
        .where(
            m.Event.slug == slug,
            MailMessage.kind.in_(INVITING),
            MailMessage.status.in_(SENT),
        )
    )
    return set(rows)
