"""What participants publish before the day: a buyer's needs, for their directorate, and an
organisation's profile (for a company, its offer). Plain text only: control characters out,
sizes capped, a website only as an http(s) address with a host and no credentials; pages show
all of it as text, so a script in a description is only ever words on the screen."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..db import models as m
from ..db.matchmaking import Need

TITLE_LIMIT = 200
DESCRIPTION_LIMIT = 2000
THEME_LIMIT = 40
THEMES_LIMIT = 10
NEEDS_LIMIT = 20  # per organisation


class NotTaken(ValueError):
    """Why what a participant wrote cannot be kept; `code` names it for the page."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Profile:
    description: str
    themes: tuple[str, ...]
    website: str | None


def plain(text: str, limit: int) -> str:
    """Text as kept: control characters out (line breaks stay), spaces tidied, at most `limit`."""
    kept = "".join(
        char if char == "\n" or unicodedata.category(char)[0] != "C" else " " for char in text
    )
    lines = [" ".join(line.split()) for line in kept.replace("\r", "").split("\n")]
    tidy = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    return tidy[:limit].rstrip()


def themes_of(text: str) -> tuple[str, ...]:
    """Theme labels typed as "water; sensors, energy": each once, at most THEMES_LIMIT."""
    found: dict[str, str] = {}
    for part in re.split(r"[;,\n]", text):
        theme = plain(part, THEME_LIMIT)
        if theme and theme.casefold() not in found:
            found[theme.casefold()] = theme
    return tuple(found.values())[:THEMES_LIMIT]


def website_of(text: str) -> str | None:
    """An http(s) address with a host and no credentials, or None when empty; NotTaken else."""
    url = text.strip()
    if not url:
        return None
    if "://" not in url:
        url = f"https://{url}"
    if len(url) > 2000 or any(char.isspace() or ord(char) < 32 for char in url):
        raise NotTaken("website", "the website is not an address")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (a port that is no number raises)
    except ValueError:
        raise NotTaken("website", "the website is not an address") from None
    if parts.scheme not in ("http", "https") or "." not in (parts.hostname or ""):
        raise NotTaken("website", "the website must be an http or https address")
    if parts.username or parts.password:
        raise NotTaken("website", "the website must not carry a user name or password")
    return url


async def save_profile(
    db: AsyncSession, person: m.Person, *, description: str, themes: str, website: str
) -> Profile:
    """The profile of the person's organisation (any of its people may keep it)."""
    organisation = await _organisation(db, person)
    profile = Profile(plain(description, DESCRIPTION_LIMIT), themes_of(themes), website_of(website))
    organisation.description = profile.description or None
    organisation.themes = list(profile.themes) or None
    organisation.website = profile.website
    return profile


async def publish_need(
    db: AsyncSession,
    person: m.Person,
    *,
    title: str,
    description: str,
    themes: str,
    now: datetime,
    need_id: int | None = None,
) -> Need:
    """A new need of the person's directorate, or one of its needs changed (`need_id`)."""
    organisation = await _organisation(db, person)
    if organisation.kind != "buyer":
        raise NotTaken("not-buyer", "only buyers publish needs")
    heading = plain(title, TITLE_LIMIT).replace("\n", " ")
    if not heading:
        raise NotTaken("title", "give the need a title")
    if need_id is None:
        if len(await needs_of(db, organisation.id)) >= NEEDS_LIMIT:
            raise NotTaken("too-many", f"a directorate publishes at most {NEEDS_LIMIT} needs")
        need = Need(
            event_id=person.event_id,
            organisation_id=organisation.id,
            author_id=person.id,
            created_at=now,
        )
        db.add(need)
    else:
        need = await _own_need(db, organisation.id, need_id)
    need.title, need.description = heading, plain(description, DESCRIPTION_LIMIT)
    need.themes, need.updated_at = list(themes_of(themes)), now
    await db.flush()
    return need


async def remove_need(db: AsyncSession, person: m.Person, need_id: int, now: datetime) -> None:
    organisation = await _organisation(db, person)
    need = await _own_need(db, organisation.id, need_id)
    need.removed_at = now


async def needs_of(db: AsyncSession, organisation_id: int) -> list[Need]:
    """The organisation's needs, newest first."""
    found = await db.scalars(
        select(Need)
        .where(Need.organisation_id == organisation_id, Need.removed_at.is_(None))
        .order_by(Need.created_at.desc(), Need.id.desc())
    )
    return list(found)


async def _organisation(db: AsyncSession, person: m.Person) -> m.Organisation:
    organisation = (
        await db.get(m.Organisation, person.organisation_id) if person.organisation_id else None
    )
    if organisation is None or organisation.removed_at is not None:
        raise NotTaken("alone", "you are not in the program as part of an organisation")
    return organisation


async def _own_need(db: AsyncSession, organisation_id: int, need_id: int) -> Need:
    need = await db.get(Need, need_id)
    if need is None or need.organisation_id != organisation_id or need.removed_at is not None:
        raise NotTaken("unknown-need", "no such need of your directorate")
    return need
