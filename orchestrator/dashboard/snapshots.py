"""What every open stream of an event shares: the recent updates and one dashboard build.

A stream that read its updates and rebuilt the whole dashboard on its own made one webhook cost a
query and a build per open page: with 200 organisers watching, 200 of each. Now the newest
updates are read once into a tail that every stream reads from (refreshed when the feed says
something changed, and at least every second); a build is tagged with the newest update it
covers and reused by every stream it covers, one build at a time per event; the next one computes
again only the cards the updates since then name (a whole build comes after a program change, a
mail failure, or a minute); and each message is rendered and serialised once per kind of viewer,
then sent to every stream as the same bytes.
A stream far behind the tail (a page reconnecting after a long while) reads the database itself.
"""

from __future__ import annotations

import asyncio
import bisect
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..attendance.roster import Roster, roster
from ..clock import Clock
from ..db import models as m
from ..db.updates import Update
from ..pages import Pages
from ..settings import Settings
from ..turns import Turns
from .feed import Feed
from .view import Card, Dashboard, build, refresh


@dataclass
class Snapshot:
    """The dashboard as of update `upto`, with what has been rendered from it so far."""

    upto: int
    dashboard: Dashboard
    known: Roster  # who is expected where, as of the last whole build
    keys: dict[int, str]  # session id -> session key
    by_key: dict[str, Card]
    counters: str
    alerts: str
    built_at: float  # time.monotonic() of the last whole build it comes from
    cards: dict[tuple[str, bool], str] = field(default_factory=dict)
    # Per (update id, can act, with the counters): the card's key, the message's bytes.
    messages: dict[tuple[int, bool, bool], tuple[str | None, bytes]] = field(default_factory=dict)
    # Per (first update id, last update id, can act): the batch being rendered, while it is.
    rendering: dict[tuple[int, int, bool], asyncio.Future[bytes]] = field(default_factory=dict)
    made_at: float = field(default_factory=time.monotonic)
    took: float = 0.0  # seconds its build or refresh took, waits for the database included

    @property
    def next_at(self) -> float:
        """When the next refresh may start (time.monotonic())."""
        pause = min(REFRESH_AT_MOST, max(REFRESH_EVERY, REFRESH_SHARE * self.took))
        return self.made_at + pause


@dataclass
class Tail:
    """The newest updates of an event: those with `floor < id <= upto`, in order."""

    floor: int
    upto: int
    version: int
    read_at: float
    updates: list[Update]

    def after(self, last: int, limit: int | None = None) -> list[Update]:
        start = bisect.bisect_right(self.updates, last, key=lambda update: update.id)
        return self.updates[start : None if limit is None else start + limit]


TAIL_SIZE = 5000
TAIL_FRESH_SECONDS = 1.0
TAIL_RESTART_SECONDS = 60.0
BATCH = 1000
# Between whole builds, a snapshot follows the updates by refreshing only the cards they name;
# a whole build this often as well is a backstop for what no update names (a provider event
# stamped ahead of our clock counts only once that moment has passed).
WHOLE_BUILD_SECONDS = 60.0
# A refresh comes at most every REFRESH_EVERY seconds: the webhooks of a burst arrive a few
# milliseconds apart, and a refresh costs 10 to 40 ms whatever its size (the counters and alerts
# go over every card; 3,000 meetings, measured), so refreshing for every few of them took most of
# a core. And the next one waits ten times as long as the last one took (REFRESH_SHARE), at most
# REFRESH_AT_MOST: a server busy with a slot's start refreshes less often, and so keeps most of
# its time for the clicks and webhooks (a tenth of a loop that had spent a sixth on refreshes).
REFRESH_EVERY, REFRESH_SHARE, REFRESH_AT_MOST = 0.2, 10, 1.0


