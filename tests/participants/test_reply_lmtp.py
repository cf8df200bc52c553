"""Replies delivered to rdv itself: with `RDV_INBOUND_MAIL_URL=lmtp://127.0.0.1:PORT` the mail
server hands each reply to rdv as it arrives (LMTP, as to a mailbox). Chloé declines from
Outlook and Ana answers "maybe" from Apple Calendar; both answers are on their seats as soon as
the mail server has its "250". A reply forged for Chloé's address, a message too odd to read,
rdv's own notice and a bounce sent back are taken too (a refusal would bounce to the sender),
counted, and change nothing; no mail ever goes back."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from support.mailsink import MailSink
from support.replies import fixture
from support.service import Api, ManualClock, small_program

from orchestrator.app import create_app
from orchestrator.inbound_url import Listen, parse_lmtp_url
from orchestrator.settings import Settings, SettingsError

SLUG = "meet-the-buyers"
M1_START = datetime(2021, 4, 8, 8, 30, tzinfo=UTC)
HANDLED = ["250 2.0.0 handled"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def deliver(port: int, recipients: list[str], raw: bytes) -> list[str]:
    """What a mail server does (RFC 2033): LHLO, MAIL, RCPT for each, DATA; after the data LMTP
    answers once per recipient (Python's smtplib reads only one). Those answers."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def answer() -> str:
        lines = [await reader.readline()]
        while lines[-1][3:4] == b"-":
            lines.append(await reader.readline())
        return lines[-1].decode().strip()

    async def say(line: str) -> str:
        writer.write(line.encode() + b"\r\n")
        await writer.drain()
        return await answer()

    assert (await answer()).startswith("220")
    assert (await say("LHLO mail.rdv.test")).startswith("250")
    assert (await say("MAIL FROM:<chloe@acme.example>")).startswith("250")
    for recipient in recipients:
        assert (await say(f"RCPT TO:<{recipient}>")).startswith("250")
    assert (await say("DATA")).startswith("354")
    body = b"\r\n".join(b"." + line if line.startswith(b".") else line for line in raw.splitlines())
    writer.write(body + b"\r\n.\r\n")
    await writer.drain()
    answers = [await answer() for _ in recipients]
    await say("QUIT")
    writer.close()
    return answers


def bounce(returned: bytes) -> bytes:
    """A delivery report (RFC 3464) as a mail server writes it, with the message it returns."""
    return (
        b"From: MAILER-DAEMON@mail.acme.example\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; "
        b'boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nSorry.\r\n'
        b"--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mail\r\n\r\n"
        b"Final-Recipient: rfc822; chloe@acme.example\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        b"\r\n--b\r\nContent-Type: message/rfc822\r\n\r\n" + returned + b"\r\n--b--\r\n"
    )


def answers(event: dict[str, Any], session: str) -> dict[str, tuple[str, str | None]]:
    found = next(s for s in event["sessions"] if s["key"] == session)
    return {a["key"]: (a["answer"], a["answer_source"]) for a in found["attendees"]}


async def test_replies_delivered_over_lmtp_reach_their_seats_at_once(
    aiohttp_client: Any,
    make_settings: Callable[..., Settings],
    token: Callable[..., str],
    sink: MailSink,
    clock: ManualClock,
) -> None:
    port = free_port()
    settings = make_settings(
        mail_url=sink.url,
        reply_address="replies@rdv.test",
        inbound_mail_url=f"lmtp://127.0.0.1:{port}",
    )
    app = create_app(settings, clock=clock, migrate=False, background=False)
    api = Api(await aiohttp_client(app), token)
    await api.import_ok(small_program())
    clock.set(M1_START - timedelta(hours=2))
    await api.deliver_mail()
    invites = {
        message.recipient: message for message in sink.received if "Acme × Water" in message.subject
    }
    chloe, ana = invites["chloe@acme.example"], invites["ana@water.example"]
    chloe_address = str(chloe.event["ORGANIZER"]).removeprefix("mailto:")
    ana_address = str(ana.event["ORGANIZER"]).removeprefix("mailto:")
    common = {"{uid}": str(chloe.event["UID"]), "{sequence}": str(chloe.event.get("SEQUENCE", 0))}

    declined = fixture(
        "outlook-declined-with-comment.eml",
        **common,
        **{"{organizer}": chloe_address, "{attendee}": "chloe@acme.example"},
    )
    maybe = fixture(
        "apple-tentative.eml",
        **common,
        **{"{organizer}": ana_address, "{attendee}": "ana@water.example"},
    )
    forged = fixture(
        "gmail-accepted.eml",
        **common,
        **{"{organizer}": chloe_address, "{attendee}": "eve@globex.example"},
    )
    assert await deliver(port, [chloe_address], declined) == HANDLED
    assert await deliver(port, [ana_address], maybe) == HANDLED
    # the rest is taken ("250" for every recipient: no bounce goes back) and changes nothing
    assert await deliver(port, [chloe_address], forged) == HANDLED
    assert await deliver(port, [chloe_address, ana_address], maybe) == HANDLED * 2
    nonsense = b"Subject: hello\r\n\r\n" + b"BEGIN:VCALENDAR\r\n" * 20_000
    assert await deliver(port, [chloe_address], nonsense) == HANDLED
    # no loop: rdv's own notice of the decline, and a bounce of an invite, sent back to it
    sink.clear()
    await api.deliver_mail()
    (notice,) = [message for message in sink.received if message.recipient == "ana@water.example"]
    assert notice.message["Auto-Submitted"] == "auto-generated"
    assert await deliver(port, [chloe_address], notice.raw) == HANDLED
    assert await deliver(port, [chloe_address], bounce(chloe.raw)) == HANDLED
    sink.clear()
    await api.deliver_mail()
    assert sink.received == []  # nothing was ever sent back

    m1 = answers(await api.get_event(SLUG), "m1")
    assert m1["chloe"] == ("declined", "calendar")
    assert m1["ana"] == ("tentative", "calendar")
    metrics = await (await api.client.get("/metrics")).text()
    assert 'rdv_calendar_replies_total{outcome="applied"} 2.0' in metrics  # nothing applied twice
    assert "the reply answers for someone else" in metrics
    assert 'outcome="ignored: not sent to one seat\'s reply address"} 1.0' in metrics
    assert 'outcome="ignored: automatic mail"} 2.0' in metrics


def test_the_lmtp_address_is_a_host_and_a_port() -> None:
    assert parse_lmtp_url("lmtp://127.0.0.1:2424") == Listen("127.0.0.1", 2424)
    for wrong, says in (
        ("lmtp://127.0.0.1", "give the port"),
        ("lmtp://u:secret@127.0.0.1:24", "only a host and a port"),
        ("lmtp://127.0.0.1:24/INBOX", "only a host and a port"),
    ):
        with pytest.raises(ValueError, match=says) as raised:
            parse_lmtp_url(wrong)
        assert "secret" not in str(raised.value)
    with pytest.raises(SettingsError, match="give the port"):
        Settings(reply_address="replies@rdv.test", inbound_mail_url="lmtp://127.0.0.1")
