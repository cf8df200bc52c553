"""Every typed application key, in one place."""

from __future__ import annotations

import aiohttp
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from calendars.text import Writer

from .api.ratelimit import RateLimiter
from .attendance.following import RoomFollower
from .attendance.naming import ParticipantNamer
from .attendance.polling import RoomPoller
from .attendance.reports import ReportReader
from .clock import Clock
from .dashboard.feed import Feed
from .dashboard.snapshots import Snapshots
from .mail.compose import Composers
from .mail.inbound import ReplyReader
from .mail.invites import InviteComposer
from .mail.outbox import OutboxSender
from .mail.reminders import Reminders
from .metrics import Metrics
from .outbound.sender import WebhookSender
from .pages import Pages
from .participants.clicks import ClickLog
from .program.refill import AutoRefill
from .providers import ProviderRegistry
from .replays.recordings import RecordingArchiver
from .rooms.lifecycle import RoomLifecycle
from .rooms.timers import LifecycleTimers
from .settings import Settings
from .workspace.actions import Workspace
from .workspace.program import Uploads
from .workspace.runs import SchedulingRuns

SETTINGS = web.AppKey("settings", Settings)
CLOCK = web.AppKey("clock", Clock)
ENGINE = web.AppKey("engine", AsyncEngine)
DB = web.AppKey("db", async_sessionmaker[AsyncSession])
READS = web.AppKey("reads", async_sessionmaker[AsyncSession])  # db.engine.reads_factory
WRITER = web.AppKey("writer", Writer)
INVITES = web.AppKey("invites", InviteComposer)
OUTBOX = web.AppKey("outbox", OutboxSender)
WEBHOOKS_OUT = web.AppKey("webhooks_out", WebhookSender)
WORKSPACE = web.AppKey("workspace", Workspace)
UPLOADS = web.AppKey("uploads", Uploads)
PAGES = web.AppKey("pages", Pages)
HTTP = web.AppKey("http", aiohttp.ClientSession)
PROVIDERS = web.AppKey("providers", ProviderRegistry)
LIFECYCLE = web.AppKey("lifecycle", RoomLifecycle)
POLLER = web.AppKey("poller", RoomPoller)
FOLLOWER = web.AppKey("follower", RoomFollower)
REPORTS = web.AppKey("reports", ReportReader)
NAMER = web.AppKey("namer", ParticipantNamer)
RUNS = web.AppKey("runs", SchedulingRuns)
FEED = web.AppKey("feed", Feed)
CLICKS = web.AppKey("clicks", ClickLog)
SNAPSHOTS = web.AppKey("snapshots", Snapshots)
ARCHIVER = web.AppKey("archiver", RecordingArchiver)
REMINDERS = web.AppKey("reminders", Reminders)
REPLIES: web.AppKey[ReplyReader | None] = web.AppKey("replies")  # None without a reply mailbox
COMPOSERS = web.AppKey("composers", Composers)
REFILL = web.AppKey("refill", AutoRefill)  # meetings declined ahead re-filled, "refill": "auto"
METRICS = web.AppKey("metrics", Metrics)
LIMITER = web.AppKey("limiter", RateLimiter)
TIMERS: web.AppKey[LifecycleTimers | None] = web.AppKey("timers")
