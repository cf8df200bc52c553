"""Who is looking at an organiser page: a signed session cookie scoped to one event and one role
(organisers act, followups only read), set when a one-time sign-in link is used."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from aiohttp import web

from .. import appkeys
from ..tokens import ROLES, derive_key, moment

COOKIE = "rdv_session"
SESSION_LIFETIME = timedelta(hours=12)


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is looking: the event they signed in to, and whether they may act."""

    event: str
    role: str
    expires_at: datetime
    name: str = ""  # who the sign-in link was made for (the audit log names them)

    @property
    def can_act(self) -> bool:
        return self.role == "organiser"


def _sign(secret: str, payload: bytes) -> str:
    return hmac.new(derive_key(secret, "session-cookie"), payload, hashlib.sha256).hexdigest()


def cookie_value(secret: str, viewer: Viewer) -> str:
    payload = base64.urlsafe_b64encode(
        json.dumps(
            {
                "e": viewer.event,
                "r": viewer.role,
                "x": int(viewer.expires_at.timestamp()),
                "n": viewer.name,
            }
        ).encode()
    ).decode()
    return f"{payload}.{_sign(secret, payload.encode())}"


def read_cookie(secret: str, value: str, now: datetime) -> Viewer | None:
    payload, _, signature = value.partition(".")
    if not hmac.compare_digest(_sign(secret, payload.encode()), signature):
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(payload.encode()))
        event, role, expires_at = str(data["e"]), str(data["r"]), moment(int(data["x"]), now.tzinfo)
        name = str(data.get("n", ""))
    except (ValueError, KeyError, TypeError):
        return None
    if role not in ROLES or expires_at is None or expires_at <= now:
        return None
    return Viewer(event, role, expires_at, name)


def set_cookie(response: web.StreamResponse, request: web.Request, viewer: Viewer) -> None:
    settings = request.app[appkeys.SETTINGS]
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
    viewer = read_cookie(
        app[appkeys.SETTINGS].require_secret_key(), value, app[appkeys.CLOCK].now()
    )
    return viewer if viewer is not None and viewer.event == slug else None


def csrf_token(request: web.Request) -> str:
    """The token every changing form of the workspace carries: bound to the sign-in cookie, so a
    page of another site (which cannot read the cookie) cannot make one."""
    value = request.cookies.get(COOKIE, "")
    secret = request.app[appkeys.SETTINGS].require_secret_key()
    return hmac.new(derive_key(secret, "csrf"), value.encode(), hashlib.sha256).hexdigest()


def csrf_ok(request: web.Request, given: object) -> bool:
    return (
        COOKIE in request.cookies
        and isinstance(given, str)
        and hmac.compare_digest(csrf_token(request), given)
    )
