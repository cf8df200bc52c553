"""Erasing one person of one event (`rdv forget`), so that nothing stored names them and nothing
brings them back, while the event's figures stay what they were.

Their rows stay (the counts hold) under a placeholder name, email and key; every link they were
given stops working (new tokens nobody knows); what providers and mail said of them is emptied,
the invites of the people they were to meet included; no mail goes to them again. What is kept is
a keyed hash of their email (`Erasure`): an import that names them again is refused, until an
organiser lifts it (`rdv readd`) because the person wants to come back.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, cast, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..db import models as m
from ..db.attendance import ProviderEventRow, WebhookDelivery
from ..db.audit import AuditEntry, record
from ..db.base import holds
from ..db.mail import ERASED, MailMessage
from ..db.outbound import forget_mentions
from ..db.previews import ProgramPreview
from ..db.updates import note
from ..settings import SettingsError
from ..tokens import derive_key, new_link_token

ERASED_NAME = "(erased)"


@dataclass(frozen=True, slots=True)
class Forgotten:
    person: str  # their key before the erasure
    events: int
    deliveries: int
    messages: int
    event_id: int = 0
    placeholder: str = ""  # their key now


def erased_email(person_id: int) -> str:
    """A stable placeholder, so the person's rows still group together after erasure."""
    return f"erased-{person_id}@erased.invalid"


def email_hash(secret: str, email: str) -> str:
    """What the erasure record keeps of an email: a keyed hash, which names nobody without the
    service's secret key, and recognises the same address in any case."""
    key = derive_key(secret, "erasure")
    return hmac.new(key, email.strip().lower().encode(), hashlib.sha256).hexdigest()


async def forget(
    db: AsyncSession,
    *,
    slug: str,
    email: str,
    now: datetime,
    secret: str,
    person_id: int | None = None,
    by: tuple[str, str] | None = None,
) -> Forgotten | None:
    """Erases one person of one event, in the caller's transaction; None when the event has
    nobody with that email. `person_id` names the person (the workspace's button); every other
    row of the event with their email (a key an import renamed) is erased too. `by` (who, from
    where) records the erasure in the audit log."""
    rows = (
        await db.scalars(
            select(m.Person)
            .join(m.Event, m.Event.id == m.Person.event_id)
            .where(
                m.Event.slug == slug,
                func.lower(m.Person.email) == email.strip().lower(),
                m.Person.erased_at.is_(None),
            )
            .order_by(m.Person.removed_at.is_not(None), m.Person.id)
        )
    ).all()
    if person_id is not None:
        rows = sorted(rows, key=lambda row: row.id != person_id)
        if not rows or rows[0].id != person_id:
            return None
    if not rows:
        return None
    person = rows[0]
    key, old_email = person.key, person.email
    events = deliveries = messages = 0
    for row in rows:
        erased = await _erase_row(db, row, now)
        events, deliveries, messages = (
            events + erased[0],
            deliveries + erased[1],
            messages + erased[2],
        )
    # Uploaded programs waiting for "apply" name them, and applying one would bring them back.
    await db.execute(delete(ProgramPreview).where(ProgramPreview.event_slug == slug))
    db.add(
        m.Erasure(event_id=person.event_id, email_hash=email_hash(secret, old_email), erased_at=now)
    )
    if by is not None:
        actor, source = by
        await record(
            db,
            event_id=person.event_id,
            at=now,
            actor=actor,
            source=source,
            action="person.erase",
            subject=person.key,
        )
    await db.flush()
    # Open dashboards build again: the name must leave the screen too (see `note`: last).
    await note(db, [(person.event_id, None)], "forget", now)
    return Forgotten(key, events, deliveries, messages, person.event_id, person.key)


async def _erase_row(db: AsyncSession, person: m.Person, now: datetime) -> tuple[int, int, int]:
    """One person row's name and email out of everything stored; (provider events, webhook
    deliveries, messages) emptied."""
    key, old_name, old_email = person.key, person.name, person.email
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
                holds(WebhookDelivery.body, old_email.encode()),
                holds(WebhookDelivery.body, old_name.encode()),
            ),
            WebhookDelivery.purged_at.is_(None),
        )
        .values(body=b"", purged_at=now)
        .returning(WebhookDelivery.id)
    )
    messages = await _erase_from_mail(db, person, placeholder)
    # Outbound webhooks name people by key, and a key may be a name; titles may hold a name.
    await forget_mentions(db, person.event_id, [json.dumps(key).encode(), old_name.encode()])
    await _revoke_links(db, person)
    await _erase_from_audit(db, person.event_id, key, f"erased-{person.id}")
    person.name, person.email, person.key = ERASED_NAME, placeholder, f"erased-{person.id}"
    person.erased_at = now
    return len(events.all()), len(deliveries.all()), messages


