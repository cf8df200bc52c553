"""Calendar replies delivered to rdv itself over LMTP (`RDV_INBOUND_MAIL_URL=lmtp://127.0.0.1:PORT`).

The mail server hands each message for the reply address to rdv as it arrives, as it would hand
it to a mailbox: no polling, nothing stored on the mail server's side. Every message is
accepted once it has been handled (applied, unchanged or ignored alike): refusing one would make
the mail server bounce it to the participant, which is answering a reply with mail. Only a
failure of our own (the database) answers 451, so the mail server tries again later. LMTP has no
login: listen on loopback, or where only the mail server can reach.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiosmtpd.lmtp import LMTP

from ..inbound_url import Listen

log = logging.getLogger("rdv.replies")
BIGGEST = 10 * 1024 * 1024  # bytes; a calendar reply is a few kilobytes

Handle = Callable[[bytes, Sequence[str]], Awaitable[str]]


class _Delivery:
    """aiosmtpd's handler: one message, handled, then one answer per recipient as LMTP wants."""

    def __init__(self, handle: Handle) -> None:
        self.handle = handle

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        recipients = [str(r) for r in envelope.rcpt_tos]
        try:
            await self.handle(bytes(envelope.original_content or b""), recipients)
        except Exception:
            log.exception("a calendar reply delivered over LMTP could not be handled")
            answer = "451 4.3.0 rdv could not handle the message now; try again later"
        else:
            answer = "250 2.0.0 handled"
        # aiosmtpd sends one status line; LMTP wants one per accepted recipient.
        return "\r\n".join([answer] * max(1, len(recipients)))


class LmtpDoor:
    """The listening socket, opened when the service starts and closed when it stops."""

    def __init__(self, listen: Listen, handle: Handle) -> None:
        self.listen, self.delivery = listen, _Delivery(handle)
        self.server: asyncio.Server | None = None

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(
            lambda: LMTP(
                self.delivery, hostname="rdv", data_size_limit=BIGGEST, timeout=60, loop=loop
            ),
            self.listen.host,
            self.listen.port,
            reuse_port=True,  # several instances on one host share the port
        )
        log.info("taking calendar replies over LMTP on %s:%d", self.listen.host, self.listen.port)

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None
