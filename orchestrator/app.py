"""The app factory: builds the service from settings and wires every resource in `cleanup_ctx`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
from aiohttp import web

from calendars.i18n import Catalogues
from calendars.text import Writer
from calendars.transport import parse_mail_url, transport_for
from integrations.base import NotConfigured
from integrations.events import Delivery
from webhooks.door import Closed, Door, Verifier
from webhooks.door import routes as webhook_routes

from . import appkeys
from .api.crosssite import same_site_only
from .api.errors import error_middleware
from .api.ratelimit import RateLimiter, rate_limited
from .api.tables import ROUTE_TABLES
from .attendance.following import RoomFollower
from .attendance.inbox import EventInbox
from .attendance.naming import ParticipantNamer
from .attendance.polling import REGISTER_EVERY, RoomPoller
from .attendance.reports import ReportReader
from .attendance.retention import PURGE_EVERY, purge_once
from .clock import Clock, SystemClock
from .dashboard.feed import PRUNE_EVERY, TICK_EVERY, Feed
from .dashboard.snapshots import Snapshots
from .db.engine import create_engine, is_sqlite, reads_factory, session_factory
from .db.migrate import upgrade
from .inbound_url import parse_lmtp_url
from .mail.compose import Composers
from .mail.declines import DeclineNotices
from .mail.inbound import ReplyReader
from .mail.invites import InviteComposer
from .mail.lmtp import LmtpDoor
from .mail.outbox import OutboxSender
from .mail.outcome_questions import OutcomeQuestions
from .mail.reminders import Reminders
from .mail.request_notices import RequestReminders
from .metrics import Metrics
from .outbound.sender import WebhookSender
from .pages import Pages
from .participants.clicks import ClickLog
from .periodic import Periodic
from .program.audit import Author, hooks, recorder
from .program.refill import AutoRefill
from .providers import ProviderRegistry, halfway, no_webhooks
from .replays.recordings import ARCHIVE_EVERY, RecordingArchiver
from .rooms.entry import organisers_can_open
from .rooms.lifecycle import RoomLifecycle
from .rooms.timers import LifecycleTimers
from .settings import Settings
from .workspace.actions import Workspace
from .workspace.program import Uploads
from .workspace.runs import SchedulingRuns

log = logging.getLogger("rdv")
AUTO_REFILL = Author("rdv, after a decline (refill: auto)", "scheduler")
# aiohttp's own cap; routes apply tighter limits of their own while reading.
MAX_BODY = 33 * 1024 * 1024
STATIC = Path(__file__).with_name("static")
JANUS_JS = Path("/usr/share/javascript/janus-gateway")


def verifier(app: web.Application, name: str) -> Verifier | Closed:
    """The webhook check of a configured provider that takes webhooks, or why there is none."""
    settings = app[appkeys.SETTINGS]
    try:
        provider = app[appkeys.PROVIDERS].get(name)
    except NotConfigured:
        return Closed(no_webhooks(settings, name))
    if not provider.can_receive_webhooks:
        return Closed(no_webhooks(settings, name))
    return provider.verify_webhook


def accepted_webhook(app: web.Application, provider: str, delivery: Delivery) -> None:
    app[appkeys.METRICS].accepted(
        provider, [event.at for event in delivery.events], app[appkeys.CLOCK].now()
    )
    app[appkeys.FEED].wake_soon()
    app[appkeys.NAMER].want(provider, delivery)


async def _stopped(task: asyncio.Task[None] | None) -> None:
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    migrate: bool = True,
    background: bool = True,
) -> web.Application:
    """The service; `background=False` leaves the loops (mail sender, timers) to the caller,
    which tests use to drive them step by step."""
    clock = clock or SystemClock()
    metrics, catalogues = Metrics(), Catalogues()
    pages = Pages(catalogues)
    limiter = RateLimiter(clock.now)
    app = web.Application(
        middlewares=[
            error_middleware,
            same_site_only(settings.base_url, pages),
            rate_limited(limiter, metrics, pages),
        ],
        client_max_size=MAX_BODY,
    )
    app[appkeys.SETTINGS] = settings
    app[appkeys.CLOCK] = clock
    app[appkeys.METRICS] = metrics
    app[appkeys.LIMITER] = limiter
    app[appkeys.WRITER] = Writer(catalogues)
    app[appkeys.PAGES] = pages
    app[appkeys.INVITES] = InviteComposer(settings, app[appkeys.WRITER])
    app[appkeys.RUNS] = SchedulingRuns()
    mail_target = parse_mail_url(settings.mail_url)

    async def database(app: web.Application) -> AsyncIterator[None]:
        engine = create_engine(settings.database_url)
        if migrate:
            await upgrade(engine)
        app[appkeys.ENGINE] = engine
        app[appkeys.DB] = session_factory(engine)
        app[appkeys.READS] = reads_factory(engine)
        app[appkeys.WORKSPACE] = Workspace(app[appkeys.DB], settings, app[appkeys.INVITES])
        app[appkeys.UPLOADS] = Uploads(app[appkeys.DB], settings, app[appkeys.INVITES])
        app[appkeys.FEED] = Feed(app[appkeys.DB], app[appkeys.CLOCK], settings.marks)
        app[appkeys.CLICKS] = ClickLog(app[appkeys.DB])
        app[appkeys.SNAPSHOTS] = Snapshots(
            app[appkeys.DB],
            app[appkeys.FEED],
            app[appkeys.PAGES],
            settings,
            app[appkeys.CLOCK],
            openable=lambda name: organisers_can_open(app[appkeys.PROVIDERS], name),
        )
        yield
        await engine.dispose()

    async def outbox(app: web.Application) -> AsyncIterator[None]:
        transport = transport_for(mail_target)
        app[appkeys.REMINDERS] = Reminders(
            app[appkeys.DB], app[appkeys.CLOCK], settings, app[appkeys.WRITER]
        )
        declines = DeclineNotices(settings, app[appkeys.WRITER])
        app[appkeys.COMPOSERS] = Composers([app[appkeys.INVITES], app[appkeys.REMINDERS], declines])
        sender = OutboxSender(
            app[appkeys.DB], transport, app[appkeys.CLOCK], app[appkeys.COMPOSERS]
        )
        app[appkeys.OUTBOX] = sender

        def refilled() -> None:  # meetings declined ahead were replaced: invites, rooms
            app[appkeys.FEED].wake_soon()
            sender.wake()
            timers = app.get(appkeys.TIMERS)
            if timers is not None:
                timers.poke()

        app[appkeys.REFILL] = refill = AutoRefill(
            app[appkeys.DB],
            settings,
            app[appkeys.CLOCK].now,
            hooks(app[appkeys.INVITES].queue, recorder(AUTO_REFILL, "refill")),
            refilled,
        )

        def replied(event_id: int, declined: bool, mail_queued: bool) -> None:
            """A calendar reply changed a seat's answer."""
            app[appkeys.FEED].wake_soon()
            if mail_queued:
                sender.wake()
            if declined:
                refill.soon(event_id)

        app[appkeys.REPLIES] = (
            ReplyReader(
                app[appkeys.DB],
                settings,
                app[appkeys.CLOCK].now,
                replied,
                lambda outcome: app[appkeys.METRICS].calendar_replies.labels(outcome).inc(),
            )
            if settings.inbound_mail_url
            else None
        )
        if background and is_sqlite(app[appkeys.ENGINE]):  # the only instance: nothing is sending
            await sender.recover()
        task = asyncio.create_task(sender.run()) if background else None
        yield
        await refill.settle()
        await _stopped(task)
        await transport.aclose()

    async def webhooks_out(app: web.Application) -> AsyncIterator[None]:
        """The outbound webhooks' sender: like the mail's, with a loop of its own."""
        sender = WebhookSender(
            app[appkeys.DB], app[appkeys.CLOCK], allow_private=settings.webhook_allow_private
        )
        app[appkeys.WEBHOOKS_OUT] = sender
        if background and is_sqlite(app[appkeys.ENGINE]):
            await sender.recover()
        task = asyncio.create_task(sender.run()) if background else None
        yield
        await _stopped(task)
        await sender.close()

    async def rooms_lifecycle(app: web.Application) -> AsyncIterator[None]:
        for reason in halfway(settings).values():
            log.warning("%s", reason)
        async with aiohttp.ClientSession() as http:
            app[appkeys.HTTP] = http
            app[appkeys.PROVIDERS] = ProviderRegistry(settings, http, app[appkeys.METRICS])
            lifecycle = RoomLifecycle(
                app[appkeys.DB], app[appkeys.PROVIDERS], app[appkeys.CLOCK], settings
            )
            app[appkeys.LIFECYCLE] = lifecycle
            app[appkeys.ARCHIVER] = RecordingArchiver(
                app[appkeys.DB],
                app[appkeys.PROVIDERS],
                app[appkeys.CLOCK],
                settings,
                app[appkeys.WRITER],
            )
            app[appkeys.POLLER] = RoomPoller(
                app[appkeys.DB], app[appkeys.PROVIDERS], app[appkeys.CLOCK], settings
            )
            app[appkeys.FOLLOWER] = RoomFollower(
                app[appkeys.DB], app[appkeys.PROVIDERS], app[appkeys.CLOCK], settings
            )
            app[appkeys.REPORTS] = ReportReader(
                app[appkeys.DB], app[appkeys.PROVIDERS], app[appkeys.CLOCK]
            )
            namer = ParticipantNamer(app[appkeys.DB], app[appkeys.PROVIDERS], app[appkeys.CLOCK])
            app[appkeys.NAMER] = namer
            naming = asyncio.create_task(namer.run()) if background else None
            yield
            await _stopped(naming)
            await app[appkeys.PROVIDERS].close()

    async def background_work(app: web.Application) -> AsyncIterator[None]:
        """Every periodic task, on the one scheduler (`background=False`: the tests drive them)."""
        if not background:
            app[appkeys.TIMERS] = None
            yield
            return
        db, clock, feed = app[appkeys.DB], app[appkeys.CLOCK], app[appkeys.FEED]
        periodic = Periodic(clock, app[appkeys.METRICS])
        timers = LifecycleTimers(
            periodic,
            app[appkeys.LIFECYCLE],
            app[appkeys.REMINDERS],
            on_queued=app[appkeys.OUTBOX].wake,
        )
        sqlite = is_sqlite(app[appkeys.ENGINE])
        if sqlite:  # SQLite runs one instance: nothing else is working on the rooms
            log.info("SQLite: this must be the only instance; use PostgreSQL for more")
            await app[appkeys.LIFECYCLE].recover()
        timers.start()
        poller = app[appkeys.POLLER]
        periodic.every("poll", settings.poll_interval, poller.poll_once)
        periodic.every("register-webhooks", REGISTER_EVERY, poller.register_once)
        periodic.every("follow-rooms", settings.poll_interval, app[appkeys.FOLLOWER].follow_once)
        periodic.every("read-reports", settings.poll_interval, app[appkeys.REPORTS].read_once)
        periodic.every("dashboard-tick", TICK_EVERY, feed.tick)
        periodic.every("dashboard-prune", PRUNE_EVERY, feed.prune)
        periodic.every("archive-recordings", ARCHIVE_EVERY, app[appkeys.ARCHIVER].run_once)
        reminders = RequestReminders(db, clock.now, settings, app[appkeys.WRITER])
        periodic.every("request-reminders", settings.poll_interval, reminders.queue_due)
        questions = OutcomeQuestions(db, clock.now, settings, app[appkeys.WRITER])
        periodic.every("outcome-questions", settings.poll_interval, questions.queue_due)
        replies = app[appkeys.REPLIES]
        if replies is not None and replies.mailbox is not None:
            periodic.every("read-replies", settings.poll_interval, replies.read_once)
        periodic.every(
            "purge-deliveries", PURGE_EVERY, lambda: purge_once(db, clock, settings.raw_retention)
        )
        outbound = app[appkeys.WEBHOOKS_OUT]
        periodic.every(
            "forget-webhooks", PURGE_EVERY, lambda: outbound.forget_old(settings.raw_retention)
        )
        if not sqlite:  # dashboards follow the updates other instances write
            periodic.forever("dashboard-listen", lambda: feed.listen(app[appkeys.ENGINE]))
        periodic.start()
        app[appkeys.TIMERS] = timers
        yield
        await periodic.shutdown()

    async def replies_door(app: web.Application) -> AsyncIterator[None]:
        """With `lmtp://`, the mail server delivers replies to rdv: a listener, like the HTTP one
        (open even with `background=False`, so the tests deliver to it)."""
        replies = app[appkeys.REPLIES]
        if replies is None or replies.mailbox is not None:
            yield
            return
        door = LmtpDoor(parse_lmtp_url(str(settings.inbound_mail_url)), replies.handle)
        await door.open()
        yield
        await door.close()

    async def end_streams(app: web.Application) -> None:
        await app[appkeys.FEED].close()
        await app[appkeys.RUNS].close()  # before the database they write to closes

    app.on_shutdown.append(end_streams)
    app.cleanup_ctx.extend(
        [database, outbox, webhooks_out, rooms_lifecycle, background_work, replies_door]
    )
    door = Door(
        verifier_for=lambda name: verifier(app, name),
        inbox=EventInbox(lambda: app[appkeys.DB]()),
        now=lambda: app[appkeys.CLOCK].now(),
        public_url=settings.base_url,
        on_accepted=lambda provider, accepted, delivery: accepted_webhook(app, provider, delivery),
        on_refused=lambda provider, outcome: app[appkeys.METRICS].rejected(provider, outcome),
    )
    for table in (*ROUTE_TABLES, webhook_routes(door)):
        app.router.add_routes(table)
    app.router.add_static("/static/", STATIC)
    if JANUS_JS.is_dir():  # Debian's libjs-janus-gateway, for the Janus join page
        app.router.add_static("/vendor/janus/", JANUS_JS)
    return app
