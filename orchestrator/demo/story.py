"""The demo from start to end: the real app on the demo's clock, the shifted example imported
over the API, the organiser's sign-in link, the day played through the webhook endpoint, the
plenary's replay published, then the attendance and the key figures as the service reports them."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy import func, select

from calendars.transport import parse_mail_url

from .. import appkeys
from ..app import create_app
from ..db import models as m
from ..db.mail import MailMessage
from ..report.text import report_lines
from ..serve import running
from ..settings import Settings
from ..signin import create_link
from ..tokens import mint_api_token
from .clock import DemoClock
from .day import Day, load_day
from .jitsi import EventSync
from .play import play, steps
from .program import load_example, shifted
from .scenario import as_json, plan_day

SPEED = 60.0  # a second of the demo is a minute of the day
VAR = Path("var")
PLAN = VAR / "demo-plan.json"
ATTENDANCE = VAR / "attendance.csv"
REPLAY_URL = "https://youtu.be/q3Vd8KxLr2M"
CALL_TIMEOUT = aiohttp.ClientTimeout(total=30)  # each call the demo makes to its own server


class DemoFailed(Exception):
    """The service did not do what the demo waited for."""


class Api:
    """The service's own HTTP API, as the demo's organiser uses it."""

    def __init__(self, http: aiohttp.ClientSession, slug: str, token: str) -> None:
        self.http, self.base = http, f"/api/v1/events/{slug}"
        self.headers = {"Authorization": f"Bearer {token}"}

    async def call(self, method: str, path: str = "", *, body: Any = None) -> Any:
        """The JSON answer, or the bytes of any other."""
        async with self.http.request(
            method, self.base + path, json=body, headers=self.headers
        ) as response:
            if response.status >= 300:
                raise DemoFailed(f"{method} {self.base + path}: {await response.text()}")
            if response.content_type == "application/json":
                return await response.json()
            return await response.read()


async def tell(settings: Settings, sock: socket.socket, *, once: bool, stop: asyncio.Event) -> bool:
    """Serves the app while the day plays; False when Ctrl-C stopped the day before its end."""
    clock = DemoClock()
    app = create_app(settings, clock=clock)
    async with (
        running(app, settings, sock=sock),
        aiohttp.ClientSession(local_url(sock), timeout=CALL_TIMEOUT) as http,
    ):
        day = asyncio.create_task(_day(app, http, clock))
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({day, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if not day.done():  # the server stays up, so it stops as cleanly as `rdv serve`
            day.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await day
            return False
        day.result()
        if not once:
            print(f"\nStill serving the dashboard and the API on {settings.base_url}.")
            print("Stop with Ctrl-C.", flush=True)
            await stopped
        stopped.cancel()
    return True


async def _day(app: web.Application, http: aiohttp.ClientSession, clock: DemoClock) -> None:
    """The example imported, the organiser signed in, the day played, the outcome reported."""
    settings = app[appkeys.SETTINGS]
    slug = f"demo-{clock.now():%Y%m%d-%H%M%S}"  # a fresh event each run; earlier ones stay
    token = mint_api_token(
        settings.require_secret_key(),
        role="organiser",
        event=slug,
        ttl=timedelta(hours=12),
        now=clock.now(),
    )
    api = Api(http, slug, token)
    await api.call("PUT", "/program", body=shifted(load_example(), slug=slug, now=clock.now()))
    await _until(lambda: _rooms_ready(api), "the rooms to be provisioned")
    async with app[appkeys.DB]() as db:
        day = await load_day(db, slug)
    plan = plan_day(day, late_after=settings.late_after)
    played = as_json(plan, slug=slug, speed=SPEED)
    await asyncio.to_thread(_write, PLAN, json.dumps(played, indent=1, ensure_ascii=False))
    links = []
    async with app[appkeys.DB]() as db, db.begin():
        for _ in range(2):  # one for the dashboard, one for the workspace: each works once
            links.append(
                await create_link(
                    db,
                    slug=slug,
                    role="organiser",
                    now=clock.now(),
                    base_url=settings.base_url,
                    lifetime=plan.ends_at - clock.now() + timedelta(hours=1),  # a fast day
                    subject="demo organiser",
                )
            )
    links[1] += f"?next=/admin/{slug}/sessions"
    _introduce(day, settings, links, token, await _mail_by_kind(app, slug))
    jitsi = EventSync(http, "/webhooks/jitsi", settings.jitsi_webhook_secret or "")
    clock.set_speed(SPEED)
    waking = asyncio.create_task(_wake_lifecycle(app))
    try:
        await play(steps(plan, jitsi, _replay(api, day), clock, day.zone), clock, _say(day))
    finally:
        waking.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await waking
        clock.set_speed(1.0)
    await _until(lambda: _outbox_empty(api), "the outbox to empty")
    await _report(api, app, day)


def _say(day: Day) -> Callable[[datetime, str], None]:
    def say(at: datetime, text: str) -> None:
        print(f"{at.astimezone(day.zone):%H:%M}  {text}", flush=True)

    return say


def _replay(api: Api, day: Day) -> Callable[[], Awaitable[str]]:
    """Publishes the plenary's replay, as an organiser would once the video is online."""

    async def publish() -> str:
        done = await api.call(
            "POST",
            f"/sessions/{day.plenary.key}/replays",
            body={"url": REPLAY_URL, "title": day.plenary.title},
        )
        return (
            f"replay of the plenary published: {done['replay']['url']}; "
            f"replay mail queued for {done['replay_mail_queued']} people"
        )

    return publish


