"""Composing mail when it is sent, not when it is queued.

A change (an import, a moved meeting, a reminder falling due) only records, in its own short
transaction, who must be told what (rows of the outbox without a body). The sender composes
each message just before it sends it, from what is true then, in a worker thread: the long part
of mail (the iCalendar, the texts in each language, the MIME message) no longer holds the
database's write lock, so webhooks and join links never wait on it, and a message that waited
shows the session as it is (someone erased meanwhile is no longer listed).
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from calendars import imip
from calendars.model import Party
from calendars.text import MailText

from ..db import models as m
from ..db.mail import ERASED, Outgoing
from ..participants.seats import Seat, load_seats

CHUNK = 25  # messages composed in one go in the worker thread, between two turns of the loop


@dataclass(frozen=True, slots=True)
class Pending:
    """A queued message still to be composed."""

    id: int
    kind: str
    event_id: int
    session_id: int | None
    person_id: int | None

    @property
    def message_id(self) -> str:
        """The left part of its Message-ID, the same however often it is composed: a message
        the sender sends again after a crash (it was in flight) arrives with the id it had, and
        mail clients that know the id show it once."""
        return f"rdv.{self.event_id}.{self.id}"


@dataclass(frozen=True, slots=True)
class Composed:
    subject: str
    recipient: str
    body: bytes


@dataclass(frozen=True, slots=True)
class Context:
    """What composing a message about one session needs, read in one go for a batch."""

    event: m.Event
    session: m.Session
    seats: list[Seat]

    def seat_of(self, person_id: int | None) -> Seat | None:
        return next((seat for seat in self.seats if seat.person_id == person_id), None)


class Composer(Protocol):
    """Composes the messages of some kinds; `build` is pure (it runs in a worker thread).
    `prepare` turns what changes recorded into messages to compose (a mail plan), if anything."""

    @property
    def kinds(self) -> Collection[str]: ...

    async def prepare(self, db: async_sessionmaker[AsyncSession]) -> int: ...

    def build(self, pending: Pending, context: Context, now: datetime) -> Composed: ...


async def contexts(db: AsyncSession, session_ids: Collection[int]) -> dict[int, Context]:
    """The events, sessions and seats of these sessions, in three queries."""
    rows = (
        await db.execute(
            select(m.Session, m.Event)
            .join(m.Event, m.Event.id == m.Session.event_id)
            .where(m.Session.id.in_(session_ids))
        )
    ).all()
    seats = await load_seats(db, [session.id for session, _ in rows])
    return {session.id: Context(event, session, seats[session.id]) for session, event in rows}


class Composers:
    """The composer of each kind of message the sender may find without a body."""

    def __init__(self, composers: Sequence[Composer]) -> None:
        self.by_kind: Mapping[str, Composer] = {
            kind: composer for composer in composers for kind in composer.kinds
        }

    async def prepare(self, db: async_sessionmaker[AsyncSession]) -> int:
        """What changes recorded, turned into messages; returns how many."""
        unique = {id(composer): composer for composer in self.by_kind.values()}
        return sum([await composer.prepare(db) for composer in unique.values()])

    async def compose(
        self, db: AsyncSession, waiting: Sequence[Pending], now: datetime
    ) -> dict[int, Composed | str]:
        """Each message composed, or why it cannot be composed (the session is gone, the
        recipient was erased or has no seat, a kind nobody composes)."""
        found = await contexts(db, {n.session_id for n in waiting if n.session_id is not None})
        work: list[tuple[Pending, Context, Composer]] = []
        results: dict[int, Composed | str] = {}
        for message in waiting:
            composer = self.by_kind.get(message.kind)
            context = found.get(message.session_id) if message.session_id is not None else None
            if composer is None:
                results[message.id] = f"no composer for {message.kind!r} mail"
            elif context is None:
                results[message.id] = "the session no longer exists"
            elif message.person_id is not None and context.seat_of(message.person_id) is None:
                results[message.id] = ERASED  # a message without a person goes to the organisers
            else:
                work.append((message, context, composer))

        def build(part: list[tuple[Pending, Context, Composer]]) -> list[Composed]:
            return [composer.build(message, context, now) for message, context, composer in part]

        for start in range(0, len(work), CHUNK):
            chunk = work[start : start + CHUNK]
            built = await asyncio.to_thread(build, chunk)
            results.update(
                {message.id: one for (message, _, _), one in zip(chunk, built, strict=True)}
            )
        return results


def notice_to(
    event: m.Event,
    person: m.Person,
    text: MailText,
    *,
    kind: str,
    dedupe: str,
    mail_from: str,
    now: datetime,
    session_id: int | None = None,
) -> Outgoing:
    """A message to one person composed now (no calendar, nothing to compose when sent): from
    the organiser's name at `mail_from`, Reply-To the organiser."""
    return Outgoing(
        event_id=event.id,
        session_id=session_id,
        person_id=person.id,
        kind=kind,
        dedupe_key=dedupe,
        sender=mail_from,
        recipient=person.email,
        subject=text.subject,
        body=imip.plain(
            organiser=Party(event.organiser_name, event.organiser_email),
            mail_from=mail_from,
            recipient=Party(person.name, person.email),
            text=text,
            now=now,
        ),
        created_at=now,
    )
