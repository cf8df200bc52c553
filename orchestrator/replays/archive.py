"""Adding a replay to the archive; the first replay of a plenary sends the replay mail, once per
attendee, through the outbox (a second replay, a retried call or a restart sends nothing more)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from calendars import imip
from calendars.model import Party
from calendars.text import Writer

from ..attendance.log import attendance
from ..db import models as m
from ..db.mail import MailMessage, Outgoing, enqueue
from ..db.replays import REPLAY_KINDS, Replay
from ..settings import Settings
from .links import ReplayExists, ReplayRefused, canonical


@dataclass(frozen=True, slots=True)
class NewReplay:
    url: str
    kind: str = "stream"
    title: str | None = None
    duration_seconds: int | None = None
    source: str = "manual"
    valid_until: datetime | None = None
    archived_path: str | None = None


def replay_dict(replay: Replay, session_key: str) -> dict[str, Any]:
    def text(moment: datetime | None) -> str | None:
        return moment.isoformat().replace("+00:00", "Z") if moment else None

    return {
        "id": replay.id,
        "session": session_key,
        "url": replay.url,
        "kind": replay.kind,
        "title": replay.title,
        "duration_seconds": replay.duration_seconds,
        "source": replay.source,
        "added_at": text(replay.added_at),
        "valid_until": text(replay.valid_until),
        "archived": replay.archived_path is not None,
    }


async def replay_figures(db: AsyncSession, event_id: int) -> dict[str, Any]:
    """How many replays the event has, and how many people the replay mail reached."""
    replays = await db.scalar(
        select(func.count())
        .select_from(Replay)
        .join(m.Session, m.Session.id == Replay.session_id)
        .where(m.Session.event_id == event_id)
    )
    sent = await db.scalar(
        select(func.count()).where(
            MailMessage.event_id == event_id,
            MailMessage.kind == "replay",
            MailMessage.status == "sent",
        )
    )
    url = await db.scalar(
        select(Replay.url)
        .join(m.Session, m.Session.id == Replay.session_id)
        .where(
            m.Session.event_id == event_id,
            m.Session.kind == "plenary",
            Replay.valid_until.is_(None),
        )
        .order_by(Replay.added_at)
        .limit(1)
    )
    return {"replays": replays or 0, "replay_mail_sent": sent or 0, "plenary_replay": url}


async def add_replay(
    db: AsyncSession,
    session: m.Session,
    new: NewReplay,
    *,
    now: datetime,
    settings: Settings,
    writer: Writer,
) -> tuple[Replay, int]:
    """Archives the replay (ReplayRefused when the link is not acceptable or already there) and
    returns it with the number of replay mails queued."""
    url = canonical(new.url)  # every link, a provider's too: it is sent to people as it is
    if new.kind not in REPLAY_KINDS:
        raise ReplayRefused(f"kind must be one of {', '.join(REPLAY_KINDS)}")
    title = (new.title or "").strip() or session.title
    existing = await db.scalar(
        select(Replay).where(Replay.session_id == session.id, Replay.url == url)
    )
    if existing is not None:
        raise ReplayExists(f'this replay is already archived for "{session.key}"')
    earlier = await db.scalar(select(func.count()).where(Replay.session_id == session.id))
    replay = Replay(
        session_id=session.id,
        url=url,
        kind=new.kind,
        title=title[:300],
        duration_seconds=new.duration_seconds,
        source=new.source,
        added_at=now,
        valid_until=new.valid_until,
        archived_path=new.archived_path,
    )
    db.add(replay)
    await db.flush()
    mailed = 0
    if session.kind == "plenary" and not earlier and new.valid_until is None:
        mailed = await _replay_mail(db, session, replay, now=now, settings=settings, writer=writer)
    return replay, mailed


async def _replay_mail(
    db: AsyncSession,
    session: m.Session,
    replay: Replay,
    *,
    now: datetime,
    settings: Settings,
    writer: Writer,
) -> int:
    event = await db.get_one(m.Event, session.event_id)
    outcomes = await attendance(
        db,
        event,
        now=max(now, session.ends_at + timedelta(hours=1)),
        marks=settings.marks,
        session_key=session.key,
    )
    came = {
        line.attendee_id
        for outcome in outcomes
        for line in outcome.lines
        if line.attendee_id and line.presence.spans
    }
    organiser = Party(event.organiser_name, event.organiser_email)
    rows = (
        await db.execute(
            select(m.Attendee.id, m.Person.id, m.Person.name, m.Person.email, m.Person.locale)
            .join(m.Person, m.Person.id == m.Attendee.person_id)
            .where(
                m.Attendee.session_id == session.id,
                m.Attendee.removed_at.is_(None),
                m.Person.removed_at.is_(None),
                m.Person.erased_at.is_(None),
            )
            .order_by(m.Attendee.id)
        )
    ).all()
    outgoing = []
    for attendee_id, person_id, name, email, locale in rows:
        text = writer.replay(
            locale or event.locale,
            title=session.title,
            event_title=event.title,
            url=replay.url,
            attended=attendee_id in came,
            organiser=organiser,
        )
        body = imip.plain(
            organiser=organiser,
            mail_from=settings.mail_from,
            recipient=Party(name, email),
            text=text,
            now=now,
        )
        outgoing.append(
            Outgoing(
                event_id=event.id,
                session_id=session.id,
                person_id=person_id,
                kind="replay",
                dedupe_key=f"replay:{session.id}:{person_id}",
                sender=settings.mail_from,
                recipient=email,
                subject=text.subject,
                body=body,
                created_at=now,
            )
        )
    return await enqueue(db, outgoing)