def local_url(sock: socket.socket) -> str:
    """Where the demo reaches the server it started, whatever the public URL says."""
    host, port = sock.getsockname()[:2]
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)  # noqa: S104
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _introduce(
    day: Day, settings: Settings, links: list[str], token: str, mail: Counter[str]
) -> None:
    meetings = day.meetings
    slots = sorted({s.starts_at for s in meetings})
    base = f"{settings.base_url}/api/v1/events/{day.slug}"

    def hhmm(moment: datetime) -> str:
        return f"{moment.astimezone(day.zone):%H:%M}"

    print(
        f'rdv demo: "{day.title}" shifted to today, as event {day.slug}\n'
        f"  {len(day.sittings)} sessions and {len(day.people)} people imported over the API; "
        f"{mail['invitation']} invitations queued for {parse_mail_url(settings.mail_url)}\n"
        f"  dashboard (one-time sign-in link): {links[0]}\n"
        f"  workspace, to move, cancel, resend (one-time sign-in link): {links[1]}\n"
        f"  API: curl -H 'Authorization: Bearer {token}' {base}/rooms\n"
        f"  the plan (who comes, late or not at all): {PLAN}\n"
        f"The day plays at {SPEED:.0f}x: a second here is a minute of the day. Plenary at "
        f"{hhmm(day.plenary.starts_at)}, then {len(meetings)} meetings in {len(slots)} slots "
        f"from {hhmm(slots[0])} to {hhmm(max(s.ends_at for s in meetings))}.\n",
        flush=True,
    )


async def _report(api: Api, app: web.Application, day: Day) -> None:

    rows = (await api.call("GET", "/attendance"))["attendance"]
    await asyncio.to_thread(_write, ATTENDANCE, await api.call("GET", "/attendance?format=csv"))
    figures = await api.call("GET", "/report")
    mail = await _mail_by_kind(app, day.slug)
    print(f"\nAttendance ({ATTENDANCE}):")
    for line in attendance_summary(rows, day.plenary.key):
        print(f"  {line}")
    print(
        f"  mail: {sum(mail.values())} messages sent to "
        f"{parse_mail_url(app[appkeys.SETTINGS].mail_url)} ("
        + ", ".join(f"{n} {kind}" for kind, n in sorted(mail.items()))
        + ")",
        flush=True,
    )
    print()
    print("\n".join(report_lines(figures["title"], figures)), flush=True)


def attendance_summary(rows: list[dict[str, Any]], plenary: str) -> list[str]:
    """One line for the plenary, one for the meetings: statuses of the expected, and stand-ins."""
    lines = []
    for label, rows_of in (
        ("plenary ", [r for r in rows if r["session"] == plenary]),
        ("meetings", [r for r in rows if r["session"] != plenary]),
    ):
        expected = [r for r in rows_of if r["role"] in ("attendee", "speaker")]
        statuses = Counter(r["status"] for r in expected)
        others = Counter(r["role"] for r in rows_of if r not in expected)
        line = f"{label}  {len(expected)} expected: " + ", ".join(
            f"{n} {status}" for status, n in statuses.most_common()
        )
        if others:
            line += "; " + ", ".join(f"{n} {role}" for role, n in others.items())
        lines.append(line)
    return lines


async def _wake_lifecycle(app: web.Application) -> None:
    """The service's timers count real seconds; on the demo's fast clock a pass every second
    (a minute of the day) keeps rooms and reminders on time."""
    timers = app[appkeys.TIMERS]
    while timers is not None:
        timers.poke()
        await asyncio.sleep(1.0)


async def _until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Asks `check` five times a second, for up to a minute."""
    for _ in range(300):
        if await check():
            return
        await asyncio.sleep(0.2)
    raise DemoFailed(f"gave up waiting for {what}")


def _write(path: Path, data: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)


async def _rooms_ready(api: Api) -> bool:
    rooms = (await api.call("GET", "/rooms"))["rooms"]
    return all(room["state"] == "ready" for room in rooms)


async def _outbox_empty(api: Api) -> bool:
    return bool((await api.call("GET", "/mail"))["counts"]["pending"] == 0)


async def _mail_by_kind(app: web.Application, slug: str) -> Counter[str]:
    async with app[appkeys.DB]() as db:
        rows = await db.execute(
            select(MailMessage.kind, func.count())
            .join(m.Event, m.Event.id == MailMessage.event_id)
            .where(m.Event.slug == slug)
            .group_by(MailMessage.kind)
        )
        return Counter({kind: count for kind, count in rows})
