"""Times as provider APIs write them (RFC 3339: Microsoft Graph with seven decimals, Google with
nine, both with a Z), read as aware UTC datetimes."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_time(value: object) -> datetime | None:
    """The time `value` names, or None when it is no such time. Python reads at most six
    decimals: the rest are dropped."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    head, dot, rest = text.partition(".")
    if dot:
        digits = "".join(c for c in rest if c.isdigit())
        text = f"{head}.{digits[:6]}{rest[len(digits) :]}"
    try:
        moment = datetime.fromisoformat(text)
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):  # not a time, or one at the edge of the calendar
        return None
