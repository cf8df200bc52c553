"""Asking each side of a held meeting what came of it, once, right after it: a periodic pass
looks at the meetings (and follow-up meetings) whose window has closed since the last days,
decides from the attendance whether each was held (the attendance rules: both sides together
long enough), and for a held meeting of the day gives each of its people a question with a link
of their own and mails it. A meeting not held is recorded as checked and asks nobody (the report
shows why it was not held). The outbound webhooks learn each verdict in the same transaction.
Durable: what was asked is stored with the mail in one transaction, so a restart asks nobody
twice.
Months later (`RDV_FOLLOWUP_AFTER` after the event's last session) those who answered that a
cooperation is possible are asked again, with the five later labels."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from calendars.model import Party
from calendars.outcome_text import outcome_question_mail
from calendars.text import Writer

from ..attendance.announce import meetings_closed
from ..attendance.log import attendance
from ..attendance.outcomes import SessionSeen
from ..attendance.reports import WAITING, report_is
from ..db import models as m
from ..db.mail import enqueue
from ..db.outcomes import LABELS, MeetingOutcome, OutcomeCheck
from ..settings import Settings
from ..tokens import new_link_token
from .compose import notice_to

KIND = "outcome"
LOOK_BACK = timedelta(days=7)  # meetings closed longer ago than this are not asked any more


class OutcomeQuestions:
    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        now: Callable[[], datetime],
        settings: Settings,
        writer: Writer,
    ) -> None:
        self.db, self.now, self.settings, self.writer = db, now, settings, writer

    async def queue_due(self) -> int:
        """Both passes: right after the meetings, and months later; how many questions were
        mailed."""
        return await self.queue_after() + await self.queue_later()

    async def queue_after(self) -> int:
        """Checks the meetings closed since LOOK_BACK and not checked yet; how many questions
        were mailed."""
        now = self.now()
        marks = self.settings.marks
        asked = 0
        async with self.db() as db, db.begin():
            due = (
                await db.execute(
                    select(m.Session, m.Event)
                    .join(m.Event, m.Event.id == m.Session.event_id)
                    .outerjoin(OutcomeCheck, OutcomeCheck.session_id == m.Session.id)
                    .outerjoin(m.Room, m.Room.session_id == m.Session.id)
                    .where(
                        # A meeting whose provider keeps a record of it waits for that record.
                        or_(m.Room.id.is_(None), ~func.coalesce(report_is(*WAITING), False)),
                        m.Session.kind.in_(m.ONE_TO_ONE),
                        m.Session.cancelled_at.is_(None),
                        m.Session.ends_at <= now - marks.close_grace,
                        m.Session.ends_at > now - marks.close_grace - LOOK_BACK,
                        OutcomeCheck.session_id.is_(None),
                    )
                    .order_by(m.Session.ends_at)
                    .limit(500)
                )
            ).all()
            by_event: dict[int, tuple[m.Event, list[m.Session]]] = {}
            for session, event in due:
                by_event.setdefault(event.id, (event, []))[1].append(session)
            for event, sessions in by_event.values():
                outcomes = await attendance(
                    db, event, now=now, marks=marks, session_ids=[s.id for s in sessions]
                )
                for outcome in outcomes:
                    held = bool(outcome.held)
                    db.add(OutcomeCheck(session_id=outcome.session.id, held=held, checked_at=now))
                    if held and outcome.session.kind == "meeting":
                        asked += await self._ask(db, event, outcome.session, "after", None, now)
                await meetings_closed(db, event.id, event.slug, outcomes, now)
        return asked

    async def queue_later(self) -> int:
        """`RDV_FOLLOWUP_AFTER` after an event's last session: each side that answered
        `cooperation-possible` is asked again, once (stage `later`)."""
        now = self.now()
        later = aliased(MeetingOutcome)
        asked = 0
        async with self.db() as db, db.begin():
            ends = (  # the event's day: a follow-up planned months later does not move it
                select(m.Session.event_id, func.max(m.Session.ends_at).label("last"))
                .where(m.Session.cancelled_at.is_(None), m.Session.kind != "follow-up")
                .group_by(m.Session.event_id)
                .subquery()
            )
            due = (
                await db.execute(
                    select(MeetingOutcome, m.Session, m.Event)
                    .join(m.Session, m.Session.id == MeetingOutcome.session_id)
                    .join(m.Event, m.Event.id == MeetingOutcome.event_id)
                    .join(ends, ends.c.event_id == MeetingOutcome.event_id)
                    .outerjoin(
                        later,
                        (later.session_id == MeetingOutcome.session_id)
                        & (later.person_id == MeetingOutcome.person_id)
                        & (later.stage == "later"),
                    )
                    .where(
                        MeetingOutcome.stage == "after",
                        MeetingOutcome.answer == "cooperation-possible",
                        ends.c.last <= now - self.settings.followup_after,
                        later.id.is_(None),
                    )
                    .limit(500)
                )
            ).all()
            for outcome, session, event in due:
                asked += await self._ask(db, event, session, "later", outcome.person_id, now)
        return asked

    async def _ask(
        self,
        db: AsyncSession,
        event: m.Event,
        session: m.Session | SessionSeen,
        stage: str,
        only: int | None,
        now: datetime,
    ) -> int:
        """A question at `stage` for each person of the meeting (or only the person `only`),
        with its link, and its mail."""
        people = (
            await db.execute(
                select(m.Person, m.Organisation.name)
                .join(m.Attendee, m.Attendee.person_id == m.Person.id)
                .outerjoin(m.Organisation, m.Organisation.id == m.Person.organisation_id)
                .where(
                    m.Attendee.session_id == session.id,
                    m.Attendee.removed_at.is_(None),
                    m.Person.erased_at.is_(None),
                )
            )
        ).all()
        organiser = Party(event.organiser_name, event.organiser_email)
        outgoing = []
        for person, _ in people:
            if only is not None and person.id != only:
                continue
            own = person.organisation_id
            others = [  # the other side: by organisation, else by name
                organisation or other.name
                for other, organisation in people
                if other.id != person.id and (own is None or other.organisation_id != own)
            ]
            question = MeetingOutcome(
                event_id=event.id,
                session_id=session.id,
                person_id=person.id,
                stage=stage,
                token=new_link_token(),
                asked_at=now,
            )
            db.add(question)
            base = f"{self.settings.base_url}/o/{question.token}"
            text = outcome_question_mail(
                self.writer,
                person.locale or event.locale,
                later=stage == "later",
                title=session.title,
                partner=", ".join(dict.fromkeys(others)) or session.title,
                answers=[(label, f"{base}/{label}") for label in LABELS[stage]],
                organiser=organiser,
                event_title=event.title,
            )
            outgoing.append(
                notice_to(
                    event,
                    person,
                    text,
                    kind=KIND,
                    dedupe=f"{KIND}:{stage}:{session.id}:{person.id}",
                    mail_from=self.settings.mail_from,
                    now=now,
                    session_id=session.id,
                )
            )
        return await enqueue(db, outgoing)
