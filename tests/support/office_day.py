"""What the Teams and Meet attendance tests share: the service at an address the provider
calls back (Graph's handshake and notifications, Pub/Sub's pushes), and the moves of their day
(small_program's m1, Chloé × Ana, and m2, Eve × Ben, at 10:30 in Paris)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from orchestrator import appkeys
from orchestrator.app import create_app
from orchestrator.settings import Settings

from .service import Api, ManualClock, small_program

SLUG = "meet-the-buyers"
START = datetime(2021, 4, 8, 8, 30, tzinfo=UTC)
END = START + timedelta(minutes=30)
GRACE = timedelta(minutes=10)  # RDV_CLOSE_GRACE


def at(minutes: float) -> datetime:
    """`minutes` after m1 and m2 start."""
    return START + timedelta(minutes=minutes)


async def service_at(
    port: int,
    settings: Settings,
    *,
    aiohttp_client: Any,
    clock: ManualClock,
    token: Callable[..., str],
) -> Api:
    """The service listening on `port` (`settings.public_url` names it)."""
    app = create_app(settings, clock=clock, migrate=False, background=False)
    return Api(await aiohttp_client(app, server_kwargs={"port": port}), token)


def app_of(api: Api) -> web.Application:
    app = api.client.app
    assert app is not None
    return app


async def provision(api: Api, clock: ManualClock, moment: datetime) -> None:
    """The clock moves to `moment`; the lifecycle opens (or closes) what is due, and the pass of
    subscriptions follows the open rooms."""
    clock.set(moment)
    app = app_of(api)
    assert (await app[appkeys.LIFECYCLE].reconcile()).failed == 0
    await app[appkeys.FOLLOWER].follow()


def program_on(provider: str, **m1: Any) -> dict[str, Any]:
    """small_program on `provider`, m1 changed as given."""
    program = small_program()
    program["event"]["provider"] = provider
    for session in program["sessions"]:
        if session["key"] == "m1":
            session.update(m1)
    return program


async def attendance(api: Api) -> dict[tuple[str, str], dict[str, Any]]:
    """The attendance log by (session, name)."""
    response = await api.client.get(f"/api/v1/events/{SLUG}/attendance", headers=api.headers(SLUG))
    assert response.status == 200, await response.text()
    rows = (await response.json())["attendance"]
    return {(row["session"], row["name"]): row for row in rows}
