"""What an organiser does from the workspace, each in one transaction with its audit entry:
move, cancel or re-provider a session (through the same validation and diff as an import),
resend invites, erase someone, send failed mail again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..db import models as m
from ..db.audit import record
from ..db.mail import retry_failed
from ..mail.invites import InviteComposer
from ..participants.erasure import forget
from ..participants.follow_up import add_follow_up
from ..program.audit import Author, hooks, recorder
from ..program.changes import ChangeSet
from ..program.service import NotFound, edit_session
from ..settings import Settings


@dataclass(frozen=True, slots=True)
class Workspace:
    """What the actions need, built once by the app factory."""

    db: async_sessionmaker[AsyncSession]
    settings: Settings
    invites: InviteComposer

    async def edit(
        self, slug: str, key: str, patch: dict[str, Any] | None, author: Author, now: datetime
    ) -> ChangeSet:
        """A move, a new provider (`patch`) or a cancellation (None), as `PATCH`/`DELETE` do."""
        if patch is None:
            action = "session.cancel"
        elif "provider" in patch:
            action = "session.provider"
        else:
            action = "session.edit"
        return await edit_session(
            self.db,
            self.settings,
            slug,
            key,
            patch,
            now=now,
            on_change=hooks(self.invites.queue, recorder(author, action, key)),
        )

    async def follow_up(
        self,
        slug: str,
        key: str,
        starts_at: datetime,
        ends_at: datetime,
        author: Author,
        now: datetime,
    ) -> ChangeSet:
        """A follow-up meeting of the meeting `key` with its people, set by the organisers."""
        async with self.db() as db, db.begin():
            taken = set(
                await db.scalars(
                    select(m.Session.key)
                    .join(m.Event, m.Event.id == m.Session.event_id)
                    .where(m.Event.slug == slug)
                )
            )
            number = 1
            while f"{key}.follow-up-{number}" in taken:
                number += 1
            new = f"{key}.follow-up-{number}"[:80]
            return await add_follow_up(
                db,
                self.settings,
                slug,
                key,
                new,
                starts_at,
                ends_at,
                now=now,
                on_change=hooks(self.invites.queue, recorder(author, "session.follow-up", new)),
            )

    async def resend(
        self, slug: str, author: Author, now: datetime, *, person: str, session: str | None = None
    ) -> int:
        """The invite of one session (or of every live session of theirs) to one person again;
        returns how many messages were queued."""
        async with self.db() as db, db.begin():
            event, person_row = await _person(db, slug, person)
            query = (
                select(m.Attendee.session_id)
                .join(m.Session, m.Session.id == m.Attendee.session_id)
                .where(m.Attendee.person_id == person_row.id, m.Attendee.removed_at.is_(None))
            )
            if session is not None:
                query = query.where(m.Session.key == session)
            session_ids = list((await db.scalars(query)).all())
            if session is not None and not session_ids:
                raise NotFound(f'"{person}" has no seat in "{session}"')
            queued = await self.invites.resend(db, session_ids, person_row.id, now)
            await record(
                db,
                event_id=event.id,
                at=now,
                actor=author.actor,
                source=author.source,
                action="invite.resend",
                subject=person,
                details={"session": session, "queued": queued},
            )
            return queued

    async def erase(self, slug: str, person: str, author: Author, now: datetime) -> str:
        """`rdv forget` from the workspace; returns the placeholder key the person now has."""
        async with self.db() as db, db.begin():
            _, person_row = await _person(db, slug, person)
            done = await forget(
                db,
                slug=slug,
                email=person_row.email,
                now=now,
                secret=self.settings.require_secret_key(),
                person_id=person_row.id,
                by=(author.actor, author.source),
            )
            if done is None:
                raise NotFound(f'no person "{person}" in "{slug}"')
            return done.placeholder

    async def retry(
        self, slug: str, author: Author, now: datetime, message: int | None = None
    ) -> int:
        """Failed mail of the event (or one message) due again; returns how many."""
        async with self.db() as db, db.begin():
            event = await _event(db, slug)
            count = await retry_failed(db, event.id, now, message)
            if count:
                await record(
                    db,
                    event_id=event.id,
                    at=now,
                    actor=author.actor,
                    source=author.source,
                    action="mail.retry",
                    subject="" if message is None else f"message {message}",
                    details={"messages": count},
                )
            return count


async def _event(db: AsyncSession, slug: str) -> m.Event:
    event = await db.scalar(select(m.Event).where(m.Event.slug == slug))
    if event is None:
        raise NotFound(f'no event "{slug}"')
    return event


async def _person(db: AsyncSession, slug: str, key: str) -> tuple[m.Event, m.Person]:
    event = await _event(db, slug)
    person = await db.scalar(
        select(m.Person).where(
            m.Person.event_id == event.id,
            m.Person.key == key,
            m.Person.removed_at.is_(None),
            m.Person.erased_at.is_(None),
        )
    )
    if person is None:
        raise NotFound(f'no person "{key}" in "{slug}"')
    return event, person
