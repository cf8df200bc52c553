"""Calendar replies applied to seats: each invite is sent so that its reply comes back to an
address naming its seat with a secret (`reply_address`), and a reply read from the mailbox
(`calendars.replies`) changes that seat's answer only when everything agrees: the address's
secret, the event's UID, a SEQUENCE no older than the session's, and the attendee the seat was
invited as. Anything else is ignored and said why; nothing here sends mail back to a reply.
"""

from __future__ import annotations

import base64
import hmac
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from calendars.replies import Reply

from ..db import models as m
from ..tokens import derive_key
from .answers import Given, Unanswerable, answer_seat
from .seats import session_uid

_TAG = re.compile(r"a(\d{1,10})\.([a-z2-7]{16})")


def _mac(key: bytes, attendee_id: int) -> str:
    digest = hmac.digest(key, f"reply:{attendee_id}".encode(), "sha256")
    return _base32(digest[:10])


def _base32(data: bytes) -> str:
    return base64.b32encode(data).decode().lower().rstrip("=")


def reply_key(secret_key: str) -> bytes:
    return derive_key(secret_key, "calendar-replies")


def reply_address(key: bytes, mailbox: str, attendee_id: int) -> str:
    """`replies@rdv.example` → `replies+a42.<secret>@rdv.example` for seat 42: the reply to
    that seat's invite comes back to an address only its invite carried."""
    local, _, domain = mailbox.rpartition("@")
    return f"{local}+a{attendee_id}.{_mac(key, attendee_id)}@{domain}"


def seat_of_address(key: bytes, address: str) -> int | None:
    """The seat an address names, when its secret is right; None otherwise."""
    local = address.strip().strip("<>").rpartition("@")[0].lower()
    tag = local.partition("+")[2]
    found = _TAG.fullmatch(tag)
    if found is None:
        return None
    seat = int(found.group(1))
    return seat if hmac.compare_digest(found.group(2), _mac(key, seat)) else None


@dataclass(frozen=True, slots=True)
class Applied:
    changed: bool
    ignored: str | None = None  # why the reply changed nothing, when it was not taken
    seat: m.Attendee | None = None  # the seat it changed, with its session and its answer before
    session: m.Session | None = None
    previous: str = ""


async def apply_reply(
    db: AsyncSession, reply: Reply, attendee_id: int, *, base_url: str, now: datetime
) -> Applied:
    """The reply's answer on the seat, in the caller's transaction, if it is that seat's."""
    row = (
        await db.execute(
            select(m.Attendee, m.Session, m.Event, m.Person)
            .join(m.Session, m.Session.id == m.Attendee.session_id)
            .join(m.Event, m.Event.id == m.Session.event_id)
            .join(m.Person, m.Person.id == m.Attendee.person_id)
            .where(m.Attendee.id == attendee_id)
        )
    ).first()
    if row is None:
        return Applied(False, "no such seat")
    seat, session, event, person = row
    if seat.removed_at is not None or person.erased_at is not None:
        return Applied(False, "the seat is no longer theirs")
    if reply.uid != session_uid(event, session, base_url):
        return Applied(False, "a reply to another event")
    if reply.sequence < session.sequence:
        return Applied(False, "a reply to an older version of the invite")
    if reply.attendee != person.email.strip().lower():
        return Applied(False, "the reply answers for someone else")
    reason = reply.comment
    if reply.proposed is not None:
        start, end = reply.proposed
        proposal = f"proposes {start:%Y-%m-%d %H:%M}-{end:%H:%M} UTC"
        reason = f"{proposal}: {reason}" if reason else proposal
    previous = seat.answer
    try:
        changed = await answer_seat(db, seat, session, Given(reply.answer, "calendar", reason), now)
    except Unanswerable as why:
        return Applied(False, str(why))
    return Applied(changed, None, seat, session, previous)
