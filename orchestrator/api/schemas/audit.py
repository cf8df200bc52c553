"""The audit log as the API answers it."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, UnsetType

from .common import DateTime, Model, Query

Source = Literal["workspace", "api", "cli", "scheduler", "agenda"]
EntryId = Annotated[int, msgspec.Meta(ge=1)]


class AuditQuery(Query):
    before: EntryId | UnsetType = UNSET  # the page of entries older than this one


class AuditEntry(Model):
    id: int
    at: DateTime
    actor: str
    source: Source
    action: str
    subject: str
    details: dict[str, Any]


class Audit(Model):
    """Newest first; `next` is the `before` of the following page, null on the last one."""

    entries: list[AuditEntry]
    next: int | None
