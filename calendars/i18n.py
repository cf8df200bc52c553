"""Languages: gettext catalogues (English is the source language) and dates formatted per locale."""

from __future__ import annotations

import functools
import gettext
import io
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALES = ("en", "fr")
DEFAULT_LOCALE = "en"
CATALOGUES = Path(__file__).with_name("locale")
DOMAIN = "rdv"


@dataclass(frozen=True)
class Language:
    """Translations and date formats for one locale."""

    locale: str
    translations: gettext.NullTranslations

    def gettext(self, message: str) -> str:
        return self.translations.gettext(message)

    def ngettext(self, singular: str, plural: str, count: int) -> str:
        return self.translations.ngettext(singular, plural, count)

    def date(self, moment: datetime, zone: str) -> str:
        """`Thursday, April 8, 2021` / `jeudi 8 avril 2021`, in the event's zone."""
        return format_date(moment.astimezone(ZoneInfo(zone)), format="full", locale=self.locale)

    def time(self, moment: datetime, zone: str) -> str:
        return format_time(moment.astimezone(ZoneInfo(zone)), format="short", locale=self.locale)

    def when(self, starts_at: datetime, ends_at: datetime, zone: str) -> str:
        """The day, the hours and the zone, e.g. `Thursday, April 8, 2021, 10:30 AM–11:00 AM
        (Europe/Paris, UTC+02:00)`; a session that ends another day says both days."""
        return _when(self.locale, starts_at, ends_at, zone)


@functools.lru_cache(maxsize=4096)
def _when(locale: str, starts_at: datetime, ends_at: datetime, zone: str) -> str:
    """`Language.when`, remembered: every invite, reminder and page of a session says it again,
    and formatting dates is most of the cost of a mail's text."""
    language = Language(locale, gettext.NullTranslations())
    offset = starts_at.astimezone(ZoneInfo(zone)).strftime("%z")
    zone_label = f"{zone}, UTC{offset[:3]}:{offset[3:]}"
    start_day, end_day = language.date(starts_at, zone), language.date(ends_at, zone)
    if start_day == end_day:
        span = f"{language.time(starts_at, zone)}–{language.time(ends_at, zone)}"
        return f"{start_day}, {span} ({zone_label})"
    return (
        f"{start_day}, {language.time(starts_at, zone)} – {end_day}, "
        f"{language.time(ends_at, zone)} ({zone_label})"
    )


class Catalogues:
    """Every language the service speaks, loaded once (the app factory builds one)."""

    def __init__(self, folder: Path = CATALOGUES) -> None:
        self._languages: dict[str, Language] = {}
        for locale in LOCALES:
            translations: gettext.NullTranslations = gettext.NullTranslations()
            path = folder / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
            if path.exists():
                with path.open("rb") as source:
                    catalogue = read_po(source, locale=locale)
                compiled = io.BytesIO()
                write_mo(compiled, catalogue)
                compiled.seek(0)
                translations = gettext.GNUTranslations(compiled)
            self._languages[locale] = Language(locale, translations)

    def get(self, locale: str | None) -> Language:
        return self._languages.get(locale or DEFAULT_LOCALE, self._languages[DEFAULT_LOCALE])
