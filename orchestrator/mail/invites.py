"""Turns a change set into calendar mail: who gets what is recorded in the outbox in the
transaction of the change, and each message is composed when the sender sends it (`compose.py`).

Who gets what (README, "Calendar invites and mail"): a new session invites its attendees; a
change that alters what an attendee's invite shows updates them; an added attendee is invited, a
removed one gets a CANCEL for themselves only; a cancelled session sends CANCEL to everyone still
expected. A plenary's invite lists only its recipient, so people joining or leaving it concern
only themselves. A session that has already ended gets no mail at all.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from calendars import ics, imip
from calendars.model import Method, Party
from calendars.text import Notice, Writer

from ..db import models as m
from ..db.mail import MailPlan, Outgoing, enqueue
from ..participants.replies import reply_address, reply_key
from ..participants.seats import Seat, build_entry, load_seats
from ..program.changes import ChangeSet, SessionChange
from ..settings import Settings
from .compose import Composed, Context, Pending

PLAN_PART = 500  # sessions turned into messages per transaction
# Session changes a plenary invite shows (it lists no other attendee).
PLENARY_SHOWN = frozenset({"start", "end", "title", "kind", "event"})


class InviteComposer:
    """Records the outbox rows of one change set, and composes them when they are sent."""

    kinds = frozenset(notice.value for notice in Notice)

    def __init__(self, settings: Settings, writer: Writer) -> None:
        self.settings = settings
        self.writer = writer
        mailbox, secret = settings.reply_address, settings.secret_key
        self._reply_key = reply_key(secret) if mailbox and secret else None

    def _reply_to(self, attendee_id: int) -> str | None:
        """The seat's own reply address, when rdv reads calendar replies (RDV_REPLY_ADDRESS)."""
        if self._reply_key is None or self.settings.reply_address is None:
            return None
        return reply_address(self._reply_key, self.settings.reply_address, attendee_id)

    async def queue(self, db: AsyncSession, changes: ChangeSet, now: datetime) -> int:
        """Records what the change set must tell people, in the transaction of the change: one
        row whatever the size of the change (`MailPlan`). The sender turns it into messages
        (`prepare`) and composes each when it sends it. Returns how many sessions it names."""
        plan = _plan_of(changes)
        named = sum(len(keys) for keys in plan.values())
        if named:
            event_id = await db.scalar(select(m.Event.id).where(m.Event.slug == changes.event))
            assert event_id is not None
            db.add(MailPlan(event_id=event_id, plan=plan, created_at=now))
        return named

    async def prepare(self, db: async_sessionmaker[AsyncSession]) -> int:
        """Turns the recorded plans into messages to compose, oldest first, PLAN_PART sessions
        per transaction, so the database's write lock is held a moment each time; returns how
        many messages. A part done twice (after a crash) queues nothing twice."""
        queued = 0
        while True:
            async with db() as session, session.begin():
                plan = await session.scalar(
                    select(MailPlan)
                    .order_by(MailPlan.id)
                    .limit(1)
                    .with_for_update(skip_locked=True)
                )
                if plan is None:
                    return queued
                keys = _keys(plan.plan)
                part = keys[plan.done : plan.done + PLAN_PART]
                queued += await self._queue(session, plan, set(part))
                if plan.done + PLAN_PART >= len(keys):
                    await session.delete(plan)
                else:
                    plan.done += PLAN_PART

    async def _queue(self, db: AsyncSession, plan: MailPlan, keys: set[str]) -> int:
        """The messages of one part of a plan: who gets what, for each of these sessions."""
        found = await self._messages(db, plan.event_id, plan.plan, keys, plan.created_at)
        return await enqueue(db, found)

    async def would_send(self, db: AsyncSession, changes: ChangeSet, now: datetime) -> Counter[str]:
        """How many messages of each kind the change set would send (a preview, in the change's
        transaction, before it is rolled back)."""
        plan = _plan_of(changes)
        event_id = await db.scalar(select(m.Event.id).where(m.Event.slug == changes.event))
        if event_id is None:
            return Counter()
        found = await self._messages(db, event_id, plan, set(_keys(plan)), now)
        return Counter(message.kind for message in found)

    async def _messages(
        self,
        db: AsyncSession,
        event_id: int,
        plan: dict[str, Any],
        keys: set[str],
        now: datetime,
    ) -> list[Outgoing]:
        wanted = {key: Notice.INVITATION for key in plan["created"] if key in keys}
        wanted.update({key: Notice.CANCELLED for key in plan["cancelled"] if key in keys})
        updates = {
            item["key"]: SessionChange.from_dict(item)
            for item in plan["changed"]
            if item["key"] in keys
        }
        # Mail about a session that has ended is noise: too late to join, nothing to cancel.
        sessions = (
            await db.scalars(
                select(m.Session).where(
                    m.Session.event_id == event_id,
                    m.Session.key.in_(keys),
                    m.Session.ends_at > now,
                )
            )
        ).all()
        seats = await load_seats(db, [session.id for session in sessions])
        outgoing: list[Outgoing] = []
        for session in sessions:
            session_seats = seats[session.id]
            if session.key in updates:
                notices = self._plan_update(session, updates[session.key], session_seats)
            else:
                notice = wanted[session.key]
                notices = [(seat, notice) for seat in session_seats if not seat.removed]
            outgoing += [self._notice(session, seat, notice, now) for seat, notice in notices]
        return outgoing

    def _plan_update(
        self, session: m.Session, change: SessionChange, seats: list[Seat]
    ) -> list[tuple[Seat, Notice]]:
        added, removed = set(change.attendees_added), set(change.attendees_removed)
        shown = PLENARY_SHOWN if session.kind == "plenary" else None
        everyone_changed = shown is None or not shown.isdisjoint(change.fields)
        plan: list[tuple[Seat, Notice]] = []
        for seat in seats:
            key = seat.key
            if key in removed:
                plan.append((seat, Notice.UNINVITED))
            elif seat.removed:
                continue
            elif key in added:
                plan.append((seat, Notice.INVITATION))
            elif everyone_changed or (key in change.roles_changed):
                plan.append((seat, Notice.UPDATE))
        return plan

    def build(self, pending: Pending, context: Context, now: datetime) -> Composed:
        """The invite (or update, or cancellation) as the session stands now."""
        event, session, seats = context.event, context.session, context.seats
        seat = context.seat_of(pending.person_id)
        assert seat is not None  # `Composers.compose` checked it
        kind = Notice(pending.kind)
        entry = build_entry(
            self.writer,
            self.settings.base_url,
            event,
            session,
            seats,
            seat,
            cancelled=kind == Notice.CANCELLED,
            alone=kind == Notice.UNINVITED,
            reply_to=self._reply_to(seat.attendee_id),
        )
        cancelling = kind in (Notice.CANCELLED, Notice.UNINVITED)
        calendar = ics.cancel(entry, now=now) if cancelling else ics.request(entry, now=now)
        text = self.writer.mail(entry, kind, seat.locale or event.locale)
        organiser = Party(event.organiser_name, event.organiser_email)
        body = imip.build(
            sender=Party(event.organiser_name, self.settings.mail_from),
            reply_to=organiser,
            recipient=seat.party,
            subject=text.subject,
            text=text.text,
            html=text.html,
            calendar=calendar,
            method=Method.CANCEL if cancelling else Method.REQUEST,
            now=now,
            message_id=pending.message_id,
        )
        return Composed(text.subject, seat.party.email, body)

    async def resend(
        self, db: AsyncSession, session_ids: list[int], person_id: int, now: datetime
    ) -> int:
        """The current invite of each of these live sessions, again, to one of its attendees (it
        got lost, or went to spam): the same UID and SEQUENCE, so a calendar that has it keeps
        one entry. Returns how many were queued (none for a session that is over, cancelled, or
        where the person has no seat)."""
        sessions = (
            await db.scalars(
                select(m.Session).where(
                    m.Session.id.in_(session_ids),
                    m.Session.cancelled_at.is_(None),
                    m.Session.ends_at > now,
                )
            )
        ).all()
        seats = await load_seats(db, [session.id for session in sessions])
        outgoing = [
            self._notice(session, seat, Notice.INVITATION, now, again=now)
            for session in sessions
            for seat in seats[session.id]
            if seat.person_id == person_id and not seat.removed
        ]
        return await enqueue(db, outgoing)

    def _notice(
        self,
        session: m.Session,
        seat: Seat,
        notice: Notice,
        now: datetime,
        again: datetime | None = None,
    ) -> Outgoing:
        """What must be sent, composed later (`build`); `again` when an organiser resends it."""
        dedupe = f"{notice.value}:{session.id}:{seat.person_id}:{session.sequence}"
        if again is not None:
            dedupe += f":again:{again.timestamp():.6f}"
        return Outgoing(
            event_id=session.event_id,
            session_id=session.id,
            person_id=seat.person_id,
            kind=notice.value,
            dedupe_key=dedupe,
            sender=self.settings.mail_from,
            recipient=seat.party.email,
            subject="",
            body=None,
            created_at=now,
        )


def _plan_of(changes: ChangeSet) -> dict[str, list[Any]]:
    """What a change set must tell people, as a mail plan keeps it."""
    return {
        "created": list(changes.sessions_created),
        "cancelled": list(changes.sessions_cancelled),
        "changed": [c.as_dict() for c in changes.sessions_changed if c.touches_invites],
    }


def _keys(plan: dict[str, Any]) -> list[str]:
    """The sessions a plan names, in a stable order (its parts are taken by position)."""
    changed = [item["key"] for item in plan["changed"]]
    return [*plan["created"], *plan["cancelled"], *changed]
