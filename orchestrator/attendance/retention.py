"""Raw webhook deliveries are emptied after `RDV_RAW_RETENTION`.

Deliveries are recorded as events in the transaction that accepts them, so once stored their
effect is recorded: purging a raw body loses nothing the attendance needs. (Erasing one person is
`participants/erasure.py`.)
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..clock import Clock
from ..db.attendance import WebhookDelivery

PURGE_EVERY = timedelta(hours=1)
log = logging.getLogger("rdv.retention")


async def purge_raw(db: AsyncSession, *, now: datetime, retention: timedelta) -> int:
    """Empties the bodies of deliveries older than the retention; returns how many."""
    result = await db.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.received_at < now - retention, WebhookDelivery.purged_at.is_(None))
        .values(body=b"", purged_at=now)
        .returning(WebhookDelivery.id)
    )
    return len(result.all())


async def purge_once(
    db: async_sessionmaker[AsyncSession], clock: Clock, retention: timedelta
) -> int:
    """Empties the raw deliveries past their retention, in a transaction of its own."""
    async with db() as session, session.begin():
        purged = await purge_raw(session, now=clock.now(), retention=retention)
    if purged:
        log.info("purged %d raw webhook deliveries older than %s", purged, retention)
    return purged
