"""Signing in to the organisers' pages as a person does: a one-time link made as `rdv login-link`
makes it, then the button of the page it opens (a POST to the same address)."""

from __future__ import annotations

from typing import Any

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

from orchestrator.signin import create_link

from .service import ManualClock

BASE = "http://rdv.test"


async def login_path(
    db: Any, clock: ManualClock, slug: str, role: str = "organiser", base_url: str = BASE
) -> str:
    """A fresh link's path (`/login/…`), as `rdv login-link` would print it under `base_url`."""
    async with db() as session, session.begin():
        url = await create_link(session, slug=slug, role=role, now=clock.now(), base_url=base_url)
    return url.removeprefix(base_url)


async def sign_in(
    client: TestClient[Any, Any],
    db: Any,
    clock: ManualClock,
    slug: str,
    role: str = "organiser",
    **headers: str,
) -> ClientResponse:
    """Presses the sign-in button of a fresh link's page; the answer (303 and the cookie)."""
    path = await login_path(db, clock, slug, role)
    return await client.post(path, allow_redirects=False, headers=headers)
