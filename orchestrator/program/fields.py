"""Checks for single values of a program: text, keys, emails, URLs and local times."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .problems import Collector, Place

KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,79}")
SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
EMAIL = re.compile(
    rf"[A-Za-z0-9!#$%&'*+/=?^_`{{|}}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{{|}}~-]+)*"
    rf"@{_LABEL}(?:\.{_LABEL})+"
)
# C0 and C1 control characters, line and paragraph separators, lone surrogates (unstorable), and
# the bidirectional overrides that can make a name display as something else.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
MIN_YEAR, MAX_YEAR = 1970, 2200


def control_character(text: str) -> str | None:
    """The first control character in `text`, described, or None."""
    found = _CONTROL.search(text)
    return f"U+{ord(found.group()):04X}" if found else None


def text(
    value: Any, place: Place, problems: Collector, *, what: str, max_length: int = 200
) -> str | None:
    if value is None:
        problems.add(place, f"missing {what}")
        return None
    if not isinstance(value, str):
        problems.add(place, f"{what} must be text, not {type_name(value)}")
        return None
    cleaned = value.strip()
    if not cleaned:
        problems.add(place, f"{what} is empty")
        return None
    bad = control_character(cleaned)
    if bad:
        problems.add(place, f"{what} contains a control character ({bad})")
        return None
    if len(cleaned) > max_length:
        problems.add(place, f"{what} is longer than {max_length} characters")
        return None
    return cleaned


def key(value: Any, place: Place, problems: Collector, *, what: str = "key") -> str | None:
    cleaned = text(value, place, problems, what=what, max_length=80)
    if cleaned is not None and not KEY.fullmatch(cleaned):
        problems.add(
            place,
            f'{what} "{cleaned}" may hold only letters, digits, ".", "_" and "-" '
            "and must start with a letter or digit",
        )
        return None
    return cleaned


def email(value: Any, place: Place, problems: Collector) -> str | None:
    cleaned = text(value, place, problems, what="email", max_length=254)
    if cleaned is not None and not EMAIL.fullmatch(cleaned):
        problems.add(place, f'malformed email "{cleaned}"')
        return None
    return cleaned


def https_url(value: Any, place: Place, problems: Collector, *, what: str) -> str | None:
    cleaned = text(value, place, problems, what=what, max_length=2000)
    if cleaned is None:
        return None
    if not re.fullmatch(r"https://[^\s/?#]+\.[^\s/?#]+(?:[/?#]\S*)?", cleaned):
        problems.add(place, f'{what} must be an https:// address, not "{cleaned}"')
        return None
    return cleaned


def zone(value: Any, place: Place, problems: Collector) -> ZoneInfo | None:
    name = text(value, place, problems, what="timezone", max_length=64)
    if name is None:
        return None
    try:
        if ".." in name or name.startswith("/"):
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder ("Europe")
        problems.add(place, f'unknown time zone "{name}" (use an IANA name like Europe/Paris)')
        return None


def instant(
    value: Any, place: Place, problems: Collector, tz: ZoneInfo | None, *, what: str
) -> datetime | None:
    """An aware UTC datetime; a naive time is local to `tz` and must exist exactly once there."""
    raw = text(value, place, problems, what=what, max_length=40)
    if raw is None:
        return None
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        problems.add(place, f'{what} "{raw}" is not a date and time like 2021-04-08T10:30')
        return None
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:
        problems.add(place, f'{what} "{raw}" is outside the years {MIN_YEAR}–{MAX_YEAR}')
        return None
    if parsed.tzinfo is not None:
        return parsed.astimezone(UTC)
    if tz is None:
        return None  # the zone itself is reported
    first = parsed.replace(tzinfo=tz, fold=0)
    second = parsed.replace(tzinfo=tz, fold=1)
    if first.utcoffset() == second.utcoffset():
        return first.astimezone(UTC)
    round_trip = first.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
    if round_trip != parsed:
        problems.add(
            place,
            f"{what} {raw} does not exist in {tz.key}: the clocks go forward that night; "
            "pick another time or give an offset",
        )
        return None
    offsets = " or ".join(_offset(moment.utcoffset()) for moment in (first, second))
    problems.add(
        place,
        f"{what} {raw} is ambiguous in {tz.key}: the clocks go back that night and it happens "
        f"twice; give an offset ({offsets})",
    )
    return None


def _offset(delta: timedelta | None) -> str:
    minutes = int((delta or timedelta(0)).total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def span(length: timedelta) -> str:
    """A length as people say it, in its largest unit: "10 minutes", "1.5 hours", "3650 days"."""
    for unit, size in (("day", 86400.0), ("hour", 3600.0), ("minute", 60.0)):
        if length.total_seconds() >= size or unit == "minute":
            count = f"{round(length.total_seconds() / size, 1):g}"
            return f"{count} {unit}{'' if count == '1' else 's'}"
    raise AssertionError("unreachable")


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "a list", str: "text", bool: "true/false"}.get(
        type(value), "a number" if isinstance(value, int | float) else type(value).__name__
    )
