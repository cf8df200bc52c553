"""The workspace's tables: one page of an event's sessions, people, mail or audit entries, with
search and filters done by the database, so that a page reads the same few rows at 20 people or
10,000."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..db import models as m
from ..db.audit import AuditEntry
from ..db.mail import MAIL_STATES, MailMessage

PAGE = 50


@dataclass(frozen=True, slots=True)
class Filters:
    """What a table is narrowed to; empty strings are no filter."""

    q: str = ""
    state: str = ""  # a room state, or "cancelled"
    day: str = ""  # YYYY-MM-DD in the event's zone
    organisation: str = ""  # an organisation's key or part of its name: its people, their sessions
    page: int = 1


@dataclass(slots=True)
class Page:
    rows: list[Any]
    total: int
    page: int
    pages: int
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SessionRow:
    key: str
    title: str
    kind: str
    starts_at: datetime
    ends_at: datetime
    provider: str
    state: str
    cancelled: bool
    attendees: list[tuple[str, str, str | None]]  # (person key, name, organisation name)


@dataclass(frozen=True, slots=True)
class PersonRow:
    key: str
    name: str
    email: str
    organisation: str | None
    sessions: int
    erased: bool


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.lower()}%"


def _organisation_is(wanted: str) -> Any:
    """An organisation named by its key, or by part of its name (a directorate, a company)."""
    return or_(
        m.Organisation.key == wanted,
        func.lower(m.Organisation.name).like(_like(wanted), escape="\\"),
    )


def _day_range(day: str, zone: ZoneInfo) -> tuple[datetime, datetime] | None:
    try:
        local = date.fromisoformat(day)
    except ValueError:
        return None
    start = datetime.combine(local, time(0), zone)
    return start, datetime.combine(local + timedelta(days=1), time(0), zone)


def _paged(total: int, page: int) -> tuple[int, int]:
    pages = max(1, -(-total // PAGE))
    return min(max(page, 1), pages), pages


async def sessions_page(db: AsyncSession, event: m.Event, filters: Filters) -> Page:
    """A page of the event's sessions in time order, with their room and attendees."""
    query = (
        select(m.Session, m.Room.state, m.Room.provider)
        .join(m.Room, m.Room.session_id == m.Session.id)
        .where(m.Session.event_id == event.id)
    )
    if filters.q:
        pattern = _like(filters.q)
        # The people named first (one pass over the event's people), then their sessions by
        # the attendees' index: not a search of every session's attendees.
        named = (
            select(m.Attendee.session_id)
            .join(m.Person, m.Person.id == m.Attendee.person_id)
            .where(
                m.Person.event_id == event.id,
                m.Attendee.removed_at.is_(None),
                func.lower(m.Person.name).like(pattern, escape="\\"),
            )
        )
        query = query.where(
            or_(
                func.lower(m.Session.title).like(pattern, escape="\\"),
                func.lower(m.Session.key).like(pattern, escape="\\"),
                m.Session.id.in_(named),
            )
        )
    if filters.state == "cancelled":
        query = query.where(m.Session.cancelled_at.is_not(None))
    elif filters.state:
        query = query.where(m.Room.state == filters.state, m.Session.cancelled_at.is_(None))
    span = _day_range(filters.day, ZoneInfo(event.timezone)) if filters.day else None
    if span is not None:
        query = query.where(m.Session.starts_at >= span[0], m.Session.starts_at < span[1])
    if filters.organisation:
        of_organisation = (
            select(m.Attendee.session_id)
            .join(m.Person, m.Person.id == m.Attendee.person_id)
            .join(m.Organisation, m.Organisation.id == m.Person.organisation_id)
            .where(
                m.Organisation.event_id == event.id,
                _organisation_is(filters.organisation),
                m.Attendee.removed_at.is_(None),
            )
        )
        query = query.where(m.Session.id.in_(of_organisation))
    total = await db.scalar(select(func.count()).select_from(query.subquery())) or 0
    page, pages = _paged(total, filters.page)
    found = (
        await db.execute(
            query.order_by(m.Session.starts_at, m.Session.key).limit(PAGE).offset((page - 1) * PAGE)
        )
    ).all()
    attendees = await _attendees(db, [session.id for session, _, _ in found])
    rows = [
        SessionRow(
            session.key,
            session.title,
            session.kind,
            session.starts_at,
            session.ends_at,
            provider,
            state,
            session.cancelled_at is not None,
            attendees.get(session.id, []),
        )
        for session, state, provider in found
    ]
    return Page(rows, total, page, pages, await _options(db, event))


