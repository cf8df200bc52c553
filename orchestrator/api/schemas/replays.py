"""The replay archive: what it holds, and a link to add to it."""

from __future__ import annotations

from typing import Literal

from .common import DateTime, Model

ReplayKind = Literal["stream", "recording"]


class NewReplayLink(Model):
    """A replay link to archive (https only; YouTube links are made canonical)."""

    url: str
    title: str | None = None
    kind: ReplayKind = "stream"


class Replay(Model):
    id: int
    session: str
    url: str
    kind: ReplayKind
    title: str
    duration_seconds: int | None
    source: str
    added_at: DateTime
    valid_until: DateTime | None
    archived: bool


class Replays(Model):
    replays: list[Replay]


class AddedReplay(Model):
    """The archived replay; the first replay of a plenary queues the replay mail."""

    replay: Replay
    replay_mail_queued: int
