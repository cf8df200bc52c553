"""The mail outbox as organisers see it."""

from __future__ import annotations

from typing import Literal

from msgspec import UNSET, UnsetType

from .common import DateTime, Model, Query

MailStatus = Literal["pending", "sending", "sent", "failed"]
MailKind = Literal["invitation", "update", "cancelled", "uninvited", "reminder", "replay"]


class MailQuery(Query):
    status: MailStatus | UnsetType = UNSET


class MailMessage(Model):
    id: int
    kind: MailKind
    session: str | None
    recipient: str
    subject: str
    status: MailStatus
    attempts: int
    next_attempt_at: DateTime | None
    last_error: str | None
    created_at: DateTime
    sent_at: DateTime | None


class MailCounts(Model):
    pending: int
    sending: int
    sent: int
    failed: int


class Outbox(Model):
    """Counts by state and the latest messages, newest first."""

    counts: MailCounts
    messages: list[MailMessage]
