"""Workspace Events subscriptions to Meet spaces (reference/meet.md, section 3): what has
Google publish a space's events on the operator's Pub/Sub topic, made, renewed, reactivated and
ended through the Meet client's token and calls. Google allows one subscription per target and
user: a second create answers ALREADY_EXISTS, and the one Google has is found and renewed. A
change answers an Operation, read again until it is done."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .base import ProviderRejected, ProviderUnavailable
from .http import json_object
from .meet_client import LABEL, MeetClient, google_status, refusal, resource_path
from .rfc3339 import utc_time

TARGET = "//meet.googleapis.com/"  # a space's full resource name starts so
EVENT_TYPES = (
    "google.workspace.meet.conference.v2.started",
    "google.workspace.meet.conference.v2.ended",
    "google.workspace.meet.participant.v2.joined",
    "google.workspace.meet.participant.v2.left",
    "google.workspace.meet.recording.v2.fileGenerated",
)
OPERATION_POLLS = 5  # a subscription's Operation read again at most this often, a second apart


@dataclass(frozen=True, slots=True)
class Subscription:
    name: str  # subscriptions/{id}
    expires_at: datetime | None
    state: str  # ACTIVE, SUSPENDED


class WorkspaceEvents:
    def __init__(self, client: MeetClient) -> None:
        self.client = client

    async def subscribe(self, space: str, *, topic: str, ttl: timedelta) -> Subscription:
        """Subscribes to the space's events, published on the Pub/Sub `topic`; a space already
        subscribed to (Google allows one subscription per target and user) keeps its own,
        renewed for `ttl`."""
        body = {
            "targetResource": TARGET + space,
            "eventTypes": list(EVENT_TYPES),
            "notificationEndpoint": {"pubsubTopic": topic},
            "ttl": _seconds(ttl),
        }
        reply = await self.client.call(
            "POST", "/v1/subscriptions", base=self.client.events_url, json=body, taken_ok=True
        )
        if google_status(reply) != "ALREADY_EXISTS":
            return await self._subscription(json_object(reply, LABEL))
        where = f'target_resource="{TARGET + space}" AND event_types:"{EVENT_TYPES[2]}"'
        for found in await self.client.pages(
            "/v1/subscriptions", "subscriptions", where, base=self.client.events_url
        ):
            renewed = await self.renew(str(found.get("name", "")), ttl)
            if renewed is not None:
                return renewed
        raise refusal(reply)

    async def renew(self, name: str, ttl: timedelta) -> Subscription | None:
        """Moves the subscription's expiry `ttl` from now; None when it is gone."""
        reply = await self.client.call(
            "PATCH",
            f"/v1/{resource_path(name)}",
            base=self.client.events_url,
            params={"updateMask": "ttl"},
            json={"ttl": _seconds(ttl)},
            gone_ok=True,
        )
        return None if reply.status == 404 else await self._subscription(json_object(reply, LABEL))

    async def reactivate(self, name: str) -> Subscription | None:
        reply = await self.client.call(
            "POST",
            f"/v1/{resource_path(name)}:reactivate",
            base=self.client.events_url,
            json={},
            gone_ok=True,
        )
        return None if reply.status == 404 else await self._subscription(json_object(reply, LABEL))

    async def unsubscribe(self, name: str) -> None:
        await self.client.call(
            "DELETE",
            f"/v1/{resource_path(name)}",
            base=self.client.events_url,
            params={"allowMissing": "true"},
        )

    async def _subscription(self, operation: Mapping[str, Any]) -> Subscription:
        """The subscription an Operation ends with, read again until it is done."""
        for _ in range(OPERATION_POLLS):
            if operation.get("done") is True:
                break
            await asyncio.sleep(1.0)
            name = operation.get("name")
            if not isinstance(name, str) or not name.startswith("operations/"):
                raise ProviderRejected(f"{LABEL} answered an Operation without a name")
            reply = await self.client.call(
                "GET", f"/v1/{resource_path(name)}", base=self.client.events_url
            )
            operation = json_object(reply, LABEL)
        else:
            raise ProviderUnavailable(f"{LABEL} has not made the subscription yet")
        error, found = operation.get("error"), operation.get("response")
        if isinstance(error, dict):
            raise ProviderRejected(
                f"{LABEL} refused the subscription: {str(error.get('message'))[:200]}"
            )
        if not isinstance(found, dict) or not isinstance(found.get("name"), str):
            raise ProviderRejected(f"{LABEL} answered an Operation without its subscription")
        return Subscription(
            found["name"], utc_time(found.get("expireTime")), str(found.get("state") or "")
        )


def _seconds(span: timedelta) -> str:
    return f"{max(int(span.total_seconds()), 1)}s"
