"""Webhook deliveries as providers send them, for the stories that need someone to walk into a
room (a self-hosted Jitsi's event_sync component) or a recording to be announced (JaaS, Zoom)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import select

from orchestrator import appkeys
from orchestrator.db import models as m

from .webhook_signing import bearer, sign_jaas, zoom_headers

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


async def provisioned(api: Any, db: Any, session: str) -> str:
    """Provisions the rooms due now, as the lifecycle does; the provider's name for the room of
    `session` (its external id, else our room key)."""
    await api.client.app[appkeys.LIFECYCLE].reconcile()
    async with db() as s:
        room = await s.scalar(select(m.Room).join(m.Session).where(m.Session.key == session))
    assert room is not None
    return str(room.external_id or room.room_key)


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


JSON = {"Content-Type": "application/json"}


def headers() -> dict[str, str]:
    return {"Authorization": bearer(JITSI_SECRET), **JSON}


def jaas_recording(room_key: str, link: str, at: datetime) -> tuple[bytes, dict[str, str]]:
    """A signed JaaS `RECORDING_UPLOADED` announcing `link` as the recording of `room_key`."""
    stamp = int(at.timestamp())
    body = json.dumps(
        {
            "idempotencyKey": f"rec-{room_key}-{stamp}-{len(link)}",
            "customerId": "c1",
            "appId": "vpaas-magic-cookie-abc",
            "eventType": "RECORDING_UPLOADED",
            "sessionId": "s1",
            "timestamp": stamp * 1000,
            "fqn": f"vpaas-magic-cookie-abc/{room_key}",
            "data": {
                "preAuthenticatedLink": link,
                "durationSec": 3540,
                "recordingSessionId": "rec-1",
                "share": True,
            },
        }
    ).encode()
    return body, {"X-Jaas-Signature": sign_jaas(body, JITSI_SECRET, stamp), **JSON}


def zoom_recording(
    meeting_id: str, share_url: str, at: datetime, secret: str
) -> tuple[bytes, dict[str, str]]:
    """A signed Zoom `recording.completed` for the meeting, its share page `share_url`."""
    body = json.dumps(
        {
            "event": "recording.completed",
            "event_ts": int(at.timestamp() * 1000),
            "download_token": "download-token-valid-24h",
            "payload": {
                "account_id": "acc",
                "object": {
                    "id": int(meeting_id),
                    "uuid": f"{meeting_id}==",
                    "duration": 58,
                    "share_url": share_url,
                    "recording_files": [],
                },
            },
        }
    ).encode()
    return body, zoom_headers(body, secret, int(at.timestamp()))
