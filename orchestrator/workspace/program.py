"""A program uploaded from the workspace: checked and previewed first (every problem in place, or
the change it would make and the mail it would send), applied only when the organiser says so,
and only if nothing changed the event in between."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..db.previews import KEPT, ProgramPreview, prune
from ..mail.invites import InviteComposer
from ..program.archive import MAX_UPLOAD_BYTES
from ..program.audit import Author, hooks, recorder
from ..program.changes import ChangeSet
from ..program.load import load_upload
from ..program.raw import RawProgram
from ..program.service import NotFound, Stale, import_program, preview_import
from ..program.workbook_export import template_workbook
from ..settings import Settings

UPLOAD_LIMIT = MAX_UPLOAD_BYTES  # a 10,000-person program is 2 MB as JSON


def read_upload(data: bytes, filename: str) -> RawProgram:
    """The program in an uploaded file (JSON, a workbook, a zip of the folder form, told apart
    by their content); ProgramError names what is wrong, and where."""
    return load_upload(data, filename or "upload")


@dataclass(frozen=True, slots=True)
class Uploads:
    """Previews and their application, built once by the app factory."""

    db: async_sessionmaker[AsyncSession]
    settings: Settings
    invites: InviteComposer
    made: dict[str, bytes] = field(default_factory=dict, repr=False)  # the template, once made

    async def template(self) -> bytes:
        """The template workbook (the example event), made once: a tenth of a second of CPU
        that anyone may ask for."""
        if "template" not in self.made:
            self.made["template"] = await asyncio.to_thread(template_workbook)
        return self.made["template"]

    async def preview(
        self, slug: str, filename: str, data: bytes, author: Author, now: datetime
    ) -> str:
        """Checks the file and stores what it would change; returns the preview's id.
        ProgramError when it has problems (nothing is stored then)."""
        raw = await asyncio.to_thread(read_upload, data, filename)  # a workbook: half a second
        found = await preview_import(
            self.db, self.settings, raw, now=now, slug=slug, mail=self.invites.would_send
        )
        summary: dict[str, Any] = {
            "changes": found.changes.as_dict(),
            "mail": found.mail,
            "moves": [move.as_dict() for move in found.changes.moves],
        }
        preview_id = secrets.token_urlsafe(18)
        async with self.db() as db, db.begin():
            await prune(db, now)
            db.add(
                ProgramPreview(
                    id=preview_id,
                    event_slug=slug,
                    filename=filename[:200],
                    body=data,
                    seen=found.seen,
                    summary=summary,
                    actor=author.actor,
                    created_at=now,
                )
            )
        return preview_id

    async def shown(self, slug: str, preview_id: str, now: datetime) -> ProgramPreview:
        """A preview still waiting; NotFound once applied, thrown away, or an hour old."""
        async with self.db() as db:
            found = await db.get(ProgramPreview, preview_id)
        if found is None or found.event_slug != slug or found.created_at < now - KEPT:
            raise NotFound("this preview is gone (applied, discarded, or older than an hour)")
        return found

    async def apply(self, slug: str, preview_id: str, author: Author, now: datetime) -> ChangeSet:
        """Makes exactly the previewed change; Stale if the event changed since the preview
        (the preview is then dropped: its figures are no longer true)."""
        preview = await self.shown(slug, preview_id, now)
        raw = await asyncio.to_thread(read_upload, preview.body, preview.filename)
        try:
            changes = await import_program(
                self.db,
                self.settings,
                raw,
                now=now,
                slug=slug,
                on_change=hooks(self.invites.queue, recorder(author, "program.import")),
                unchanged_since=preview.seen,
            )
        except Stale:
            await self.discard(slug, preview_id)
            raise
        await self.discard(slug, preview_id)
        return changes

    async def discard(self, slug: str, preview_id: str) -> None:
        async with self.db() as db, db.begin():
            await db.execute(
                delete(ProgramPreview).where(
                    ProgramPreview.id == preview_id, ProgramPreview.event_slug == slug
                )
            )

    async def pending(self, slug: str, now: datetime) -> list[Any]:
        """The event's previews still waiting, newest first (older ones are forgotten: they
        hold everyone's names and emails)."""
        async with self.db() as db, db.begin():
            await prune(db, now)
            rows = await db.execute(
                select(ProgramPreview.id, ProgramPreview.filename, ProgramPreview.created_at)
                .where(ProgramPreview.event_slug == slug)
                .order_by(ProgramPreview.created_at.desc())
            )
            return list(rows)
