"""Whether the pools of accounts that hold meetings can hold a program's meetings: the Zoom host
users (`RDV_ZOOM_HOSTS`) and the Teams organisers (`RDV_TEAMS_ORGANISERS`, held the same way, one
meeting at a time, which also keeps each under Graph's monthly count of meetings per user).

A Zoom user hosts one meeting at a time: people joining a second meeting of a busy host are told
"the host has another meeting in progress". A meeting holds its
host from when our links let people in (`RDV_JOIN_EARLY` before the start) until its room is
deleted (`RDV_CLOSE_GRACE` after the end), so back-to-back meetings need different hosts, and an
import that needs more hosts at once than the pool holds is refused before any room exists. The
pool is shared by every event of the service.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..db import models as m
from ..settings import Settings
from .fields import span
from .model import Program

ZOOM = "zoom"
Span = tuple[datetime, datetime]


@dataclass(frozen=True, slots=True)
class Pool:
    """One provider's pool: its setting, what the accounts are called, and how many meetings each
    may create per UTC day (None: no such limit)."""

    provider: str
    setting: str
    label: str  # the provider as people name it
    account: str  # what one account of the pool is called
    daily_limit: int | None

    @property
    def variable(self) -> str:
        return "RDV_" + self.setting.upper()

    def accounts(self, settings: Settings) -> tuple[str, ...]:
        found: tuple[str, ...] = getattr(settings, self.setting)
        return found


POOLS = {
    ZOOM: Pool(ZOOM, "zoom_hosts", "Zoom", "host", 100),
    "teams": Pool("teams", "teams_organisers", "Teams", "organiser", None),
}


def busy(starts_at: datetime, ends_at: datetime, settings: Settings) -> Span:
    """When a Zoom meeting of this session holds its host."""
    return starts_at - settings.join_early, ends_at + settings.close_grace


def peak(spans: Iterable[Span]) -> tuple[int, datetime | None]:
    """The most spans open at once, and when that was first reached; spans that only touch
    (one ends as the next starts) do not overlap."""
    edges: list[tuple[datetime, int]] = []
    for start, end in spans:
        edges += [(start, 1), (end, -1)]
    edges.sort()  # at one instant, -1 sorts before +1: a meeting ends before the next begins
    best, when, current = 0, None, 0
    for moment, step in edges:
        current += step
        if current > best:
            best, when = current, moment
    return best, when


def pool_problem(
    program: Program,
    settings: Settings,
    *,
    others: Iterable[tuple[Span, str]] = (),
    pool: Pool = POOLS[ZOOM],
) -> str | None:
    """Why the pool cannot host this program's Zoom sessions, or None. `others` are the spans of
    the other events' live Zoom meetings, each with its event's slug: the refusal names the
    events that hold hosts at the busiest moment. The daily quota is left to `assign`: a host
    holding one meeting at a time, each for 20 minutes beyond its length by default, is not
    given 100 in a day by an import, but retries and other apps on the same users spend it too."""

    def provider(spec_provider: str | None) -> str:
        return spec_provider or program.event.provider or settings.default_provider

    sessions = [s for s in program.sessions if provider(s.provider) == pool.provider]
    if not sessions:
        return None
    size = len(pool.accounts(settings))
    theirs = list(others)
    ours = [busy(s.starts_at, s.ends_at, settings) for s in sessions]
    needed, when = peak([*ours, *(found for found, _ in theirs)])
    if needed <= size or when is None:
        return None
    local = when.astimezone(ZoneInfo(program.event.timezone))
    one = pool.account
    problem = (
        f"{needed} {pool.label} meetings are open at once at {local:%Y-%m-%d %H:%M} (a meeting "
        f"holds its {one} from {span(settings.join_early)} before its start to "
        f"{span(settings.close_grace)} after its end, and a {one} holds one meeting at a time), "
        f"but {pool.variable} has {size} {one}{'s' if size != 1 else ''}: "
        f"{needed} {one}s are needed"
    )
    holders = Counter(slug for (start, end), slug in theirs if start <= when < end)
    if holders:
        named = ", ".join(f'"{slug}" ({count})' for slug, count in sorted(holders.items()))
        problem += f"; at that moment other events hold {one}s: {named}"
    return problem


async def check_program(db: AsyncSession, program: Program, settings: Settings) -> str | None:
    """`pool_problem` of each pool, counting the live meetings of the other events too (a pool
    is shared); the program's own event is replaced by the program, so it is left out."""
    for pool in POOLS.values():
        rows = await db.execute(
            select(m.Session.starts_at, m.Session.ends_at, m.Event.slug)
            .join(m.Room, m.Room.session_id == m.Session.id)
            .join(m.Event, m.Event.id == m.Session.event_id)
            .where(
                m.Event.slug != program.event.slug,
                m.Session.cancelled_at.is_(None),
                or_(m.Room.provider == pool.provider, m.Room.provisioned_with == pool.provider),
                m.Room.state.not_in(("ended", "cancelled")),
            )
        )
        others = [(busy(start, end, settings), slug) for start, end, slug in rows]
        problem = pool_problem(program, settings, others=others, pool=pool)
        if problem:
            return problem
    return None
