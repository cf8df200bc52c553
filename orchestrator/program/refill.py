"""`rdv schedule SLUG --refill`, and every decline when the program says
`"schedule": {"refill": "auto"}`: the meetings declined ahead offered to the open requests.

One transaction: the event read and locked (its export), the seats' answers read, the re-fills
planned (`refill_plan.py`), and the edited program applied as an import would be, so the new
meetings get their invites and the cancelled ones their cancellations through the usual change
hook. A re-filled meeting's own request, if it had one, is withdrawn from the requests: its
person said they cannot come, and a later `rdv schedule` must not invite them again for it.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..db import models as m
from ..settings import Settings
from .apply import Replan
from .changes import ChangeSet
from .export import export_document
from .model import Program, Request
from .raw import RawProgram
from .refill_plan import Refill, freed_meetings, plan_refills
from .schedule import Changed
from .service import ChangeHook, NotFound, apply_document, checked, program_seen

log = logging.getLogger("rdv.refill")


@dataclass
class RefillOutcome:
    """One run: each meeting declined ahead and what became of its slot; `changes` is None on
    a dry run or when nothing was re-filled."""

    slug: str
    tz: ZoneInfo
    names: dict[str, str]
    refills: list[Refill] = field(default_factory=list)
    withdrawn: list[Request] = field(default_factory=list)
    dry_run: bool = False
    changes: ChangeSet | None = None

    @property
    def refilled(self) -> list[Refill]:
        return [refill for refill in self.refills if refill.request is not None]

    def _names(self, keys: tuple[str, ...]) -> str:
        return ", ".join(self.names.get(key, key) for key in keys)

    def lines(self) -> list[str]:
        """What the command prints."""
        if not self.refills:
            return [f"{self.slug}: no meeting to come is declined ahead; nothing to re-fill"]
        lines = [
            f"{self.slug}: {len(self.refills)} meeting(s) declined ahead, "
            f"{len(self.refilled)} re-filled from the open requests"
        ]
        for refill in self.refills:
            session = refill.freed.session
            start = session.starts_at.astimezone(self.tz)
            span = f"{start:%Y-%m-%d %H:%M}–{session.ends_at.astimezone(self.tz):%H:%M}"
            declined = f"declined by {self._names(refill.freed.declined)}"
            if refill.request is not None and refill.attendees is not None:
                lines.append(
                    f"  refilled {session.key} ({span}, {declined}) → "
                    f"{refill.request.session_key}: {self._names(refill.attendees)} "
                    f"(requests[{refill.request.index}])"
                )
            else:
                lines.append(
                    f"  open     {session.key} ({span}, {declined}): no open request fits "
                    f"{self._names(refill.freed.coming)} at that time; the meeting stays"
                )
        for request in self.withdrawn:
            lines.append(
                f"  withdrawn requests[{request.index}] {self._names((request.source,))} × "
                f"{self._names((request.target,))}: its meeting was declined"
            )
        if self.dry_run:
            lines.append("dry run: nothing was written")
        elif self.changes is not None:
            lines.extend(self.changes.summary())
        return lines

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "refills": [
                {
                    "declined_session": refill.freed.session.key,
                    "start": refill.freed.session.starts_at.isoformat(),
                    "end": refill.freed.session.ends_at.isoformat(),
                    "declined_by": list(refill.freed.declined),
                    "still_coming": list(refill.freed.coming),
                    "key": refill.request.session_key if refill.request else None,
                    "request": refill.request.index if refill.request else None,
                    "attendees": list(refill.attendees) if refill.attendees else [],
                }
                for refill in self.refills
            ],
            "withdrawn": [request.index for request in self.withdrawn],
            "changes": None if self.changes is None else self.changes.as_dict(),
        }


async def refill_event(
    db_factory: async_sessionmaker[AsyncSession],
    settings: Settings,
    slug: str,
    *,
    now: datetime,
    dry_run: bool = False,
    auto: bool = False,
    on_change: ChangeHook | None = None,
) -> RefillOutcome:
    """Re-fills the event's meetings declined ahead; `auto`: only if its program asks for it."""
    async with db_factory() as db, db.begin():
        seen = await program_seen(db, slug)
        document = await export_document(db, slug)
        if document is None:
            raise NotFound(f'no event "{slug}"')
        program = checked(RawProgram(copy.deepcopy(document)), settings, slug)
        outcome = RefillOutcome(slug, ZoneInfo(program.event.timezone), _names(program))
        outcome.dry_run = dry_run
        if auto and (program.requests is None or program.requests.rules.refill != "auto"):
            return outcome
        declined = await _declined(db, slug)
        outcome.refills = plan_refills(
            program, freed_meetings(program, declined, now=now), declined
        )
        if dry_run or not outcome.refilled:
            return outcome
        edited, outcome.withdrawn = _edited(program, document, outcome.refilled)
        try:
            outcome.changes = await apply_document(
                db, settings, edited, slug=slug, now=now, on_change=on_change, seen=seen
            )
        except Replan:
            raise Changed(f'the event "{slug}" changed while re-filling; run it again') from None
    return outcome


