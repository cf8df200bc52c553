"""Prometheus metrics (`GET /metrics`), on a registry of the app's own (no global state): webhooks
accepted and rejected, how late events arrive, the outbox, rooms by state, provider calls, open
dashboard streams, requests the rate limit refused, and background tasks that failed."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from integrations.base import (
    Attendance,
    JoinPage,
    JoinRequest,
    Participant,
    ProviderError,
    Recording,
    Room,
    RoomRequest,
    VideoProvider,
)
from integrations.events import Delivery, WebhookRequest

T = TypeVar("T")


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.webhooks = Counter(
            "rdv_webhooks",
            "Webhook deliveries by provider and outcome",
            ["provider", "outcome"],
            registry=self.registry,
        )
        self.event_delay = Histogram(
            "rdv_webhook_event_delay_seconds",
            "From an event's own time to its arrival",
            ["provider"],
            registry=self.registry,
            buckets=(0.5, 1, 2, 5, 10, 30, 60, 300, 1800, 3600),
        )
        self.outbox = Gauge(
            "rdv_outbox_messages", "Mail messages by state", ["state"], registry=self.registry
        )
        self.mail_plans = Gauge(
            "rdv_outbox_plans",
            "Changes whose mail the sender has yet to turn into messages",
            registry=self.registry,
        )
        self.rooms = Gauge("rdv_rooms", "Rooms by state", ["state"], registry=self.registry)
        self.provider_calls = Histogram(
            "rdv_provider_call_seconds",
            "Provider calls by provider and call",
            ["provider", "call"],
            registry=self.registry,
        )
        self.provider_errors = Counter(
            "rdv_provider_errors",
            "Provider calls that failed",
            ["provider", "call", "kind"],
            registry=self.registry,
        )
        self.streams = Gauge(
            "rdv_dashboard_streams", "Open dashboard event streams", registry=self.registry
        )
        self.rate_limited = Counter(
            "rdv_rate_limited",
            "Requests for personal and sign-in links refused by the rate limit, by route",
            ["route"],
            registry=self.registry,
        )
        self.calendar_replies = Counter(
            "rdv_calendar_replies",
            "Mail read from the reply mailbox, by what it did (applied, unchanged, ignored: why)",
            ["outcome"],
            registry=self.registry,
        )
        self.task_failures = Counter(
            "rdv_task_failures",
            "Background task runs that failed, by task",
            ["task"],
            registry=self.registry,
        )

    def accepted(self, provider: str, events: Sequence[datetime], now: datetime) -> None:
        self.webhooks.labels(provider, "accepted").inc()
        for at in events:
            self.event_delay.labels(provider).observe(max((now - at).total_seconds(), 0.0))

    def rejected(self, provider: str, outcome: str) -> None:
        self.webhooks.labels(provider, outcome).inc()

    async def timed(self, provider: str, call: str, work: Awaitable[T]) -> T:
        started = time.perf_counter()
        try:
            return await work
        except ProviderError as error:
            self.provider_errors.labels(provider, call, type(error).__name__).inc()
            raise
        finally:
            self.provider_calls.labels(provider, call).observe(time.perf_counter() - started)


class Measured(VideoProvider):
    """A provider whose calls are timed and counted; everything else is the provider's own."""

    def __init__(self, inner: VideoProvider, metrics: Metrics) -> None:
        self.inner, self.metrics = inner, metrics
        self.name = inner.name  # type: ignore[misc]
        self.can_list_participants = inner.can_list_participants  # type: ignore[misc]
        self.can_record = inner.can_record  # type: ignore[misc]
        self.hosted_by_pool = inner.hosted_by_pool  # type: ignore[misc]
        self.has_own_client = inner.has_own_client  # type: ignore[misc]
        self.follows_rooms = inner.follows_rooms  # type: ignore[misc]
        self.reports_attendance = inner.reports_attendance  # type: ignore[misc]
        self.names_later = inner.names_later  # type: ignore[misc]
        self.can_receive_webhooks = inner.can_receive_webhooks
        self.recording_hosts = inner.recording_hosts

    async def create_room(self, request: RoomRequest) -> Room:
        return await self.metrics.timed(self.name, "create", self.inner.create_room(request))

    async def close_room(self, room: Room) -> None:
        await self.metrics.timed(self.name, "close", self.inner.close_room(room))

    async def join_url(self, join: JoinRequest, *, now: datetime) -> str:
        return await self.metrics.timed(self.name, "join", self.inner.join_url(join, now=now))

    def join_page_for(self, join: JoinRequest) -> JoinPage:
        return self.inner.join_page_for(join)

    async def list_participants(self, room: Room) -> Sequence[Participant]:
        return await self.metrics.timed(self.name, "list", self.inner.list_participants(room))

    async def recording(
        self, room: Room, details: Mapping[str, str], *, at: datetime
    ) -> Recording | None:
        return await self.metrics.timed(
            self.name, "recording", self.inner.recording(room, details, at=at)
        )

    async def follow(
        self,
        room: Room,
        callback_url: str,
        *,
        until: datetime,
        now: datetime,
        alarms: Sequence[str] = (),
    ) -> Mapping[str, Any] | None:
        return await self.metrics.timed(
            self.name,
            "follow",
            self.inner.follow(room, callback_url, until=until, now=now, alarms=alarms),
        )

    async def attendance_report(self, room: Room) -> Sequence[Attendance] | None:
        return await self.metrics.timed(self.name, "report", self.inner.attendance_report(room))

    async def who(self, details: Mapping[str, str]) -> Participant | None:
        return await self.metrics.timed(self.name, "who", self.inner.who(details))

    async def register_webhooks(self, callback_url: str) -> None:
        await self.metrics.timed(self.name, "register", self.inner.register_webhooks(callback_url))

    def verify_webhook(self, request: WebhookRequest) -> Delivery:
        return self.inner.verify_webhook(request)

    async def close(self) -> None:
        await self.inner.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