class Snapshots:
    """The latest build per event; the app factory makes one, the stream route uses it."""

    def __init__(
        self,
        db: Callable[[], AsyncSession],
        feed: Feed,
        pages: Pages,
        settings: Settings,
        clock: Clock,
        openable: Callable[[str], bool],
    ) -> None:
        """`openable` says whether organisers can open a provider's rooms from a card."""
        self.db, self.feed, self.pages, self.settings, self.clock = db, feed, pages, settings, clock
        self.openable = openable
        self._latest: dict[int, Snapshot] = {}
        self._building: dict[int, asyncio.Lock] = {}
        self._tails: dict[int, Tail] = {}
        self._reading: dict[int, asyncio.Lock] = {}

    async def since(self, event_id: int, last: int) -> list[Update]:
        """The updates after `last` (at most BATCH), from the shared tail when it holds them."""
        tail = await self._tail(event_id)
        if last < tail.floor:
            return list(await self.feed.since(event_id, last))
        return tail.after(last, BATCH)

    async def _tail(self, event_id: int) -> Tail:
        tail = self._tails.get(event_id)
        if tail is not None and self._fresh(tail):
            return tail
        async with self._reading.setdefault(event_id, asyncio.Lock()):
            tail = self._tails.get(event_id)
            if tail is not None and self._fresh(tail):  # read while this stream waited
                return tail
            version, read_at = self.feed.version, time.monotonic()  # before reading
            if tail is None or read_at - tail.read_at > TAIL_RESTART_SECONDS:
                # Nobody watched for a while: start again from the newest update.
                newest = await self.feed.latest(event_id)
                tail = Tail(newest, newest, version, read_at, [])
            else:
                added = list(await self.feed.since(event_id, tail.upto, limit=None))
                kept, floor = tail.updates + added, tail.floor
                if len(kept) > TAIL_SIZE:
                    floor, kept = kept[-TAIL_SIZE - 1].id, kept[-TAIL_SIZE:]
                tail = Tail(floor, kept[-1].id if kept else tail.upto, version, read_at, kept)
            self._tails[event_id] = tail
            return tail

    def _fresh(self, tail: Tail) -> bool:
        return (
            tail.version == self.feed.version
            and time.monotonic() - tail.read_at < TAIL_FRESH_SECONDS
        )

    async def covering(self, event: m.Event, upto: int) -> Snapshot:
        """A build that includes every update up to `upto`: the last one, or a new one."""
        found = self._latest.get(event.id)
        if found is not None and found.upto >= upto:
            return found
        async with self._building.setdefault(event.id, asyncio.Lock()):
            found = self._latest.get(event.id)
            if found is not None and found.upto >= upto:  # built while this stream waited
                return found
            if found is not None:  # what comes meanwhile is in the same refresh
                await asyncio.sleep(found.next_at - time.monotonic())
            began = time.monotonic()
            # The newest id, read before building: the build then covers at least that much. The
            # shared tail has just been read by the stream asking, most of the time.
            tail = self._tails.get(event.id)
            if tail is not None and tail.upto >= upto and self._fresh(tail):
                newest = tail.upto
            else:
                newest = max(await self.feed.latest(event.id), upto)
            snapshot = None
            if found is not None and time.monotonic() - found.built_at < WHOLE_BUILD_SECONDS:
                snapshot = await self._refresh(event, found, newest)
            if snapshot is None:
                snapshot = await self._build(event, newest)
            snapshot.took = snapshot.made_at - began
            self._latest[event.id] = snapshot
            return snapshot

    async def _build(self, event: m.Event, upto: int) -> Snapshot:
        async with self.db() as db:
            known = await roster(db, event)
            dashboard = await build(db, event, self.settings, self.clock.now(), known)
            rows = await db.execute(
                select(m.Session.id, m.Session.key).where(m.Session.event_id == event.id)
            )
            keys = {session_id: key for session_id, key in rows}
        return self._snapshot(event, upto, dashboard, known, keys, time.monotonic())

    async def _refresh(self, event: m.Event, found: Snapshot, upto: int) -> Snapshot | None:
        """`found` with the cards of the sessions updated since it was made computed again;
        None when an update names the whole event (mail, a new program) or a new session."""
        sessions = set()
        for update in await self._between(event.id, found.upto, upto):
            if update.session_id is None or update.session_id not in found.keys:
                return None
            sessions.add(update.session_id)
        async with self.db() as db:
            dashboard = await refresh(
                db, event, self.settings, self.clock.now(), found.dashboard, sessions, found.known
            )
        if dashboard is None:
            return None
        snapshot = self._snapshot(event, upto, dashboard, found.known, found.keys, found.built_at)
        changed = {found.keys[session_id] for session_id in sessions}
        snapshot.cards |= {key: html for key, html in found.cards.items() if key[0] not in changed}
        # A message whose card did not change is the same bytes: at a slot's start every card
        # changes at once, and twenty streams each rendered the same thousands of messages again
        # for every refresh the webhooks in between had made.
        tail = self._tails.get(event.id)
        floor = tail.floor if tail is not None else 0
        snapshot.messages |= {
            memo: message
            for memo, message in found.messages.items()
            if not memo[2] and memo[0] > floor and message[0] not in changed
        }
        return snapshot

    async def _between(self, event_id: int, last: int, upto: int) -> Sequence[Update]:
        """The updates after `last` up to `upto` at least: from the shared tail when it holds
        them all, or else from the database."""
        tail = self._tails.get(event_id)
        if tail is None or last < tail.floor or tail.upto < upto:
            return await self.feed.since(event_id, last, limit=None)
        return tail.after(last)

    def _snapshot(
        self,
        event: m.Event,
        upto: int,
        dashboard: Dashboard,
        known: Roster,
        keys: dict[int, str],
        built: float,
    ) -> Snapshot:
        fragment = self.pages.fragment
        return Snapshot(
            upto=upto,
            dashboard=dashboard,
            known=known,
            keys=keys,
            by_key={card.key: card for card in dashboard.cards},
            counters=fragment("_counters.html", event.locale, dashboard=dashboard),
            alerts=fragment("_alerts.html", event.locale, dashboard=dashboard),
            built_at=built,
        )

    async def messages(self, event: m.Event, updates: Sequence[Update], can_act: bool) -> bytes:
        """The SSE messages for `updates`, as one write. Counters and alerts ride on the last
        message only: each one would repeat them, and the page keeps the latest anyway. They are
        rendered in turns (turns.py), the loop free for other requests in between: at a slot's
        start every card changes, and rendering a BATCH of them in one go held it for 0.2 s.
        Streams that ask for the same batch while it is rendered wait for that one rendering: 20
        dashboards each rendering in turns at a slot's start made every turn of the loop 20
        slices long, and each click and webhook of that second waited that long at each step."""
        snapshot = await self.covering(event, updates[-1].id)
        key = (updates[0].id, updates[-1].id, can_act)
        rendering = snapshot.rendering.get(key)
        if rendering is None:
            rendering = asyncio.ensure_future(self._render(event, snapshot, updates, can_act))
            snapshot.rendering[key] = rendering
            rendering.add_done_callback(lambda _: snapshot.rendering.pop(key, None))
        # Shielded: a viewer who leaves must not cancel the rendering the others wait for.
        return await asyncio.shield(rendering)

    async def _render(
        self, event: m.Event, snapshot: Snapshot, updates: Sequence[Update], can_act: bool
    ) -> bytes:
        last, parts, turns = len(updates) - 1, [], Turns()
        for index, update in enumerate(updates):
            await turns.give()  # the other requests' turn, now and then
            parts.append(self._message(event, snapshot, update, can_act, index == last))
        return b"".join(parts)

    def _message(
        self, event: m.Event, snapshot: Snapshot, update: Update, can_act: bool, summary: bool
    ) -> bytes:
        memo = (update.id, can_act, summary)
        found = snapshot.messages.get(memo)
        if found is not None:
            return found[1]
        payload: dict[str, Any] = {"reason": update.reason}
        if summary:
            payload |= {"counters": snapshot.counters, "alerts": snapshot.alerts}
        key = snapshot.keys.get(update.session_id) if update.session_id else None
        card = self._card(event, snapshot, key, can_act) if key else None
        if card is not None:
            payload["card"] = {"key": key, "html": card}
        data = json.dumps(payload, ensure_ascii=False)
        message = f"id: {update.id}\nevent: update\ndata: {data}\n\n".encode()
        snapshot.messages[memo] = (key, message)
        return message

    def _card(self, event: m.Event, snapshot: Snapshot, key: str, can_act: bool) -> str | None:
        found = snapshot.cards.get((key, can_act))
        if found is None:
            card = snapshot.by_key.get(key)
            if card is None:  # a card the dashboard does not show (a cancelled session)
                return None
            found = self.pages.fragment(
                "_card.html",
                event.locale,
                card=card,
                can_act=can_act,
                openable=self.openable,
                dashboard=snapshot.dashboard,
            )
            snapshot.cards[(key, can_act)] = found
        return found
