"""Provider recordings into the replay archive: each recording-ready event becomes a replay once
the provider shows the recording; links that expire (JaaS: 24 h) are copied into
`RDV_ARCHIVE_DIR` while they are valid, streamed to disk with a size limit."""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import timedelta
from pathlib import Path

import aiohttp
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from calendars.text import Writer
from integrations.base import ProviderError, Recording, Room

from ..clock import Clock
from ..db import models as m
from ..db.attendance import ProviderEventRow
from ..db.replays import Replay
from ..providers import ProviderRegistry
from ..settings import Settings
from .archive import NewReplay, add_replay
from .links import ReplayRefused

log = logging.getLogger("rdv.replays")
MAX_DOWNLOAD = 8 * 1024**3
DOWNLOAD_TIMEOUT = 3600.0
ARCHIVE_EVERY = timedelta(seconds=30)


class RecordingArchiver:
    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        registry: ProviderRegistry,
        http: aiohttp.ClientSession,
        clock: Clock,
        settings: Settings,
        writer: Writer,
    ) -> None:
        self.db, self.registry, self.http = db, registry, http
        self.clock, self.settings, self.writer = clock, settings, writer

    async def run_once(self) -> int:
        """Archives every announced recording not archived yet; returns how many."""
        async with self.db() as db:
            pending = (
                await db.execute(
                    select(ProviderEventRow, m.Room, m.Session)
                    .join(m.Room, m.Room.id == ProviderEventRow.room_id)
                    .join(m.Session, m.Session.id == m.Room.session_id)
                    .where(ProviderEventRow.kind == "recording_ready")
                    .order_by(ProviderEventRow.id)
                )
            ).all()
            done = set((await db.scalars(select(Replay.source))).all())
        archived = 0
        for event, room, session in pending:
            source = f"{event.provider}:{event.dedupe_key}"
            if source in done:
                continue
            try:
                provider = self.registry.get(event.provider)
                found = await provider.recording(
                    Room(room.room_key, room.provider_data), event.details, at=event.at
                )
            except ProviderError as error:
                log.warning("recording of %s not available yet: %s", session.key, error)
                continue
            if found is None:
                continue
            path = await self._copy(found, session, event.id)
            async with self.db() as db, db.begin():
                live = await db.get_one(m.Session, session.id)
                try:
                    await add_replay(
                        db,
                        live,
                        NewReplay(
                            url=found.url,
                            kind="recording",
                            duration_seconds=found.duration_seconds,
                            source=source,
                            valid_until=found.valid_until,
                            archived_path=path,
                        ),
                        now=self.clock.now(),
                        settings=self.settings,
                        writer=self.writer,
                    )
                except ReplayRefused:
                    continue  # the same link came through another event
            archived += 1
        return archived

    async def _copy(self, found: Recording, session: m.Session, event_id: int) -> str | None:
        """A copy of a temporary recording, when an archive folder is configured."""
        folder = self.settings.archive_dir
        if folder is None or not found.download:
            return None
        name = re.sub(r"[^A-Za-z0-9._-]", "_", f"{session.key}-{event_id}.mp4")
        target = Path(folder) / name
        partial = target.with_suffix(".part")
        size = 0
        try:
            async with asyncio.timeout(DOWNLOAD_TIMEOUT), self.http.get(found.url) as response:
                if response.status != 200:
                    log.warning(
                        "recording download for %s answered %s", session.key, response.status
                    )
                    return None
                await asyncio.to_thread(partial.parent.mkdir, parents=True, exist_ok=True)
                with partial.open("wb") as out:
                    async for chunk in response.content.iter_chunked(1 << 20):
                        size += len(chunk)
                        if size > MAX_DOWNLOAD:
                            raise ValueError("recording larger than the download limit")
                        out.write(chunk)
            await asyncio.to_thread(partial.replace, target)
        except (aiohttp.ClientError, TimeoutError, ValueError, OSError) as error:
            log.warning("recording of %s not copied: %s", session.key, error)
            await asyncio.to_thread(partial.unlink, missing_ok=True)
            return None
        return str(target)
