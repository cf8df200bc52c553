"""What the providers that follow rooms by subscription (Teams, Meet) keep with a room, and when
they must act: make the subscription, or renew it before it ends while the room needs it."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from .base import ProviderRejected, Room
from .rfc3339 import utc_time

log = logging.getLogger("rdv.providers")

MARGIN = timedelta(minutes=15)  # kept after the room closes, for the last leaves
RENEW_BEFORE = timedelta(hours=1)


def subscription_of(data: Mapping[str, Any]) -> str | None:
    found = data.get("subscription")
    return found if isinstance(found, str) and found else None


def renewal(
    data: Mapping[str, Any],
    *,
    until: datetime,
    now: datetime,
    alarms: Sequence[str],
    longest: timedelta,
) -> datetime | None:
    """Until when the room's subscription must run, when it must be made or renewed now (none
    yet, an alarm, or less than RENEW_BEFORE left of a subscription that ends before the room
    needs it); None while it holds."""
    expires = utc_time(data.get("subscription_until"))
    wanted = until + MARGIN
    holds = expires is not None and (expires >= wanted or expires - now > RENEW_BEFORE)
    if subscription_of(data) and holds and not alarms:
        return None
    return min(wanted, now + longest)


def kept(name: str, expires_at: datetime) -> dict[str, str]:
    """What a room keeps of its subscription."""
    return {"subscription": name, "subscription_until": expires_at.isoformat()}


async def unsubscribed(room: Room, end: Callable[[str], Awaitable[None]]) -> None:
    """Ends the room's subscription, if it has one, when the room closes; a refusal is only
    logged: the subscription expires by itself soon after."""
    subscription = subscription_of(room.data)
    if subscription is None:
        return
    try:
        await end(subscription)
    except ProviderRejected as error:
        log.warning("ending the subscription of %s failed: %s", room.room_key, error)