async def _attendees(
    db: AsyncSession, session_ids: Sequence[int]
) -> dict[int, list[tuple[str, str, str | None]]]:
    if not session_ids:
        return {}
    rows = await db.execute(
        select(m.Attendee.session_id, m.Person.key, m.Person.name, m.Organisation.name)
        .join(m.Person, m.Person.id == m.Attendee.person_id)
        .outerjoin(m.Organisation, m.Organisation.id == m.Person.organisation_id)
        .where(m.Attendee.session_id.in_(session_ids), m.Attendee.removed_at.is_(None))
        .order_by(m.Attendee.id)
    )
    found: dict[int, list[tuple[str, str, str | None]]] = {}
    for session_id, key, name, organisation in rows:
        found.setdefault(session_id, []).append((key, name, organisation))
    return found


async def _options(db: AsyncSession, event: m.Event) -> dict[str, Any]:
    """What the filters offer: the event's days (organisations are typed: an event may have
    thousands, too many for a list a page carries each time)."""
    zone = ZoneInfo(event.timezone)
    bounds = (
        await db.execute(
            select(func.min(m.Session.starts_at), func.max(m.Session.starts_at)).where(
                m.Session.event_id == event.id
            )
        )
    ).one()
    days: list[str] = []
    if bounds[0] is not None:
        day, last = bounds[0].astimezone(zone).date(), bounds[1].astimezone(zone).date()
        while day <= last and len(days) < 31:
            days.append(day.isoformat())
            day += timedelta(days=1)
    return {"days": days}


async def people_page(db: AsyncSession, event: m.Event, filters: Filters) -> Page:
    """A page of the event's people by name, with how many live sessions each has (counted for
    the page's people only)."""
    query = (
        select(m.Person, m.Organisation.name)
        .outerjoin(m.Organisation, m.Organisation.id == m.Person.organisation_id)
        .where(m.Person.event_id == event.id, m.Person.removed_at.is_(None))
    )
    if filters.q:
        pattern = _like(filters.q)
        query = query.where(
            or_(
                func.lower(m.Person.name).like(pattern, escape="\\"),
                func.lower(m.Person.email).like(pattern, escape="\\"),
                func.lower(m.Person.key).like(pattern, escape="\\"),
            )
        )
    if filters.organisation:
        query = query.where(_organisation_is(filters.organisation))
    total = await db.scalar(select(func.count()).select_from(query.subquery())) or 0
    page, pages = _paged(total, filters.page)
    found = (
        await db.execute(
            query.order_by(m.Person.name, m.Person.key).limit(PAGE).offset((page - 1) * PAGE)
        )
    ).all()
    counts: dict[int, int] = dict(
        (
            await db.execute(
                select(m.Attendee.person_id, func.count())
                .join(m.Session, m.Session.id == m.Attendee.session_id)
                .where(
                    m.Attendee.person_id.in_([person.id for person, _ in found]),
                    m.Attendee.removed_at.is_(None),
                    m.Session.cancelled_at.is_(None),
                )
                .group_by(m.Attendee.person_id)
            )
        ).all()
    )
    rows = [
        PersonRow(
            person.key,
            person.name,
            person.email,
            organisation,
            counts.get(person.id, 0),
            person.erased_at is not None,
        )
        for person, organisation in found
    ]
    return Page(rows, total, page, pages, await _options(db, event))


async def mail_page(db: AsyncSession, event: m.Event, state: str, page: int) -> Page:
    """A page of the event's mail in one state (newest first), and the count in every state."""
    counts = {
        status: number
        for status, number in await db.execute(
            select(MailMessage.status, func.count())
            .where(MailMessage.event_id == event.id)
            .group_by(MailMessage.status)
        )
    }
    chosen = state if state in MAIL_STATES else "failed"
    query = (
        select(MailMessage, m.Session.key)
        .outerjoin(m.Session, m.Session.id == MailMessage.session_id)
        .where(and_(MailMessage.event_id == event.id, MailMessage.status == chosen))
    )
    total = counts.get(chosen, 0)
    number, pages = _paged(total, page)
    rows = (
        await db.execute(
            query.order_by(MailMessage.id.desc()).limit(PAGE).offset((number - 1) * PAGE)
        )
    ).all()
    counted = {status: counts.get(status, 0) for status in MAIL_STATES}
    return Page(list(rows), total, number, pages, {"counts": counted, "state": chosen})


async def audit_page(db: AsyncSession, event: m.Event, page: int) -> Page:
    total = await db.scalar(select(func.count()).where(AuditEntry.event_id == event.id)) or 0
    number, pages = _paged(total, page)
    rows = (
        await db.scalars(
            select(AuditEntry)
            .where(AuditEntry.event_id == event.id)
            .order_by(AuditEntry.id.desc())
            .limit(PAGE)
            .offset((number - 1) * PAGE)
        )
    ).all()
    return Page(list(rows), total, number, pages)
