"""Reminder mail, `RDV_REMINDER_BEFORE` ahead of each session, to each attendee, through the outbox.

Reminders are queued when they fall due, by the same passes that wake the rooms, and keyed by
session, person and start time: a restart or a second pass queues nothing twice, a session moved
later gets its reminder at the new time, and one moved (or imported) to start sooner than the lead
gets it at once. A cancelled session's reminder that has not gone out yet is withdrawn.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from calendars import imip
from calendars.model import Party
from calendars.text import Writer

from ..clock import Clock
from ..db import models as m
from ..db.mail import MailMessage, Outgoing, enqueue
from ..participants.seats import Seat, load_seats
from ..settings import Settings
from .compose import Composed, Context, Pending


class Reminders:
    kinds = frozenset({"reminder"})

    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        clock: Clock,
        settings: Settings,
        writer: Writer,
    ) -> None:
        self.db, self.clock, self.settings, self.writer = db, clock, settings, writer

    async def prepare(self, db: async_sessionmaker[AsyncSession]) -> int:
        """Reminders are queued when they fall due (`queue_due`): nothing to prepare."""
        return 0

    @property
    def enabled(self) -> bool:
        return self.settings.reminder_before.total_seconds() > 0

    async def queue_due(self) -> int:
        """Queues every reminder due now; returns how many new messages."""
        if not self.enabled:
            return 0
        now = self.clock.now()
        async with self.db() as db, db.begin():
            await self._withdraw_cancelled(db)
            rows = (
                await db.execute(
                    select(m.Session, m.Event)
                    .join(m.Event, m.Event.id == m.Session.event_id)
                    .where(
                        m.Session.cancelled_at.is_(None),
                        m.Session.starts_at > now,
                        m.Session.starts_at <= now + self.settings.reminder_before,
                    )
                )
            ).all()
            if not rows:
                return 0
            seats = await load_seats(db, [session.id for session, _ in rows])
            outgoing = [
                self._notice(session, seat, now)
                for session, _ in rows
                for seat in seats[session.id]
                if not seat.removed
            ]
            return await enqueue(db, outgoing)

    async def next_due(self) -> datetime | None:
        """When the next reminder falls due, for the timer that wakes the passes."""
        if not self.enabled:
            return None
        now = self.clock.now()
        async with self.db() as db:
            start = await db.scalar(
                select(m.Session.starts_at)
                .where(
                    m.Session.cancelled_at.is_(None),
                    m.Session.starts_at > now + self.settings.reminder_before,
                )
                .order_by(m.Session.starts_at)
                .limit(1)
            )
        return start - self.settings.reminder_before if start else None

    async def _withdraw_cancelled(self, db: AsyncSession) -> None:
        cancelled = select(m.Session.id).where(m.Session.cancelled_at.is_not(None))
        await db.execute(
            update(MailMessage)
            .where(
                MailMessage.kind == "reminder",
                MailMessage.status == "pending",
                MailMessage.session_id.in_(cancelled),
            )
            .values(status="failed", last_error="the session was cancelled")
        )

    def build(self, pending: Pending, context: Context, now: datetime) -> Composed:
        """The reminder as the session stands now."""
        event, session = context.event, context.session
        seat = context.seat_of(pending.person_id)
        assert seat is not None  # `Composers.compose` checked it
        base = self.settings.base_url
        organiser = Party(event.organiser_name, event.organiser_email)
        others = tuple(
            other.party
            for other in context.seats
            if not other.removed and other.person_id != seat.person_id
        )
        text = self.writer.reminder(
            seat.locale or event.locale,
            title=session.title,
            starts_at=session.starts_at,
            zone=event.timezone,
            others=others if session.kind in m.ONE_TO_ONE else (),
            join_url=f"{base}/j/{seat.token}",
            agenda_url=f"{base}/me/{seat.feed_token}",
            organiser=organiser,
            event_title=event.title,
        )
        body = imip.plain(
            organiser=organiser,
            mail_from=self.settings.mail_from,
            recipient=seat.party,
            text=text,
            now=now,
            message_id=pending.message_id,
        )
        return Composed(text.subject, seat.party.email, body)

    def _notice(self, session: m.Session, seat: Seat, now: datetime) -> Outgoing:
        """A reminder to send, composed when it is sent (`build`)."""
        return Outgoing(
            event_id=session.event_id,
            session_id=session.id,
            person_id=seat.person_id,
            kind="reminder",
            dedupe_key=f"reminder:{session.id}:{seat.person_id}:{session.starts_at.isoformat()}",
            sender=self.settings.mail_from,
            recipient=seat.party.email,
            subject="",
            body=None,
            created_at=now,
        )
