"""Webhook deliveries as a self-hosted Jitsi's event_sync component sends them, for the stories
that need someone to walk into a room."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import select

from orchestrator.db import models as m

from .webhook_signing import bearer

JITSI_SECRET = "jitsi-event-sync-shared-secret-0123"


async def seat(db: Any, person: str, session: str) -> tuple[str, str, int]:
    """(room key, our seat id, attendee id) of a person in a session."""
    async with db() as s:
        row = (
            await s.execute(
                select(m.Room.room_key, m.Attendee.id)
                .join(m.Session, m.Session.id == m.Room.session_id)
                .join(m.Attendee, m.Attendee.session_id == m.Session.id)
                .join(m.Person, m.Person.id == m.Attendee.person_id)
                .where(m.Person.key == person, m.Session.key == session)
            )
        ).one()
    return row.room_key, f"rdv-a{row.id}", row.id


def occupant(
    kind: str,
    room_key: str,
    seat_id: str | None,
    name: str,
    at: datetime,
    *,
    connection: str | None = None,
    email: str = "",
) -> bytes:
    """`kind` is "joined" or "left"."""
    stamp = int(at.timestamp())
    body: dict[str, Any] = {
        "event_name": f"muc-occupant-{kind}",
        "room_name": room_key,
        "room_jid": f"{room_key}@conference.meet.example.org",
        "is_breakout": False,
        "occupant": {
            "id": seat_id or "",
            "name": name,
            "email": email,
            "occupant_jid": connection or f"{seat_id or name}@meet.example.org/x",
            "joined_at" if kind == "joined" else "left_at": stamp,
        },
    }
    if kind == "left":
        body["occupant"]["joined_at"] = stamp - 60
    return json.dumps(body).encode()


def headers() -> dict[str, str]:
    return {"Authorization": bearer(JITSI_SECRET), "Content-Type": "application/json"}
