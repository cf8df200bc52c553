"""What a program may pre-fill for participants' requests: an organisation's profile
(`description`, `themes`, `website` on an organisation) and the buyers' needs (a `needs`
section). Checked with the rest of the program, every problem at its place; written by the
import only where participants have written nothing yet (a profile still empty, a need key not
there yet): from then on what is on the page is theirs, and a re-import does not undo it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..db import models as m
from ..db.matchmaking import Need
from . import fields
from .model import NeedSpec, ProfileSpec
from .problems import Collector, Place

PROFILE_FIELDS = ("description", "themes", "website")
NEED_FIELDS = ("key", "organisation", "title", "description", "themes")
DESCRIPTION_LIMIT = 2000
THEMES_LIMIT = 10
THEME_LIMIT = 40


def profile(item: Mapping[str, Any], place: Place, problems: Collector) -> ProfileSpec:
    """An organisation's profile fields, checked."""
    description = long_text(item.get("description"), place / "description", problems)
    themes = theme_list(item.get("themes"), place / "themes", problems)
    website = item.get("website")
    if website is not None:
        website = fields.https_url(website, place / "website", problems, what="website")
    return ProfileSpec(description, themes, website)


def needs(
    value: Any,
    place: Place,
    problems: Collector,
    organisations: Mapping[str, str],
    item_place: Any,
) -> tuple[NeedSpec, ...]:
    """The `needs` section; `organisations` maps each valid organisation key to its kind,
    `item_place(index)` is where the index-th need sits in the file."""
    if value is None:
        return ()
    if not isinstance(value, list):
        problems.add(place, f"needs must be a list, not {fields.type_name(value)}")
        return ()
    found: dict[str, NeedSpec] = {}
    for index, item in enumerate(value):
        here = item_place(index)
        if not isinstance(item, dict):
            problems.add(here, f"a need must be an object, not {fields.type_name(item)}")
            continue
        for name in item:
            if name not in NEED_FIELDS:
                problems.add(
                    here / name, f'unknown field "{name}" (allowed: {", ".join(NEED_FIELDS)})'
                )
        key = fields.key(item.get("key"), here / "key", problems)
        title = fields.text(item.get("title"), here / "title", problems, what="title")
        description = long_text(item.get("description"), here / "description", problems)
        themes = theme_list(item.get("themes"), here / "themes", problems)
        owner = item.get("organisation")
        if not isinstance(owner, str) or owner not in organisations:
            shown = owner if isinstance(owner, str) else fields.type_name(owner)
            problems.add(here / "organisation", f'unknown organisation "{shown}"')
            owner = None
        elif organisations[owner] != "buyer":
            problems.add(here / "organisation", f'"{owner}" is not a buyer: only buyers have needs')
            owner = None
        if key is not None and key in found:
            problems.add(here / "key", f'need key "{key}" is given twice')
        elif key and title and owner:
            found[key] = NeedSpec(key, owner, title, description or "", themes)
    return tuple(found.values())


def long_text(value: Any, place: Place, problems: Collector) -> str | None:
    """Plain text on several lines, at most DESCRIPTION_LIMIT characters; None when absent."""
    if value is None:
        return None
    if not isinstance(value, str):
        problems.add(place, f"expected text, not {fields.type_name(value)}")
        return None
    text = value.replace("\r\n", "\n").strip()
    bad = fields.control_character(text.replace("\n", " "))
    if bad:
        problems.add(place, f"contains a control character ({bad})")
        return None
    if len(text) > DESCRIPTION_LIMIT:
        problems.add(place, f"is longer than {DESCRIPTION_LIMIT} characters")
        return None
    return text or None


def theme_list(value: Any, place: Place, problems: Collector) -> tuple[str, ...]:
    """Themes as a list of short labels, or as text "water; sensors"."""
    if value is None:
        return ()
    items = value.replace(",", ";").split(";") if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        problems.add(place, "themes must be a list of short texts, or text separated by ;")
        return ()
    themes: dict[str, str] = {}
    for item in items:
        theme = item.strip()
        bad = fields.control_character(theme)
        if bad or len(theme) > THEME_LIMIT:
            problems.add(place, f'theme "{theme[:THEME_LIMIT]}…" is not a short label')
            return ()
        if theme:
            themes.setdefault(theme.casefold(), theme)
    if len(themes) > THEMES_LIMIT:
        problems.add(place, f"at most {THEMES_LIMIT} themes")
        return ()
    return tuple(themes.values())


async def write_prefill(
    db: AsyncSession,
    event_id: int,
    profiles: Mapping[str, ProfileSpec],
    needs: tuple[NeedSpec, ...],
    organisation_ids: Mapping[str, int],
    now: datetime,
) -> None:
    """The profiles into organisations whose profile is still empty, the needs not there yet."""
    wanted = {key: spec for key, spec in profiles.items() if not spec.empty}
    if wanted:
        for organisation in await db.scalars(
            select(m.Organisation).where(
                m.Organisation.event_id == event_id, m.Organisation.key.in_(wanted)
            )
        ):
            if organisation.description or organisation.themes or organisation.website:
                continue  # participants wrote theirs
            spec = wanted[organisation.key]
            organisation.description = spec.description
            organisation.themes = list(spec.themes) or None
            organisation.website = spec.website
    if not needs:
        return
    there = set(
        await db.scalars(
            select(Need.key).where(Need.event_id == event_id, Need.key.in_([n.key for n in needs]))
        )
    )
    for need in needs:
        if need.key in there:
            continue
        db.add(
            Need(
                event_id=event_id,
                organisation_id=organisation_ids[need.organisation],
                key=need.key,
                title=need.title,
                description=need.description,
                themes=list(need.themes),
                created_at=now,
                updated_at=now,
            )
        )
