"""Personal data over time: raw deliveries are dropped after `RDV_RAW_RETENTION`, and one person
can be erased (`rdv forget`) while the event's figures stay right.

Deliveries are recorded as events in the transaction that accepts them, so once stored their
effect is recorded: purging a raw body loses nothing the attendance needs. Erasing a person keeps
their rows and links (so counts hold) but replaces what identifies them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..clock import Clock
from ..db import models as m
from ..db.attendance import ProviderEventRow, WebhookDelivery
from ..db.mail import MailMessage
from ..db.updates import note

PURGE_EVERY = timedelta(hours=1)
log = logging.getLogger("rdv.retention")
ERASED_NAME = "(erased)"


def erased_email(person_id: int) -> str:
    """A stable placeholder, so the person's rows still group together after erasure."""
    return f"erased-{person_id}@erased.invalid"


async def purge_raw(db: AsyncSession, *, now: datetime, retention: timedelta) -> int:
    """Empties the bodies of deliveries older than the retention; returns how many."""
    result = await db.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.received_at < now - retention, WebhookDelivery.purged_at.is_(None))
        .values(body=b"", purged_at=now)
        .returning(WebhookDelivery.id)
    )
    return len(result.all())


@dataclass(frozen=True, slots=True)
class Forgotten:
    person: str
    events: int
    deliveries: int
    messages: int


async def forget(db: AsyncSession, *, slug: str, email: str, now: datetime) -> Forgotten | None:
    """Erases one person of one event (name, email, what providers and mail said of them);
    None when the event has nobody with that email."""
    person = await db.scalar(
        select(m.Person)
        .join(m.Event, m.Event.id == m.Person.event_id)
        .where(m.Event.slug == slug, func.lower(m.Person.email) == email.strip().lower())
    )
    if person is None:
        return None
    old_name, old_email = person.name, person.email
    placeholder = erased_email(person.id)
    attendee_ids = select(m.Attendee.id).where(m.Attendee.person_id == person.id)
    named = or_(
        ProviderEventRow.attendee_id.in_(attendee_ids),
        func.lower(ProviderEventRow.participant_email) == old_email.lower(),
        ProviderEventRow.participant_name == old_name,
    )
    delivery_ids = set(
        (
            await db.scalars(
                select(ProviderEventRow.delivery_id).where(
                    named, ProviderEventRow.delivery_id.is_not(None)
                )
            )
        ).all()
    )
    events = await db.execute(
        update(ProviderEventRow)
        .where(named)
        .values(participant_name=None, participant_email=placeholder)
        .returning(ProviderEventRow.id)
    )
    deliveries = await db.execute(
        update(WebhookDelivery)
        .where(
            or_(
                WebhookDelivery.id.in_(delivery_ids),
                WebhookDelivery.body.contains(old_email.encode()),
                WebhookDelivery.body.contains(old_name.encode()),
            ),
            WebhookDelivery.purged_at.is_(None),
        )
        .values(body=b"", purged_at=now)
        .returning(WebhookDelivery.id)
    )
    await db.execute(
        update(MailMessage)
        .where(MailMessage.person_id == person.id, MailMessage.status != "sent")
        .values(status="failed", last_error="the recipient was erased", lease_until=None)
    )
    messages = await db.execute(
        update(MailMessage)
        .where(MailMessage.person_id == person.id)
        .values(body=b"", recipient=placeholder, subject=ERASED_NAME)
        .returning(MailMessage.id)
    )
    person.name, person.email = ERASED_NAME, placeholder
    await db.flush()
    # Open dashboards build again: the name must leave the screen too (see `note`: last).
    await note(db, [(person.event_id, None)], "forget", now)
    return Forgotten(person.key, len(events.all()), len(deliveries.all()), len(messages.all()))


async def purge_once(
    db: async_sessionmaker[AsyncSession], clock: Clock, retention: timedelta
) -> int:
    """Empties the raw deliveries past their retention, in a transaction of its own."""
    async with db() as session, session.begin():
        purged = await purge_raw(session, now=clock.now(), retention=retention)
    if purged:
        log.info("purged %d raw webhook deliveries older than %s", purged, retention)
    return purged
