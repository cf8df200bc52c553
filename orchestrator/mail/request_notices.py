"""Mail for each step of a participant's meeting request: the directorate hears of a request
(the buyer it names, else each of its people), the sender hears of the answer, a request still
waiting gets one reminder. Composed when queued (short, and about no session), queued in the
step's own transaction, once: each message's dedupe key names the request, the step and the
recipient, so a step taken twice mails nobody twice. The reminder is sent by a periodic pass."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from calendars.model import Party
from calendars.request_text import Step, agenda_ready_mail, request_mail
from calendars.text import Writer

from ..db import models as m
from ..db.mail import enqueue
from ..db.matchmaking import Need, ParticipantRequest
from ..db.scheduling import MeetingSchedule
from ..participants.meeting_requests import window_of
from ..program.changes import ChangeSet
from ..settings import Settings
from .compose import notice_to

KIND = "request"


async def queue_request_mail(
    db: AsyncSession,
    request: ParticipantRequest,
    step: Step,
    *,
    writer: Writer,
    settings: Settings,
    now: datetime,
) -> int:
    """In the step's transaction: the step's mail, to whom it concerns; how many were queued."""
    event = await db.get(m.Event, request.event_id)
    sender = await db.get(m.Person, request.from_person_id)
    directorate = await db.get(m.Organisation, request.to_organisation_id)
    assert event is not None
    assert sender is not None
    assert directorate is not None
    company = await db.get(m.Organisation, sender.organisation_id or 0)
    need = await db.get(Need, request.need_id) if request.need_id else None
    if step in ("accepted", "declined"):
        recipients: Sequence[m.Person] = [sender]
    elif request.to_person_id is not None:
        buyer = await db.get(m.Person, request.to_person_id)
        recipients = [buyer] if buyer is not None else []
    else:
        recipients = list(
            await db.scalars(
                select(m.Person).where(
                    m.Person.organisation_id == directorate.id,
                    m.Person.removed_at.is_(None),
                    m.Person.erased_at.is_(None),
                )
            )
        )
    organiser = Party(event.organiser_name, event.organiser_email)
    outgoing = []
    for person in recipients:
        if person.erased_at is not None or person.removed_at is not None:
            continue
        text = request_mail(
            writer,
            person.locale or event.locale,
            step=step,
            sender=sender.name,
            sender_organisation=company.name if company else "",
            directorate=directorate.name,
            need=need.title if need else None,
            message=request.message,
            reason=request.reason,
            page_url=f"{settings.base_url}/me/{person.feed_token}/requests",
            organiser=organiser,
            event_title=event.title,
        )
        dedupe = f"{KIND}:{request.id}:{step}:{person.id}"
        outgoing.append(
            notice_to(
                event, person, text, kind=KIND, dedupe=dedupe, mail_from=settings.mail_from, now=now
            )
        )
    return await enqueue(db, outgoing)


REMIND_AFTER = timedelta(days=2)  # a request unanswered this long gets its one reminder


class RequestReminders:
    """One reminder for each request still unanswered REMIND_AFTER after it was sent, while
    requests are open (after the close it has expired: nobody is asked any more)."""

    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        now: Callable[[], datetime],
        settings: Settings,
        writer: Writer,
    ) -> None:
        self.db, self.now, self.settings, self.writer = db, now, settings, writer

    async def queue_due(self) -> int:
        """Queues the reminders due now; how many messages."""
        now = self.now()
        queued = 0
        async with self.db() as db, db.begin():
            due = await db.scalars(
                select(ParticipantRequest)
                .join(MeetingSchedule, MeetingSchedule.event_id == ParticipantRequest.event_id)
                .where(
                    ParticipantRequest.state == "pending",
                    ParticipantRequest.reminded_at.is_(None),
                    ParticipantRequest.created_at <= now - REMIND_AFTER,
                )
                .with_for_update(skip_locked=True)
            )
            for request in due.all():
                window = await window_of(db, request.event_id)
                if window is None or window.state(now) != "open":
                    continue
                request.reminded_at = now
                queued += await queue_request_mail(
                    db, request, "reminder", writer=self.writer, settings=self.settings, now=now
                )
        return queued


class AgendaReady:
    """A change hook: when a run of the scheduler writes meetings for participants' requests,
    each of their people gets one "your agenda is ready" mail naming them (once per meeting)."""

    def __init__(self, settings: Settings, writer: Writer) -> None:
        self.settings, self.writer = settings, writer

    async def __call__(self, db: AsyncSession, changes: ChangeSet, now: datetime) -> int:
        keys = [key for key in changes.sessions_created if key.startswith("request-")]
        if not keys:
            return 0
        event = await db.scalar(select(m.Event).where(m.Event.slug == changes.event))
        assert event is not None
        rows = await db.execute(
            select(m.Person, m.Session.key, m.Session.title)
            .join(m.Attendee, m.Attendee.person_id == m.Person.id)
            .join(m.Session, m.Session.id == m.Attendee.session_id)
            .where(
                m.Session.event_id == event.id,
                m.Session.key.in_(keys),
                m.Attendee.removed_at.is_(None),
                m.Person.erased_at.is_(None),
            )
            .order_by(m.Session.starts_at)
        )
        placed: dict[int, tuple[m.Person, list[tuple[str, str]]]] = {}
        for person, key, title in rows:
            placed.setdefault(person.id, (person, []))[1].append((key, title))
        organiser = Party(event.organiser_name, event.organiser_email)
        outgoing = []
        for person, meetings in placed.values():
            text = agenda_ready_mail(
                self.writer,
                person.locale or event.locale,
                meetings=tuple(title for _, title in meetings),
                agenda_url=f"{self.settings.base_url}/me/{person.feed_token}",
                organiser=organiser,
                event_title=event.title,
            )
            dedupe = f"agenda-ready:{person.id}:{','.join(key for key, _ in meetings)}"
            outgoing.append(
                notice_to(
                    event,
                    person,
                    text,
                    kind=KIND,
                    dedupe=dedupe,
                    mail_from=self.settings.mail_from,
                    now=now,
                )
            )
        return await enqueue(db, outgoing)