def _edited(
    program: Program, document: dict[str, Any], refilled: list[Refill]
) -> tuple[dict[str, Any], list[Request]]:
    """The program with each re-filled meeting replaced by its request's, and the requests of
    the declined meetings taken out."""
    edited = copy.deepcopy(document)
    cancelled = {refill.freed.session.key for refill in refilled}
    organisation = {person.key: person.organisation for person in program.people}
    names = _names(program)
    sessions = [item for item in edited["sessions"] if item["key"] not in cancelled]
    for refill in refilled:
        assert refill.request is not None
        assert refill.attendees is not None
        session = refill.freed.session
        owners = [organisation.get(key) or key for key in refill.attendees]
        sessions.append(
            {
                "key": refill.request.session_key,
                "kind": "meeting",
                "title": " × ".join(names.get(owner, owner) for owner in owners)[:200],
                "start": session.starts_at.isoformat(),
                "end": session.ends_at.isoformat(),
                "attendees": list(refill.attendees),
            }
        )
    edited["sessions"] = sessions
    requests = program.requests.requests if program.requests else ()
    withdrawn = [request for request in requests if request.session_key in cancelled]
    gone = {request.index for request in withdrawn}
    if "requests" in edited:
        edited["requests"] = [
            item for position, item in enumerate(edited["requests"]) if position not in gone
        ]
    return edited, withdrawn


def _names(program: Program) -> dict[str, str]:
    names = {person.key: person.name for person in program.people}
    names.update({organisation.key: organisation.name for organisation in program.organisations})
    return names


async def _declined(db: AsyncSession, slug: str) -> dict[str, set[str]]:
    """Session key to the people who declined it ahead, for the event's live seats."""
    rows = await db.execute(
        select(m.Session.key, m.Person.key)
        .join(m.Attendee, m.Attendee.session_id == m.Session.id)
        .join(m.Person, m.Person.id == m.Attendee.person_id)
        .join(m.Event, m.Event.id == m.Session.event_id)
        .where(
            m.Event.slug == slug,
            m.Session.cancelled_at.is_(None),
            m.Attendee.removed_at.is_(None),
            m.Attendee.answer == "declined",
        )
    )
    declined: dict[str, set[str]] = {}
    for session, person in rows:
        declined.setdefault(session, set()).add(person)
    return declined


class AutoRefill:
    """After a decline, in the background: the event's meetings declined ahead re-filled, when
    its program says `"refill": "auto"` (`refill_event(auto=True)` checks). One run at a time;
    a run that fails leaves the decline as it is, and the next decline (or `rdv schedule
    --refill`) tries again."""

    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        settings: Settings,
        now: Callable[[], datetime],
        on_change: ChangeHook,
        on_refilled: Callable[[], None],
    ) -> None:
        self.db, self.settings, self.now = db, settings, now
        self.on_change, self.on_refilled = on_change, on_refilled
        self.lock = asyncio.Lock()
        self.tasks: set[asyncio.Task[Any]] = set()

    def soon(self, event_id: int) -> None:
        task = asyncio.create_task(self.run(event_id))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def run(self, event_id: int) -> RefillOutcome | None:
        async with self.lock:
            try:
                async with self.db() as db:
                    slug = await db.scalar(select(m.Event.slug).where(m.Event.id == event_id))
                if slug is None:
                    return None
                outcome = await refill_event(
                    self.db,
                    self.settings,
                    slug,
                    now=self.now(),
                    auto=True,
                    on_change=self.on_change,
                )
            except Exception:  # the decline stands; the next one, or the command, tries again
                log.exception("re-filling the meetings declined ahead failed")
                return None
        if outcome.changes is not None and not outcome.changes.empty:
            log.info("%s: %d declined meeting(s) re-filled", outcome.slug, len(outcome.refilled))
            self.on_refilled()
        return outcome

    async def settle(self) -> None:
        """Waits for the runs under way (the app's shutdown, the tests)."""
        while self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)
