"""A real SMTP server (aiosmtpd) that keeps what it receives, can refuse chosen recipients, can
take its time over each message, and can be taken down and brought back on the same port."""

from __future__ import annotations

import asyncio
import email
import socket
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from icalendar import Calendar


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Received:
    """One delivered message, parsed."""

    sender: str
    recipient: str
    raw: bytes
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def part(self, content_type: str) -> EmailMessage:
        for part in self.message.walk():
            if part.get_content_type() == content_type:
                return part  # type: ignore[return-value]
        raise AssertionError(f"no {content_type} part")

    @property
    def calendar_bytes(self) -> bytes:
        payload = self.part("text/calendar").get_payload(decode=True)
        assert isinstance(payload, bytes)
        return payload

    @property
    def calendar(self) -> Calendar:
        return Calendar.from_ical(self.calendar_bytes)

    @property
    def event(self) -> Any:
        return self.calendar.walk("VEVENT")[0]

    @property
    def method(self) -> str:
        """The calendar's METHOD; empty for a message without a calendar (a notice)."""
        if not any(part.get_content_type() == "text/calendar" for part in self.message.walk()):
            return ""
        return str(self.calendar["METHOD"])

    @property
    def text(self) -> str:
        content = self.part("text/plain").get_content()
        assert isinstance(content, str)
        return content


@dataclass
class _Handler:
    sink: MailSink

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.sink.refuse:
            return self.sink.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.sink.delay:
            await asyncio.sleep(self.sink.delay)  # a slow server: the message counts once accepted
        raw = envelope.original_content or b""
        parsed = email.message_from_bytes(raw, policy=default)
        assert isinstance(parsed, EmailMessage)
        for recipient in envelope.rcpt_tos:
            self.sink.received.append(Received(str(envelope.mail_from), recipient, raw, parsed))
        return "250 Message accepted"


@dataclass
class MailSink:
    """The server; `refuse` maps an address to the reply its RCPT gets (e.g. a 550), `delay` is how
    long it thinks over each message before accepting it (seconds)."""

    port: int = field(default_factory=free_port)
    received: list[Received] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.controller = Controller(
            _Handler(self), hostname="127.0.0.1", port=self.port, decode_data=False
        )
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def to(self, address: str) -> list[Received]:
        return [message for message in self.received if message.recipient == address]

    def clear(self) -> None:
        self.received.clear()
