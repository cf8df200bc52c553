"""Claiming the webhook deliveries that are due: leased to this sender, with what an attempt
needs. On PostgreSQL one `UPDATE … FROM … RETURNING`; on SQLite, whose RETURNING names only the
updated table's columns, the update and then a read of what it claimed."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from webhooks.outbound import BadSubscription, checked_url, signing_key

from ..db.outbound import OutboundDelivery, OutboundMessage, OutboundSubscription
from ..db.upsert import table
from ..senders import due_ids
from .passes import Claimed

_DELIVERIES, _MESSAGES, _SUBSCRIPTIONS = (
    table(model) for model in (OutboundDelivery, OutboundMessage, OutboundSubscription)
)
_CLAIMED = (  # what an attempt needs, the delivery's id first (claims are taken in id order)
    _DELIVERIES.c.id,
    _DELIVERIES.c.subscription_id,
    _DELIVERIES.c.attempts,
    _DELIVERIES.c.first_due_at,
    _MESSAGES.c.message_id,
    _MESSAGES.c.body,
    _SUBSCRIPTIONS.c.url,
    _SUBSCRIPTIONS.c.secret,
    _SUBSCRIPTIONS.c.failing_since.is_not(None).label("failing"),
)


async def claim_due(
    sessions: async_sessionmaker[AsyncSession],
    now: datetime,
    *,
    most: int,
    lease: timedelta,
    allow_private: bool,
) -> list[Claimed]:
    """Up to `most` due deliveries of live subscriptions, leased for `lease` (`SKIP LOCKED`:
    two instances never claim the same), in the order they fell due, with what an attempt
    needs: each subscription's key decoded and its address checked once."""
    live = select(OutboundSubscription.id).where(OutboundSubscription.ended_at.is_(None))
    due = due_ids(OutboundDelivery, now, most).where(
        OutboundDelivery.subscription_id.in_(live.scalar_subquery())
    )
    async with sessions() as db:  # a look first: an idle sender takes no write lock
        if (await db.execute(due.limit(1))).first() is None:
            return []
    async with sessions() as db, db.begin():
        claim = (
            update(_DELIVERIES)
            .where(_DELIVERIES.c.id.in_(due.with_for_update(skip_locked=True).scalar_subquery()))
            .values(
                status="sending",
                lease_until=now + lease,
                attempts=_DELIVERIES.c.attempts + 1,
            )
        )
        if db.get_bind().dialect.name == "postgresql":  # one statement: UPDATE … FROM
            joined = claim.where(
                _MESSAGES.c.id == _DELIVERIES.c.message_id,
                _SUBSCRIPTIONS.c.id == _DELIVERIES.c.subscription_id,
            )
            found = sorted(
                (tuple(row) for row in await db.execute(joined.returning(*_CLAIMED))),
                key=lambda row: row[0],
            )
        else:  # SQLite's RETURNING names the updated table's columns only
            claimed = (await db.execute(claim.returning(_DELIVERIES.c.id))).scalars().all()
            found = [
                tuple(row)
                for row in await db.execute(
                    select(*_CLAIMED)
                    .join_from(_DELIVERIES, _MESSAGES, _MESSAGES.c.id == _DELIVERIES.c.message_id)
                    .join(_SUBSCRIPTIONS, _SUBSCRIPTIONS.c.id == _DELIVERIES.c.subscription_id)
                    .where(_DELIVERIES.c.id.in_(claimed))
                    .order_by(_DELIVERIES.c.id)
                )
            ]
    # Each subscription's key decoded, and its address checked, once a pass.
    keys: dict[str, bytes] = {}
    refused: dict[str, str | None] = {}
    claims = []
    for number, subscription, attempts, first, message, body, url, secret, failing in found:
        if secret not in keys:
            keys[secret] = signing_key(secret)
        if url not in refused:
            refused[url] = _refusal(url, allow_private)
        claims.append(
            Claimed(
                number,
                subscription,
                attempts,
                first,
                message,
                body,
                url,
                keys[secret],
                failing,
                refused[url],
            )
        )
    return claims


def _refusal(url: str, allow_private: bool) -> str | None:
    try:
        checked_url(url, allow_private=allow_private)
    except BadSubscription as error:
        return str(error)
    return None
