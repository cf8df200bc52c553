"""Bearer-token checks for `/api/`: 401 when the token is missing or bad, 403 when it is for
another event or may only read."""

from __future__ import annotations

from aiohttp import web

from .. import appkeys
from ..program.audit import Author
from ..tokens import Grant, TokenRejected, verify_api_token
from .errors import ApiError

_CHALLENGE = 'Bearer realm="rdv"'


def author(request: web.Request, source: str = "api") -> Author:
    """Who is changing something through the API (the route checked the token already): the
    subject the token was made for (`rdv token --as`, else "role@event")."""
    grant = require_grant(request, request.match_info["slug"], write=True)
    return Author(grant.subject or f"{grant.role}@{grant.event}", source)


def require_grant(request: web.Request, slug: str, *, write: bool = False) -> Grant:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(
            401,
            "missing bearer token: send Authorization: Bearer <token> (see `rdv token`)",
            headers={"WWW-Authenticate": _CHALLENGE},
        )
    app = request.app
    secret = app[appkeys.SETTINGS].require_secret_key()
    try:
        grant = verify_api_token(secret, token.strip(), now=app[appkeys.CLOCK].now())
    except TokenRejected as error:
        raise ApiError(
            401, str(error), headers={"WWW-Authenticate": f'{_CHALLENGE}, error="invalid_token"'}
        ) from None
    if grant.event != slug:
        raise ApiError(403, f'this token is for another event, not "{slug}"')
    if write and not grant.can_write:
        raise ApiError(403, f"a {grant.role} token can only read")
    return grant
