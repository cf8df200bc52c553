"""The inbound door for provider webhooks: `POST /webhooks/{provider}[/...]`.

Limits the body, hands the raw bytes to the provider's verifier, stores every accepted delivery
in the inbox before answering, and answers fast: 200 for accepted (and for redeliveries, which
the inbox ignores), 401 for bad credentials, 400 for an unreadable body, 404 for a provider
without webhooks here (saying why), 503 while the inbox cannot store or a signature cannot be
checked yet (providers retry), never a 500.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from aiohttp import web

from integrations.events import (
    Delivery,
    WebhookMalformed,
    WebhookRejected,
    WebhookRequest,
    WebhookUnverifiable,
)

log = logging.getLogger("rdv.webhooks")
BODY_LIMIT = 1024 * 1024

Verifier = Callable[[WebhookRequest], Delivery]


@dataclass(frozen=True, slots=True)
class Closed:
    """Why a provider's deliveries are refused here (unknown, not configured, without the
    settings that check them), in words fit to send back: it names settings, never values."""

    reason: str


@dataclass(frozen=True, slots=True)
class Accepted:
    new: int
    duplicates: int


class Inbox(Protocol):
    async def accept(
        self, provider: str, delivery: Delivery, body: bytes, now: datetime
    ) -> Accepted:
        """Stores the delivery and its events; events already stored are skipped."""
        ...


@dataclass(frozen=True)
class Door:
    """Everything the door needs, given by the app factory."""

    verifier_for: Callable[[str], Verifier | Closed]
    inbox: Inbox
    now: Callable[[], datetime]
    public_url: str
    on_accepted: Callable[[str, Accepted, Delivery], None] = lambda *_: None
    on_refused: Callable[[str, str], None] = lambda *_: None  # (provider, outcome)
    limit: int = BODY_LIMIT


def _answer(status: int, message: str) -> web.Response:
    code = {
        400: "malformed",
        401: "unauthorized",
        404: "not_found",
        413: "body_too_large",
        503: "unavailable",
    }[status]
    return web.json_response(
        {"error": {"code": code, "message": message, "details": []}}, status=status
    )


async def _read(request: web.Request, limit: int) -> bytes | None:
    if request.content_length is not None and request.content_length > limit:
        return None
    data = bytearray()
    async for chunk in request.content.iter_chunked(64 * 1024):
        data += chunk
        if len(data) > limit:
            return None
    return bytes(data)


def routes(door: Door) -> web.RouteTableDef:
    table = web.RouteTableDef()

    async def receive(request: web.Request) -> web.Response:
        provider = request.match_info["provider"]
        verify = door.verifier_for(provider)
        if isinstance(verify, Closed):
            return _answer(404, verify.reason)
        body = await _read(request, door.limit)
        if body is None:
            return _answer(413, f"the body is larger than {door.limit} bytes")
        path = request.match_info.get("tail", "")
        incoming = WebhookRequest(
            headers=_headers(request.headers),
            body=body,
            query=request.query_string,
            url=f"{door.public_url}{request.path}",
            path=path,
            now=door.now(),
        )
        try:
            delivery = verify(incoming)
        except WebhookRejected as error:
            log.warning("webhook refused (%s): %s", provider, error)
            door.on_refused(provider, "rejected")
            return _answer(401, str(error))
        except WebhookMalformed as error:
            door.on_refused(provider, "malformed")
            return _answer(400, str(error))
        except WebhookUnverifiable as error:
            door.on_refused(provider, "unverifiable")
            return _answer(503, str(error))
        if not delivery.events and delivery.reply is not None:
            return _reply(delivery.reply)  # a handshake: nothing to keep
        try:
            accepted = await door.inbox.accept(provider, delivery, body, incoming.now)
        except Exception:
            log.exception("webhook inbox unavailable (%s); the provider will retry", provider)
            door.on_refused(provider, "unavailable")
            return _answer(503, "cannot store the delivery now; retry later")
        door.on_accepted(provider, accepted, delivery)
        if delivery.reply is not None:
            return _reply(delivery.reply)
        return web.json_response({"accepted": accepted.new, "duplicates": accepted.duplicates})

    table.post("/webhooks/{provider}")(receive)
    table.post("/webhooks/{provider}/{tail:.*}")(receive)
    return table


def _reply(reply: Mapping[str, str] | str) -> web.Response:
    """What a provider's handshake wants back: plain text (Graph) or a JSON object (Zoom)."""
    if isinstance(reply, str):
        return web.Response(text=reply, content_type="text/plain")
    return web.json_response(dict(reply))


def _headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Header names in lower case, as every verifier expects them."""
    return {name.lower(): value for name, value in headers.items()}
