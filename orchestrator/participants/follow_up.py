"""A follow-up meeting planned by the pair itself: after a held meeting, one side proposes a time
on its agenda page; the other confirms (rdv then adds a session of kind `follow-up` with the
meeting's people to the program, as an import would: room, invites, links and attendance
follow) or declines. One proposal waits at a time per meeting; times are in the event's zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..db import models as m
from ..db.outcomes import FollowUpProposal
from ..program.changes import ChangeSet
from ..program.export import export_document
from ..program.problems import ProgramError
from ..program.service import ChangeHook, NotFound, apply_document, program_seen
from ..settings import Settings


class NotPlanned(ValueError):
    """Why a follow-up cannot be proposed or confirmed; `code` names it for the page."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Pending:
    """A proposal as a person's agenda shows it."""

    proposal: FollowUpProposal
    mine: bool  # this person proposed it


def local_time(day: str, time: str, zone: str) -> datetime:
    """`2021-06-10` and `10:30` in the event's zone, as an aware UTC datetime."""
    try:
        moment = datetime.fromisoformat(f"{day.strip()}T{time.strip()}")
    except ValueError:
        raise NotPlanned("when", "give a day and a time") from None
    if moment.tzinfo is not None:
        raise NotPlanned("when", "give a day and a time")
    return moment.replace(tzinfo=ZoneInfo(zone)).astimezone(ZoneInfo("UTC"))


async def propose(
    db: AsyncSession,
    person: m.Person,
    session: m.Session,
    *,
    starts_at: datetime,
    ends_at: datetime,
    now: datetime,
    settings: Settings,
) -> FollowUpProposal:
    """A proposal of `person`, who sat in `session`, a meeting now over."""
    if session.kind != "meeting" or now < session.ends_at or session.cancelled_at is not None:
        raise NotPlanned("not-over", "a follow-up is planned once the meeting is over")
    if starts_at <= now:
        raise NotPlanned("past", "the follow-up must be in the future")
    if ends_at <= starts_at:
        raise NotPlanned("order", "the follow-up must end after it starts")
    if ends_at - starts_at > settings.max_session_length:
        raise NotPlanned("long", "the follow-up is longer than a session may be")
    waiting = await db.scalar(
        select(FollowUpProposal.id).where(
            FollowUpProposal.session_id == session.id, FollowUpProposal.state == "pending"
        )
    )
    if waiting is not None:
        raise NotPlanned("pending", "a follow-up proposal of this meeting waits for its answer")
    proposal = FollowUpProposal(
        event_id=session.event_id,
        session_id=session.id,
        proposer_id=person.id,
        starts_at=starts_at,
        ends_at=ends_at,
        state="pending",
        created_at=now,
    )
    db.add(proposal)
    await db.flush()
    return proposal


async def answer(
    db: AsyncSession,
    person: m.Person,
    proposal_id: int,
    *,
    accept: bool,
    now: datetime,
    settings: Settings,
    on_change: ChangeHook | None,
) -> FollowUpProposal:
    """The other side's answer; confirming adds the follow-up session, in this transaction."""
    proposal = await db.get(FollowUpProposal, proposal_id)
    seated = (
        await db.scalar(
            select(m.Attendee.id).where(
                m.Attendee.session_id == proposal.session_id,
                m.Attendee.person_id == person.id,
                m.Attendee.removed_at.is_(None),
            )
        )
        if proposal is not None
        else None
    )
    if proposal is None or seated is None or proposal.proposer_id == person.id:
        raise NotPlanned("unknown", "no such proposal to you")
    if proposal.state != "pending":
        raise NotPlanned(proposal.state, f"this proposal is {proposal.state} already")
    proposal.answered_at = now
    if not accept:
        proposal.state = "declined"
        return proposal
    if proposal.starts_at <= now:
        raise NotPlanned("past", "the proposed time has passed: propose another")
    proposal.follow_up_key = f"follow-up-{proposal.id}"
    await _add_session(db, proposal, now=now, settings=settings, on_change=on_change)
    proposal.state = "confirmed"
    return proposal


async def _add_session(
    db: AsyncSession,
    proposal: FollowUpProposal,
    *,
    now: datetime,
    settings: Settings,
    on_change: ChangeHook | None,
) -> None:
    session = await db.get(m.Session, proposal.session_id)
    event = await db.get(m.Event, proposal.event_id)
    assert session is not None
    assert event is not None
    assert proposal.follow_up_key is not None
    try:
        await add_follow_up(
            db,
            settings,
            event.slug,
            session.key,
            proposal.follow_up_key,
            proposal.starts_at,
            proposal.ends_at,
            now=now,
            on_change=on_change,
        )
    except NotFound:  # cancelled since it was held
        raise NotPlanned("gone", "that meeting is no longer in the program") from None
    except ProgramError as error:
        raise NotPlanned("clash", "; ".join(str(problem) for problem in error.problems)) from None


async def add_follow_up(
    db: AsyncSession,
    settings: Settings,
    slug: str,
    meeting_key: str,
    key: str,
    starts_at: datetime,
    ends_at: datetime,
    *,
    now: datetime,
    on_change: ChangeHook | None,
) -> ChangeSet:
    """The follow-up session `key` of the live meeting `meeting_key`, with its people, added to
    the program as an import would, in the caller's transaction. NotFound without such a
    meeting; ProgramError when it cannot be (a clash)."""
    seen = await program_seen(db, slug)
    document = await export_document(db, slug)
    meeting = next(
        (s for s in (document or {}).get("sessions", []) if s["key"] == meeting_key), None
    )
    if document is None or meeting is None or meeting["kind"] != "meeting":
        raise NotFound(f'no live meeting "{meeting_key}" in "{slug}"')
    document["sessions"].append(
        {
            "key": key,
            "kind": "follow-up",
            "title": f"{meeting['title']} (follow-up)"[:200],
            "start": starts_at.isoformat(),
            "end": ends_at.isoformat(),
            "attendees": list(meeting["attendees"]),
        }
    )
    return await apply_document(
        db, settings, document, slug=slug, now=now, on_change=on_change, seen=seen
    )


async def pending_for(db: AsyncSession, person: m.Person) -> dict[int, Pending]:
    """The proposals waiting in the person's meetings, by meeting (session id)."""
    rows = await db.scalars(
        select(FollowUpProposal)
        .join(m.Attendee, m.Attendee.session_id == FollowUpProposal.session_id)
        .where(
            m.Attendee.person_id == person.id,
            m.Attendee.removed_at.is_(None),
            FollowUpProposal.state == "pending",
        )
    )
    return {
        proposal.session_id: Pending(proposal, proposal.proposer_id == person.id)
        for proposal in rows
    }
