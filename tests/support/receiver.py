"""A webhook receiver as an organiser's CRM would run one: it checks every delivery with the
`standardwebhooks` library (the specification's own Python verifier, independent of ours) and
keeps what it accepted; `failing` makes it answer that status instead (a receiver that is down)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from standardwebhooks import Webhook, WebhookVerificationError


@dataclass
class Received:
    webhook_id: str
    type: str
    data: dict[str, Any]
    body: bytes


@dataclass
class Receiver:
    secret: str = ""
    failing: int | None = None  # the status to answer instead of taking deliveries
    accepted: list[Received] = field(default_factory=list)
    refused: int = 0  # deliveries answered with `failing`
    forged: int = 0  # deliveries the library could not verify
    meanwhile: Callable[[], Awaitable[None]] | None = None  # runs as a delivery comes in

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/hooks/rdv", self.take)
        return app

    async def take(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self.meanwhile is not None:
            await self.meanwhile()
        if self.failing is not None:
            self.refused += 1
            return web.Response(status=self.failing)
        try:
            payload = Webhook(self.secret).verify(body, dict(request.headers))
        except WebhookVerificationError:
            self.forged += 1
            return web.Response(status=401)
        self.accepted.append(
            Received(request.headers["webhook-id"], payload["type"], payload["data"], body)
        )
        return web.Response(status=204)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [item.data for item in self.accepted if item.type == kind]

    def types(self) -> list[str]:
        return [item.type for item in self.accepted]

    def ids(self) -> list[str]:
        return [item.webhook_id for item in self.accepted]


def envelope(item: Received) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(item.body)
    return found
