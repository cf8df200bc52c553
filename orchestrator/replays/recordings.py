"""Provider recordings into the replay archive: each recording-ready event becomes a replay once
the provider shows the recording and its link passes the rule of `links.provider_link` (a link
that does not is refused once, with a warning that names the provider and the reason, never the
link); links that expire (JaaS: 24 h) are copied into `RDV_ARCHIVE_DIR` while they are valid, from
the provider's own hosts only (`download`)."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from calendars.text import Writer
from integrations.base import ProviderError, Recording, Room, VideoProvider

from ..clock import Clock
from ..db import models as m
from ..db.attendance import ProviderEventRow
from ..db.replays import Replay
from ..providers import ProviderRegistry
from ..settings import Settings
from .archive import NewReplay, add_replay
from .download import DownloadFailed, LoopbackForTests, download
from .links import ReplayExists, ReplayRefused, provider_link

log = logging.getLogger("rdv.replays")
MAX_DOWNLOAD = 8 * 1024**3
DOWNLOAD_TIMEOUT = 3600.0
ARCHIVE_EVERY = timedelta(seconds=30)


class RecordingArchiver:
    """`testing` lets downloads reach a test's fake provider on loopback; the app passes none."""

    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        registry: ProviderRegistry,
        clock: Clock,
        settings: Settings,
        writer: Writer,
        *,
        testing: LoopbackForTests | None = None,
    ) -> None:
        self.db, self.registry, self.clock = db, registry, clock
        self.settings, self.writer, self.testing = settings, writer, testing
        self.refused: set[str] = set()  # events whose link was refused (warned about once)

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
            if source in done or source in self.refused:
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
            try:
                url = provider_link(found.url, provider.recording_hosts, provider.name)
            except ReplayRefused as error:
                self.refused.add(source)
                log.warning("%s recording of %s refused: %s", provider.name, session.key, error)
                continue
            path = await self._copy(provider, found, url, session, event.id)
            async with self.db() as db, db.begin():
                live = await db.get_one(m.Session, session.id)
                try:
                    await add_replay(
                        db,
                        live,
                        NewReplay(
                            url=url,
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
                except ReplayExists:
                    continue  # the same link came through another event
            archived += 1
        return archived

    async def _copy(
        self,
        provider: VideoProvider,
        found: Recording,
        url: str,
        session: m.Session,
        event_id: int,
    ) -> str | None:
        """A copy of a temporary recording, when an archive folder is configured."""
        folder = self.settings.archive_dir
        if folder is None or not found.download:
            return None
        name = re.sub(r"[^A-Za-z0-9._-]", "_", f"{session.key}-{event_id}.mp4")
        target = Path(folder) / name
        try:
            await download(
                url,
                target,
                hosts=provider.recording_hosts,
                provider=provider.name,
                limit=MAX_DOWNLOAD,
                timeout=DOWNLOAD_TIMEOUT,
                testing=self.testing,
            )
        except DownloadFailed as error:
            log.warning("%s recording of %s not copied: %s", provider.name, session.key, error)
            return None
        return str(target)
