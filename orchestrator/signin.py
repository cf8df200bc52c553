"""Signing in to the dashboard and the report: one-time links (`rdv login-link`) that set a
signed session cookie scoped to one event and one role (organisers act, followups only read)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from aiohttp import web
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from . import keys
from .db import models as m
from .db.signin import LoginLink
from .tokens import ROLES, derive_key

COOKIE = "rdv_session"
LINK_LIFETIME = timedelta(minutes=15)
SESSION_LIFETIME = timedelta(hours=12)


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is looking: the event they signed in to, and whether they may act."""

    event: str
    role: str
    expires_at: datetime

    @property
    def can_act(self) -> bool:
        return self.role == "organiser"


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
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    await db.flush()
    return f"{base_url}/login/{token}"


async def redeem(db: AsyncSession, token: str, now: datetime) -> tuple[str, str] | None:
    """Uses a link once: (event slug, role), or None when it is unknown, used or expired."""
    used = await db.execute(
        update(LoginLink)
        .where(
            LoginLink.token_hash == _hash(token),
            LoginLink.used_at.is_(None),
            LoginLink.expires_at > now,
        )
        .values(used_at=now)
        .returning(LoginLink.event_id, LoginLink.role)
    )
    row = used.first()
    if row is None:
        return None
    slug = await db.scalar(select(m.Event.slug).where(m.Event.id == row.event_id))
    return (slug, row.role) if slug else None


def _sign(secret: str, payload: bytes) -> str:
    return hmac.new(derive_key(secret, "session-cookie"), payload, hashlib.sha256).hexdigest()


def cookie_value(secret: str, viewer: Viewer) -> str:
    payload = base64.urlsafe_b64encode(
        json.dumps(
            {"e": viewer.event, "r": viewer.role, "x": int(viewer.expires_at.timestamp())}
        ).encode()
    ).decode()
    return f"{payload}.{_sign(secret, payload.encode())}"


def read_cookie(secret: str, value: str, now: datetime) -> Viewer | None:
    payload, _, signature = value.partition(".")
    if not hmac.compare_digest(_sign(secret, payload.encode()), signature):
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(payload.encode()))
        viewer = Viewer(
            str(data["e"]), str(data["r"]), datetime.fromtimestamp(int(data["x"]), tz=now.tzinfo)
        )
    except (ValueError, KeyError, TypeError):
        return None
    if viewer.role not in ROLES or viewer.expires_at <= now:
        return None
    return viewer


def set_cookie(response: web.StreamResponse, request: web.Request, viewer: Viewer) -> None:
    settings = request.app[keys.SETTINGS]
    response.set_cookie(
        COOKIE,
        cookie_value(settings.require_secret_key(), viewer),
        httponly=True,
        samesite="Lax",
        secure=settings.base_url.startswith("https://"),
        path="/",
        max_age=int(SESSION_LIFETIME.total_seconds()),
    )


def viewer_of(request: web.Request, slug: str) -> Viewer | None:
    """The signed-in viewer of this event, or None."""
    value = request.cookies.get(COOKIE)
    if not value:
        return None
    app = request.app
    viewer = read_cookie(app[keys.SETTINGS].require_secret_key(), value, app[keys.CLOCK].now())
    return viewer if viewer is not None and viewer.event == slug else None