async def _erase_from_audit(db: AsyncSession, event_id: int, key: str, placeholder: str) -> None:
    """The audit log names people by key, and a key may be a name ("mpoissard"): every entry of
    the event that names this one names the placeholder instead."""
    entries = await db.scalars(
        select(AuditEntry).where(
            AuditEntry.event_id == event_id,
            or_(AuditEntry.subject == key, cast(AuditEntry.details, String).contains(key)),
        )
    )
    for entry in entries:
        if entry.subject == key:
            entry.subject = placeholder
        entry.details = _replaced(entry.details, key, placeholder)


def _replaced(value: Any, old: str, new: str) -> Any:
    if isinstance(value, dict):
        return {(new if k == old else k): _replaced(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_replaced(item, old, new) for item in value]
    return new if value == old else value


async def _erase_from_mail(db: AsyncSession, person: m.Person, placeholder: str) -> int:
    """Empties every stored message that names the person: their own (never sent now), and
    those of the sessions they had a seat in, which list them to the others; returns how many.
    A message not sent yet to someone else is composed when it is sent (`mail/outbox.py`), from
    seats that no longer hold the person."""
    await db.execute(
        update(MailMessage)
        .where(MailMessage.person_id == person.id, MailMessage.status != "sent")
        .values(status="failed", last_error=ERASED, lease_until=None)
    )
    own = await db.execute(
        update(MailMessage)
        .where(MailMessage.person_id == person.id)
        .values(body=b"", recipient=placeholder, subject=ERASED_NAME)
        .returning(MailMessage.id)
    )
    sessions = select(m.Attendee.session_id).where(m.Attendee.person_id == person.id)
    others = await db.execute(
        update(MailMessage)
        .where(
            MailMessage.person_id.is_distinct_from(person.id),
            MailMessage.status.in_(("sent", "failed")),
            or_(
                MailMessage.session_id.in_(sessions),
                holds(MailMessage.body, person.email.encode()),
            ),
        )
        .values(body=b"")
        .returning(MailMessage.id)
    )
    return len(own.all()) + len(others.all())


async def _revoke_links(db: AsyncSession, person: m.Person) -> None:
    """New tokens that no mail ever held: the person's join links, agenda and calendar feed
    answer as unknown links from now on."""
    person.feed_token = new_link_token()
    seats = (await db.scalars(select(m.Attendee).where(m.Attendee.person_id == person.id))).all()
    for seat in seats:
        seat.token = new_link_token()


async def erased_among(
    db: AsyncSession, event_id: int, emails: list[str], *, secret: str | None
) -> dict[str, datetime]:
    """Which of these emails (trimmed, lower case) belong to people erased from the event, and
    when. Without the secret key, an event with erasures cannot be checked: SettingsError."""
    if not await db.scalar(select(func.count()).where(m.Erasure.event_id == event_id)):
        return {}
    if secret is None:
        raise SettingsError(
            "RDV_SECRET_KEY is not set: this event has erased people, recognised by a keyed hash "
            "of their email, and an import must not bring them back"
        )
    hashes = {email_hash(secret, email): email.strip().lower() for email in emails}
    found = await db.execute(
        select(m.Erasure.email_hash, m.Erasure.erased_at).where(
            m.Erasure.event_id == event_id, m.Erasure.email_hash.in_(hashes)
        )
    )
    return {hashes[digest]: at for digest, at in found}


async def readd(db: AsyncSession, *, slug: str, email: str, secret: str) -> bool:
    """Lifts the erasure of this email, so that the next import may invite the person again as a
    new participant; False when the event erased nobody with that email."""
    event_id = select(m.Event.id).where(m.Event.slug == slug).scalar_subquery()
    lifted = await db.execute(
        delete(m.Erasure)
        .where(m.Erasure.event_id == event_id, m.Erasure.email_hash == email_hash(secret, email))
        .returning(m.Erasure.id)
    )
    return bool(lifted.all())
