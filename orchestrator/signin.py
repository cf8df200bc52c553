"""One-time sign-in links (`rdv login-link`) for the organisers' and follow-up pages: made, looked
at (a mail scanner fetching the link must not use it up), then used once. The cookie they lead to
is the web layer's (`api/viewers.py`)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from .db import models as m
from .db.signin import LoginLink
from .tokens import ROLES

LINK_LIFETIME = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class Pending:
    """An unused sign-in link: the event it signs in to, and as whom."""

    slug: str
    title: str
    locale: str
    role: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_link(
    db: AsyncSession,
    *,
    slug: str,
    role: str,
    now: datetime,
    base_url: str,
    lifetime: timedelta = LINK_LIFETIME,
    subject: str = "",
) -> str:
    """A new one-time sign-in URL; LookupError if there is no such event."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    event_id = await db.scalar(select(m.Event.id).where(m.Event.slug == slug))
    if event_id is None:
        raise LookupError(f'no event "{slug}"')
    token = secrets.token_urlsafe(24)
    db.add(
        LoginLink(
            token_hash=_hash(token),
            event_id=event_id,
            role=role,
            subject=subject.strip()[:120],
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    await db.flush()
    return f"{base_url}/login/{token}"


async def pending(db: AsyncSession, token: str, now: datetime) -> Pending | None:
    """What a link would sign in to, leaving it unused; None when it is unknown, used or
    expired."""
    row = (
        await db.execute(
            select(m.Event.slug, m.Event.title, m.Event.locale, LoginLink.role)
            .join(m.Event, m.Event.id == LoginLink.event_id)
            .where(
                LoginLink.token_hash == _hash(token),
                LoginLink.used_at.is_(None),
                LoginLink.expires_at > now,
            )
        )
    ).first()
    return Pending(row.slug, row.title, row.locale, row.role) if row else None


@dataclass(frozen=True, slots=True)
class Redeemed:
    slug: str
    role: str
    subject: str  # who the link was made for, "" when nobody was named


async def redeem(db: AsyncSession, token: str, now: datetime) -> Redeemed | None:
    """Uses a link once; None when it is unknown, used or expired."""
    used = await db.execute(
        update(LoginLink)
        .where(
            LoginLink.token_hash == _hash(token),
            LoginLink.used_at.is_(None),
            LoginLink.expires_at > now,
        )
        .values(used_at=now)
        .returning(LoginLink.event_id, LoginLink.role, LoginLink.subject)
    )
    row = used.first()
    if row is None:
        return None
    slug = await db.scalar(select(m.Event.slug).where(m.Event.id == row.event_id))
    return Redeemed(slug, row.role, row.subject) if slug else None
