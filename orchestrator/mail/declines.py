"""When someone declines a meeting ahead, the other side and the organisers hear of it by mail:
who cannot come, to which meeting, and why if they said. The notices are queued with the answer
and composed when they are sent; a decline taken back before they went out withdraws them.
Plenaries send none (a decline there concerns no one else; the dashboard shows it)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from calendars import imip
from calendars.model import Party
from calendars.text import Writer

from ..db import models as m
from ..db.mail import MailMessage, Outgoing, enqueue
from ..participants.seats import load_seats
from ..settings import Settings
from .compose import Composed, Context, Pending

KIND = "declined"


def _key(session: m.Session, decliner: int) -> str:
    return f"{KIND}:{session.id}:{decliner}:"


async def after_answer(
    db: AsyncSession,
    session: m.Session,
    seat: m.Attendee,
    previous: str,
    *,
    sender: str,
    now: datetime,
) -> int:
    """In the answer's transaction: notices to the other side of a meeting just declined, or the
    withdrawal of those not sent yet when a decline is taken back; how many were queued."""
    if previous == "declined" and seat.answer != "declined":
        await db.execute(
            delete(MailMessage).where(
                MailMessage.kind == KIND,
                MailMessage.session_id == session.id,
                MailMessage.status == "pending",
                MailMessage.dedupe_key.startswith(_key(session, seat.person_id)),
            )
        )
        return 0
    if seat.answer != "declined" or previous == "declined" or session.kind not in m.ONE_TO_ONE:
        return 0
    seats = (await load_seats(db, [session.id]))[session.id]
    told: list[tuple[int | None, str]] = [
        (other.person_id, other.party.email)
        for other in seats
        if not other.removed and other.person_id != seat.person_id and other.answer != "declined"
    ]
    organisers = await db.scalar(
        select(m.Event.organiser_email).where(m.Event.id == session.event_id)
    )
    if organisers:
        told.append((None, organisers))  # no person: the organisers (see `build`)
    return await enqueue(
        db,
        [
            Outgoing(
                event_id=session.event_id,
                session_id=session.id,
                person_id=person_id,
                kind=KIND,
                dedupe_key=f"{_key(session, seat.person_id)}{person_id or 'organisers'}:{now}",
                sender=sender,
                recipient=recipient,
                subject="",
                body=None,
                created_at=now,
            )
            for person_id, recipient in told
        ],
    )


class DeclineNotices:
    """Composes the notices `after_answer` queued."""

    kinds = frozenset({KIND})

    def __init__(self, settings: Settings, writer: Writer) -> None:
        self.settings, self.writer = settings, writer

    async def prepare(self, db: async_sessionmaker[AsyncSession]) -> int:
        return 0  # queued with the answer itself

    def build(self, pending: Pending, context: Context, now: datetime) -> Composed:
        """The notice as the meeting stands now: who declined (everyone but the recipient who
        did); to a seat of the meeting, or to the organisers (no person) with the dashboard."""
        event, session = context.event, context.session
        organiser = Party(event.organiser_name, event.organiser_email)
        seat = context.seat_of(pending.person_id) if pending.person_id is not None else None
        declined = [
            other
            for other in context.seats
            if other.answer == "declined" and (seat is None or other.person_id != seat.person_id)
        ]
        base = self.settings.base_url
        text = self.writer.declined(
            seat.locale or event.locale if seat else event.locale,
            who=tuple(other.party for other in declined),
            reasons=tuple(other.answer_reason or "" for other in declined),
            title=session.title,
            starts_at=session.starts_at,
            zone=event.timezone,
            agenda_url=f"{base}/me/{seat.feed_token}" if seat else f"{base}/dashboard/{event.slug}",
            organiser=organiser,
            event_title=event.title,
            to_organisers=seat is None,
        )
        recipient = seat.party if seat else organiser
        body = imip.plain(
            organiser=organiser,
            mail_from=self.settings.mail_from,
            recipient=recipient,
            text=text,
            now=now,
            message_id=pending.message_id,
        )
        return Composed(text.subject, recipient.email, body)
